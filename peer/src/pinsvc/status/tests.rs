use std::collections::HashMap;

use super::*;
use crate::api::PinOptions;

const CID: &str = "QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u";

fn pin(allocations: &[&str]) -> Pin {
    let mut pin = Pin::new(CID.parse().unwrap(), PinOptions::default());
    pin.allocations = allocations.iter().map(|a| (*a).to_owned()).collect();
    pin
}

fn report(peer: &str, status: TrackerStatus) -> Report {
    Report {
        peer: peer.into(),
        status,
        error: String::new(),
    }
}

fn member(peer: &str, addrs: &[&str]) -> PeerNode {
    PeerNode {
        peer_id: peer.into(),
        addrs: addrs.iter().map(|a| (*a).to_owned()).collect(),
    }
}

use TrackerStatus::*;

#[test]
fn the_precedence_is_failed_queued_pinning_pinned() {
    let everywhere = pin(&[]);
    for (statuses, expected) in [
        (vec![Pinned, Pinned], Status::Pinned),
        (vec![Pinned, Pinning], Status::Pinning),
        (vec![Pinning, PinQueued], Status::Queued),
        (vec![Pinned, Unpinned], Status::Queued),
        (vec![Pinned, PinQueued, PinError], Status::Failed),
        (vec![Pinned, ClusterError], Status::Failed),
        (vec![Pinned, UnexpectedlyUnpinned], Status::Failed),
        (vec![Remote, Pinned], Status::Pinned),
        (vec![Remote], Status::Failed),
        (vec![], Status::Failed),
    ] {
        let reports: Vec<Report> = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| report(&format!("p{i}"), *s))
            .collect();
        assert_eq!(overall(&everywhere, &reports).0, expected, "{statuses:?}");
    }
}

#[test]
fn only_the_allocated_peers_count() {
    let two = pin(&["a", "b"]);
    let reports = [
        report("a", Pinned),
        report("b", Pinned),
        report("c", ClusterError),
    ];
    assert_eq!(overall(&two, &reports), (Status::Pinned, BTreeMap::new()));
    let (status, info) = overall(&pin(&["gone"]), &reports);
    assert_eq!(status, Status::Failed);
    assert!(info["error"].contains("no member"), "{info:?}");
}

#[test]
fn failing_peers_and_their_errors_are_the_info() {
    let reports = [
        Report {
            error: "daemon said no".into(),
            ..report("a", PinError)
        },
        report("b", ClusterError),
        report("c", Pinned),
    ];
    let (status, info) = overall(&pin(&[]), &reports);
    assert_eq!(status, Status::Failed);
    assert_eq!(info.len(), 2);
    assert_eq!(info["a"], "pin_error: daemon said no");
    assert_eq!(info["b"], "cluster_error");
}

#[test]
fn a_report_comes_from_the_tracker_or_from_the_pin_or_from_the_silence() {
    let a = member("a", &[]);
    let on_a = pin(&["a"]);
    let local = LocalStatus::now(Pinning, String::new(), 0);
    assert_eq!(Report::of(&a, &on_a, Ok(Some(&local))).status, Pinning);
    assert_eq!(
        Report::of(&a, &on_a, Ok(None)).status,
        PinQueued,
        "allocated, not tracked yet"
    );
    assert_eq!(Report::of(&a, &pin(&["b"]), Ok(None)).status, Remote);
    let silent = Report::of(&a, &on_a, Err("timed out"));
    assert_eq!(
        (silent.status, silent.error.as_str()),
        (ClusterError, "timed out")
    );

    let tracked: HashMap<Cid, LocalStatus> = [(on_a.cid, local.clone())].into();
    let fanout = vec![
        (a.clone(), Ok(tracked)),
        (member("b", &[]), Err("down".to_owned())),
    ];
    let reports = reports_of(&on_a, &fanout);
    assert_eq!(
        reports.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![Pinning, ClusterError]
    );
    let one = vec![(a, Ok(local))];
    assert_eq!(reports_for(&on_a, &on_a.cid, &one)[0].status, Pinning);
}

#[test]
fn delegates_are_the_allocated_ipfs_nodes_else_the_cluster_peers() {
    let a = member("a", &["/ip4/10.0.0.1/tcp/9096/p2p/a"]);
    let b = member("b", &["/ip4/10.0.0.2/tcp/9096"]);
    let c = member("c", &["/ip4/10.0.0.3/tcp/9096/p2p/c"]);
    let with_ipfs = PeerIdentity {
        peername: "a".into(),
        ipfs: Some(("Qma".into(), vec!["/ip4/10.0.0.1/tcp/4001".into()])),
    };
    let members = vec![
        (a.clone(), with_ipfs),
        (b, PeerIdentity::default()),
        (c, PeerIdentity::default()),
    ];
    assert_eq!(
        delegates(&pin(&["a", "b"]), &members, &a),
        vec![
            "/ip4/10.0.0.1/tcp/4001/p2p/Qma".to_owned(),
            "/ip4/10.0.0.2/tcp/9096/p2p/b".to_owned()
        ]
    );
    assert_eq!(delegates(&pin(&[]), &members, &a).len(), 3);
    assert_eq!(
        delegates(&pin(&["gone"]), &members, &a),
        vec!["/ip4/10.0.0.1/tcp/9096/p2p/a".to_owned()],
        "never empty: this peer's own"
    );
}

#[test]
fn delegates_are_unique_and_at_most_twenty() {
    let many: Vec<(PeerNode, PeerIdentity)> = (0..30)
        .map(|i| {
            let addrs = [
                format!("/ip4/10.0.0.{i}/tcp/1"),
                "/ip4/127.0.0.1/tcp/1/p2p/same".into(),
            ];
            let addrs: Vec<&str> = addrs.iter().map(String::as_str).collect();
            (member(&format!("p{i}"), &addrs), PeerIdentity::default())
        })
        .collect();
    let out = delegates(&pin(&[]), &many, &many[0].0);
    assert_eq!(out.len(), MAX_ORIGINS);
    assert_eq!(out.iter().filter(|a| a.ends_with("/p2p/same")).count(), 1);
}
