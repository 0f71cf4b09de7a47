//! The IPFS Pinning Service API (spec v1.0, as ipfs-cluster's `pinsvcapi` serves it) on its
//! own listener, `api.pinsvcapi.http_listen_multiaddress` (127.0.0.1:9097 by default).
//!
//! Routes: `GET /pins` (filters in [`filters`]), `POST /pins` (202), `GET /pins/{requestid}`,
//! `POST /pins/{requestid}` (replace, 202), `DELETE /pins/{requestid}` (202), and
//! `POST /token` (from `rest::security`, when users are configured). Objects are in [`types`];
//! a request's status comes from the trackers of its allocated peers ([`status`], where the
//! mapping is stated). docs/pinsvc.md describes the API for operators.
//!
//! # Where it sits
//! `peer::Peer::start` binds it with the REST API's server machinery; every request passes
//! the REST API's `Security` (body limit, CORS, the CSRF rule, basic auth and bearer tokens)
//! read from this API's own section, then [`route`]; the operations ([`requests`]) go through
//! `Cluster` like the REST API's.
//!
//! # Invariants
//! - Every error is the spec's `Failure`, `{"error":{"reason":"NOT_FOUND","details":"…"}}`,
//!   refusals of `Security` included; `reason` is the status's name in capitals.
//! - Statuses: 400 bad input, 401 no or bad credentials, 403 a browser's cross-origin write
//!   or a read-only token's write, 404 an unknown request, 405 a wrong method, 413 a body over
//!   `max_body_bytes`, 503 no leader or too many listings, 500 otherwise.
//! - A request body is read up to `max_body_bytes`, never further.
//!
//! # Not here
//! Allocation (the allocator, through `Cluster::pin`); fetching `origins` (they are recorded
//! on the pin as ipfs-cluster records them).

pub mod filters;
mod page;
mod requests;
pub mod status;
pub mod types;

use std::sync::Arc;

use bytes::Bytes;
use cairn_gateway::access_log::Api;
use cairn_gateway::config::ProxyConfig;
use cairn_gateway::{Body, BoxError, boxed};
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde::Serialize;

use crate::cluster::{Cluster, ClusterError};
use crate::config::PinSvcConfig;
use crate::rest::security::{Security, Voice};

pub use filters::FilterError;
pub use types::PinRefused;

/// How `Security` answers on this API: `api.pinsvcapi` in hints, the spec's `Failure`.
pub const VOICE: Voice = Voice {
    section: "api.pinsvcapi",
    error: failure,
};

/// Why a request was not served.
#[derive(Debug, thiserror::Error)]
pub enum SvcError {
    /// A `GET /pins` filter outside the spec (400).
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// The body is not a `Pin` object (400).
    #[error("the body is not a pin object")]
    BadBody(#[source] serde_json::Error),
    /// The `Pin` is outside the spec's limits (400).
    #[error(transparent)]
    Refused(#[from] PinRefused),
    /// The body is larger than `max_body_bytes` (413).
    #[error("request body over {0} bytes (api.pinsvcapi.max_body_bytes)")]
    TooLarge(u64),
    /// The body could not be read (400).
    #[error("reading the request body")]
    Body(#[source] BoxError),
    /// No pin request has this id (404).
    #[error("no pin request has the id {0:?}")]
    NotFound(String),
    /// The cluster refused or failed (see [`SvcError::status`]).
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

impl SvcError {
    /// The answer's status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Filter(_) | Self::BadBody(_) | Self::Refused(_) | Self::Body(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotFound(_) | Self::Cluster(ClusterError::NotPinned) => StatusCode::NOT_FOUND,
            Self::Cluster(ClusterError::Invalid(_)) => StatusCode::BAD_REQUEST,
            Self::Cluster(ClusterError::NoLeader(_) | ClusterError::Unhealthy(_) | ClusterError::Busy(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Cluster(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The access rules of `config`, answering in this API's voice.
pub fn security(config: &PinSvcConfig) -> Arc<Security> {
    Arc::new(Security::with_voice(config, VOICE))
}

/// The server settings of `config` (listener, TLS files) for `cairn_gateway::Server`.
pub fn server_config(config: &PinSvcConfig) -> Result<ProxyConfig, String> {
    let listen = cairn_gateway::config::listen_addr(&config.http_listen_multiaddress)
        .map_err(|e| format!("api.pinsvcapi.http_listen_multiaddress: {e}"))?;
    let file = |path: &str| Some(path).filter(|p| !p.is_empty()).map(std::path::PathBuf::from);
    Ok(ProxyConfig {
        listen: vec![listen],
        ssl_cert_file: file(&config.ssl_cert_file),
        ssl_key_file: file(&config.ssl_key_file),
        ..ProxyConfig::default()
    })
}

/// The API over `cluster`, guarded by `security`, reading bodies up to `max_body_bytes`.
pub fn stack(cluster: Cluster, security: Arc<Security>, max_body_bytes: u64) -> cairn_gateway::stack::Stack {
    crate::rest::security::guarded(security, Api::PinSvc, move |req| {
        let cluster = cluster.clone();
        async move { route(&cluster, req, max_body_bytes).await }
    })
}

async fn route(cluster: &Cluster, req: Request<Body>, max_body_bytes: u64) -> Response<Body> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let method = req.method().clone();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["pins"]) => answer(StatusCode::OK, requests::list(cluster, &query).await),
        (&Method::POST, ["pins"]) => {
            let added = async { requests::add(cluster, read_pin(req, max_body_bytes).await?).await };
            answer(StatusCode::ACCEPTED, added.await)
        }
        (&Method::GET, ["pins", id]) => answer(StatusCode::OK, requests::get(cluster, id).await),
        (&Method::POST, ["pins", id]) => {
            let replaced =
                async { requests::replace(cluster, id, read_pin(req, max_body_bytes).await?).await };
            answer(StatusCode::ACCEPTED, replaced.await)
        }
        (&Method::DELETE, ["pins", id]) => match requests::remove(cluster, id).await {
            Ok(()) => empty(StatusCode::ACCEPTED),
            Err(e) => refusal(&e),
        },
        (_, ["pins"] | ["pins", _]) => failure(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("{method} is not allowed here"),
        ),
        _ => failure(StatusCode::NOT_FOUND, &format!("no route {path}")),
    }
}

/// The body as a checked `Pin`, read up to `limit` bytes.
async fn read_pin(req: Request<Body>, limit: u64) -> Result<types::Pin, SvcError> {
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut body = req.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(SvcError::Body)?.into_data() else {
            continue;
        };
        if bytes.len().saturating_add(data.len()) > cap {
            return Err(SvcError::TooLarge(limit));
        }
        bytes.extend_from_slice(&data);
    }
    let pin: types::Pin = serde_json::from_slice(&bytes).map_err(SvcError::BadBody)?;
    Ok(pin.checked()?)
}

fn answer<T: Serialize>(status: StatusCode, result: Result<T, SvcError>) -> Response<Body> {
    match result {
        Ok(value) => json(status, &value),
        Err(e) => refusal(&e),
    }
}

/// The `Failure` for `err`, its sources in the details.
fn refusal(err: &SvcError) -> Response<Body> {
    let status = err.status();
    if status.is_server_error() {
        tracing::warn!(error = %chain(err), "pinning service API request failed");
    }
    failure(status, &chain(err))
}

/// The spec's `Failure` with `status`, its name as the reason, and `details`.
pub fn failure(status: StatusCode, details: &str) -> Response<Body> {
    json(status, &types::Failure::new(reason(status), details))
}

/// `NOT_FOUND` for 404: the status's name in capitals, words joined by `_`.
pub fn reason(status: StatusCode) -> String {
    let name = status.canonical_reason().unwrap_or("ERROR");
    name.to_uppercase().replace([' ', '-'], "_")
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let (status, bytes) = match serde_json::to_vec(value) {
        Ok(mut bytes) => {
            bytes.push(b'\n');
            (status, bytes)
        }
        Err(e) => {
            let body = serde_json::json!({ "error": { "reason": "INTERNAL_SERVER_ERROR", "details": e.to_string() } });
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{body}\n").into_bytes(),
            )
        }
    };
    let mut rsp = Response::new(boxed(Full::new(Bytes::from(bytes))));
    *rsp.status_mut() = status;
    rsp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    rsp
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut rsp = Response::new(boxed(http_body_util::Empty::<Bytes>::new()));
    *rsp.status_mut() = status;
    rsp
}

/// An error and its sources, one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;
