//! One client connection: hyper's HTTP/1 settings, the idle watchdog, graceful close.
//!
//! # Where it sits
//! `server` accepts a socket and hands it to [`serve`], which runs hyper's HTTP/1 connection
//! over the stack until the client leaves, the idle limit passes, or the server shuts down.
//!
//! # Invariants
//! - hyper's header read timeout is enforced (a `Timer` is set). hyper starts it when it waits
//!   for a request head, which includes keep-alive idle time, so an idle connection lives at
//!   most `min(read_header_timeout, idle_timeout)`.
//! - Request heads are bounded: more than `max_headers` fields or more than
//!   `max_header_bytes` + 4096 bytes (Go's slack, as ipfs-cluster's proxy has it) answer 431;
//!   a URI over 65534 bytes answers 414 (hyper).
//! - The idle watchdog never closes a connection with a request or response body in flight;
//!   a response the client stops taking is cut off by `write_stall_timeout` (`stall`).
//! - A request with both `Content-Length` and `Transfer-Encoding` is read by its chunked
//!   framing only, and hyper closes the connection after answering it (RFC 9112 §6.3), so
//!   no second request can be smuggled behind it.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use std::future::Future;

use bytes::Bytes;
use futures::TryFutureExt;
use http::Request;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::forward::ClientAddr;
use crate::stack::Stack;
use crate::{Body, BoxError, ProxyConfig, boxed};

/// Go's `http.Server` grants this many bytes beyond `MaxHeaderBytes`; ipfs-cluster relies on it.
const GO_HEADER_SLACK: usize = 4096;
/// hyper's read buffer. It also bounds what hyper accepts as a request head, so the head
/// limit (`max_header_bytes` + slack) is checked separately ([`head_bytes`]): a buffer as
/// small as the head limit would make hyper read request bodies 8 KiB at a time, and every
/// upload through the gateway would pay per-frame costs (add through the gateway ran at
/// 0.70 of the node's own speed that way).
const READ_BUF: usize = 256 * 1024;

/// What every connection shares: the stack, hyper's settings and the idle limit.
#[derive(Clone, Debug)]
pub struct Shared {
    stack: Stack,
    http: http1::Builder,
    idle_timeout: Option<Duration>,
    write_stall_timeout: Option<Duration>,
    head_limit: usize,
}

impl Shared {
    /// hyper's HTTP/1 settings from `config`, around `stack`.
    pub fn new(config: &ProxyConfig, stack: Stack) -> Self {
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(config.read_header_timeout)
            .max_buf_size((config.max_header_bytes + GO_HEADER_SLACK).max(READ_BUF))
            .max_headers(config.max_headers)
            .keep_alive(true);
        Self {
            stack,
            http,
            idle_timeout: config.idle_timeout,
            write_stall_timeout: config.write_stall_timeout,
            head_limit: config.max_header_bytes + GO_HEADER_SLACK,
        }
    }
}

/// Serves one accepted connection until it closes; `_slot` is released when it does.
pub async fn serve<I>(
    io: I,
    client: Option<IpAddr>,
    shared: Shared,
    mut stop: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let service = hyper::service::service_fn({
        let (stack, activity, limit) = (shared.stack.clone(), activity.clone(), shared.head_limit);
        move |req: Request<Incoming>| {
            let too_large = head_bytes(&req) > limit;
            let answer = answer(stack.clone(), req, client, activity.begin());
            async move {
                if too_large {
                    return Ok(header_too_large());
                }
                answer.await
            }
        }
    });
    let io = crate::stall::StallGuard::new(io, shared.write_stall_timeout);
    let conn = shared.http.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result { tracing::debug!(error = %err, "connection ended with an error") }
                return;
            }
            () = activity.expired(shared.idle_timeout), if !closing => closing = true,
            _ = stop.wait_for(|stop| *stop), if !closing => closing = true,
        }
        conn.as_mut().graceful_shutdown();
    }
}

fn answer(
    stack: Stack,
    req: Request<Incoming>,
    client: Option<IpAddr>,
    busy: Busy,
) -> impl Future<Output = Answer> {
    let mut req = req.map(boxed);
    req.extensions_mut().insert(ClientAddr(client));
    stack
        .oneshot(req)
        .map_ok(move |rsp| rsp.map(|inner| boxed(Guarded { inner, _busy: busy })))
}

type Answer = Result<http::Response<Body>, std::convert::Infallible>;

/// The size of a request head as Go counts it against `MaxHeaderBytes`: request line and
/// header lines with their separators.
fn head_bytes<B>(req: &Request<B>) -> usize {
    let line = req.method().as_str().len() + req.uri().to_string().len() + 11;
    let fields: usize = req
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    line + fields + 2
}

/// 431, as hyper answers a head over its buffer.
fn header_too_large() -> http::Response<Body> {
    let mut response = http::Response::new(boxed(http_body_util::Empty::new()));
    *response.status_mut() = http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
    response
}

/// When the connection last did something, and how many exchanges are in flight.
#[derive(Debug)]
struct Activity {
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

/// Marks one exchange in flight until its response body is finished or dropped.
#[derive(Debug)]
struct Busy(Arc<Activity>);

impl Activity {
    fn new() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        }
    }

    fn touch(&self) {
        if let Ok(mut last) = self.last.lock() {
            *last = Instant::now();
        }
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.touch();
        Busy(self.clone())
    }

    fn idle_for(&self) -> Duration {
        self.last.lock().map(|last| last.elapsed()).unwrap_or_default()
    }

    /// Resolves once nothing has been in flight for `limit`; never when `limit` is `None`.
    async fn expired(&self, limit: Option<Duration>) {
        let Some(limit) = limit else {
            return std::future::pending().await;
        };
        loop {
            let idle = self.idle_for();
            if self.in_flight.load(Ordering::SeqCst) == 0 && idle >= limit {
                return;
            }
            tokio::time::sleep(limit.saturating_sub(idle).max(Duration::from_millis(10))).await;
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.touch();
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its exchange marked busy until it is finished or dropped.
    struct Guarded {
        #[pin]
        inner: Body,
        _busy: Busy,
    }
}

impl HttpBody for Guarded {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
