//! The tracker over a daemon in memory and a temp-dir pinset: what it pins, unpins, leaves
//! alone, and how failures show. Conditions are awaited (the workers run on their own), never
//! timed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cid::Cid;
use futures::FutureExt;
use futures::future::BoxFuture;

use super::*;
use crate::ipfs::IpfsError;
use crate::state::testing::{TempPins, cid_of, pin_of};
use crate::state::{Change, FEED_CAPACITY, PinOp};

const ME: &str = "me";

/// A daemon's pins in a map; `down` makes every call fail as an unreachable daemon does.
#[derive(Default)]
struct FakeDaemon {
    pins: Mutex<HashMap<Cid, PinKind>>,
    down: AtomicBool,
}

impl FakeDaemon {
    fn holds(&self, cid: &Cid) -> bool {
        self.pins.lock().expect("pins").contains_key(cid)
    }

    fn answer<T>(&self, ok: impl FnOnce(&mut HashMap<Cid, PinKind>) -> T) -> Result<T, IpfsError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(IpfsError::Unreachable {
                target: "fake".into(),
                reason: "connection refused".into(),
            });
        }
        Ok(ok(&mut self.pins.lock().expect("pins")))
    }
}

impl Daemon for FakeDaemon {
    fn pin_add<'a>(
        &'a self,
        cid: &'a Cid,
        kind: PinKind,
        _: &'a crate::ipfs::PinLabel,
        _: Duration,
    ) -> BoxFuture<'a, Result<(), IpfsError>> {
        futures::future::ready(self.answer(|pins| {
            pins.insert(*cid, kind);
        }))
        .boxed()
    }

    fn pin_rm<'a>(&'a self, cid: &'a Cid) -> BoxFuture<'a, Result<(), IpfsError>> {
        futures::future::ready(self.answer(|pins| {
            pins.remove(cid);
        }))
        .boxed()
    }

    fn pins(&self) -> BoxFuture<'_, Result<HashMap<Cid, PinKind>, IpfsError>> {
        futures::future::ready(self.answer(|pins| pins.clone())).boxed()
    }
}

struct Setup {
    tracker: Tracker,
    journal: crate::eventlog::Journal,
    daemon: Arc<FakeDaemon>,
    feed: crate::state::Feed,
    pins: TempPins,
}

impl Setup {
    /// Applies `op` to the pinset and announces it, as the state machine does.
    fn apply(&self, op: PinOp) {
        let mut changes = Vec::new();
        Change::collect(&op, &mut changes);
        self.pins.apply(&[op]);
        let _ = self.feed.send(changes.into());
    }
}

fn start(pins: TempPins, daemon: FakeDaemon) -> Setup {
    let daemon = Arc::new(daemon);
    let feed = tokio::sync::broadcast::channel(FEED_CAPACITY).0;
    let journal = crate::eventlog::Journal::new(ME, "me");
    let inputs = TrackerInputs {
        pins: pins.store.clone(),
        changes: feed.clone(),
        peer_id: ME.into(),
        ipfs: daemon.clone(),
        content: None,
        journal: journal.clone(),
    };
    Setup {
        journal,
        tracker: Tracker::spawn(inputs, TrackerConfig::default()),
        daemon,
        feed,
        pins,
    }
}

fn elsewhere(n: u32) -> Pin {
    let mut pin = pin_of(n);
    pin.options.replication_factor_min = 1;
    pin.options.replication_factor_max = 1;
    pin.allocations = vec!["other".into()];
    pin
}

/// Waits until `done` holds (the tracker's workers run on their own); `what` names it when it
/// never does.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..2_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("never happened: {what}");
}

/// Waits until the tracker reports `status` for pin `n`.
async fn until_status(s: &Setup, n: u32, status: Status) {
    until(&format!("pin {n} {status:?}"), || {
        s.tracker.status(&cid_of(n)).status == status
    })
    .await;
}

#[tokio::test]
async fn what_is_allocated_here_is_pinned_and_the_rest_is_remote() {
    let s = start(TempPins::with([pin_of(1), elsewhere(2)]), FakeDaemon::default());
    until_status(&s, 1, Status::Pinned).await;
    assert!(s.daemon.holds(&cid_of(1)));
    assert!(!s.daemon.holds(&cid_of(2)));
    assert_eq!(s.tracker.status(&cid_of(2)).status, Status::Remote);
    assert_eq!(s.tracker.status(&cid_of(3)).status, Status::Unpinned);
}

#[tokio::test]
async fn applied_changes_pin_and_unpin_on_the_daemon() {
    let s = start(TempPins::new(), FakeDaemon::default());
    s.apply(PinOp::Pin(Box::new(pin_of(5))));
    until("pin 5 on the daemon", || s.daemon.holds(&cid_of(5))).await;
    until_status(&s, 5, Status::Pinned).await;
    s.apply(PinOp::Unpin(cid_of(5)));
    until("pin 5 off the daemon", || !s.daemon.holds(&cid_of(5))).await;
    until_status(&s, 5, Status::Unpinned).await;
}

/// The statuses the journal recorded for pin `n`, in order.
fn journaled(s: &Setup, n: u32) -> Vec<Status> {
    let cid = cid_of(n).to_string();
    let read = s.journal.log().after(0, 1_000);
    read.items
        .iter()
        .filter(|e| e.cid == cid)
        .filter_map(|e| e.status)
        .collect()
}

#[tokio::test]
async fn every_transition_is_journaled_once_in_order() {
    let s = start(TempPins::new(), FakeDaemon::default());
    s.apply(PinOp::Pin(Box::new(pin_of(5))));
    until_status(&s, 5, Status::Pinned).await;
    s.tracker.sync().await; // a sync that finds it pinned records nothing new
    s.apply(PinOp::Unpin(cid_of(5)));
    until_status(&s, 5, Status::Unpinned).await;
    until("the unpin journaled", || journaled(&s, 5).len() == 6).await;
    assert_eq!(
        journaled(&s, 5),
        [
            Status::PinQueued,
            Status::Pinning,
            Status::Pinned,
            Status::UnpinQueued,
            Status::Unpinning,
            Status::Unpinned
        ]
    );
}

#[tokio::test]
async fn a_pin_moved_elsewhere_is_removed_from_this_daemon() {
    let s = start(TempPins::with([pin_of(7)]), FakeDaemon::default());
    until("pin 7 on the daemon", || s.daemon.holds(&cid_of(7))).await;
    s.apply(PinOp::Pin(Box::new(elsewhere(7))));
    until("pin 7 off the daemon", || !s.daemon.holds(&cid_of(7))).await;
    until_status(&s, 7, Status::Remote).await;
}

#[tokio::test]
async fn the_daemons_own_pins_are_left_alone() {
    let daemon = FakeDaemon::default();
    daemon
        .pins
        .lock()
        .expect("pins")
        .insert(cid_of(99), PinKind::Recursive);
    let s = start(TempPins::with([pin_of(1)]), daemon);
    until_status(&s, 1, Status::Pinned).await;
    s.tracker.sync().await;
    assert!(
        s.daemon.holds(&cid_of(99)),
        "a pin made outside the cluster stays"
    );
}

#[tokio::test]
async fn a_daemon_that_cannot_be_asked_gives_pin_error_and_recover_retries() {
    let daemon = FakeDaemon::default();
    daemon.down.store(true, Ordering::SeqCst);
    let s = start(TempPins::with([pin_of(1)]), daemon);
    until_status(&s, 1, Status::PinError).await;
    assert!(s.tracker.status(&cid_of(1)).error.contains("connection refused"));
    s.daemon.down.store(false, Ordering::SeqCst);
    s.tracker.recover().await;
    until_status(&s, 1, Status::Pinned).await;
    assert!(s.daemon.holds(&cid_of(1)));
}

#[tokio::test]
async fn a_pin_that_vanished_is_unexpectedly_unpinned_until_recovered() {
    let s = start(TempPins::with([pin_of(1)]), FakeDaemon::default());
    until_status(&s, 1, Status::Pinned).await;
    s.daemon.pins.lock().expect("pins").remove(&cid_of(1));
    s.tracker.sync().await;
    assert_eq!(s.tracker.status(&cid_of(1)).status, Status::UnexpectedlyUnpinned);
    assert!(!s.daemon.holds(&cid_of(1)), "a sync reports, it does not repin");
    s.tracker.recover().await;
    until("pin 1 back", || s.daemon.holds(&cid_of(1))).await;
    until_status(&s, 1, Status::Pinned).await;
}
