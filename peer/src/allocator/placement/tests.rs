//! Placement over a temp-dir pinset and a monitor fed by hand: no Raft, no network.

use std::collections::BTreeSet;
use std::time::Duration;

use super::*;
use crate::api::PinOptions;
use crate::consensus::PeerNode;
use crate::monitor::{Metric, PING};
use crate::state::testing::{TempPins, cid_of};

struct Listed(Vec<&'static str>);

impl MemberList for Listed {
    fn list(&self) -> Vec<PeerNode> {
        let node = |id: &&str| PeerNode {
            peer_id: (*id).to_owned(),
            addrs: Vec::new(),
        };
        self.0.iter().map(node).collect()
    }
}

const TTL: Duration = Duration::from_secs(60);

/// A monitor that heard a ping from each of `alive` and a free space from each of `free`.
fn monitor(alive: &[&str], free: &[(&str, u64)]) -> Monitor {
    let monitor = Monitor::new();
    for peer in alive {
        monitor.record(Metric::new(PING, peer, String::new(), 0, TTL));
    }
    for (peer, space) in free {
        let weight = i64::try_from(*space).unwrap_or(i64::MAX);
        monitor.record(Metric::new("freespace", peer, space.to_string(), weight, TTL));
    }
    monitor
}

fn placement(me: &str, members: Vec<&'static str>, monitor: Monitor, pins: &TempPins) -> Placement {
    Placement::new(PlacementInputs {
        peer_id: me.into(),
        members: Arc::new(Listed(members)),
        monitor,
        allocate_by: vec!["freespace".into()],
        pins: pins.store.clone(),
    })
}

fn pin(n: u32, min: i32, max: i32, allocations: &[&str]) -> Pin {
    let options = PinOptions {
        replication_factor_min: min,
        replication_factor_max: max,
        ..PinOptions::default()
    };
    let mut pin = Pin::new(cid_of(n), options);
    pin.allocations = allocations.iter().map(|a| (*a).to_owned()).collect();
    pin
}

#[test]
fn a_new_pin_goes_to_the_members_with_the_metric_and_the_most_free_space() {
    let pins = TempPins::new();
    let free = [("a", 10), ("b", 300), ("c", 200)];
    let p = placement("a", vec!["a", "b", "c", "d"], monitor(&[], &free), &pins);
    let chosen = p.allocations_for(&pin(1, 2, 2, &[]), &[]).expect("allocated");
    assert_eq!(
        chosen,
        ["b", "c"],
        "d has no freespace metric and a has the least"
    );
    let without_b = p
        .allocations_for(&pin(1, 2, 2, &[]), &["b".into()])
        .expect("allocated");
    assert_eq!(without_b, ["c", "a"]);
}

#[test]
fn too_few_candidates_allocate_nothing() {
    let pins = TempPins::new();
    let p = placement("a", vec!["a", "b"], monitor(&[], &[("a", 5)]), &pins);
    let err = p
        .allocations_for(&pin(1, 2, 3, &[]), &[])
        .expect_err("one candidate for two");
    assert!(err.to_string().contains("not enough peers to allocate"), "{err}");
}

#[tokio::test]
async fn each_pin_of_a_down_peer_is_moved_by_exactly_one_live_peer() {
    let of_down: Vec<Pin> = (0..60)
        .map(|n| pin(n, 2, 2, &["down", if n % 2 == 0 { "a" } else { "b" }]))
        .collect();
    let elsewhere = pin(100, 2, 2, &["a", "b"]);
    let pins = TempPins::with(of_down.iter().cloned().chain([elsewhere]));
    let members = vec!["a", "b", "c", "down"];
    let alive = ["a", "b", "c"];
    let mut moved_by = Vec::new();
    for me in alive {
        let p = placement(me, members.clone(), monitor(&alive, &[]), &pins);
        let mine: BTreeSet<Cid> = p
            .pins_to_move("down", 0)
            .await
            .expect("scan")
            .iter()
            .map(|p| p.cid)
            .collect();
        moved_by.push(mine);
    }
    let all: BTreeSet<Cid> = of_down.iter().map(|p| p.cid).collect();
    let union: BTreeSet<Cid> = moved_by.iter().flatten().copied().collect();
    assert_eq!(
        union, all,
        "every pin of the down peer has a mover, and no other pin"
    );
    let total: usize = moved_by.iter().map(BTreeSet::len).sum();
    assert_eq!(total, all.len(), "no pin has two movers");
    assert!(
        moved_by.iter().all(|m| !m.is_empty()),
        "the work is spread: {moved_by:?}"
    );
}

#[test]
fn a_reallocation_keeps_the_live_allocation_and_replaces_the_down_one() {
    let pins = TempPins::new();
    let free = [("a", 50), ("b", 40), ("c", 30)];
    let p = placement("a", vec!["a", "b", "c", "down"], monitor(&[], &free), &pins);
    let moved = p
        .reallocated(pin(1, 2, 2, &["down", "c"]), "down")
        .expect("allocated");
    let allocations = moved.expect("changed").allocations;
    assert!(allocations.contains(&"c".to_owned()) && !allocations.contains(&"down".to_owned()));
    assert_eq!(allocations.len(), 2);
    assert_eq!(
        p.reallocated(pin(2, 2, 2, &["a", "b"]), "down")
            .expect("allocated"),
        None
    );
}
