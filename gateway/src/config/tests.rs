use std::collections::HashMap;

use super::*;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn defaults_are_ipfs_clusters() {
    let config = ProxyConfig::from_json(None).unwrap();
    assert_eq!(
        config.to_json()["listen_multiaddress"],
        json!(["/ip4/127.0.0.1/tcp/9095"])
    );
    assert_eq!(config.to_json()["node_multiaddress"], "/ip4/127.0.0.1/tcp/5001");
    assert_eq!(config.read_header_timeout, Some(Duration::from_secs(5)));
    assert_eq!(config.idle_timeout, Some(Duration::from_secs(60)));
    assert_eq!(config.read_timeout, None);
    assert_eq!(config.write_timeout, None);
    assert_eq!(config.max_header_bytes, 4096);
    assert_eq!(config.extract_headers_path, "/api/v0/version");
    config.validate().unwrap();
}

#[test]
fn json_overlays_defaults_and_accepts_a_single_listen_string() {
    let section = json!({
        "listen_multiaddress": "/ip4/0.0.0.0/tcp/19095",
        "node_multiaddress": "/unix/run/ipfs.sock",
        "read_header_timeout": "2s",
        "idle_timeout": "0s",
        "max_header_bytes": 0,
    });
    let config = ProxyConfig::from_json(Some(&section)).unwrap();
    assert_eq!(config.listen, vec![ListenAddr::Tcp(([0, 0, 0, 0], 19095).into())]);
    assert_eq!(config.node, Target::Unix("/run/ipfs.sock".into()));
    assert_eq!(config.read_header_timeout, Some(Duration::from_secs(2)));
    assert_eq!(config.idle_timeout, None, "zero means no limit");
    assert_eq!(config.max_header_bytes, 4096, "zero means the default");
}

#[test]
fn every_error_names_its_key() {
    let cases = [
        (
            json!({"read_header_timeout": "5x"}),
            "api.ipfsproxy.read_header_timeout",
        ),
        (json!({"max_header_bytes": 100}), "api.ipfsproxy.max_header_bytes"),
        (
            json!({"node_multiaddress": "localhost:5001"}),
            "api.ipfsproxy.node_multiaddress",
        ),
        (
            json!({"listen_multiaddress": ["/dns4/x/tcp/1"]}),
            "api.ipfsproxy.listen_multiaddress",
        ),
        (json!({"idle_timeout": 5}), "api.ipfsproxy.idle_timeout"),
        (
            json!({"authorizations": {"a": {"AuthSecret": "basic:x"}}}),
            "api.ipfsproxy.authorizations",
        ),
        (
            json!({"node_auth_secret": "bearer:"}),
            "api.ipfsproxy.node_auth_secret",
        ),
        (json!({"no_such_key": 1}), "api.ipfsproxy.no_such_key"),
    ];
    for (section, key) in cases {
        let err = ProxyConfig::from_json(Some(&section)).unwrap_err().to_string();
        assert!(err.starts_with(key), "{err:?} should name {key}");
    }
}

#[test]
fn env_overrides_win_and_name_the_variable_on_error() {
    let mut config = ProxyConfig::from_json(Some(&json!({"idle_timeout": "30s"}))).unwrap();
    let lookup = env(&[
        ("CLUSTER_IPFSPROXY_IDLETIMEOUT", "45s"),
        (
            "CLUSTER_IPFSPROXY_LISTENMULTIADDRESS",
            "/ip4/127.0.0.1/tcp/1,/ip4/127.0.0.1/tcp/2",
        ),
    ]);
    config.apply_env(lookup).unwrap();
    assert_eq!(config.idle_timeout, Some(Duration::from_secs(45)));
    assert_eq!(config.listen.len(), 2);

    let err = config
        .apply_env(env(&[("CLUSTER_IPFSPROXY_READHEADERTIMEOUT", "soon")]))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("CLUSTER_IPFSPROXY_READHEADERTIMEOUT (api.ipfsproxy.read_header_timeout)"),
        "{err}"
    );
}

#[test]
fn env_names_follow_ipfs_clusters_envconfig() {
    assert_eq!(
        env_name("listen_multiaddress"),
        "CLUSTER_IPFSPROXY_LISTENMULTIADDRESS"
    );
    assert_eq!(
        env_name("node_multiaddress"),
        "CLUSTER_IPFSPROXY_NODEMULTIADDRESS"
    );
}

#[test]
fn validation_refuses_empty_lists_and_zero_limits() {
    let empty = ProxyConfig {
        listen: vec![],
        ..ProxyConfig::default()
    };
    assert!(
        empty
            .validate()
            .unwrap_err()
            .to_string()
            .contains("listen_multiaddress")
    );
    let zero = ProxyConfig {
        max_connections: 0,
        ..ProxyConfig::default()
    };
    assert!(
        zero.validate()
            .unwrap_err()
            .to_string()
            .contains("max_connections")
    );
}

#[test]
fn written_json_reads_back_identically() {
    let config = ProxyConfig {
        read_timeout: Some(Duration::from_millis(1500)),
        ..ProxyConfig::default()
    };
    let again = ProxyConfig::from_json(Some(&config.to_json())).unwrap();
    assert_eq!(again, config);
}

#[test]
fn every_key_is_written_read_and_described() {
    let written = ProxyConfig::default().to_json();
    let written: std::collections::BTreeSet<&str> =
        written.as_object().unwrap().keys().map(String::as_str).collect();
    let table: std::collections::BTreeSet<&str> = KEYS.iter().map(|k| k.name).collect();
    assert_eq!(written, table, "to_json writes exactly the keys of KEYS");
    assert_eq!(table.len(), KEYS.len(), "no key twice");
    for key in KEYS {
        assert!(!key.meaning.trim().is_empty(), "{}: no meaning", key.name);
        let value = ProxyConfig::default().to_json()[key.name].clone();
        let mut config = ProxyConfig::default();
        (key.set)(&mut config, Raw::Json(&value)).unwrap_or_else(|e| panic!("{}: {e}", key.name));
        assert_eq!(
            config,
            ProxyConfig::default(),
            "{}: the default reads back",
            key.name
        );
    }
}
