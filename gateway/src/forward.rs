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
//! - A client's `Authorization` reaches the upstream only with `forward_authorization`;
//!   otherwise the upstream sees the configured `node_auth_secret`, or no credentials.
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

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::deadline::DeadlineExceeded;
use crate::tls::TlsError;
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
    /// Parsed once; only the pool key (the client's `Host` header is forwarded as sent).
    authority: Authority,
    header_timeout: Option<Duration>,
    credentials: Credentials,
    /// Where upstream failures are counted (`stack::build_observed`).
    stats: Option<Arc<crate::stats::GatewayStats>>,
}

/// What the upstream is told of who is asking.
#[derive(Clone, Debug)]
struct Credentials {
    /// Pass the client's `Authorization` on.
    forward_client: bool,
    /// Sent when the client's is not passed on (or there is none).
    node_secret: Option<http::HeaderValue>,
}

impl Credentials {
    fn apply(&self, headers: &mut http::HeaderMap) {
        if !self.forward_client {
            headers.remove(http::header::AUTHORIZATION);
        }
        if let Some(secret) = &self.node_secret
            && !headers.contains_key(http::header::AUTHORIZATION)
        {
            headers.insert(http::header::AUTHORIZATION, secret.clone());
        }
    }
}

impl Forward {
    /// A forwarder to `config.node` with the configured upstream timeouts, TLS and secret.
    pub fn new(config: &ProxyConfig) -> Result<Self, TlsError> {
        let tls = config.upstream_tls().map(|tls| tls.config()).transpose()?;
        let connector = Connector::new(config.node.clone(), config.upstream_connect_timeout).with_tls(tls);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            client,
            authority: parse_authority(&config.node),
            target: Arc::new(config.node.clone()),
            header_timeout: config.upstream_header_timeout,
            credentials: Credentials {
                forward_client: config.forward_authorization,
                node_secret: config.node_auth_secret.as_ref().map(|s| s.header_value()),
            },
            stats: None,
        })
    }

    /// Counts every failure to reach the upstream in `stats`.
    pub fn counting(mut self, stats: Option<Arc<crate::stats::GatewayStats>>) -> Self {
        self.stats = stats;
        self
    }

    fn count(&self, failure: crate::stats::UpstreamFailure) {
        if let Some(stats) = &self.stats {
            stats.upstream_failed(failure);
        }
    }

    fn rewrite(&self, mut req: Request<Body>) -> Result<(Request<Body>, bool), BoxError> {
        let accepts_trailers = hop::accepts_trailers(req.headers());
        let path = req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let mut parts = http::uri::Parts::default();
        (parts.scheme, parts.authority, parts.path_and_query) =
            (Some(Scheme::HTTP), Some(self.authority.clone()), Some(path));
        *req.uri_mut() = Uri::from_parts(parts)?;
        hop::strip(req.headers_mut());
        self.credentials.apply(req.headers_mut());
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

    /// Classifies a client failure: a request body that missed its `read_timeout` is the
    /// client's fault (408, kept as [`DeadlineExceeded`]); anything else is the upstream's (502).
    fn unreachable(&self, err: &hyper_util::client::legacy::Error) -> BoxError {
        if let Some(late) = find::<DeadlineExceeded>(err) {
            return DeadlineExceeded(late.0.clone()).into();
        }
        self.count(crate::stats::UpstreamFailure::Unreachable);
        ForwardError::Unreachable {
            target: self.target.to_string(),
            reason: innermost(err),
        }
        .into()
    }

    fn timed_out(&self, limit: Duration) -> BoxError {
        self.count(crate::stats::UpstreamFailure::HeaderTimeout);
        let after = crate::duration::format(limit);
        ForwardError::HeaderTimeout {
            target: self.target.to_string(),
            after,
        }
        .into()
    }
}

/// The upstream's authority for request URIs; a name `http` cannot carry falls back to
/// `localhost` (the connector dials the configured target whatever the URI says).
fn parse_authority(target: &Target) -> Authority {
    target
        .authority()
        .parse()
        .unwrap_or_else(|_| Authority::from_static("localhost"))
}

/// The first error of type `E` in a source chain.
fn find<'a, E: std::error::Error + 'static>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a E> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        current = e.source();
    }
    None
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
