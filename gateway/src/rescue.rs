//! The one place that turns errors into kubo-style HTTP answers.
//!
//! kubo's error body is `{"Message":"…","Code":<n>,"Type":"error"}` followed by a newline
//! (go-ipfs-cmds `Error`), with `Code` 0 (`ErrNormal`) for server-side failures and 1
//! (`ErrClient`) for client errors. Classification, as pingora does it:
//!
//! | side | error | status |
//! |---|---|---|
//! | upstream daemon | unreachable / dropped before answering | 502 |
//! | upstream daemon | no response headers in time | 504 |
//! | downstream | request body too slow (`read_timeout`) | 408 |
//! | internal | anything else, panics included | 500 |
//!
//! # Invariants
//! - Every error that reaches [`Rescue`] becomes an answer; the service below it never fails.
//! - Errors after the answer has started cannot change the status; they travel in the body
//!   (see `trailers`) and are not seen here.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::FutureExt;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

use crate::deadline::DeadlineExceeded;
use crate::forward::ForwardError;
use crate::intercept::InterceptError;
use crate::{Body, BoxError, boxed};

pub use crate::kubo_error::{CODE_CLIENT, CODE_NORMAL, error_body, error_response};

/// The status an error is answered with (see the module table).
pub fn status_of(err: &(dyn std::error::Error + 'static)) -> StatusCode {
    if let Some(forward) = err.downcast_ref::<ForwardError>() {
        return match forward {
            ForwardError::Unreachable { .. } => StatusCode::BAD_GATEWAY,
            ForwardError::HeaderTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        };
    }
    if err.downcast_ref::<DeadlineExceeded>().is_some() {
        return StatusCode::REQUEST_TIMEOUT;
    }
    StatusCode::INTERNAL_SERVER_ERROR
}

/// The answer for an error that reached the rescue layer.
pub fn into_response(err: &BoxError) -> Response<Body> {
    if let Some(refused) = err.downcast_ref::<InterceptError>() {
        return intercept_response(refused);
    }
    let status = status_of(err.as_ref());
    tracing::warn!(%status, error = %err, "request failed");
    error_response(status, &format!("cairn: {err}"))
}

/// kubo's answer for an intercepted request that failed before its first byte: its own
/// words (no `cairn:` prefix, a parent cluster matches on them), plain text where kubo
/// answers in plain text (403, 405 with `Allow`, option errors).
fn intercept_response(err: &InterceptError) -> Response<Body> {
    let status = err.status();
    if !(err.is_plain() || matches!(err, InterceptError::BadOption(_))) {
        return error_response(status, &err.to_string());
    }
    let mut rsp = Response::new(boxed(Full::new(Bytes::from(format!("{err}\n")))));
    *rsp.status_mut() = status;
    let headers = rsp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(cairn_kubo::error::PLAIN_TEXT),
    );
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(header::ALLOW, HeaderValue::from_static(cairn_kubo::error::ALLOW));
    }
    rsp
}

/// The answer for a panic caught by the stack (`tower_http::catch_panic`).
pub fn panic_response(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    tracing::error!("request handler panicked");
    error_response(StatusCode::INTERNAL_SERVER_ERROR, "cairn: internal error")
}

/// Layer for [`Rescue`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RescueLayer;

/// Answers every error of the inner service with [`into_response`].
#[derive(Debug)]
pub struct Rescue<S> {
    inner: S,
    /// An error the inner service reported from `poll_ready`, answered by the next `call`.
    not_ready: Option<BoxError>,
}

impl<S: Clone> Clone for Rescue<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            not_ready: None,
        }
    }
}

// === impl RescueLayer ===

impl<S> tower::Layer<S> for RescueLayer {
    type Service = Rescue<S>;
    fn layer(&self, inner: S) -> Rescue<S> {
        Rescue {
            inner,
            not_ready: None,
        }
    }
}

// === impl Rescue ===

impl<S, R> tower::Service<R> for Rescue<S>
where
    S: tower::Service<R, Response = Response<Body>, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // A readiness error is kept and answered by the next `call` instead of failing here.
        if let Err(err) = std::task::ready!(self.inner.poll_ready(cx)) {
            self.not_ready = Some(err);
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: R) -> Self::Future {
        if let Some(err) = self.not_ready.take() {
            return Box::pin(futures::future::ready(Ok(into_response(&err))));
        }
        let pending = self.inner.call(req);
        Box::pin(pending.map(|answer| Ok(answer.unwrap_or_else(|err| into_response(&err)))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_is_kubo_shaped_with_newline() {
        assert_eq!(
            &error_body("boom", 0)[..],
            b"{\"Message\":\"boom\",\"Code\":0,\"Type\":\"error\"}\n"
        );
    }

    #[test]
    fn forward_errors_map_to_gateway_statuses() {
        let down = ForwardError::Unreachable {
            target: "x".into(),
            reason: "refused".into(),
        };
        let slow = ForwardError::HeaderTimeout {
            target: "x".into(),
            after: "1s".into(),
        };
        assert_eq!(status_of(&down), StatusCode::BAD_GATEWAY);
        assert_eq!(status_of(&slow), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(
            status_of(&std::io::Error::other("x")),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
