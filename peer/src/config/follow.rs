//! A follower's `service.json` (`cairn follow NAME init`): what it takes from the
//! configuration a cluster publishes, and what a follower configuration must hold.
//!
//! # Invariants
//! - From the published configuration only the `cluster` keys that describe the cluster are
//!   taken ([`PUBLISHED_KEYS`]); identity, name, listeners and the IPFS daemon are the
//!   follower's own. `follower_mode` is always true.
//! - A follower names its trusted peers: an empty list or `"*"` is refused, since either
//!   would let it take changes from nobody or from anyone holding the secret.

use std::path::Path;

use serde_json::{Value, json};

use super::{ClusterConfig, ConfigError};

/// The `cluster` keys a follower takes from a published configuration.
pub const PUBLISHED_KEYS: [&str; 7] = [
    "secret",
    "peer_addresses",
    "trusted_peers",
    "replication_factor_min",
    "replication_factor_max",
    "monitor_ping_interval",
    "state_sync_interval",
];

/// Where a follower's REST API listens: ipfs-cluster-follow's `api-socket` in its folder.
pub const API_SOCKET: &str = "api-socket";
/// Where a follower's gateway listens unless told otherwise.
pub const PROXY_SOCKET: &str = "proxy-socket";

/// Checks what a follower's `cluster` section must hold.
pub(super) fn validate(cluster: &ClusterConfig) -> Result<(), ConfigError> {
    if !cluster.follower_mode {
        return Ok(());
    }
    if cluster.trusted_peers.is_empty() {
        return Err(ConfigError(
            "cluster.trusted_peers: a follower needs the peer ids it takes the pinset from".into(),
        ));
    }
    if cluster.trusted_peers.iter().any(|p| p.trim() == "*") {
        return Err(ConfigError(
            "cluster.trusted_peers: a follower must name the peers it trusts; \"*\" would let any peer holding the secret change its pinset".into(),
        ));
    }
    Ok(())
}

/// The follower's `service.json` for the folder `dir`, from the `published` configuration
/// (a `service.json`, or just its `cluster` section's keys under `"cluster"`).
pub fn follower_service(published: &Value, peername: String, dir: &Path) -> Result<Value, ConfigError> {
    let Some(cluster) = published.get("cluster").and_then(Value::as_object) else {
        return Err(ConfigError(
            "the published configuration has no \"cluster\" object (publish one with `cairn follow-config`)"
                .into(),
        ));
    };
    let secret = cluster.get("secret").and_then(Value::as_str).unwrap_or_default();
    let mut service = super::template(peername, secret.to_owned());
    for key in PUBLISHED_KEYS {
        if let Some(value) = cluster.get(key) {
            service["cluster"][key] = value.clone();
        }
    }
    service["cluster"]["follower_mode"] = json!(true);
    service["cluster"]["leave_on_shutdown"] = json!(false);
    service["cluster"]["listen_multiaddress"] = json!(["/ip4/0.0.0.0/tcp/0"]);
    let socket = |name: &str| format!("/unix/{}", dir.join(name).display());
    service["api"]["restapi"]["http_listen_multiaddress"] = json!(socket(API_SOCKET));
    service["api"]["ipfsproxy"]["listen_multiaddress"] = json!([socket(PROXY_SOCKET)]);
    service["api"]["pinsvcapi"] = Value::Null;
    if let Some(timeout) = published.pointer("/consensus/raft/network_timeout") {
        service["consensus"]["raft"]["network_timeout"] = timeout.clone();
    }
    Ok(service)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::load;

    const TRUSTED: &str = "12D3KooWGRUVh7ffx5HuTBWWRbBKDWBQ6Tsgi5yQ7yM5zKWj3GDd";

    #[test]
    fn a_follower_takes_the_clusters_keys_and_keeps_its_own_listeners() {
        let published = json!({ "cluster": {
            "secret": "cd".repeat(32),
            "trusted_peers": [TRUSTED],
            "peer_addresses": [format!("/ip4/127.0.0.1/tcp/9096/p2p/{TRUSTED}")],
            "replication_factor_min": 2,
            "replication_factor_max": 3,
            "peername": "the-publisher",
            "listen_multiaddress": ["/ip4/0.0.0.0/tcp/9096"],
        }});
        let dir = Path::new("/home/u/.cairn-follow/c1");
        let service = follower_service(&published, "me".into(), dir).unwrap();
        let cluster = &service["cluster"];
        assert_eq!(cluster["secret"], json!("cd".repeat(32)));
        assert_eq!(cluster["trusted_peers"], json!([TRUSTED]));
        assert_eq!(cluster["replication_factor_min"], json!(2));
        assert_eq!(cluster["peername"], json!("me"));
        assert_eq!(cluster["follower_mode"], json!(true));
        assert_eq!(cluster["listen_multiaddress"], json!(["/ip4/0.0.0.0/tcp/0"]));
        assert_eq!(
            service["api"]["restapi"]["http_listen_multiaddress"],
            json!("/unix//home/u/.cairn-follow/c1/api-socket")
        );
        assert!(service["api"]["pinsvcapi"].is_null());
    }

    #[test]
    fn a_published_configuration_without_a_cluster_is_refused() {
        let e = follower_service(&json!({"api": {}}), "me".into(), Path::new("/x")).unwrap_err();
        assert!(e.0.contains("no \"cluster\" object"), "{e}");
    }

    #[test]
    fn a_follower_must_name_its_trusted_peers() {
        let env = |trusted: &'static str| {
            [
                ("CLUSTER_FOLLOWERMODE", "true"),
                ("CLUSTER_TRUSTEDPEERS", trusted),
            ]
        };
        let e = load(json!({}), &env("")).unwrap_err();
        assert!(e.0.starts_with("cluster.trusted_peers: a follower needs"), "{e}");
        let e = load(json!({}), &env("*")).unwrap_err();
        assert!(e.0.contains("\"*\" would let any peer"), "{e}");
        let config = load(json!({}), &env(TRUSTED)).unwrap();
        assert!(config.cluster.follower_mode);
        load(json!({}), &[("CLUSTER_TRUSTEDPEERS", "*")]).unwrap();
    }
}
