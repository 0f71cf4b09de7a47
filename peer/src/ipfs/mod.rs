//! The client a peer uses for its own IPFS daemon (the embedded node, kubo, js-ipfs or a child
//! cluster's gateway): ipfs-cluster's ipfshttp connector calls (shared/reference/ipfs-proxy.md §3).
//!
//! # Invariants
//! - Every call has a deadline that is restarted by every answer frame ([`Client::exchange`]):
//!   a daemon that stops sending for longer fails the call instead of hanging it (for
//!   `pin/add?progress=true` this is ipfs-cluster's no-progress watchdog, `pin_timeout`).
//! - A late failure (`X-Stream-Error`, asked for with `TE: trailers`) fails the call.
//! - Daemons differ in encoding: js-ipfs sends `repo/stat` numbers as strings, kubo as
//!   numbers; both are read.
//!
//! # Not here
//! What to pin (the tracker), back-off across calls.

use std::time::Duration;

use crate::api::RepoStat;
use bytes::Bytes;
use cairn_gateway::upstream::{Connector, Target};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

mod blocks;
mod child;
pub mod embedded;
mod events;
mod pins;
mod swarm;

pub use pins::{PinKind, PinLabel, listed_cids};

mod backoff;

use backoff::Backoff;

/// Per-call limits (`ipfs_request_timeout`, `unpin_timeout`; `pin/add` has `pin_timeout`).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// How long an ordinary call may go without an answer frame.
    pub request: Duration,
    /// How long a `pin/rm` may go without an answer frame.
    pub unpin: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            request: Duration::from_secs(300),
            unpin: Duration::from_secs(3 * 3600),
        }
    }
}

impl Timeouts {
    /// From the validated configuration.
    pub fn from_config(config: &crate::config::IpfsHttpConfig) -> Self {
        Self {
            request: config.ipfs_request_timeout.get(),
            unpin: config.unpin_timeout.get(),
        }
    }
}

/// Why a call to the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum IpfsError {
    /// No answer (connection refused, timeout, broken body).
    #[error("ipfs daemon at {target}: {reason}")]
    Unreachable {
        /// The daemon's address.
        target: String,
        /// What happened.
        reason: String,
    },
    /// The daemon answered with an error.
    #[error("ipfs daemon at {target} answered {status}: {message}")]
    Refused {
        /// The daemon's address.
        target: String,
        /// Its status code.
        status: u16,
        /// Its message.
        message: String,
    },
}

impl IpfsError {
    /// What a pin status shows: the daemon's own message when it answered, else the whole
    /// error (which daemon, what failed).
    pub fn reason(&self) -> String {
        match self {
            Self::Refused { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// A client of one daemon's RPC API.
#[derive(Clone, Debug)]
pub struct IpfsClient {
    target: Target,
    client: Client<Connector, Full<Bytes>>,
    timeouts: Timeouts,
    backoff: std::sync::Arc<Backoff>,
    child: std::sync::Arc<child::ChildKind>,
    /// Sent as `Authorization` on every call (`node_auth_secret`).
    secret: Option<http::HeaderValue>,
    /// Pins the daemon listed at the last [`IpfsClient::pins`] (`u64::MAX`: none yet).
    listed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl IpfsClient {
    /// A client of the daemon at `target`.
    pub fn new(target: Target) -> Self {
        let connector = Connector::new(target.clone(), Some(Duration::from_secs(10)));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Self {
            target,
            client,
            timeouts: Timeouts::default(),
            backoff: std::sync::Arc::default(),
            child: std::sync::Arc::default(),
            secret: None,
            listed: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX)),
        }
    }

    /// A client of the daemon at `target`, over TLS and with a secret as `access` says.
    pub fn with_access(
        target: Target,
        access: &crate::config::DaemonAccess,
    ) -> Result<Self, cairn_gateway::tls::TlsError> {
        let tls = access.tls.as_ref().map(|t| t.config()).transpose()?;
        let connector = Connector::new(target.clone(), Some(Duration::from_secs(10))).with_tls(tls);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            secret: access.secret.as_ref().map(|s| s.header_value()),
            ..Self::new(target)
        })
    }

    /// The same client with other per-call limits.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The per-call limits.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// `POST /api/v0/<call>` without a body; the whole answer body.
    async fn post(&self, call: &str) -> Result<Bytes, IpfsError> {
        self.exchange(call, None, Bytes::new(), self.timeouts.request)
            .await
    }

    /// `POST /api/v0/<call>` with `body` (of `content_type`); fails when the daemon sends
    /// nothing for `idle`, answers an error, or ends with `X-Stream-Error`.
    pub(crate) async fn exchange(
        &self,
        call: &str,
        content_type: Option<&str>,
        body: Bytes,
        idle: Duration,
    ) -> Result<Bytes, IpfsError> {
        let target = cairn_gateway::config::target_multiaddr(&self.target);
        let unreachable = |reason: String| IpfsError::Unreachable {
            target: target.clone(),
            reason,
        };
        let uri = format!("http://{}/api/v0/{call}", self.target.authority());
        // `TE: trailers`: a daemon's late failure (`X-Stream-Error`) reaches us only if asked.
        let mut req = http::Request::post(uri).header(http::header::TE, "trailers");
        if let Some(kind) = content_type {
            req = req.header(http::header::CONTENT_TYPE, kind);
        }
        if let Some(secret) = &self.secret {
            req = req.header(http::header::AUTHORIZATION, secret.clone());
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| unreachable(e.to_string()))?;
        self.backoff.check().map_err(unreachable)?;
        let answer = tokio::time::timeout(idle, self.client.request(req))
            .await
            .map_err(|_| unreachable(format!("no answer within {idle:?}")))?;
        // Only failures to connect count towards the back-off; a slow daemon is not down.
        let rsp = self
            .backoff
            .observe(answer.map_err(|e| e.to_string()))
            .map_err(unreachable)?;
        let status = rsp.status();
        if status.is_success() {
            self.child.observe(call, rsp.headers());
        }
        let (body, late) = read_watched(rsp.into_body(), idle).await.map_err(unreachable)?;
        let refused = |message: String| IpfsError::Refused {
            target: target.clone(),
            status: status.as_u16(),
            message,
        };
        if let Some(message) = late {
            return Err(refused(message));
        }
        if !status.is_success() {
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["Message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(refused(message));
        }
        Ok(body)
    }

    /// `repo/stat` (numbers as numbers or strings).
    pub async fn repo_stat(&self, size_only: bool) -> Result<RepoStat, IpfsError> {
        let body = self.post(&format!("repo/stat?size-only={size_only}")).await?;
        let value: Value = serde_json::from_slice(&body).unwrap_or_default();
        let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
        Ok(RepoStat {
            repo_size: number(&value["RepoSize"]),
            storage_max: number(&value["StorageMax"]),
            num_objects: number(&value["NumObjects"]),
            repo_path: text("RepoPath"),
            version: text("Version"),
        })
    }

    /// `repo/gc`: the removed keys, or the daemon's error.
    pub async fn repo_gc(&self) -> Result<Vec<String>, IpfsError> {
        let body = self.post("repo/gc?stream-errors=true").await?;
        let mut keys = Vec::new();
        for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let value: Value = serde_json::from_slice(line).unwrap_or_default();
            if let Some(error) = value["Error"].as_str().filter(|e| !e.is_empty()) {
                return Err(IpfsError::Refused {
                    target: cairn_gateway::config::target_multiaddr(&self.target),
                    status: 200,
                    message: error.to_owned(),
                });
            }
            keys.extend(value["Key"]["/"].as_str().map(str::to_owned));
        }
        Ok(keys)
    }
}

/// The whole body and its `X-Stream-Error`, failing when no frame comes for `idle`.
async fn read_watched(
    mut body: hyper::body::Incoming,
    idle: Duration,
) -> Result<(Bytes, Option<String>), String> {
    let mut data = bytes::BytesMut::new();
    let mut late = None;
    loop {
        match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(format!("no progress within {idle:?}")),
            Ok(None) => return Ok((data.freeze(), late)),
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(Some(Ok(frame))) => match frame.into_data() {
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(frame) => late = stream_error(frame.trailers_ref()),
            },
        }
    }
}

/// A non-empty `X-Stream-Error` trailer: the daemon failed after it began answering.
fn stream_error(trailers: Option<&http::HeaderMap>) -> Option<String> {
    let value = trailers?.get("x-stream-error")?.to_str().ok()?;
    (!value.is_empty()).then(|| value.to_owned())
}

/// A JSON number, or a number in a string (js-ipfs), saturating at `u64::MAX`.
fn number(value: &Value) -> u64 {
    match value {
        Value::Number(n) => n.as_u64().unwrap_or(u64::MAX),
        Value::String(s) => s.parse().unwrap_or(0),
        _ => 0,
    }
}
