//! Writing kubo RPC answers: single JSON values, ndjson streams, byte streams and errors.
//!
//! This is the one place that knows kubo's (go-ipfs-cmds) framing: JSON values end in a
//! newline; streams carry `X-Chunked-Output: 1` (values) or `X-Stream-Output: 1` (bytes);
//! every answer declares `Trailer: X-Stream-Error` and an error after the first byte goes in
//! that trailer (or, for a client that did not send `TE: trailers`, breaks the stream);
//! errors before output are `{"Message","Code","Type"}` with 500 (400 for option parse
//! errors, which kubo sends as plain text).

use std::convert::Infallible;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, BodyStream, Full, StreamBody, combinators::BoxBody};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::error::NodeError;

/// The body every node answer has.
pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// How many frames a stream buffers before its producer waits for the client.
const STREAM_BUFFER: usize = 16;
const EXPOSED: &str = "X-Stream-Output, X-Chunked-Output, X-Content-Length";

/// A single JSON value, as kubo's `EmitOnce`.
pub(crate) fn json<T: Serialize>(value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(mut bytes) => {
            bytes.push(b'\n');
            with_headers(StatusCode::OK, "application/json", full(bytes))
        }
        Err(e) => error(&NodeError::Unsupported(e.to_string())),
    }
}

/// kubo's error answer for a failure before any output.
pub(crate) fn error(err: &NodeError) -> Response<Body> {
    if err.is_client_error() {
        return plain(StatusCode::BAD_REQUEST, &format!("{err}\n"));
    }
    let body = serde_json::json!({"Message": err.to_string(), "Code": 0, "Type": "error"});
    let mut bytes = body.to_string().into_bytes();
    bytes.push(b'\n');
    with_headers(StatusCode::INTERNAL_SERVER_ERROR, "application/json", full(bytes))
}

/// A plain-text answer (404, 405, 403 and option errors).
pub(crate) fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(full(text.as_bytes().to_vec()));
    *response.status_mut() = status;
    set(
        response.headers_mut(),
        CONTENT_TYPE.as_str(),
        "text/plain; charset=utf-8",
    );
    set(response.headers_mut(), "X-Content-Type-Options", "nosniff");
    response
}

/// The sending half of a streamed answer.
#[derive(Debug)]
pub(crate) struct Stream {
    tx: mpsc::Sender<Frame<Bytes>>,
}

impl Stream {
    /// Sends one JSON value as an ndjson line; false when the client has gone.
    pub(crate) async fn line<T: Serialize>(&self, value: &T) -> bool {
        match serde_json::to_vec(value) {
            Ok(mut bytes) => {
                bytes.push(b'\n');
                self.bytes(Bytes::from(bytes)).await
            }
            Err(_) => false,
        }
    }

    /// Sends raw bytes; false when the client has gone.
    pub(crate) async fn bytes(&self, data: Bytes) -> bool {
        self.tx.send(Frame::data(data)).await.is_ok()
    }

    /// Ends the stream with `err` in the `X-Stream-Error` trailer (never an empty one: a
    /// message that is no header value, such as a control character, is cleaned first).
    pub(crate) async fn fail(self, err: &NodeError) {
        let text: String = err
            .to_string()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let value = HeaderValue::from_bytes(text.trim().as_bytes())
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or(HeaderValue::from_static("stream failed"));
        let mut trailers = HeaderMap::new();
        trailers.insert(X_STREAM_ERROR, value);
        let _ = self.tx.send(Frame::trailers(trailers)).await;
    }
}

/// kubo's trailer for errors after the first byte.
const X_STREAM_ERROR: &str = "x-stream-error";

/// An answer's body as it goes on the wire.
pub(crate) type Wire = BoxBody<Bytes, StreamFailed>;

/// A stream failed and its client cannot receive the `X-Stream-Error` trailer.
#[derive(Debug, thiserror::Error)]
#[error("stream failed: {0}")]
pub(crate) struct StreamFailed(String);

/// Whether the request announced it accepts trailers (`TE: trailers`, any case, in a list).
pub(crate) fn accepts_trailers(headers: &HeaderMap) -> bool {
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

/// Prepares `response` for its client. hyper's HTTP/1 server writes trailers only to clients
/// that sent `TE: trailers`; for the others a failed stream would end like a complete one, so
/// its `X-Stream-Error` becomes a body error instead: hyper aborts the chunked answer and the
/// client sees a broken stream.
pub(crate) fn for_client(response: Response<Body>, accepts_trailers: bool) -> Response<Wire> {
    response.map(|body| {
        if accepts_trailers {
            return body.map_err(|never| match never {}).boxed();
        }
        let frames = futures::StreamExt::map(BodyStream::new(body), |frame| {
            let frame = frame.unwrap_or_else(|never| match never {});
            match frame.trailers_ref().and_then(|t| t.get(X_STREAM_ERROR)) {
                Some(error) => Err(StreamFailed(
                    String::from_utf8_lossy(error.as_bytes()).into_owned(),
                )),
                None => Ok(frame),
            }
        });
        StreamBody::new(frames).boxed()
    })
}

/// A streamed ndjson answer (`X-Chunked-Output: 1`) and the handle that fills it.
pub(crate) fn ndjson() -> (Response<Body>, Stream) {
    let (response, stream) = streamed("application/json");
    let mut response = response;
    set(response.headers_mut(), "X-Chunked-Output", "1");
    (response, stream)
}

/// A streamed byte answer (`X-Stream-Output: 1`, `X-Content-Length: length`).
pub(crate) fn octets(length: u64) -> (Response<Body>, Stream) {
    let (mut response, stream) = streamed("text/plain");
    set(response.headers_mut(), "X-Stream-Output", "1");
    set(response.headers_mut(), "X-Content-Length", &length.to_string());
    (response, stream)
}

fn streamed(content_type: &str) -> (Response<Body>, Stream) {
    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|frame| (Ok::<_, Infallible>(frame), rx))
    });
    let body = StreamBody::new(frames).boxed();
    (with_headers(StatusCode::OK, content_type, body), Stream { tx })
}

fn with_headers(status: StatusCode, content_type: &str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    set(headers, "Access-Control-Allow-Headers", EXPOSED);
    set(headers, "Access-Control-Expose-Headers", EXPOSED);
    set(headers, CONTENT_TYPE.as_str(), content_type);
    set(headers, "Trailer", "X-Stream-Error");
    set(headers, "Vary", "Origin");
    response
}

fn full(bytes: Vec<u8>) -> Body {
    Full::new(Bytes::from(bytes)).boxed()
}

fn set(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        http::HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        headers.insert(name, value);
    }
}
