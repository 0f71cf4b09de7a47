use std::time::Duration;

use super::*;

fn members(peers: &[&str]) -> Vec<String> {
    peers.iter().map(|p| p.to_string()).collect()
}

#[test]
fn the_newest_metric_of_each_member_is_kept_and_others_are_filtered() {
    let monitor = Monitor::new();
    monitor.record(Metric::new(
        "freespace",
        "a",
        "1".into(),
        1,
        Duration::from_secs(30),
    ));
    monitor.record(Metric::new(
        "freespace",
        "a",
        "2".into(),
        2,
        Duration::from_secs(30),
    ));
    monitor.record(Metric::new(
        "freespace",
        "gone",
        "9".into(),
        9,
        Duration::from_secs(30),
    ));
    let got = monitor.usable("freespace", &members(&["a", "b"]));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].value, "2");
}

#[test]
fn a_metric_signed_by_another_peer_is_dropped() {
    let monitor = Monitor::new();
    let metric = Metric::new("freespace", "a", "1".into(), 1, Duration::from_secs(30));
    monitor.receive("b", &serde_json::to_vec(&metric).unwrap());
    assert!(monitor.latest("freespace", &members(&["a"])).is_empty());
    monitor.receive("a", &serde_json::to_vec(&metric).unwrap());
    assert_eq!(monitor.latest("freespace", &members(&["a"])).len(), 1);
}

#[test]
fn an_expired_metric_raises_one_alert_until_it_is_valid_again() {
    let monitor = Monitor::new();
    monitor.record(Metric::new(PING, "a", "{}".into(), 0, Duration::ZERO));
    let all = members(&["a"]);
    assert_eq!(monitor.check(&all).len(), 1);
    assert!(monitor.check(&all).is_empty(), "raised once");
    assert!(!monitor.alive("a", 0));
    monitor.record(Metric::new(PING, "a", "{}".into(), 0, Duration::from_secs(30)));
    assert!(monitor.alive("a", 0));
    monitor.record(Metric::new(PING, "a", "{}".into(), 0, Duration::ZERO));
    assert_eq!(monitor.check(&all).len(), 1, "raised again after recovering");
    assert_eq!(monitor.alerts().len(), 2);
}

#[test]
fn a_peer_never_heard_from_is_alive_only_during_the_grace_period() {
    let monitor = Monitor::new();
    assert!(monitor.alive("x", 60_000_000_000));
    assert!(!monitor.alive("x", 0));
}
