//! Reading an upstream's ndjson answer line by line, and re-streaming it with our own lines
//! held back or checked: the tools `add` and `block/put` use to pin what the upstream stored.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Response};
use http_body_util::BodyExt;

use super::reply::{self, Lines};
use crate::{Body, BoxError};

/// Complete lines of an upstream body, then its `X-Stream-Error` trailer if any.
pub(super) struct UpstreamLines {
    body: Body,
    buf: BytesMut,
    stream_error: Option<String>,
    ended: bool,
}

impl UpstreamLines {
    /// Reads `body`.
    pub(super) fn new(body: Body) -> Self {
        Self {
            body,
            buf: BytesMut::new(),
            stream_error: None,
            ended: false,
        }
    }

    /// The next complete line (with its `\n`; the last may lack it).
    pub(super) async fn next(&mut self) -> Option<Result<Bytes, BoxError>> {
        loop {
            if let Some(end) = self.buf.iter().position(|b| *b == b'\n') {
                return Some(Ok(self.buf.split_to(end + 1).freeze()));
            }
            if self.ended {
                return (!self.buf.is_empty()).then(|| Ok(self.buf.split().freeze()));
            }
            match self.body.frame().await {
                None => self.ended = true,
                Some(Err(e)) => return Some(Err(e)),
                Some(Ok(frame)) => self.take(frame),
            }
        }
    }

    fn take(&mut self, frame: http_body::Frame<Bytes>) {
        match frame.into_data() {
            Ok(data) => self.buf.extend_from_slice(&data),
            Err(frame) => {
                let error = frame.trailers_ref().and_then(|t| t.get("x-stream-error"));
                self.stream_error = error.and_then(|v| v.to_str().ok()).map(str::to_owned);
            }
        }
    }

    /// The upstream's `X-Stream-Error`, once the body has ended.
    pub(super) fn stream_error(&self) -> Option<&str> {
        self.stream_error.as_deref().filter(|e| !e.is_empty())
    }
}

/// A new streamed answer carrying the upstream's headers (minus its length) and ours.
pub(super) fn restream(upstream: &HeaderMap) -> (Response<Body>, Lines) {
    let (mut response, lines) = reply::ndjson();
    let chunked = upstream.contains_key("x-chunked-output");
    let ours = std::mem::take(response.headers_mut());
    let headers = response.headers_mut();
    for (name, value) in upstream {
        if name != http::header::CONTENT_LENGTH {
            headers.append(name.clone(), value.clone());
        }
    }
    for name in ["server", "trailer"] {
        if let Some(value) = ours.get(name) {
            headers.insert(name, value.clone());
        }
    }
    if !chunked {
        headers.remove("x-chunked-output");
    } else {
        headers.insert("x-chunked-output", HeaderValue::from_static("1"));
    }
    (response, lines)
}
