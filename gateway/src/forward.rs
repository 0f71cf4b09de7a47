//! Relays a request to the upstream daemon and streams its answer back.
//!
//! # Where it sits
//! The innermost service of the stack (`stack.rs`): whatever no layer above answered itself
//! reaches [`Forward`]. Errors are returned as [`ForwardError`] and turned into kubo-style
//! 502/504 answers by `rescue`.
//!
//! # Invariants
//! - Method, path, query, end-to-end headers, status and bodies pass unchanged; bodies stream
//!   both ways and are never collected (full duplex: an upstream may answer while the upload
//!   is still arriving). Hop-by-hop headers are removed (`hop`), `X-Forwarded-For` is added,
//!   `Host` is kept as the client sent it.
//! - Trailers reach clients that accept them; for others a mid-stream error breaks the stream
//!   (`trailers`).
//! - The upstream response head is awaited at most `upstream_header_timeout`; on expiry the
//!   upstream request is dropped, which closes its connection (nothing returns to the pool).
//! - A client that goes away drops the response body, which drops the upstream `Incoming` and
//!   closes that upstream connection: no orphaned upstream work or sockets.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, Uri, uri::PathAndQuery};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::upstream::{Connector, Target};
use crate::{Body, BoxError, ProxyConfig, boxed, hop, trailers::StreamErrorGuard};

/// The client's address, put in request extensions by the server for `X-Forwarded-For`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

/// Why a request could not be relayed; each variant has one answer in `rescue`.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The upstream could not be dialled or dropped the connection before answering (502).
    #[error("upstream {target} unreachable: {reason}")]
    Unreachable {
        /// The upstream, as configured.
        target: String,
        /// The innermost cause, e.g. `Connection refused (os error 111)`.
        reason: String,
    },
    /// The upstream did not send response headers in time (504). It may still act on the request.
    #[error("upstream {target} sent no response headers within {after}")]
    HeaderTimeout {
        /// The upstream, as configured.
        target: String,
        /// The configured limit, Go-formatted.
        after: String,
    },
}

/// The forwarding service; cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct Forward {
    client: Client<Connector, Body>,
    target: Arc<Target>,
    authority: Arc<str>,
    header_timeout: Option<Duration>,
}

impl Forward {
    /// A forwarder to `config.node` with the configured upstream timeouts.
    pub fn new(config: &ProxyConfig) -> Self {
        let connector = Connector::new(config.node.clone(), config.upstream_connect_timeout);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Self {
            client,
            authority: config.node.authority().into(),
            target: Arc::new(config.node.clone()),
            header_timeout: config.upstream_header_timeout,
        }
    }

    fn rewrite(&self, mut req: Request<Body>) -> Result<(Request<Body>, bool), BoxError> {
        let accepts_trailers = hop::accepts_trailers(req.headers());
        let path = req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        *req.uri_mut() = Uri::builder()
            .scheme("http")
            .authority(&*self.authority)
            .path_and_query(path)
            .build()?;
        hop::strip(req.headers_mut());
        req.headers_mut()
            .insert(http::header::TE, http::HeaderValue::from_static("trailers"));
        if let Some(ClientAddr(Some(ip))) = req.extensions().get::<ClientAddr>().copied() {
            hop::append_forwarded_for(req.headers_mut(), ip);
        }
        Ok((req, accepts_trailers))
    }

    async fn relay(self, req: Request<Body>) -> Result<Response<Body>, BoxError> {
        let (req, accepts_trailers) = self.rewrite(req)?;
        let pending = self.client.request(req);
        let answer = match self.header_timeout {
            Some(limit) => tokio::time::timeout(limit, pending)
                .await
                .map_err(|_| self.timed_out(limit))?,
            None => pending.await,
        };
        let mut rsp = answer.map_err(|e| self.unreachable(&e))?;
        hop::strip(rsp.headers_mut());
        Ok(rsp.map(|body| match accepts_trailers {
            true => boxed(body),
            false => boxed(StreamErrorGuard::new(boxed(body))),
        }))
    }

    fn unreachable(&self, err: &hyper_util::client::legacy::Error) -> BoxError {
        ForwardError::Unreachable {
            target: self.target.to_string(),
            reason: innermost(err),
        }
        .into()
    }

    fn timed_out(&self, limit: Duration) -> BoxError {
        let after = crate::duration::format(limit);
        ForwardError::HeaderTimeout {
            target: self.target.to_string(),
            after,
        }
        .into()
    }
}

/// The innermost error message in a source chain (the OS error, usually).
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

impl tower::Service<Request<Body>> for Forward {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        Box::pin(self.clone().relay(req))
    }
}
