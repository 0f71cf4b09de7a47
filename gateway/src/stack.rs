//! The only place that orders the gateway's layers.
//!
//! A request travels top to bottom; its answer bottom to top. Each layer says why it sits
//! where it does.

use std::convert::Infallible;
use std::sync::Arc;

use http::{Request, Response};
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;
use tower_http::catch_panic::CatchPanicLayer;

use crate::access_log::AccessLogLayer;
use crate::authorize::AuthorizeLayer;
use crate::deadline::DeadlineLayer;
use crate::forward::Forward;
use crate::intercept::{Cluster, InterceptLayer};
use crate::rescue::{self, RescueLayer};
use crate::stats::GatewayStats;
use crate::tls::TlsError;
use crate::{Body, BoxError, ProxyConfig, boxed};

/// The assembled stack: never fails, every error is already an HTTP answer.
pub type Stack = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// Builds the stack for `config` (which `Server::bind` has validated): a plain proxy.
pub fn build(config: &ProxyConfig) -> Result<Stack, TlsError> {
    build_with(config, None)
}

/// Builds the stack for `config`, serving intercepted routes from `cluster` when given.
/// Fails only when the upstream's TLS settings cannot be loaded.
pub fn build_with(config: &ProxyConfig, cluster: Option<Arc<dyn Cluster>>) -> Result<Stack, TlsError> {
    build_observed(config, cluster, None)
}

/// [`build_with`], counting requests and upstream failures in `stats` when given.
pub fn build_observed(
    config: &ProxyConfig,
    cluster: Option<Arc<dyn Cluster>>,
    stats: Option<Arc<GatewayStats>>,
) -> Result<Stack, TlsError> {
    let access_log = AccessLogLayer::counting(stats.clone(), cluster.is_some());
    let intercept = cluster.map(|c| InterceptLayer::new(c, config));
    let forward = Forward::new(config)?.counting(stats);
    let service = ServiceBuilder::new()
        // Outermost, so the logged (and counted) status is the one the client got, rescued
        // errors included, and the time counted covers the whole body.
        .layer(access_log)
        // kubo's `API.Authorizations`, before anything acts: a denied request reaches neither
        // the cluster nor the upstream. Below the access log so denials are logged.
        .layer(AuthorizeLayer::new(config.authorizations.clone()))
        // tower-http boxes bodies in its own type; bring them back to the stack's `Body`.
        .map_response(|rsp: Response<tower_http::body::UnsyncBoxBody<bytes::Bytes, BoxError>>| rsp.map(boxed))
        // A panic below becomes a kubo-style 500 instead of a dropped connection.
        .layer(CatchPanicLayer::custom(rescue::panic_response))
        // The one place errors turn into kubo-style answers (502, 504, 408, 500).
        .layer(RescueLayer)
        // Bounds whole bodies; hyper bounds only the request head.
        .layer(DeadlineLayer::new(config.read_timeout, config.write_timeout))
        // Pins, adds and repo calls go to the cluster; below the rescue and the deadlines so
        // its errors become kubo answers and its bodies are bounded like any other.
        .option_layer(intercept)
        // Innermost: whatever no layer above answered goes to the upstream daemon.
        .service(forward);
    Ok(BoxCloneSyncService::new(service))
}
