//! Keeps mid-stream errors visible to clients that cannot receive trailers.
//!
//! kubo reports an error that happens after the answer has started in the `X-Stream-Error`
//! trailer. hyper's HTTP/1 server writes trailers only to clients that sent `TE: trailers`
//! (RFC 9110 §6.5.1); for the others the trailer would be dropped and a failed stream would
//! end like a successful one. [`StreamErrorGuard`] turns such a trailer into a body error
//! instead, so hyper aborts the chunked answer and the client sees a broken stream, never a
//! silent truncation. Clients that accept trailers get them unchanged.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::{Body, BoxError};

/// kubo's trailer for errors after the first byte.
pub const X_STREAM_ERROR: &str = "x-stream-error";

/// The upstream reported an error after the answer started, and the client cannot get trailers.
#[derive(Debug, thiserror::Error)]
#[error("upstream stream error: {0}")]
pub struct StreamError(pub String);

pin_project_lite::pin_project! {
    /// A response body that fails instead of dropping a non-empty `X-Stream-Error` trailer.
    pub struct StreamErrorGuard {
        #[pin]
        inner: Body,
    }
}

impl StreamErrorGuard {
    /// Wraps the body of an answer for a client that did not send `TE: trailers`.
    pub fn new(inner: Body) -> Self {
        Self { inner }
    }
}

fn stream_error(trailers: &HeaderMap) -> Option<String> {
    let value = trailers
        .get(X_STREAM_ERROR)?
        .to_str()
        .unwrap_or("unreadable stream error");
    (!value.trim().is_empty()).then(|| value.to_owned())
}

impl HttpBody for StreamErrorGuard {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let frame = std::task::ready!(self.project().inner.poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(message) = frame.trailers_ref().and_then(stream_error)
        {
            return Poll::Ready(Some(Err(StreamError(message).into())));
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    fn body_with_trailer(value: &str) -> Body {
        let mut trailers = HeaderMap::new();
        trailers.insert(X_STREAM_ERROR, value.parse().unwrap());
        let frames = vec![
            Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"{}\n"))),
            Ok(Frame::trailers(trailers)),
        ];
        crate::boxed(StreamBody::new(futures::stream::iter(frames)))
    }

    #[tokio::test]
    async fn a_non_empty_stream_error_breaks_the_body() {
        let err = StreamErrorGuard::new(body_with_trailer("boom"))
            .collect()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("boom"));
    }

    #[tokio::test]
    async fn an_empty_stream_error_passes() {
        let collected = StreamErrorGuard::new(body_with_trailer(""))
            .collect()
            .await
            .unwrap();
        assert_eq!(collected.to_bytes(), Bytes::from_static(b"{}\n"));
    }
}
