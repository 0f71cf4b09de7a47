//! `/metrics` over HTTP: the endpoint's listener settings, the small service that answers
//! scrapes, and binding it with the gateway's server (connection limits, head timeouts and
//! graceful shutdown, as the REST API gets them).
//!
//! # Invariants
//! - Only `GET` and `HEAD /metrics` are answered with the exposition; any other path is 404
//!   and any other method 405, in plain text. Nothing a scraper sends changes state.
//! - The format follows `Accept` ([`text::wants_openmetrics`]); both come from one reading.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use cairn_gateway::config::{ListenAddr, ProxyConfig};
use cairn_gateway::server::ServerError;
use cairn_gateway::stack::Stack;
use cairn_gateway::{Body, Server, boxed};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{Empty, Full};

use super::{Exposition, text};
use crate::config::MetricsConfig;

/// The path scrapers read.
pub const PATH: &str = "/metrics";

/// The listener of `/metrics`, or `None` when `enable_stats` is false.
pub fn server_config(config: &MetricsConfig) -> Result<Option<ProxyConfig>, String> {
    if !config.enable_stats {
        return Ok(None);
    }
    let listen = cairn_gateway::config::listen_addr(&config.prometheus_endpoint)
        .map_err(|e| format!("observations.metrics.prometheus_endpoint: {e}"))?;
    Ok(Some(ProxyConfig {
        listen: vec![listen],
        ..ProxyConfig::default()
    }))
}

/// Binds `/metrics` over `exposition` on `config`'s listener.
pub async fn bind(config: &ProxyConfig, exposition: Arc<Exposition>) -> Result<Server, ServerError> {
    for addr in &config.listen {
        if let ListenAddr::Tcp(sock) = addr
            && !sock.ip().is_loopback()
        {
            tracing::info!("metrics are served on {sock} to anyone who can reach it (no authentication)");
        }
    }
    Server::bind_with(config, stack(exposition)).await
}

/// The service answering scrapes.
pub fn stack(exposition: Arc<Exposition>) -> Stack {
    let service = tower::service_fn(move |req: Request<Body>| {
        let exposition = exposition.clone();
        // The request's parts are taken before awaiting: its body is not `Sync`.
        let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok());
        let openmetrics = text::wants_openmetrics(accept);
        let (method, on_path) = (req.method().clone(), req.uri().path() == PATH);
        async move { Ok::<_, Infallible>(answer(&exposition, &method, on_path, openmetrics).await) }
    });
    tower::util::BoxCloneSyncService::new(service)
}

async fn answer(
    exposition: &Arc<Exposition>,
    method: &Method,
    on_path: bool,
    openmetrics: bool,
) -> Response<Body> {
    if !on_path {
        return plain(
            StatusCode::NOT_FOUND,
            "404 page not found: metrics are at /metrics\n",
        );
    }
    if !matches!(*method, Method::GET | Method::HEAD) {
        let mut rsp = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        rsp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return rsp;
    }
    let text = match exposition.openmetrics().await {
        Ok(text) => text,
        Err(e) => {
            tracing::warn!(error = %e, "metrics could not be read");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "metrics could not be read\n");
        }
    };
    let (kind, body) = match openmetrics {
        true => (text::OPENMETRICS, text.to_string()),
        false => (text::PROMETHEUS, text::to_prometheus(&text)),
    };
    let body = match *method == Method::HEAD {
        true => boxed(Empty::<Bytes>::new()),
        false => boxed(Full::new(Bytes::from(body))),
    };
    let mut rsp = Response::new(body);
    rsp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    rsp
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut rsp = Response::new(boxed(Full::new(Bytes::from_static(text.as_bytes()))));
    *rsp.status_mut() = status;
    rsp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    rsp
}
