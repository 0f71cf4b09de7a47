//! The log's numbering, reads, waits and the event's JSON shape.

use std::time::{Duration, SystemTime};

use super::*;

fn event(cid: &str, status: TrackerStatus) -> Event {
    Event {
        id: 0,
        missed: false,
        cid: cid.into(),
        peer: "p".into(),
        peername: "n".into(),
        status: Some(status),
        error: String::new(),
        timestamp: GoTime::now(),
        level: 0,
        via: String::new(),
    }
}

#[test]
fn ids_start_at_the_clock_so_they_grow_across_restarts() {
    let before = micros(SystemTime::now());
    let log = Log::new(10);
    let id = log.push(event("a", TrackerStatus::PinQueued));
    let unread = log.push(event("a", TrackerStatus::Pinning));
    assert!(id >= before, "{id} < {before}");
    std::thread::sleep(Duration::from_millis(2));
    let later = Log::new(10);
    assert!(
        later.oldest() > unread,
        "a new log starts above the old one's ids"
    );
    let read = later.after(id, 10);
    assert_eq!(read.missed, Some(later.oldest()), "an old cursor reads as missed");
}

#[test]
fn a_batch_on_first_contact_starts_at_a_time_and_later_ones_after_the_cursor() {
    let log = Log::new(10);
    log.push(event("old", TrackerStatus::Pinned));
    std::thread::sleep(Duration::from_millis(5));
    let from = SystemTime::now();
    std::thread::sleep(Duration::from_millis(5));
    log.push(event("new", TrackerStatus::PinQueued));
    let first = log.batch(
        &EventsAsk {
            since: None,
            from_ms: millis(from),
            wait_ms: 0,
            limit: 10,
        },
        10,
    );
    let cids: Vec<&str> = first.events.iter().map(|e| e.cid.as_str()).collect();
    assert_eq!(cids, ["new"]);
    assert_eq!(first.missed, None);
    log.push(event("newer", TrackerStatus::Pinning));
    let ask = EventsAsk {
        since: Some(first.cursor),
        from_ms: 0,
        wait_ms: 0,
        limit: 10,
    };
    let next = log.batch(&ask, 10);
    assert_eq!(next.events.len(), 1);
    assert_eq!(next.events[0].cid, "newer");
    assert_eq!(next.cursor, log.newest());
}

#[tokio::test]
async fn a_reader_waits_for_the_next_event_or_the_time_limit() {
    let log = Arc::new(Log::new(10));
    let cursor = log.newest();
    assert!(!log.wait_after(cursor, Duration::from_millis(20)).await);
    let writer = log.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        writer.push(event("a", TrackerStatus::Pinned));
    });
    assert!(log.wait_after(cursor, Duration::from_secs(5)).await);
    assert_eq!(log.after(cursor, 10).items.len(), 1);
}

#[test]
fn the_journal_stamps_this_peer_and_cuts_long_errors() {
    let journal = Journal::new("peerA", "a");
    let long = "é".repeat(MAX_ERROR);
    journal.record("QmX", TrackerStatus::PinError, &long);
    let read = journal.log().after(0, 10);
    let e = &read.items[0];
    assert_eq!((e.peer.as_str(), e.peername.as_str(), e.level), ("peerA", "a", 0));
    assert!(
        e.error.len() <= MAX_ERROR && e.error.starts_with('é'),
        "{}",
        e.error.len()
    );
}

#[test]
fn an_event_reads_as_the_docs_write_it() {
    let mut e = event("QmX", TrackerStatus::PinQueued);
    e.id = 7;
    e.timestamp = GoTime::parse("2026-12-04T10:00:00Z").expect("time");
    let json = serde_json::to_string(&e).expect("json");
    assert_eq!(
        json,
        r#"{"id":7,"cid":"QmX","peer":"p","peername":"n","status":"pin_queued","timestamp":"2026-12-04T10:00:00Z","level":0}"#
    );
    let mut gap = Event::gap("p", "n", 1, "top");
    gap.id = 8;
    let json = serde_json::to_value(&gap).expect("json");
    assert_eq!(json["missed"], true);
    assert_eq!(json["via"], "top");
    assert!(
        json.get("status").is_none() && json.get("cid").is_none(),
        "{json}"
    );
    let back: Event = serde_json::from_value(json).expect("back");
    assert_eq!(back, gap);
    // Over the peer RPC (CBOR) too.
    let bytes = cbor4ii::serde::to_vec(Vec::new(), &gap).expect("cbor");
    let back: Event = cbor4ii::serde::from_slice(&bytes).expect("cbor back");
    assert_eq!(back, gap);
}
