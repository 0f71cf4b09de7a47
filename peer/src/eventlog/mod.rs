//! Pin events: the transitions of a pin on a peer (`pin_queued` → `pinning` → `pinned` /
//! `pin_error`, `unpin_queued` → `unpinning` → `unpinned` / `unpin_error`), each an [`Event`],
//! kept in bounded, numbered [`Log`]s that readers follow with a cursor (docs/events.md).
//!
//! # Where it sits
//! Low, beside `state`: the tracker writes this peer's transitions into its [`Journal`]; the
//! `events` component (above `rpc`) serves the journal to the other members, gathers every
//! member's journal into this peer's own log, and streams it to REST and gateway clients.
//!
//! # Invariants
//! - Every log is bounded ([`CAPACITY`] events by default); a reader that falls behind the
//!   oldest event is told ([`ring::After::missed`]) instead of being buffered for.
//! - A log's ids grow by one per event and start at the wall clock in microseconds when the
//!   log is made, so ids keep growing across restarts of the peer: a cursor from before a
//!   restart lies below the new log's oldest id and reads as missed, never as other events.
//! - Appending never waits: a push takes one short lock and wakes readers through a watch.
//! - An event's `error` is cut to [`MAX_ERROR`] bytes, so an event stays small on the wire.

pub mod ring;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::api::{GoTime, TrackerStatus};
use ring::{After, Ring};

/// Events a log holds by default.
pub const CAPACITY: usize = 10_000;
/// The longest `error` an event carries, in bytes.
pub const MAX_ERROR: usize = 1024;

/// One transition of one pin on one peer, or (`missed`) a gap in a peer's transitions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Its number in the log it is read from (each log numbers its events anew).
    pub id: u64,
    /// A gap: transitions of `peer` (at `level`) were lost on the way; re-read the status.
    #[serde(default, skip_serializing_if = "is_false")]
    pub missed: bool,
    /// The pin's CID (empty for a gap).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cid: String,
    /// The peer whose tracker made the transition.
    pub peer: String,
    /// That peer's name.
    #[serde(default)]
    pub peername: String,
    /// The status it reached (none for a gap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TrackerStatus>,
    /// Why it failed, for `pin_error` and `unpin_error`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// When the peer made the transition (its clock).
    pub timestamp: GoTime,
    /// 0 for a peer of this cluster; 1 for a peer of a child cluster below one of them, …
    #[serde(default)]
    pub level: u32,
    /// For a level above 0: the peer of this cluster whose child cluster it happened in.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub via: String,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl Event {
    /// A gap in `peer`'s transitions at `level` (below `via`), as of now.
    pub fn gap(peer: &str, peername: &str, level: u32, via: &str) -> Self {
        Self {
            id: 0,
            missed: true,
            cid: String::new(),
            peer: peer.to_owned(),
            peername: peername.to_owned(),
            status: None,
            error: String::new(),
            timestamp: GoTime::now(),
            level,
            via: via.to_owned(),
        }
    }
}

/// What one peer asks another for: events of its journal after `since`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsAsk {
    /// The last id read; `None` on first contact (then events from `from_ms` on).
    pub since: Option<u64>,
    /// On first contact: events timestamped from this wall-clock time on (ms since the epoch).
    pub from_ms: u64,
    /// How long to wait for a first event when there is none yet (capped by the server).
    pub wait_ms: u64,
    /// At most this many events.
    pub limit: u32,
}

/// The answer to an [`EventsAsk`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventBatch {
    /// Events after the cursor asked, oldest first.
    pub events: Vec<Event>,
    /// `Some(oldest id held)` when events after the cursor asked were dropped.
    pub missed: Option<u64>,
    /// The cursor to ask from next.
    pub cursor: u64,
}

/// A bounded, numbered log of events that readers follow (see the module docs).
#[derive(Debug)]
pub struct Log {
    ring: Mutex<Ring<Arc<Event>>>,
    newest: watch::Sender<u64>,
}

impl Log {
    /// An empty log of at most `capacity` events, numbered from the clock (module docs).
    pub fn new(capacity: usize) -> Self {
        let base = micros(SystemTime::now()).max(1);
        let ring = Ring::new(capacity, base);
        let (newest, _) = watch::channel(ring.newest());
        Self {
            ring: Mutex::new(ring),
            newest,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring<Arc<Event>>> {
        self.ring.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends `event` under the next id; that id.
    pub fn push(&self, mut event: Event) -> u64 {
        let id = self.lock().push(|id| {
            event.id = id;
            Arc::new(event)
        });
        // Two pushes may get here out of order: the watch only ever moves up.
        self.newest.send_if_modified(|newest| {
            let newer = id > *newest;
            if newer {
                *newest = id;
            }
            newer
        });
        id
    }

    /// Up to `limit` events after `cursor`.
    pub fn after(&self, cursor: u64, limit: usize) -> After<Arc<Event>> {
        self.lock().after(cursor, limit)
    }

    /// Up to `limit` events timestamped at or after `from` (a first contact; nothing is
    /// reported missed).
    pub fn from_time(&self, from: SystemTime, limit: usize) -> After<Arc<Event>> {
        let ring = self.lock();
        let cursor = ring.cursor_before(|e| e.timestamp.get().is_some_and(|t| t >= from));
        ring.after(cursor, limit)
    }

    /// The newest id given.
    pub fn newest(&self) -> u64 {
        *self.newest.borrow()
    }

    /// The oldest id held.
    pub fn oldest(&self) -> u64 {
        self.lock().oldest()
    }

    /// Waits until an event newer than `cursor` is in the log, or `wait` passes; whether one is.
    pub async fn wait_after(&self, cursor: u64, wait: Duration) -> bool {
        let mut newest = self.newest.subscribe();
        let arrived = newest.wait_for(|id| *id > cursor);
        matches!(tokio::time::timeout(wait, arrived).await, Ok(Ok(_)))
    }

    /// A receiver of the newest id (for readers that wait on several things at once).
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.newest.subscribe()
    }

    /// The answer to another peer's [`EventsAsk`] (without waiting).
    pub fn batch(&self, ask: &EventsAsk, limit: usize) -> EventBatch {
        let read = match ask.since {
            Some(since) => self.after(since, limit),
            None => self.from_time(from_millis(ask.from_ms), limit),
        };
        EventBatch {
            events: read.items.iter().map(|e| Event::clone(e)).collect(),
            missed: read.missed,
            cursor: read.cursor,
        }
    }
}

/// This peer's own transitions (and its child cluster's, one level down): what the tracker
/// writes and the other members read. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Journal {
    log: Arc<Log>,
    peer: Arc<str>,
    peername: Arc<str>,
}

impl Journal {
    /// An empty journal of this peer (`peer`, named `peername`).
    pub fn new(peer: &str, peername: &str) -> Self {
        Self::with_capacity(peer, peername, CAPACITY)
    }

    /// [`Journal::new`] holding at most `capacity` events.
    pub fn with_capacity(peer: &str, peername: &str, capacity: usize) -> Self {
        Self {
            log: Arc::new(Log::new(capacity)),
            peer: peer.into(),
            peername: peername.into(),
        }
    }

    /// Records that `cid` reached `status` here (with `error` for a failure); its id.
    pub fn record(&self, cid: &str, status: TrackerStatus, error: &str) -> u64 {
        self.log.push(Event {
            id: 0,
            missed: false,
            cid: cid.to_owned(),
            peer: self.peer.to_string(),
            peername: self.peername.to_string(),
            status: Some(status),
            error: cut(error, MAX_ERROR).to_owned(),
            timestamp: GoTime::now(),
            level: 0,
            via: String::new(),
        })
    }

    /// Records an event of the child cluster below this peer (already one level down).
    pub fn record_child(&self, event: Event) -> u64 {
        self.log.push(event)
    }

    /// The log the journal writes.
    pub fn log(&self) -> &Arc<Log> {
        &self.log
    }

    /// This peer's id.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// This peer's name.
    pub fn peername(&self) -> &str {
        &self.peername
    }
}

/// `text` cut to at most `max` bytes on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Microseconds since the epoch (0 before it).
fn micros(t: SystemTime) -> u64 {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
}

/// Milliseconds since the epoch (0 before it).
pub fn millis(t: SystemTime) -> u64 {
    micros(t) / 1000
}

fn from_millis(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

#[cfg(test)]
mod tests;
