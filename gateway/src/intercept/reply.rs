//! Writing intercepted answers in kubo's framing: a single JSON value with its newline, or an
//! ndjson stream (`X-Chunked-Output: 1`) whose late errors go in the `X-Stream-Error` trailer.
//! Every answer says who wrote it (`Server: cairn-gateway/<version>`), so a parent cluster
//! can tell a Cairn child from a plain daemon.

use bytes::Bytes;
use cairn_kubo::stream::{X_CHUNKED_OUTPUT, X_STREAM_ERROR, stream_error};
use http::header::HeaderValue;
use http::{HeaderMap, Response, StatusCode};
use http_body::Frame;
use http_body_util::{Full, StreamBody};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::{Body, BoxError, boxed};

/// The `Server` header of intercepted answers.
pub const SERVER: &str = concat!("cairn-gateway/", env!("CARGO_PKG_VERSION"));
/// Frames a stream buffers before its producer waits for the client.
const STREAM_BUFFER: usize = 16;

/// One JSON value, as kubo's `EmitOnce`.
pub fn json<T: Serialize>(value: &T) -> Response<Body> {
    let bytes = cairn_kubo::stream::json_line(value).unwrap_or_default();
    with_headers(boxed(Full::new(bytes)))
}

/// The sending half of an ndjson answer.
#[derive(Debug)]
pub struct Lines {
    tx: mpsc::Sender<Frame<Bytes>>,
}

impl Lines {
    /// Sends one JSON value as a line; false when the client has gone.
    pub async fn line<T: Serialize>(&self, value: &T) -> bool {
        let bytes = cairn_kubo::stream::json_line(value).unwrap_or_default();
        self.raw(bytes).await
    }

    /// Sends bytes as they are (already framed lines); false when the client has gone.
    pub async fn raw(&self, bytes: Bytes) -> bool {
        self.tx.send(Frame::data(bytes)).await.is_ok()
    }

    /// Ends the answer with `message` in the `X-Stream-Error` trailer.
    pub async fn fail(self, message: &str) {
        let mut trailers = HeaderMap::new();
        trailers.insert(X_STREAM_ERROR, stream_error(message));
        let _ = self.tx.send(Frame::trailers(trailers)).await;
    }
}

/// A streamed ndjson answer and the handle that fills it.
pub fn ndjson() -> (Response<Body>, Lines) {
    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|frame| (Ok::<_, BoxError>(frame), rx))
    });
    let mut response = with_headers(boxed(StreamBody::new(frames)));
    response
        .headers_mut()
        .insert(X_CHUNKED_OUTPUT, HeaderValue::from_static("1"));
    (response, Lines { tx })
}

fn with_headers(body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    cairn_kubo::stream::set_headers(headers, "application/json");
    headers.insert("server", HeaderValue::from_static(SERVER));
    response
}
