//! `service.json` for a cluster peer: ipfs-cluster's sections and key names where the concept
//! matches (`cluster`, `consensus.raft`, `api.restapi`, `api.ipfsproxy`,
//! `ipfs_connector.ipfshttp`).
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
mod placement;

pub use duration::GoDuration;

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

/// The `api.restapi` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestConfig {
    /// Where the REST API listens.
    pub http_listen_multiaddress: String,
}

impl Default for RestConfig {
    fn default() -> Self {
        Self {
            http_listen_multiaddress: "/ip4/127.0.0.1/tcp/9094".into(),
        }
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
}

impl Default for IpfsHttpConfig {
    fn default() -> Self {
        Self {
            node_multiaddress: EMBEDDED.into(),
            pin_timeout: GoDuration::secs(120),
            unpin_timeout: GoDuration::secs(10800),
            ipfs_request_timeout: GoDuration::secs(300),
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
    /// `api.ipfsproxy`.
    pub ipfsproxy: ProxyConfig,
    /// `ipfs_connector.ipfshttp`.
    pub ipfshttp: IpfsHttpConfig,
    /// Tracker, allocator, informers and monitor.
    pub placement: Placement,
}

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// (JSON path, environment prefix) of the sections this module parses.
const SECTIONS: [(&[&str], &str); 4] = [
    (&["cluster"], "CLUSTER_"),
    (&["consensus", "raft"], "CLUSTER_RAFT_"),
    (&["api", "restapi"], "CLUSTER_RESTAPI_"),
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
            ipfsproxy: proxy_section(&json, &env)?,
            ipfshttp: section(&json, &["ipfs_connector", "ipfshttp"])?,
            placement: Placement::from_json(&json)?,
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
        if let Err(e) = cairn_gateway::config::listen_addr(&self.restapi.http_listen_multiaddress) {
            return fail("api.restapi.http_listen_multiaddress", e);
        }
        self.ipfshttp.upstream().map_err(ConfigError)?;
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
        "api": { "restapi": RestConfig::default(), "ipfsproxy": ProxyConfig::default().to_json() },
        "ipfs_connector": { "ipfshttp": IpfsHttpConfig::default() },
    });
    if let (Some(all), Value::Object(extra)) = (json.as_object_mut(), Placement::template()) {
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
    for (path, prefix) in SECTIONS.into_iter().chain(placement::SECTIONS) {
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
        Value::Number(_) | Value::Bool(_) => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
        }
        _ => Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests;
