//! `service.json` for a cluster peer: ipfs-cluster's sections and key names where the concept
//! matches (`cluster`, `consensus.raft`, `api.restapi`, `api.pinsvcapi`, `api.ipfsproxy`,
//! `ipfs_connector.ipfshttp`, `observations.metrics`).
//!
//! Sources: defaults, the file, then `CLUSTER_<SECTION>_<KEY>` environment variables
//! (`CLUSTER_<KEY>` for the `cluster` section). Each error names its key
//! (`cluster.secret: …`). The gateway's section is parsed by `cairn_gateway::config`.
//!
//! # Invariants
//! [`ServiceConfig::load`] validates everything before anything binds.

use std::path::Path;

use cairn_gateway::config::ProxyConfig;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::check_factors;

mod duration;
mod observations;
mod pinsvc;
mod placement;

pub use duration::GoDuration;
pub use observations::{DEFAULT_PROMETHEUS_ENDPOINT, MetricsConfig};
pub use pinsvc::PinSvcConfig;

pub use placement::{
    BalancedSection, DiskSection, MonitorSection, PinQueueSection, Placement, TagsSection, TrackerSection,
};

/// The `cluster` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Human-readable name of this peer.
    pub peername: String,
    /// 32-byte cluster secret, hex; peers with another secret cannot connect.
    pub secret: String,
    /// Where the cluster swarm listens.
    pub listen_multiaddress: Vec<String>,
    /// Peers to connect to at start (multiaddrs ending in `/p2p/<id>`).
    pub peer_addresses: Vec<String>,
    /// Default minimum replication; -1 = every peer.
    pub replication_factor_min: i32,
    /// Default maximum replication; -1 = every peer.
    pub replication_factor_max: i32,
    /// Leave the cluster on a clean shutdown.
    pub leave_on_shutdown: bool,
    /// How often this peer broadcasts its `ping` metric (valid for twice as long).
    pub monitor_ping_interval: GoDuration,
    /// When false (the default), pins allocated to a peer whose ping expired are re-allocated.
    pub disable_repinning: bool,
    /// Failed pins are retried this often (and on demand).
    pub pin_recover_interval: GoDuration,
    /// The tracker compares the pinset with the IPFS daemon's pins at least this often.
    pub state_sync_interval: GoDuration,
    /// Peer ids admitted to member-class peer RPCs (Raft, writes, statuses, blocks; see
    /// `rpc::access`) without being Raft members; `"*"` admits every peer holding the secret
    /// (what every peer could do before). Empty (the default): members only.
    pub trusted_peers: Vec<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            peername: hostname(),
            secret: String::new(),
            listen_multiaddress: vec!["/ip4/0.0.0.0/tcp/9096".into()],
            peer_addresses: Vec::new(),
            replication_factor_min: -1,
            replication_factor_max: -1,
            leave_on_shutdown: false,
            monitor_ping_interval: GoDuration::secs(15),
            disable_repinning: false,
            pin_recover_interval: GoDuration::secs(720),
            state_sync_interval: GoDuration::secs(60),
            trusted_peers: Vec::new(),
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// The `consensus.raft` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RaftConfig {
    /// How long to wait for a leader before a write fails.
    pub wait_for_leader_timeout: GoDuration,
    /// Raft RPC timeout.
    pub network_timeout: GoDuration,
    /// Leader heartbeat interval.
    pub heartbeat_timeout: GoDuration,
    /// Election timeout (randomised between this and a third more; openraft adds its leader
    /// lease, the maximum, before a follower stands).
    pub election_timeout: GoDuration,
    /// Applied entries between snapshots.
    pub snapshot_threshold: u64,
    /// Log entries kept behind each snapshot, so that a follower lagging by fewer catches up
    /// from the log instead of receiving a whole snapshot (hashicorp raft's `TrailingLogs`).
    pub trailing_logs: u64,
    /// Static membership: the peer ids of every initial member (this peer included); their
    /// addresses come from `cluster.peer_addresses`. Empty = join through a bootstrap peer.
    pub init_peerset: Vec<String>,
}

impl Default for RaftConfig {
    fn default() -> Self {
        Self {
            wait_for_leader_timeout: GoDuration::secs(15),
            network_timeout: GoDuration::secs(10),
            heartbeat_timeout: GoDuration::millis(250),
            election_timeout: GoDuration::millis(750),
            snapshot_threshold: 10_000,
            trailing_logs: 10_240,
            init_peerset: Vec::new(),
        }
    }
}

/// The `api.restapi` section: ipfs-cluster's keys (auth, TLS, CORS) plus Cairn's limits.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestConfig {
    /// Where the REST API listens.
    pub http_listen_multiaddress: String,
    /// PEM certificate chain: the API serves HTTPS (with `ssl_key_file`).
    pub ssl_cert_file: String,
    /// PEM private key of `ssl_cert_file`.
    pub ssl_key_file: String,
    /// User → password; `null` = no authentication (ipfs-cluster's default).
    pub basic_auth_credentials: Option<std::collections::BTreeMap<String, String>>,
    /// Cairn: how long a token from `POST /token` is valid.
    pub token_lifetime: GoDuration,
    /// Origins a browser may call from (`*` = any); Cairn's default is none, safer than
    /// ipfs-cluster's `*`.
    pub cors_allowed_origins: Vec<String>,
    /// Methods an allowed origin may use.
    pub cors_allowed_methods: Vec<String>,
    /// Request headers an allowed origin may send.
    pub cors_allowed_headers: Vec<String>,
    /// Response headers an allowed origin may read.
    pub cors_exposed_headers: Vec<String>,
    /// Whether an allowed origin may send credentials.
    pub cors_allow_credentials: bool,
    /// How long a browser may cache a preflight answer (`0s` = not cached).
    pub cors_max_age: GoDuration,
    /// Cairn: the largest request body accepted (bytes); more answers 413.
    pub max_body_bytes: u64,
    /// File the API's access log is appended to instead of stderr (ipfs-cluster's key),
    /// relative to the config directory; `""` = stderr.
    pub http_log_file: String,
}

impl Default for RestConfig {
    fn default() -> Self {
        Self {
            http_listen_multiaddress: "/ip4/127.0.0.1/tcp/9094".into(),
            ssl_cert_file: String::new(),
            ssl_key_file: String::new(),
            basic_auth_credentials: None,
            token_lifetime: GoDuration::secs(24 * 3600),
            cors_allowed_origins: Vec::new(),
            cors_allowed_methods: vec!["GET".into()],
            cors_allowed_headers: Vec::new(),
            cors_exposed_headers: [
                "Content-Type",
                "X-Stream-Output",
                "X-Chunked-Output",
                "X-Content-Length",
            ]
            .map(String::from)
            .to_vec(),
            cors_allow_credentials: true,
            cors_max_age: GoDuration::secs(0),
            max_body_bytes: 1 << 20,
            http_log_file: String::new(),
        }
    }
}

/// Passwords never reach a log or an error through `Debug`.
impl std::fmt::Debug for RestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let users: Option<Vec<&String>> = self.basic_auth_credentials.as_ref().map(|c| c.keys().collect());
        f.debug_struct("RestConfig")
            .field("http_listen_multiaddress", &self.http_listen_multiaddress)
            .field("ssl_cert_file", &self.ssl_cert_file)
            .field("ssl_key_file", &self.ssl_key_file)
            .field("basic_auth_users", &users)
            .field("token_lifetime", &self.token_lifetime)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("cors_allowed_methods", &self.cors_allowed_methods)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("http_log_file", &self.http_log_file)
            .finish_non_exhaustive()
    }
}

impl RestConfig {
    /// Checks what single keys cannot (run by [`ServiceConfig::load`]).
    pub fn validate(&self) -> Result<(), String> {
        if self.ssl_cert_file.is_empty() != self.ssl_key_file.is_empty() {
            return Err("api.restapi.ssl_cert_file: ssl_cert_file and ssl_key_file go together".into());
        }
        if let Some(users) = &self.basic_auth_credentials {
            if users.is_empty() {
                return Err("api.restapi.basic_auth_credentials: give at least one user, or null".into());
            }
            if let Some(user) = users
                .iter()
                .find(|(u, p)| u.is_empty() || u.contains(':') || p.is_empty())
            {
                return Err(format!(
                    "api.restapi.basic_auth_credentials: user {:?}: names are not empty and hold no ':', passwords are not empty",
                    user.0
                ));
            }
        }
        if self.token_lifetime.get().is_zero() {
            return Err("api.restapi.token_lifetime: must be above 0s".into());
        }
        for method in &self.cors_allowed_methods {
            if http::Method::from_bytes(method.as_bytes()).is_err() {
                return Err(format!(
                    "api.restapi.cors_allowed_methods: {method:?} is not an HTTP method"
                ));
            }
        }
        for header in self.cors_allowed_headers.iter().chain(&self.cors_exposed_headers) {
            if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                return Err(format!(
                    "api.restapi.cors_*_headers: {header:?} is not a header name"
                ));
            }
        }
        if let Some(origin) = self
            .cors_allowed_origins
            .iter()
            .find(|o| *o != "*" && !(o.starts_with("http://") || o.starts_with("https://")))
        {
            return Err(format!(
                "api.restapi.cors_allowed_origins: {origin:?} is not an origin (scheme://host[:port]) or *"
            ));
        }
        Ok(())
    }
}

/// `node_multiaddress` value that selects the embedded node (also the default).
pub const EMBEDDED: &str = "embedded";

/// The `ipfs_connector.ipfshttp` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IpfsHttpConfig {
    /// The IPFS daemon this peer pins on and its gateway fronts: `embedded` (cairn-node,
    /// in-process on a loopback port) or a daemon's API multiaddr.
    pub node_multiaddress: String,
    /// A `pin/add` that shows no progress for this long is abandoned.
    pub pin_timeout: GoDuration,
    /// Limit of one `pin/rm`.
    pub unpin_timeout: GoDuration,
    /// Limit of any other call to the daemon.
    pub ipfs_request_timeout: GoDuration,
    /// Cairn: speak TLS to the daemon (also when `node_multiaddress` ends in `/https`).
    pub node_https: bool,
    /// Cairn: the secret presented to the daemon, kubo's `AuthSecret` form
    /// (`basic:<user>:<pass>`, `bearer:<token>`); empty = none. Also the gateway's.
    pub node_auth_secret: String,
    /// Cairn: PEM trust anchors for an https daemon, besides the OS's store.
    pub node_ca_file: String,
}

impl Default for IpfsHttpConfig {
    fn default() -> Self {
        Self {
            node_multiaddress: EMBEDDED.into(),
            pin_timeout: GoDuration::secs(120),
            unpin_timeout: GoDuration::secs(10800),
            ipfs_request_timeout: GoDuration::secs(300),
            node_https: false,
            node_auth_secret: String::new(),
            node_ca_file: String::new(),
        }
    }
}

impl IpfsHttpConfig {
    /// The daemon to use, or `None` for the embedded node.
    pub fn upstream(&self) -> Result<Option<cairn_gateway::upstream::Target>, String> {
        let text = self.node_multiaddress.trim();
        if text.is_empty() || text == EMBEDDED {
            return Ok(None);
        }
        cairn_gateway::upstream::Target::from_multiaddr(text)
            .map(Some)
            .map_err(|e| format!("ipfs_connector.ipfshttp.node_multiaddress: {e}"))
    }

    /// The daemon's connection settings: TLS, secret, trust anchors.
    pub fn access(&self) -> Result<DaemonAccess, String> {
        let secret = match self.node_auth_secret.is_empty() {
            true => None,
            false => Some(
                cairn_kubo::auth::AuthSecret::parse(&self.node_auth_secret)
                    .map_err(|e| format!("ipfs_connector.ipfshttp.node_auth_secret: {e}"))?,
            ),
        };
        let https =
            self.node_https || cairn_gateway::upstream::multiaddr_wants_tls(self.node_multiaddress.trim());
        Ok(DaemonAccess {
            tls: https.then(|| cairn_gateway::tls::ClientTls {
                ca_file: Some(self.node_ca_file.clone())
                    .filter(|f| !f.is_empty())
                    .map(Into::into),
                insecure: false,
            }),
            secret,
        })
    }
}

/// How this peer reaches its IPFS daemon beyond its address.
#[derive(Clone, Debug, Default)]
pub struct DaemonAccess {
    /// TLS settings, when the daemon speaks https.
    pub tls: Option<cairn_gateway::tls::ClientTls>,
    /// The secret sent as `Authorization`.
    pub secret: Option<cairn_kubo::auth::AuthSecret>,
}

impl DaemonAccess {
    /// Applies the same settings to the gateway that fronts that daemon.
    pub fn onto(&self, gateway: &mut ProxyConfig) {
        gateway.node_https = self.tls.is_some();
        gateway.node_ca_file = self.tls.as_ref().and_then(|t| t.ca_file.clone());
        gateway.node_auth_secret = self.secret.clone();
    }
}

/// Every section of `service.json`.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// `cluster`.
    pub cluster: ClusterConfig,
    /// `consensus.raft`.
    pub raft: RaftConfig,
    /// `api.restapi`.
    pub restapi: RestConfig,
    /// `api.pinsvcapi` (the REST API's keys); `None` when the section is absent: not served.
    pub pinsvcapi: Option<PinSvcConfig>,
    /// `api.ipfsproxy`.
    pub ipfsproxy: ProxyConfig,
    /// `ipfs_connector.ipfshttp`.
    pub ipfshttp: IpfsHttpConfig,
    /// Tracker, allocator, informers and monitor.
    pub placement: Placement,
    /// `observations.metrics`: the Prometheus endpoint.
    pub metrics: MetricsConfig,
}

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// (JSON path, environment prefix) of the sections this module parses.
const SECTIONS: [(&[&str], &str); 5] = [
    (&["cluster"], "CLUSTER_"),
    (&["consensus", "raft"], "CLUSTER_RAFT_"),
    (&["api", "restapi"], "CLUSTER_RESTAPI_"),
    (&pinsvc::PATH, "CLUSTER_PINSVCAPI_"),
    (&["ipfs_connector", "ipfshttp"], "CLUSTER_IPFSHTTP_"),
];

impl ServiceConfig {
    /// `service.json` as `cairn init` writes it, with a fresh secret.
    pub fn generated(peername: Option<String>) -> Result<Value, ConfigError> {
        let secret =
            random_secret().map_err(|e| ConfigError(format!("cannot generate cluster.secret: {e}")))?;
        Ok(template(peername.unwrap_or_else(hostname), secret))
    }

    /// Reads `<dir>/service.json`, applies the environment through `env`, validates.
    pub fn load(dir: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let path = dir.join("service.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError(format!("{}: {e} (run `cairn init` first)", path.display())))?;
        let mut json: Value = serde_json::from_str(&text)
            .map_err(|e| ConfigError(format!("{} is not valid JSON: {e}", path.display())))?;
        apply_env(&mut json, &env);
        let config = Self {
            cluster: section(&json, &["cluster"])?,
            raft: section(&json, &["consensus", "raft"])?,
            restapi: section(&json, &["api", "restapi"])?,
            pinsvcapi: pinsvc::from_json(&json)?,
            ipfsproxy: proxy_section(&json, &env)?,
            ipfshttp: section(&json, &["ipfs_connector", "ipfshttp"])?,
            placement: Placement::from_json(&json)?,
            metrics: observations::from_json(&json)?,
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let fail = |key: &str, reason: String| Err(ConfigError(format!("{key}: {reason}")));
        if decode_secret(&self.cluster.secret).is_none() {
            return fail(
                "cluster.secret",
                "must be 64 hexadecimal characters (32 bytes)".into(),
            );
        }
        if let Err(e) = check_factors(
            self.cluster.replication_factor_min,
            self.cluster.replication_factor_max,
        ) {
            return fail("cluster.replication_factor_min/max", e.to_string());
        }
        if let Some(bad) = self.cluster.trusted_peers.iter().find(|p| !is_trusted_entry(p)) {
            return fail(
                "cluster.trusted_peers",
                format!("{bad:?} is neither a peer id nor \"*\""),
            );
        }
        for (key, value) in [
            (
                "cluster.monitor_ping_interval",
                self.cluster.monitor_ping_interval,
            ),
            ("cluster.pin_recover_interval", self.cluster.pin_recover_interval),
            ("cluster.state_sync_interval", self.cluster.state_sync_interval),
            ("ipfs_connector.ipfshttp.pin_timeout", self.ipfshttp.pin_timeout),
            (
                "ipfs_connector.ipfshttp.unpin_timeout",
                self.ipfshttp.unpin_timeout,
            ),
            (
                "ipfs_connector.ipfshttp.ipfs_request_timeout",
                self.ipfshttp.ipfs_request_timeout,
            ),
        ] {
            placement::positive(key, value).map_err(ConfigError)?;
        }
        self.placement.validate().map_err(ConfigError)?;
        self.metrics.validate()?;
        if let Err(e) = cairn_gateway::config::listen_addr(&self.restapi.http_listen_multiaddress) {
            return fail("api.restapi.http_listen_multiaddress", e);
        }
        self.restapi.validate().map_err(ConfigError)?;
        if let Some(pinsvcapi) = &self.pinsvcapi {
            pinsvc::validate(pinsvcapi)?;
        }
        self.ipfshttp.upstream().map_err(ConfigError)?;
        self.ipfshttp.access().map_err(ConfigError)?;
        self.ipfsproxy.validate().map_err(|e| ConfigError(e.to_string()))
    }

    /// The 32-byte cluster secret.
    pub fn secret(&self) -> [u8; 32] {
        decode_secret(&self.cluster.secret).unwrap_or_default()
    }
}

/// Every section with its defaults; `cairn init` fills in the name and secret.
fn template(peername: String, secret: String) -> Value {
    let cluster = ClusterConfig {
        secret,
        peername,
        ..ClusterConfig::default()
    };
    let mut json = json!({
        "cluster": cluster,
        "consensus": { "raft": RaftConfig::default() },
        "api": {
            "restapi": RestConfig::default(),
            "pinsvcapi": pinsvc::defaults(),
            "ipfsproxy": ProxyConfig::default().to_json(),
        },
        "ipfs_connector": { "ipfshttp": IpfsHttpConfig::default() },
    });
    if let (Some(all), Value::Object(extra)) = (json.as_object_mut(), Placement::template()) {
        all.extend(extra);
    }
    if let (Some(all), Value::Object(extra)) = (json.as_object_mut(), observations::template()) {
        all.extend(extra);
    }
    json
}

/// 32 bytes from the OS's random source, as 64 hex characters.
fn random_secret() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A `cluster.trusted_peers` entry: a libp2p peer id, or `"*"` (any peer).
fn is_trusted_entry(entry: &str) -> bool {
    let entry = entry.trim();
    entry == "*" || entry.parse::<libp2p::PeerId>().is_ok()
}

/// 64 hex characters as 32 bytes.
pub fn decode_secret(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn lookup<'a>(json: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(json, |value, key| value.get(key))
}

fn section<T: for<'de> Deserialize<'de> + Default>(json: &Value, path: &[&str]) -> Result<T, ConfigError> {
    let Some(value) = lookup(json, path) else {
        return Ok(T::default());
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let key = format!("{}.{}", path.join("."), e.path())
            .trim_end_matches(".?")
            .to_owned();
        ConfigError(format!("{key}: {}", e.inner()))
    })
}

fn proxy_section(json: &Value, env: &impl Fn(&str) -> Option<String>) -> Result<ProxyConfig, ConfigError> {
    let mut proxy = ProxyConfig::from_json(lookup(json, &["api", "ipfsproxy"]))
        .map_err(|e| ConfigError(e.to_string()))?;
    proxy.apply_env(env).map_err(|e| ConfigError(e.to_string()))?;
    Ok(proxy)
}

/// Sets `CLUSTER_<SECTION>_<KEY>` values into the JSON before it is typed.
fn apply_env(json: &mut Value, env: &impl Fn(&str) -> Option<String>) {
    let defaults = template(String::new(), String::new());
    let sections = SECTIONS.into_iter().chain(placement::SECTIONS);
    for (path, prefix) in sections.chain(observations::SECTIONS) {
        let Some(Value::Object(keys)) = lookup(&defaults, path) else {
            continue;
        };
        for (key, default) in keys {
            let Some(text) = env(&format!("{prefix}{}", key.replace('_', "").to_uppercase())) else {
                continue;
            };
            if let Some(map) = section_mut(json, path) {
                map.insert(key.clone(), typed_like(default, &text));
            }
        }
    }
}

/// The object at `path`, created when missing.
fn section_mut<'a>(json: &'a mut Value, path: &[&str]) -> Option<&'a mut serde_json::Map<String, Value>> {
    let mut target = json;
    for part in path {
        target = target
            .as_object_mut()?
            .entry(part.to_string())
            .or_insert_with(|| json!({}));
    }
    target.as_object_mut()
}

/// Reads environment text as the type the default has (numbers, booleans, comma lists).
fn typed_like(default: &Value, text: &str) -> Value {
    match default {
        Value::Array(_) => Value::Array(
            text.split(',')
                .map(|s| Value::String(s.trim().to_owned()))
                .collect(),
        ),
        // `user:pass,user2:pass2` for a map that defaults to null (basic_auth_credentials).
        Value::Null => Value::Object(
            text.split(',')
                .filter_map(|pair| pair.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), Value::String(v.to_owned())))
                .collect(),
        ),
        Value::Number(_) | Value::Bool(_) => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
        }
        _ => Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests;

/// For the sections' unit tests: loading a `service.json` as `cairn daemon` does.
#[cfg(test)]
pub(crate) mod testing {
    use super::{ConfigError, ServiceConfig};
    use serde_json::{Value, json};

    /// Loads `service` (given a valid secret) with `env` as the environment.
    pub(crate) fn load(mut service: Value, env: &[(&str, &str)]) -> Result<ServiceConfig, ConfigError> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        service["cluster"] = json!({ "secret": "ab".repeat(32) });
        std::fs::write(dir.path().join("service.json"), service.to_string()).expect("written");
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        ServiceConfig::load(dir.path(), |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }
}
