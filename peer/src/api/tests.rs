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
