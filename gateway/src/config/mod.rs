//! The gateway's configuration: the `api.ipfsproxy` section of `service.json`.
//!
//! Keys and defaults are ipfs-cluster's (`api/ipfsproxy/config.go`) plus a few Cairn keys for
//! limits ipfs-cluster leaves to Go's defaults. Sources are applied in order: defaults, the
//! JSON section, then `CLUSTER_IPFSPROXY_<KEY>` environment variables (KEY is the JSON key
//! upper-cased without underscores, ipfs-cluster's envconfig scheme). JSON values and
//! environment strings go through the same per-key reader ([`KEYS`], in `keys`, which also
//! holds each key's type and meaning for the generated docs/config.md), so every error names
//! its key.
//!
//! # Invariants
//! - [`ProxyConfig::validate`] runs before any socket binds (see `server`).
//! - A zero duration means "no limit", as in Go's `http.Server`.
//! - Unknown keys are refused, so a typo never silently falls back to a default.

use std::path::PathBuf;
use std::time::Duration;

use cairn_kubo::auth::{AuthSecret, Authorizations};
use serde_json::{Map, Value, json};

use crate::duration;
use crate::tls::{ClientTls, ServerFiles};
use crate::upstream::Target;

mod keys;

pub use keys::{KEYS, Key, Kind, Raw, Setter};

/// ipfs-cluster's `read_header_timeout` default.
pub const DEFAULT_READ_HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// ipfs-cluster's `idle_timeout` default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// ipfs-cluster's `max_header_bytes` default and minimum.
pub const MIN_MAX_HEADER_BYTES: usize = 4096;
/// ipfs-cluster's `extract_headers_path` default.
pub const DEFAULT_EXTRACT_HEADERS_PATH: &str = "/api/v0/version";
/// ipfs-cluster's `extract_headers_ttl` default.
pub const DEFAULT_EXTRACT_HEADERS_TTL: Duration = Duration::from_secs(300);
/// Cairn: open client connections served at once; accepting pauses beyond it.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Cairn: request header fields accepted (hyper's default); more answers 431.
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// Cairn: how long dialling the upstream may take before 502.
pub const DEFAULT_UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Cairn: how long the upstream may take to send response headers before 504.
pub const DEFAULT_UPSTREAM_HEADER_TIMEOUT: Duration = Duration::from_secs(300);
/// Cairn: positional arguments an intercepted command accepts (each `pin/add` arg is a pin).
pub const DEFAULT_MAX_ARGS: usize = 1000;
/// Cairn's default `write_stall_timeout`: a client that takes no byte for this long is gone.
pub const DEFAULT_WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the gateway listens: a TCP socket address or a unix socket path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    /// An IP address and port (port 0 picks a free port).
    Tcp(std::net::SocketAddr),
    /// A unix domain socket path.
    Unix(PathBuf),
}

/// The `api.ipfsproxy` section, parsed and typed.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxyConfig {
    /// Addresses to listen on (`listen_multiaddress`, a string or an array).
    pub listen: Vec<ListenAddr>,
    /// The upstream daemon (`node_multiaddress`).
    pub node: Target,
    /// Request log file (`log_file`); `None` logs through `tracing` only.
    pub log_file: Option<PathBuf>,
    /// Whole-request read limit (`read_timeout`); `None` = no limit.
    pub read_timeout: Option<Duration>,
    /// Request head read limit (`read_header_timeout`); `None` = no limit.
    pub read_header_timeout: Option<Duration>,
    /// Whole-response write limit (`write_timeout`); `None` = no limit.
    pub write_timeout: Option<Duration>,
    /// Keep-alive idle limit (`idle_timeout`); `None` = no limit.
    pub idle_timeout: Option<Duration>,
    /// Request head size limit in bytes (`max_header_bytes`); more answers 431.
    pub max_header_bytes: usize,
    /// Extra upstream headers copied onto intercepted replies (`extract_headers_extra`).
    pub extract_headers_extra: Vec<String>,
    /// Upstream path whose headers are copied (`extract_headers_path`).
    pub extract_headers_path: String,
    /// How long copied headers are cached (`extract_headers_ttl`); zero = forever.
    pub extract_headers_ttl: Duration,
    /// Cairn: connections served at once (`max_connections`).
    pub max_connections: usize,
    /// Cairn: request header fields accepted (`max_headers`).
    pub max_headers: usize,
    /// Cairn: upstream dial limit (`upstream_connect_timeout`); `None` = the OS's.
    pub upstream_connect_timeout: Option<Duration>,
    /// Cairn: upstream response-head limit (`upstream_header_timeout`); `None` = no limit.
    pub upstream_header_timeout: Option<Duration>,
    /// Cairn: how long a write to a client may make no progress before the connection is
    /// closed (`write_stall_timeout`); `None` = no limit.
    pub write_stall_timeout: Option<Duration>,
    /// Cairn: origins accepted on intercepted routes besides the gateway's own loopback
    /// origins (`allowed_origins`; `*` accepts any).
    pub allowed_origins: Vec<String>,
    /// Speak TLS to the upstream (`node_https`).
    pub node_https: bool,
    /// Cairn: the secret presented to the upstream, kubo's `AuthSecret` form
    /// (`node_auth_secret`); `None` sends none.
    pub node_auth_secret: Option<AuthSecret>,
    /// Cairn: trust anchors (PEM) for an https upstream besides the OS's (`node_ca_file`).
    pub node_ca_file: Option<PathBuf>,
    /// kubo's `API.Authorizations` on every route (`authorizations`); empty = open.
    pub authorizations: Authorizations,
    /// Cairn: whether a client's `Authorization` header is passed to the upstream
    /// (`forward_authorization`); off, the upstream sees `node_auth_secret` or nothing.
    pub forward_authorization: bool,
    /// Cairn: PEM certificate chain for TLS on the listener (`ssl_cert_file`).
    pub ssl_cert_file: Option<PathBuf>,
    /// Cairn: PEM private key for TLS on the listener (`ssl_key_file`).
    pub ssl_key_file: Option<PathBuf>,
    /// Cairn: positional arguments an intercepted command accepts (`max_args`); more is 400.
    pub max_args: usize,
}

/// A configuration value that cannot be used; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The key exists but its value is wrong.
    #[error("{key}: {reason}")]
    Invalid {
        /// Where the value came from: `api.ipfsproxy.<key>` or the environment variable.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The key is not one this section knows.
    #[error("api.ipfsproxy.{key}: unknown key")]
    Unknown {
        /// The unknown key.
        key: String,
    },
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            listen: vec![ListenAddr::Tcp(([127, 0, 0, 1], 9095).into())],
            node: Target::Tcp {
                host: "127.0.0.1".to_owned(),
                port: 5001,
            },
            log_file: None,
            read_timeout: None,
            read_header_timeout: Some(DEFAULT_READ_HEADER_TIMEOUT),
            write_timeout: None,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            max_header_bytes: MIN_MAX_HEADER_BYTES,
            extract_headers_extra: Vec::new(),
            extract_headers_path: DEFAULT_EXTRACT_HEADERS_PATH.to_owned(),
            extract_headers_ttl: DEFAULT_EXTRACT_HEADERS_TTL,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_headers: DEFAULT_MAX_HEADERS,
            upstream_connect_timeout: Some(DEFAULT_UPSTREAM_CONNECT_TIMEOUT),
            upstream_header_timeout: Some(DEFAULT_UPSTREAM_HEADER_TIMEOUT),
            write_stall_timeout: Some(DEFAULT_WRITE_STALL_TIMEOUT),
            allowed_origins: Vec::new(),
            node_https: false,
            node_auth_secret: None,
            node_ca_file: None,
            authorizations: Authorizations::default(),
            forward_authorization: false,
            ssl_cert_file: None,
            ssl_key_file: None,
            max_args: DEFAULT_MAX_ARGS,
        }
    }
}

/// The environment variable that overrides `key`: `CLUSTER_IPFSPROXY_` + KEY without `_`.
pub fn env_name(key: &str) -> String {
    format!("CLUSTER_IPFSPROXY_{}", key.replace('_', "").to_uppercase())
}

impl ProxyConfig {
    /// Defaults overlaid with the JSON section (`None` when `service.json` has no such section).
    pub fn from_json(section: Option<&Value>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        let Some(section) = section else { return Ok(config) };
        let map = section.as_object().ok_or_else(|| ConfigError::Invalid {
            key: "api.ipfsproxy".to_owned(),
            reason: "must be a JSON object".to_owned(),
        })?;
        config.apply_json(map)?;
        Ok(config)
    }

    fn apply_json(&mut self, map: &Map<String, Value>) -> Result<(), ConfigError> {
        for (key, value) in map {
            let known = keys::find(key).ok_or_else(|| ConfigError::Unknown { key: key.clone() })?;
            (known.set)(self, Raw::Json(value)).map_err(|reason| ConfigError::Invalid {
                key: format!("api.ipfsproxy.{key}"),
                reason,
            })?;
        }
        Ok(())
    }

    /// Applies `CLUSTER_IPFSPROXY_*` overrides found through `lookup` (e.g. `std::env::var`).
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        for Key { name: key, set, .. } in KEYS {
            let name = env_name(key);
            if let Some(text) = lookup(&name) {
                set(self, Raw::Env(&text)).map_err(|reason| ConfigError::Invalid {
                    key: format!("{name} (api.ipfsproxy.{key})"),
                    reason,
                })?;
            }
        }
        Ok(())
    }

    /// Checks what single keys cannot: run before any socket is bound.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: &str| ConfigError::Invalid {
            key: format!("api.ipfsproxy.{key}"),
            reason: reason.to_owned(),
        };
        if self.listen.is_empty() {
            return Err(invalid("listen_multiaddress", "at least one address is required"));
        }
        if self.extract_headers_path.is_empty() {
            return Err(invalid("extract_headers_path", "must not be empty"));
        }
        if self.max_connections == 0 {
            return Err(invalid("max_connections", "must be at least 1"));
        }
        if self.max_headers == 0 {
            return Err(invalid("max_headers", "must be at least 1"));
        }
        if self.max_args == 0 {
            return Err(invalid("max_args", "must be at least 1"));
        }
        if self.ssl_cert_file.is_some() != self.ssl_key_file.is_some() {
            return Err(invalid(
                "ssl_cert_file",
                "ssl_cert_file and ssl_key_file go together",
            ));
        }
        if self.node_https && matches!(self.node, Target::Unix(_)) {
            return Err(invalid("node_https", "a unix socket upstream cannot use https"));
        }
        Ok(())
    }

    /// The listener's certificate and key, when TLS is on.
    pub fn server_tls(&self) -> Option<ServerFiles> {
        match (&self.ssl_cert_file, &self.ssl_key_file) {
            (Some(cert), Some(key)) => Some(ServerFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }

    /// How to check an https upstream, when `node_https` is on.
    pub fn upstream_tls(&self) -> Option<ClientTls> {
        self.node_https.then(|| ClientTls {
            ca_file: self.node_ca_file.clone(),
            insecure: false,
        })
    }

    /// The section as `service.json` writes it, durations in Go form.
    pub fn to_json(&self) -> Value {
        let opt = |d: Option<Duration>| duration::format(d.unwrap_or(Duration::ZERO));
        json!({
            "listen_multiaddress": self.listen.iter().map(listen_multiaddr).collect::<Vec<_>>(),
            "node_multiaddress": target_multiaddr(&self.node),
            "log_file": self.log_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            "read_timeout": opt(self.read_timeout),
            "read_header_timeout": opt(self.read_header_timeout),
            "write_timeout": opt(self.write_timeout),
            "idle_timeout": opt(self.idle_timeout),
            "max_header_bytes": self.max_header_bytes,
            "extract_headers_extra": self.extract_headers_extra,
            "extract_headers_path": self.extract_headers_path,
            "extract_headers_ttl": duration::format(self.extract_headers_ttl),
            "max_connections": self.max_connections,
            "max_headers": self.max_headers,
            "upstream_connect_timeout": opt(self.upstream_connect_timeout),
            "upstream_header_timeout": opt(self.upstream_header_timeout),
            "write_stall_timeout": opt(self.write_stall_timeout),
            "allowed_origins": self.allowed_origins,
            "node_https": self.node_https,
            "node_auth_secret": self.node_auth_secret.as_ref().map(AuthSecret::as_written).unwrap_or_default(),
            "node_ca_file": shown_path(&self.node_ca_file),
            "authorizations": self.authorizations.to_json(),
            "forward_authorization": self.forward_authorization,
            "ssl_cert_file": shown_path(&self.ssl_cert_file),
            "ssl_key_file": shown_path(&self.ssl_key_file),
            "max_args": self.max_args,
        })
    }
}

fn shown_path(path: &Option<PathBuf>) -> String {
    path.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
}

/// Writes a listen address back as a multiaddr.
pub fn listen_multiaddr(addr: &ListenAddr) -> String {
    match addr {
        ListenAddr::Tcp(sock) if sock.is_ipv6() => format!("/ip6/{}/tcp/{}", sock.ip(), sock.port()),
        ListenAddr::Tcp(sock) => format!("/ip4/{}/tcp/{}", sock.ip(), sock.port()),
        ListenAddr::Unix(path) => format!("/unix{}", path.display()),
    }
}

/// Writes an upstream target back as a multiaddr.
pub fn target_multiaddr(target: &Target) -> String {
    match target {
        Target::Tcp { host, port } => match host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => format!("/ip4/{ip}/tcp/{port}"),
            Ok(std::net::IpAddr::V6(ip)) => format!("/ip6/{ip}/tcp/{port}"),
            Err(_) => format!("/dns/{host}/tcp/{port}"),
        },
        Target::Unix(path) => format!("/unix{}", path.display()),
    }
}

/// Reads a listen multiaddr: an IP address with a TCP port, or a unix socket.
pub fn listen_addr(text: &str) -> Result<ListenAddr, String> {
    match Target::from_multiaddr(text).map_err(|e| e.reason)? {
        Target::Unix(path) => Ok(ListenAddr::Unix(path)),
        Target::Tcp { host, port } => {
            let ip = host
                .parse()
                .map_err(|_| format!("{text:?}: listen on an IP address, not a DNS name"))?;
            Ok(ListenAddr::Tcp(std::net::SocketAddr::new(ip, port)))
        }
    }
}

#[cfg(test)]
mod tests;
