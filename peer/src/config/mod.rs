//! `service.json` for a cluster peer: ipfs-cluster's sections and key names where the concept
//! matches (`cluster`, `consensus.raft`, `api.restapi`, `api.pinsvcapi`, `api.ipfsproxy`,
//! `ipfs_connector.ipfshttp`, `observations.metrics`).
//!
//! Sources: defaults, the file, then `CLUSTER_<SECTION>_<KEY>` environment variables
//! (`CLUSTER_<KEY>` for the `cluster` section; `env`). Each error names its key
//! (`cluster.secret: …`). The gateway's section is parsed by `cairn_gateway::config`.
//! docs/config.md is generated from these types (`reference`): their doc comments are the
//! meanings, `sections` the paths and variables.
//!
//! # Invariants
//! - [`ServiceConfig::load`] validates everything before anything binds.
//! - Every key has a doc comment (or, for `api.ipfsproxy`, a row of its key table) and is in
//!   docs/config.md; `reference`'s tests fail otherwise.

use std::path::Path;

use cairn_gateway::config::ProxyConfig;
use reference::Multiaddr;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::check_factors;

mod duration;
mod env;
pub mod follow;
mod ipfshttp;
mod observations;
mod pinsvc;
mod placement;
pub mod reference;
mod rest;

pub use duration::GoDuration;
pub use ipfshttp::{DaemonAccess, EMBEDDED, IpfsHttpConfig};
pub use observations::{DEFAULT_PROMETHEUS_ENDPOINT, MetricsConfig};
pub use pinsvc::PinSvcConfig;
pub use rest::RestConfig;

pub use placement::{
    BalancedSection, DiskSection, MonitorSection, PinQueueSection, Placement, TagsSection, TrackerSection,
};

/// The `cluster` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// This peer's name, shown by `cairn id`, `cairn peers ls` and in statuses.
    #[schemars(extend("x-default" = "the host name (`cairn init --peername` sets it)"))]
    pub peername: String,
    /// 32-byte pre-shared key of the private network, 64 hex characters; peers with another
    /// secret cannot connect. Required.
    #[schemars(extend("x-default" = "none; `cairn init` generates one"))]
    pub secret: String,
    /// The cluster swarm's listen addresses; keep the port fixed across restarts (membership
    /// records it).
    #[schemars(with = "Vec<Multiaddr>")]
    pub listen_multiaddress: Vec<String>,
    /// Peers to join through when this peer has no state yet (multiaddrs ending in
    /// `/p2p/<id>`); `cairn daemon --bootstrap` overrides.
    #[schemars(with = "Vec<Multiaddr>")]
    pub peer_addresses: Vec<String>,
    /// Default minimum replication of pins that give 0; -1 = every peer. Validated with
    /// ipfs-cluster's messages.
    pub replication_factor_min: i32,
    /// Default maximum replication of pins that give 0; -1 = every peer.
    pub replication_factor_max: i32,
    /// Remove this peer from the membership on a clean stop.
    pub leave_on_shutdown: bool,
    /// How often this peer publishes its `ping` metric; it stays valid twice as long, and a
    /// peer whose ping expired is down.
    pub monitor_ping_interval: GoDuration,
    /// `false`: pins allocated to a down peer are re-allocated to live peers until rf-min
    /// live allocations are reached (failover on by default, unlike ipfs-cluster's `true`).
    pub disable_repinning: bool,
    /// Failed pins (`pin_error`, `unexpectedly_unpinned`) are retried this often, and on
    /// `cairn recover`.
    pub pin_recover_interval: GoDuration,
    /// The tracker compares the pinset with the daemon's pins at least this often (also after
    /// every applied change, at most every 2 s, and on `cairn sync`).
    pub state_sync_interval: GoDuration,
    /// Peer ids admitted to member-class peer RPCs (Raft, writes, statuses, blocks) without
    /// being Raft members; `"*"` = every peer holding the secret; each entry must be a peer id
    /// or `"*"`. Empty: members only (docs/security.md). On a follower: the only peers it
    /// takes the pinset from (docs/follow.md).
    pub trusted_peers: Vec<String>,
    /// This peer is a follower (`cairn follow`): it holds the pinset read-only, fed by the
    /// trusted peers, and is no Raft member (docs/follow.md). ipfs-cluster's key.
    pub follower_mode: bool,
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
            follower_mode: false,
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// The `consensus.raft` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RaftConfig {
    /// How long a write waits for a leader (then 503 naming the silent members).
    pub wait_for_leader_timeout: GoDuration,
    /// Timeout of one peer-to-peer request.
    pub network_timeout: GoDuration,
    /// Leader heartbeat interval.
    pub heartbeat_timeout: GoDuration,
    /// Election timeout, randomised up to a third more; a follower that heard from a leader
    /// stands after its leader lease (the maximum) plus this, so a dead leader is replaced
    /// 1.75–2 s after its last heartbeat (docs/consistency.md has the measured failover).
    pub election_timeout: GoDuration,
    /// Applied entries between snapshots; older log is purged.
    pub snapshot_threshold: u64,
    /// Log entries kept behind each snapshot, so a follower that lags by fewer catches up from
    /// the log instead of receiving the whole snapshot (hashicorp raft's `TrailingLogs`).
    pub trailing_logs: u64,
    /// Static membership: the peer ids of every initial member, this one included; addresses
    /// come from `cluster.peer_addresses`. Each peer starts with the full set, no bootstrap
    /// join. Empty: join through a bootstrap peer.
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

/// A section read with serde: where it sits in `service.json`, the prefix of its environment
/// variables, and its type's schema (types and doc comments). The parser (`env`) and the
/// reference read the same rows.
struct Section {
    /// The JSON path.
    path: &'static [&'static str],
    /// `CLUSTER_<SECTION>_`.
    env_prefix: &'static str,
    /// The schema of the section's type.
    schema: fn() -> schemars::Schema,
}

/// The schema of `T`, for [`Section::schema`].
fn schema_of<T: schemars::JsonSchema>() -> schemars::Schema {
    schemars::schema_for!(T)
}

/// The sections this module parses with serde; placement's and observations' are in theirs.
static SECTIONS: [Section; 5] = [
    Section {
        path: &["cluster"],
        env_prefix: "CLUSTER_",
        schema: schema_of::<ClusterConfig>,
    },
    Section {
        path: &["consensus", "raft"],
        env_prefix: "CLUSTER_RAFT_",
        schema: schema_of::<RaftConfig>,
    },
    Section {
        path: &["api", "restapi"],
        env_prefix: "CLUSTER_RESTAPI_",
        schema: schema_of::<RestConfig>,
    },
    Section {
        path: &pinsvc::PATH,
        env_prefix: "CLUSTER_PINSVCAPI_",
        schema: schema_of::<PinSvcConfig>,
    },
    Section {
        path: &["ipfs_connector", "ipfshttp"],
        env_prefix: "CLUSTER_IPFSHTTP_",
        schema: schema_of::<IpfsHttpConfig>,
    },
];

/// Every serde-read section (`api.ipfsproxy` is the gateway's own table).
fn sections() -> impl Iterator<Item = &'static Section> {
    SECTIONS
        .iter()
        .chain(placement::SECTIONS.iter())
        .chain(observations::SECTIONS.iter())
}

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
        env::apply(&mut json, &env);
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
        follow::validate(&self.cluster)?;
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
pub(crate) fn template(peername: String, secret: String) -> Value {
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
