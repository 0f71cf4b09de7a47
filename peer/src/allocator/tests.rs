use std::time::Duration;

use super::*;

fn metric(name: &str, peer: &str, value: &str, weight: i64) -> Metric {
    let mut m = Metric::new(name, peer, value.into(), weight, Duration::from_secs(30));
    m.partitionable = name.starts_with("tag:");
    m
}

fn free(peers: &[(&str, i64)]) -> (String, Vec<Metric>) {
    let metrics = peers
        .iter()
        .map(|(p, w)| metric("freespace", p, &w.to_string(), *w))
        .collect();
    ("freespace".into(), metrics)
}

fn owned(peers: &[&str]) -> Vec<String> {
    peers.iter().map(|p| p.to_string()).collect()
}

#[test]
fn the_peers_with_most_free_space_are_chosen_up_to_rf_max() {
    let request = Request {
        min: 2,
        max: 2,
        metrics: vec![free(&[("a", 10), ("b", 30), ("c", 20)])],
        ..Request::default()
    };
    assert_eq!(allocate(&request).unwrap(), owned(&["b", "c"]));
}

#[test]
fn fewer_qualifying_peers_than_rf_min_is_ipfs_clusters_error() {
    let request = Request {
        min: 3,
        max: 3,
        metrics: vec![free(&[("a", 10), ("b", 30)])],
        ..Request::default()
    };
    let err = allocate(&request).unwrap_err();
    assert_eq!(
        err.to_string(),
        "not enough peers to allocate CID. Needed at least: 3. Wanted at most: 3. Available candidates: 2. See logs for more info."
    );
}

#[test]
fn between_min_and_max_takes_as_many_as_there_are() {
    let request = Request {
        min: 1,
        max: 5,
        metrics: vec![free(&[("a", 10), ("b", 30)])],
        ..Request::default()
    };
    assert_eq!(allocate(&request).unwrap(), owned(&["b", "a"]));
}

#[test]
fn a_peer_missing_one_of_the_metrics_does_not_qualify() {
    let tags = ("tag:group".to_owned(), vec![metric("tag:group", "a", "x", 0)]);
    let request = Request {
        min: 1,
        max: 2,
        metrics: vec![tags, free(&[("a", 10), ("b", 30)])],
        ..Request::default()
    };
    assert_eq!(allocate(&request).unwrap(), owned(&["a"]));
}

#[test]
fn valid_current_allocations_are_kept_and_a_down_one_is_replaced() {
    let current = owned(&["a", "down"]);
    let blacklist = owned(&["down"]);
    let request = Request {
        current: &current,
        min: 2,
        max: 2,
        blacklist: &blacklist,
        metrics: vec![free(&[("a", 1), ("b", 5), ("c", 9), ("down", 100)])],
        ..Request::default()
    };
    assert_eq!(allocate(&request).unwrap(), owned(&["a", "c"]));
}

#[test]
fn a_repin_above_rf_min_keeps_its_allocations() {
    let current = owned(&["a", "b"]);
    let request = Request {
        current: &current,
        min: 2,
        max: 3,
        metrics: vec![free(&[("a", 1), ("b", 5), ("c", 9)])],
        ..Request::default()
    };
    assert_eq!(allocate(&request).unwrap(), owned(&["a", "b"]));
}

#[test]
fn user_allocations_come_first() {
    let priority = owned(&["a"]);
    let request = Request {
        min: 2,
        max: 2,
        priority: &priority,
        metrics: vec![free(&[("a", 1), ("b", 5), ("c", 9)])],
        ..Request::default()
    };
    assert_eq!(allocate(&request).unwrap(), owned(&["a", "c"]));
}

#[test]
fn tags_spread_copies_across_groups_before_filling_one() {
    let tags = (
        "tag:group".to_owned(),
        vec![
            metric("tag:group", "a1", "east", 0),
            metric("tag:group", "a2", "east", 0),
            metric("tag:group", "b1", "west", 0),
        ],
    );
    let request = Request {
        min: 2,
        max: 2,
        metrics: vec![tags, free(&[("a1", 50), ("a2", 40), ("b1", 1)])],
        ..Request::default()
    };
    let chosen = allocate(&request).unwrap();
    assert!(
        chosen.contains(&"b1".to_owned()) && chosen.contains(&"a1".to_owned()),
        "{chosen:?}"
    );
}
