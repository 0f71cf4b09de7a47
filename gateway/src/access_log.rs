//! One access log line per request: method, path, status, body bytes sent, duration.
//!
//! The line is emitted when the response body ends (or is dropped, e.g. when the client goes
//! away mid-stream, then with `complete=false`), so `bytes` and `duration_ms` cover the whole
//! transfer, not just the head. The gateway's events use the `tracing` target [`TARGET`], the
//! REST API's [`REST_TARGET`] and the pinning service API's [`PINSVC_TARGET`], so the binary
//! can route each to its own file (`log_file`, `http_log_file`). With
//! [`AccessLogLayer::counting`], the same moment counts the request in [`GatewayStats`]
//! (route class, status, latency).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Buf, Bytes};
use futures::TryFutureExt;
use http::{Method, Request, Response, StatusCode};
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::stats::{GatewayStats, RouteClass};
use crate::{Body, BoxError, boxed};

/// The `tracing` target of the gateway's access log events.
pub const TARGET: &str = "cairn::access";
/// The `tracing` target of the REST API's access log events (ipfs-cluster's `restapilog`).
pub const REST_TARGET: &str = "cairn::restapi";
/// The `tracing` target of the pinning service API's access log events.
pub const PINSVC_TARGET: &str = "cairn::pinsvcapi";

/// Which API a log line is about: it picks the line's target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Api {
    /// The IPFS-API gateway ([`TARGET`]).
    #[default]
    Gateway,
    /// The cluster's REST API ([`REST_TARGET`]).
    Rest,
    /// The pinning service API ([`PINSVC_TARGET`]).
    PinSvc,
}

/// What is known of a request when its answer starts.
#[derive(Debug)]
struct Entry {
    method: Method,
    path: String,
    status: StatusCode,
    started: Instant,
    bytes: u64,
    /// Where the request is counted, and as what.
    counted: Option<(Arc<GatewayStats>, RouteClass)>,
    api: Api,
}

/// One access event on `target` (a macro: `tracing` wants the target as a constant).
macro_rules! access_event {
    ($target:expr, $entry:expr, $complete:expr) => {
        tracing::info!(
            target: $target,
            method = %$entry.method,
            path = %$entry.path,
            status = $entry.status.as_u16(),
            bytes = $entry.bytes,
            duration_ms = $entry.started.elapsed().as_secs_f64() * 1e3,
            complete = $complete,
            "access"
        )
    };
}

impl Entry {
    fn emit(&self, complete: bool) {
        if let Some((stats, class)) = &self.counted {
            stats.record(*class, self.status, self.started.elapsed());
        }
        match self.api {
            Api::Gateway => access_event!(TARGET, self, complete),
            Api::Rest => access_event!(REST_TARGET, self, complete),
            Api::PinSvc => access_event!(PINSVC_TARGET, self, complete),
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that counts what it yields and logs the entry when it finishes.
    struct Logged {
        #[pin]
        inner: Body,
        entry: Entry,
        done: bool,
    }

    impl PinnedDrop for Logged {
        fn drop(this: Pin<&mut Self>) {
            if !this.done {
                this.entry.emit(false);
            }
        }
    }
}

impl HttpBody for Logged {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        let frame = std::task::ready!(this.inner.as_mut().poll_frame(cx));
        if let Some(Ok(frame)) = &frame {
            this.entry.bytes += frame.data_ref().map_or(0, |d| d.remaining() as u64);
        }
        // hyper stops polling once `is_end_stream` is true, so the end is seen either way.
        let ended = frame.is_none() || this.inner.is_end_stream();
        if ended && !*this.done {
            *this.done = true;
            this.entry.emit(true);
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

/// Layer for [`AccessLog`].
#[derive(Clone, Debug, Default)]
pub struct AccessLogLayer {
    counting: Counting,
    api: Api,
}

/// Where requests are counted and whether intercepted routes exist (a gateway without a
/// cluster forwards everything).
#[derive(Clone, Debug, Default)]
struct Counting {
    stats: Option<Arc<GatewayStats>>,
    intercepting: bool,
}

/// Logs every request once its answer has been sent (and counts it, when counting).
#[derive(Clone, Debug)]
pub struct AccessLog<S> {
    inner: S,
    counting: Counting,
    api: Api,
}

// === impl AccessLogLayer ===

impl AccessLogLayer {
    /// Logs and also counts every request in `stats`; `intercepting` says whether the stack
    /// serves intercepted routes (see [`RouteClass::of`]).
    pub fn counting(stats: Option<Arc<GatewayStats>>, intercepting: bool) -> Self {
        Self {
            counting: Counting { stats, intercepting },
            api: Api::Gateway,
        }
    }

    /// Logs every request of `api` under its target, counting nothing.
    pub fn of(api: Api) -> Self {
        Self {
            counting: Counting::default(),
            api,
        }
    }
}

impl<S> tower::Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;
    fn layer(&self, inner: S) -> AccessLog<S> {
        AccessLog {
            inner,
            counting: self.counting.clone(),
            api: self.api,
        }
    }
}

// === impl AccessLog ===

impl<S, B> tower::Service<Request<B>> for AccessLog<S>
where
    S: tower::Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (method, path, started) = (req.method().clone(), req.uri().path().to_owned(), Instant::now());
        let counted = (self.counting.stats.clone())
            .map(|stats| (stats, RouteClass::of(&path, self.counting.intercepting)));
        let (pending, api) = (self.inner.call(req), self.api);
        Box::pin(pending.map_ok(move |rsp| {
            let entry = Entry {
                method,
                path,
                status: rsp.status(),
                started,
                bytes: 0,
                counted,
                api,
            };
            rsp.map(|inner| {
                boxed(Logged {
                    inner,
                    entry,
                    done: false,
                })
            })
        }))
    }
}
