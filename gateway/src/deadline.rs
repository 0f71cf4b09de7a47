//! Time limits on whole bodies: `read_timeout` for requests, `write_timeout` for responses.
//!
//! hyper bounds only the request head (`read_header_timeout`, set in `server`); these limits
//! match Go's `http.Server` `ReadTimeout` / `WriteTimeout` as ipfs-cluster exposes them:
//! the request must arrive within `read_timeout` of its start, and the response body must be
//! written within `write_timeout` of its head. Both default to none, since any limit cuts
//! long adds and cats short.
//!
//! # Invariants
//! - A body past its deadline yields [`DeadlineExceeded`] once and ends; hyper then closes the
//!   connection. An upstream reading that request body sees it fail and stops.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::TryFutureExt;
use http::{Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::{Body, BoxError, boxed};

/// A body did not finish within its configured limit.
#[derive(Debug, thiserror::Error)]
#[error("body not transferred within {0}")]
pub struct DeadlineExceeded(pub String);

pin_project_lite::pin_project! {
    /// A body that fails with [`DeadlineExceeded`] when its deadline passes.
    pub struct Deadline {
        #[pin]
        inner: Body,
        #[pin]
        sleep: Sleep,
        limit: Duration,
        expired: bool,
    }
}

impl Deadline {
    /// Bounds `inner` to finish within `limit` from now.
    pub fn new(inner: Body, limit: Duration) -> Self {
        Self {
            inner,
            sleep: tokio::time::sleep_until(Instant::now() + limit),
            limit,
            expired: false,
        }
    }
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if *this.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame);
        }
        std::task::ready!(this.sleep.poll(cx));
        *this.expired = true;
        Poll::Ready(Some(Err(
            DeadlineExceeded(crate::duration::format(*this.limit)).into()
        )))
    }

    fn is_end_stream(&self) -> bool {
        self.expired || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn bound(body: Body, limit: Option<Duration>) -> Body {
    match limit {
        Some(limit) => boxed(Deadline::new(body, limit)),
        None => body,
    }
}

/// Layer for [`Deadlines`].
#[derive(Clone, Copy, Debug, Default)]
pub struct DeadlineLayer {
    read: Option<Duration>,
    write: Option<Duration>,
}

impl DeadlineLayer {
    /// Request bodies bounded by `read`, response bodies by `write`; `None` leaves one unbounded.
    pub fn new(read: Option<Duration>, write: Option<Duration>) -> Self {
        Self { read, write }
    }
}

/// Applies [`DeadlineLayer`]'s limits to every request and response body.
#[derive(Clone, Debug)]
pub struct Deadlines<S> {
    inner: S,
    limits: DeadlineLayer,
}

// === impl DeadlineLayer ===

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = Deadlines<S>;
    fn layer(&self, inner: S) -> Deadlines<S> {
        Deadlines { inner, limits: *self }
    }
}

// === impl Deadlines ===

impl<S> tower::Service<Request<Body>> for Deadlines<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let DeadlineLayer { read, write } = self.limits;
        let pending = self.inner.call(req.map(|body| bound(body, read)));
        Box::pin(pending.map_ok(move |rsp| rsp.map(|body| bound(body, write))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_fails_at_its_deadline() {
        let never = futures::stream::pending::<Result<Frame<Bytes>, BoxError>>();
        let body = Deadline::new(boxed(StreamBody::new(never)), Duration::from_secs(3));
        let err = body.collect().await.unwrap_err();
        assert!(err.is::<DeadlineExceeded>(), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_prompt_body_is_untouched() {
        let body = Deadline::new(
            boxed(http_body_util::Full::new(Bytes::from_static(b"ok"))),
            Duration::from_secs(3),
        );
        assert_eq!(
            body.collect().await.unwrap().to_bytes(),
            Bytes::from_static(b"ok")
        );
    }
}
