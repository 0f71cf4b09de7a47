use std::collections::HashMap;

use super::*;

fn write(dir: &Path, json: &Value) {
    std::fs::write(
        dir.join("service.json"),
        serde_json::to_string_pretty(json).unwrap(),
    )
    .unwrap();
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn a_generated_config_loads_with_ipfs_cluster_defaults() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &ServiceConfig::generated(Some("a".into())).unwrap());
    let config = ServiceConfig::load(dir.path(), env(&[])).unwrap();
    assert_eq!(config.cluster.peername, "a");
    assert_eq!(config.cluster.listen_multiaddress, ["/ip4/0.0.0.0/tcp/9096"]);
    assert_eq!(
        (
            config.cluster.replication_factor_min,
            config.cluster.replication_factor_max
        ),
        (-1, -1)
    );
    assert_eq!(config.restapi.http_listen_multiaddress, "/ip4/127.0.0.1/tcp/9094");
    assert_eq!(config.secret().len(), 32);
}

#[test]
fn errors_name_the_key() {
    let cases = [
        (json!({"cluster": {"secret": "abc"}}), "cluster.secret"),
        (
            json!({"cluster": {"replication_factor_min": "x"}}),
            "cluster.replication_factor_min",
        ),
        (json!({"cluster": {"nope": 1}}), "cluster"),
        (
            json!({"consensus": {"raft": {"network_timeout": "10 s"}}}),
            "consensus.raft.network_timeout",
        ),
        (
            json!({"api": {"restapi": {"http_listen_multiaddress": "/dns4/x/tcp/1"}}}),
            "api.restapi.http_listen_multiaddress",
        ),
        (
            json!({"api": {"ipfsproxy": {"idle_timeout": "x"}}}),
            "api.ipfsproxy.idle_timeout",
        ),
    ];
    for (patch, key) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut json = ServiceConfig::generated(Some("a".into())).unwrap();
        merge(&mut json, &patch);
        write(dir.path(), &json);
        let err = ServiceConfig::load(dir.path(), env(&[])).unwrap_err().to_string();
        assert!(err.starts_with(key), "{err:?} should start with {key}");
    }
}

fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => p
            .iter()
            .for_each(|(k, v)| merge(b.entry(k.clone()).or_insert(Value::Null), v)),
        (b, p) => *b = p.clone(),
    }
}

#[test]
fn environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &ServiceConfig::generated(Some("a".into())).unwrap());
    let vars = [
        ("CLUSTER_PEERNAME", "from-env"),
        ("CLUSTER_REPLICATIONFACTORMIN", "2"),
        ("CLUSTER_REPLICATIONFACTORMAX", "3"),
        ("CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS", "/ip4/127.0.0.1/tcp/0"),
        ("CLUSTER_IPFSHTTP_NODEMULTIADDRESS", "/ip4/127.0.0.1/tcp/5999"),
    ];
    let config = ServiceConfig::load(dir.path(), env(&vars)).unwrap();
    assert_eq!(config.cluster.peername, "from-env");
    assert_eq!(
        (
            config.cluster.replication_factor_min,
            config.cluster.replication_factor_max
        ),
        (2, 3)
    );
    assert_eq!(config.restapi.http_listen_multiaddress, "/ip4/127.0.0.1/tcp/0");
    assert_eq!(config.ipfshttp.node_multiaddress, "/ip4/127.0.0.1/tcp/5999");
}

#[test]
fn trusted_peers_default_to_none_take_peer_ids_or_a_star_and_name_a_bad_entry() {
    let dir = tempfile::tempdir().unwrap();
    let generated = ServiceConfig::generated(Some("a".into())).unwrap();
    write(dir.path(), &generated);
    let config = ServiceConfig::load(dir.path(), env(&[])).unwrap();
    assert!(config.cluster.trusted_peers.is_empty());
    let peer = libp2p::PeerId::random().to_base58();
    let listed = format!("{peer},*");
    let vars = [("CLUSTER_TRUSTEDPEERS", listed.as_str())];
    let config = ServiceConfig::load(dir.path(), env(&vars)).unwrap();
    assert_eq!(config.cluster.trusted_peers, [peer.as_str(), "*"]);
    let mut bad = generated;
    bad["cluster"]["trusted_peers"] = json!([peer, "peer-b"]);
    write(dir.path(), &bad);
    let err = ServiceConfig::load(dir.path(), env(&[])).unwrap_err().to_string();
    assert!(err.starts_with("cluster.trusted_peers: \"peer-b\""), "{err}");
}
