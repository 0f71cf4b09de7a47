//! Subscriptions over a detached stream (this peer's journal only): order, filters, resumption
//! after a disconnect, the missed notice of a client that fell behind, and a member's read.

use std::collections::HashSet;
use std::time::Duration;

use super::*;
use crate::api::TrackerStatus::{self, PinQueued, Pinned, Pinning};

fn stream(capacity: usize) -> Events {
    Events::detached(Journal::new("peerA", "a"), capacity)
}

fn record(events: &Events, cid: &str, status: TrackerStatus) {
    events.journal().record(cid, status, "");
}

/// The next `n` outputs, failing after a second without one.
async fn take(sub: &mut Subscription, n: usize) -> Vec<Out> {
    let mut got = Vec::new();
    for _ in 0..n {
        let next = tokio::time::timeout(Duration::from_secs(1), sub.next()).await;
        got.push(next.expect("an event within a second"));
    }
    got
}

fn pairs(outs: &[Out]) -> Vec<(String, Option<TrackerStatus>)> {
    outs.iter()
        .map(|o| match o {
            Out::Event(e) => (e.cid.clone(), e.status),
            Out::Missed { .. } => ("missed".into(), None),
        })
        .collect()
}

fn only(cids: &[&str]) -> Filter {
    Filter {
        cids: Some(cids.iter().map(|c| (*c).to_owned()).collect::<HashSet<_>>()),
    }
}

async fn quiet(sub: &mut Subscription) -> bool {
    tokio::time::timeout(Duration::from_millis(100), sub.next())
        .await
        .is_err()
}

#[tokio::test]
async fn a_subscriber_sees_transitions_in_order_with_growing_ids() {
    let events = stream(100);
    let mut sub = events.subscribe(Filter::default(), None).expect("sub");
    for status in [PinQueued, Pinning, Pinned] {
        record(&events, "a", status);
    }
    let got = take(&mut sub, 3).await;
    let want = [
        ("a".to_owned(), Some(PinQueued)),
        ("a".into(), Some(Pinning)),
        ("a".into(), Some(Pinned)),
    ];
    assert_eq!(pairs(&got), want);
    let ids: Vec<u64> = got.iter().filter_map(Out::id).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    assert!(quiet(&mut sub).await, "nothing more");
}

#[tokio::test]
async fn a_filtered_subscriber_sees_only_its_cids_and_every_gap() {
    let events = stream(100);
    let mut sub = events.subscribe(only(&["b"]), None).expect("sub");
    record(&events, "a", PinQueued);
    record(&events, "b", PinQueued);
    let gap = crate::eventlog::Event::gap("peerB", "b", 0, "");
    events.journal().record_child(gap);
    record(&events, "a", Pinned);
    let got = take(&mut sub, 2).await;
    assert_eq!(pairs(&got)[0], ("b".to_owned(), Some(PinQueued)));
    assert!(matches!(&got[1], Out::Event(e) if e.missed && e.peer == "peerB"));
    assert!(quiet(&mut sub).await);
}

#[tokio::test]
async fn a_resumed_subscriber_gets_what_it_missed_once_and_nothing_twice() {
    let events = stream(100);
    let mut first = events.subscribe(Filter::default(), None).expect("sub");
    record(&events, "a", PinQueued);
    record(&events, "a", Pinning);
    let seen = take(&mut first, 2).await;
    let last = seen[1].id().expect("id");
    drop(first);
    record(&events, "a", Pinned);
    record(&events, "b", PinQueued);
    let mut again = events.subscribe(Filter::default(), Some(last)).expect("sub");
    let got = take(&mut again, 2).await;
    assert_eq!(
        pairs(&got),
        [("a".to_owned(), Some(Pinned)), ("b".into(), Some(PinQueued))]
    );
    assert_eq!(got[0].id(), Some(last + 1));
    assert!(quiet(&mut again).await, "no duplicates");
}

#[tokio::test]
async fn a_subscriber_behind_the_ring_is_told_then_goes_on_from_the_oldest() {
    let events = stream(4);
    let mut sub = events.subscribe(Filter::default(), None).expect("sub");
    let start = sub.cursor();
    for n in 0..10 {
        record(&events, &format!("c{n}"), PinQueued);
    }
    // Let the local copy reach the hub before reading.
    while events.newest() < start + 10 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let got = take(&mut sub, 5).await;
    let oldest = events.inner.hub.oldest();
    assert_eq!(got[0], Out::Missed { oldest });
    let cids: Vec<String> = pairs(&got[1..]).into_iter().map(|(c, _)| c).collect();
    assert_eq!(cids, ["c6", "c7", "c8", "c9"]);
    // An id from before a restart (below the oldest) reads as missed too.
    let mut old = events.subscribe(Filter::default(), Some(1)).expect("sub");
    assert_eq!(take(&mut old, 1).await[0], Out::Missed { oldest });
}

#[tokio::test]
async fn subscribers_are_bounded() {
    let events = stream(10);
    let subs: Vec<Subscription> = (0..MAX_SUBSCRIBERS)
        .map(|_| events.subscribe(Filter::default(), None).expect("room"))
        .collect();
    assert!(events.subscribe(Filter::default(), None).is_err());
    drop(subs);
    assert!(events.subscribe(Filter::default(), None).is_ok(), "room again");
}

#[tokio::test]
async fn a_members_read_waits_for_the_first_event_and_resumes_after_its_cursor() {
    let events = stream(100);
    let ask = EventsAsk {
        since: None,
        from_ms: crate::eventlog::millis(std::time::SystemTime::now()),
        wait_ms: 5_000,
        limit: 10,
    };
    let writer = events.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        record(&writer, "a", PinQueued);
    });
    let first = events.serve(ask.clone()).await;
    assert_eq!(first.events.len(), 1, "{first:?}");
    assert!(events.inner.journal_wanted(), "a member's read wants the journal");
    record(&events, "a", Pinning);
    let next = events
        .serve(EventsAsk {
            since: Some(first.cursor),
            wait_ms: 0,
            ..ask
        })
        .await;
    assert_eq!(
        next.events.iter().map(|e| e.status).collect::<Vec<_>>(),
        [Some(Pinning)]
    );
    assert_eq!(next.missed, None);
}
