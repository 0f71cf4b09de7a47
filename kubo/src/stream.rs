//! The framing of kubo's answers (go-ipfs-cmds): the headers every answer carries, ndjson
//! lines, and the `X-Stream-Error` trailer that carries an error after the first byte.
//!
//! JSON values end in a newline; a stream of values carries `X-Chunked-Output: 1`, a stream
//! of bytes `X-Stream-Output: 1` (with `X-Content-Length`); every answer declares
//! `Trailer: X-Stream-Error`.

use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use serde::Serialize;

/// The trailer that carries an error after the first byte.
pub const X_STREAM_ERROR: HeaderName = HeaderName::from_static("x-stream-error");
/// The header of a stream of JSON values.
pub const X_CHUNKED_OUTPUT: HeaderName = HeaderName::from_static("x-chunked-output");
/// The header of a stream of bytes.
pub const X_STREAM_OUTPUT: HeaderName = HeaderName::from_static("x-stream-output");
/// The length of a stream of bytes, known before it starts.
pub const X_CONTENT_LENGTH: HeaderName = HeaderName::from_static("x-content-length");
/// The headers kubo exposes to browsers.
const EXPOSED: &str = "X-Stream-Output, X-Chunked-Output, X-Content-Length";

/// Sets the headers every kubo answer carries, with `content_type`.
pub fn set_headers(headers: &mut HeaderMap, content_type: &'static str) {
    let exposed = HeaderValue::from_static(EXPOSED);
    headers.insert("access-control-allow-headers", exposed.clone());
    headers.insert("access-control-expose-headers", exposed);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("trailer", HeaderValue::from_static("X-Stream-Error"));
    headers.insert("vary", HeaderValue::from_static("Origin"));
}

/// One JSON value and its newline (an ndjson line, or kubo's `EmitOnce`).
pub fn json_line<T: Serialize>(value: &T) -> Result<Bytes, serde_json::Error> {
    let mut bytes = serde_json::to_vec(value)?;
    bytes.push(b'\n');
    Ok(Bytes::from(bytes))
}

/// `message` as an `X-Stream-Error` value: control characters become spaces, and a message
/// that leaves nothing says "stream failed" (never an empty trailer).
pub fn stream_error(message: &str) -> HeaderValue {
    let text: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    HeaderValue::from_bytes(text.trim().as_bytes())
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or(HeaderValue::from_static("stream failed"))
}

/// Whether the request announced it accepts trailers (`TE: trailers`, any case, in a list).
pub fn accepts_trailers(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::TE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| {
            token
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("trailers")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_errors_are_always_a_header_value() {
        assert_eq!(stream_error("pin\r\nfailed"), "pin  failed");
        assert_eq!(stream_error("\n"), "stream failed");
        assert_eq!(stream_error("ünïcode"), "ünïcode");
    }

    #[test]
    fn trailers_are_accepted_only_when_announced() {
        let mut headers = HeaderMap::new();
        assert!(!accepts_trailers(&headers));
        headers.insert(http::header::TE, HeaderValue::from_static("gzip, Trailers;q=1"));
        assert!(accepts_trailers(&headers));
    }

    #[test]
    fn every_answer_carries_kubos_headers() {
        let mut headers = HeaderMap::new();
        set_headers(&mut headers, "application/json");
        assert_eq!(headers["trailer"], "X-Stream-Error");
        assert_eq!(headers["access-control-expose-headers"], EXPOSED);
        assert_eq!(json_line(&[1, 2]).ok(), Some(Bytes::from_static(b"[1,2]\n")));
    }
}
