use super::*;

fn hello() -> Cid {
    parse_cid("Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD").unwrap()
}

#[test]
fn pin_json_has_ipfs_clusters_fields_in_order() {
    let mut pin = Pin::new(hello(), PinOptions::default());
    pin.timestamp = GoTime::parse("2024-01-01T00:00:00Z").unwrap();
    pin.options.metadata.insert("k".into(), "v".into());
    let json = serde_json::to_string(&pin).unwrap();
    assert_eq!(
        json,
        r#"{"replication_factor_min":0,"replication_factor_max":0,"name":"","mode":"recursive","shard_size":104857600,"user_allocations":null,"expire_at":"0001-01-01T00:00:00Z","metadata":{"k":"v"},"pin_update":null,"origins":[],"cid":"Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD","type":"pin","allocations":[],"max_depth":-1,"reference":null,"timestamp":"2024-01-01T00:00:00Z"}"#
    );
    let back: Pin = serde_json::from_str(&json).unwrap();
    assert_eq!(back, pin);
}

#[test]
fn replication_factors_follow_ipfs_cluster() {
    let cases = [
        (0, 0, Some("cluster.replication_factor_min and max must be set")),
        (3, 2, Some("cluster.replication_factor_min is larger than max")),
        (-2, 2, Some("cluster.replication_factor_min is wrong")),
        (1, -2, Some("cluster.replication_factor_min is larger than max")),
        (
            -1,
            3,
            Some("cluster.replication_factor_min and max must be -1 when one of them is"),
        ),
        (2, -1, Some("cluster.replication_factor_min is larger than max")),
        (-1, -1, None),
        (1, 3, None),
        (2, 2, None),
    ];
    for (min, max, want) in cases {
        let got = check_factors(min, max).err().map(|e| e.to_string());
        assert_eq!(got.as_deref(), want, "min {min} max {max}");
    }
}

#[test]
fn zero_means_the_cluster_default_and_everywhere_clears_allocations() {
    let mut pin = Pin::new(hello(), PinOptions::default());
    pin.allocations = vec!["peer".into()];
    let pin = pin.validated(Replication::default(), None).unwrap();
    assert_eq!(
        (
            pin.options.replication_factor_min,
            pin.options.replication_factor_max
        ),
        (-1, -1)
    );
    assert!(pin.allocations.is_empty());
}

#[test]
fn expired_and_downgraded_pins_are_refused() {
    let past = PinOptions {
        expire_at: GoTime::parse("2001-01-01T00:00:00Z").unwrap(),
        ..PinOptions::default()
    };
    assert_eq!(
        Pin::new(hello(), past).validated(Replication::default(), None),
        Err(PinError::Expired)
    );
    let existing = Pin::new(hello(), PinOptions::default());
    let direct = PinOptions {
        mode: PinMode::Direct,
        ..PinOptions::default()
    };
    let err = Pin::new(hello(), direct)
        .validated(Replication::default(), Some(&existing))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot repin a CID which is already pinned in recursive mode")
    );
}

#[test]
fn bad_cids_get_ipfs_clusters_message() {
    assert!(
        parse_cid("notacid")
            .unwrap_err()
            .to_string()
            .starts_with("error decoding Cid: notacid")
    );
}

#[test]
fn go_times_round_trip_and_zero_is_unset() {
    assert_eq!(GoTime::ZERO.to_string(), "0001-01-01T00:00:00Z");
    assert_eq!(GoTime::parse("0001-01-01T00:00:00Z").unwrap(), GoTime::ZERO);
    let t = GoTime::parse("2024-05-06T07:08:09.5Z").unwrap();
    assert_eq!(t.to_string(), "2024-05-06T07:08:09.5Z");
}

fn info_of(peername: &str, status: TrackerStatus) -> PinInfoShort {
    let identity = PeerIdentity {
        peername: peername.into(),
        ipfs: Some(("12D3KooWIpfs".into(), vec!["/ip4/127.0.0.1/tcp/4001".into()])),
    };
    let at = GoTime::parse("2024-01-01T00:00:00Z").unwrap();
    PinInfoShort::new(&identity, status, at, "", 0)
}

#[test]
fn global_pin_info_json_has_ipfs_clusters_fields_in_order_and_reads_back() {
    let mut child = GlobalPinInfo {
        cid: hello().to_string(),
        ..GlobalPinInfo::default()
    };
    child
        .peer_map
        .insert("leaf".into(), info_of("leaf", TrackerStatus::Remote));
    let top = info_of("top", TrackerStatus::Pinned).with_child(Some(Ok(child)));
    let gone = info_of("gone", TrackerStatus::ClusterError).with_child(Some(Err("unreachable".into())));
    let mut info = GlobalPinInfo {
        cid: hello().to_string(),
        name: "n".into(),
        ..GlobalPinInfo::default()
    };
    info.peer_map.insert("b-top".into(), top);
    info.peer_map.insert("a-gone".into(), gone);
    let json = serde_json::to_string(&info).unwrap();
    assert!(
        json.starts_with(r#"{"cid":"Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD","name":"n","allocations":[],"origins":[],"created":"0001-01-01T00:00:00Z","metadata":{},"peer_map":{"a-gone":{"peername":"gone","ipfs_peer_id":"12D3KooWIpfs","ipfs_peer_addresses":["/ip4/127.0.0.1/tcp/4001"],"status":"cluster_error","timestamp":"2024-01-01T00:00:00Z","error":"","attempt_count":0,"priority_pin":false,"child_error":"unreachable"}"#),
        "{json}"
    );
    assert!(json.contains(r#""child":{"cid""#), "{json}");
    let back: GlobalPinInfo = serde_json::from_str(&json).unwrap();
    assert_eq!(back, info);
}

#[test]
fn a_peer_without_a_known_daemon_leaves_its_ipfs_keys_out_and_unknown_keys_are_ignored() {
    let identity = PeerIdentity::from_ping(&PingValue::parse("not json"), Some("me"));
    assert_eq!(
        identity,
        PeerIdentity {
            peername: "me".into(),
            ipfs: None
        }
    );
    let short = PinInfoShort::new(&identity, TrackerStatus::Pinned, GoTime::ZERO, "", 1);
    let json = serde_json::to_value(&short).unwrap();
    assert!(
        json.get("ipfs_peer_id").is_none() && json.get("child").is_none(),
        "{json}"
    );
    let newer = r#"{"cid":"x","peer_map":{"p":{"status":"pinned","future_key":1}},"future":true}"#;
    let read: GlobalPinInfo = serde_json::from_str(newer).unwrap();
    assert_eq!(read.peer_map["p"].status, TrackerStatus::Pinned);
}

#[test]
fn the_ping_value_reads_back_and_names_its_daemon() {
    let ping = PingValue {
        peer_name: "p".into(),
        ipfs_id: "12D3KooWIpfs".into(),
        ipfs_addresses: vec!["/ip4/127.0.0.1/tcp/4001".into()],
    };
    assert_eq!(
        ping.to_text(),
        r#"{"peer_name":"p","ipfs_id":"12D3KooWIpfs","ipfs_addresses":["/ip4/127.0.0.1/tcp/4001"]}"#
    );
    assert_eq!(PingValue::parse(&ping.to_text()), ping);
    let identity = PeerIdentity::from_ping(&ping, None);
    assert_eq!(identity.peername, "p");
    assert_eq!(identity.ipfs.map(|(id, _)| id).as_deref(), Some("12D3KooWIpfs"));
}

#[test]
fn tracker_status_words_are_ipfs_clusters_and_filters_read_them() {
    for status in [
        TrackerStatus::PinQueued,
        TrackerStatus::UnexpectedlyUnpinned,
        TrackerStatus::ClusterError,
    ] {
        assert_eq!(serde_json::to_value(status).unwrap(), status.name());
        assert!(status.matches(status.name()));
    }
    assert!(TrackerStatus::PinError.matches("pinned, error"));
    assert!(!TrackerStatus::Pinned.matches("queued"));
}

#[test]
fn another_members_id_carries_only_what_raft_knows() {
    let member = PeerInfo::member("12D3KooWPeer", &["/ip4/127.0.0.1/tcp/9096".into()]);
    assert_eq!(
        serde_json::to_string(&member).unwrap(),
        r#"{"id":"12D3KooWPeer","addresses":["/ip4/127.0.0.1/tcp/9096"],"error":""}"#
    );
    let read: PeerInfo =
        serde_json::from_str(r#"{"id":"x","peername":"n","cluster_peers":["x","y"]}"#).unwrap();
    assert_eq!(read.peername.as_deref(), Some("n"));
    assert_eq!(read.cluster_peers.map(|p| p.len()), Some(2));
}
