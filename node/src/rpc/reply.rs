//! Writing kubo RPC answers: single JSON values, ndjson streams, byte streams and errors, in
//! kubo's framing and words (`cairn_kubo::stream`, `cairn_kubo::error`).
//!
//! An error after the first byte goes in the `X-Stream-Error` trailer (or, for a client that
//! did not send `TE: trailers`, breaks the stream); errors before output are kubo's error
//! object with 500 (400 for option parse errors, which kubo sends as plain text).

use std::convert::Infallible;

use bytes::Bytes;
use cairn_kubo::stream::{
    X_CHUNKED_OUTPUT, X_CONTENT_LENGTH, X_STREAM_ERROR, X_STREAM_OUTPUT, json_line, stream_error,
};
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

/// A single JSON value, as kubo's `EmitOnce`.
pub(crate) fn json<T: Serialize>(value: &T) -> Response<Body> {
    match json_line(value) {
        Ok(bytes) => with_headers(StatusCode::OK, "application/json", full(bytes)),
        Err(e) => error(&NodeError::Unsupported(e.to_string())),
    }
}

/// kubo's error answer for a failure before any output.
pub(crate) fn error(err: &NodeError) -> Response<Body> {
    if err.is_client_error() {
        return plain(StatusCode::BAD_REQUEST, &format!("{err}\n"));
    }
    let bytes = cairn_kubo::error::error_body(&err.to_string(), cairn_kubo::error::CODE_NORMAL);
    with_headers(StatusCode::INTERNAL_SERVER_ERROR, "application/json", full(bytes))
}

/// A plain-text answer (404, 405, 403 and option errors).
pub(crate) fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(full(Bytes::copy_from_slice(text.as_bytes())));
    *response.status_mut() = status;
    set(
        response.headers_mut(),
        CONTENT_TYPE.as_str(),
        cairn_kubo::error::PLAIN_TEXT,
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
        match json_line(value) {
            Ok(bytes) => self.bytes(bytes).await,
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
        let mut trailers = HeaderMap::new();
        trailers.insert(X_STREAM_ERROR, stream_error(&err.to_string()));
        let _ = self.tx.send(Frame::trailers(trailers)).await;
    }
}

/// An answer's body as it goes on the wire.
pub(crate) type Wire = BoxBody<Bytes, StreamFailed>;

/// A stream failed and its client cannot receive the `X-Stream-Error` trailer.
#[derive(Debug, thiserror::Error)]
#[error("stream failed: {0}")]
pub(crate) struct StreamFailed(String);

pub(crate) use cairn_kubo::stream::accepts_trailers;

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
    set(response.headers_mut(), X_CHUNKED_OUTPUT.as_str(), "1");
    (response, stream)
}

/// A streamed byte answer (`X-Stream-Output: 1`, `X-Content-Length: length`).
pub(crate) fn octets(length: u64) -> (Response<Body>, Stream) {
    let (mut response, stream) = streamed("text/plain");
    set(response.headers_mut(), X_STREAM_OUTPUT.as_str(), "1");
    set(
        response.headers_mut(),
        X_CONTENT_LENGTH.as_str(),
        &length.to_string(),
    );
    (response, stream)
}

/// A streamed byte answer of unknown length (`X-Stream-Output: 1`), as `dag/export`'s.
pub(crate) fn stream_output() -> (Response<Body>, Stream) {
    let (mut response, stream) = streamed("text/plain");
    set(response.headers_mut(), X_STREAM_OUTPUT.as_str(), "1");
    (response, stream)
}

fn streamed(content_type: &'static str) -> (Response<Body>, Stream) {
    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|frame| (Ok::<_, Infallible>(frame), rx))
    });
    let body = StreamBody::new(frames).boxed();
    (with_headers(StatusCode::OK, content_type, body), Stream { tx })
}

fn with_headers(status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    cairn_kubo::stream::set_headers(response.headers_mut(), content_type);
    response
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes).boxed()
}

fn set(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        http::HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        headers.insert(name, value);
    }
}
