//! The pin event stream (`GET /pins/events`, the gateway's `cairn/events`; docs/events.md):
//! every member's pin transitions, and its child clusters', in one numbered log per serving
//! peer, which clients follow and resume.
//!
//! # How events travel
//! ```text
//! tracker ──record──▶ journal (this peer's transitions; child cluster's at level+1)
//!                        │ in-process, always                 ▲ child: cairn/events of the
//!                        ▼                                    │ child gateway (level + 1)
//! other members' journals ──RPC `events` (long-polled)──▶ hub log ──▶ subscriptions (REST,
//!                                                                       gateway)
//! ```
//! The hub renumbers what it gathers, so ids grow per serving peer. A member's journal is read
//! with a cursor over the peer RPC (`rpc::Client::events`: after the last id read, waiting up
//! to half the network timeout for a first event), so a member's events arrive in its order,
//! each once, and a member that dropped events before they were read says so, which the hub
//! records as a gap (`missed`) of that member.
//!
//! # Invariants
//! - Bounded everywhere: each log holds [`CAPACITY`](crate::eventlog::CAPACITY) events; a
//!   subscription holds one read; a batch is at most [`MAX_BATCH`] events; at most
//!   [`MAX_SUBSCRIBERS`] clients follow this peer at once ([`Busy`] beyond) and at most
//!   [`MAX_WAITERS`] members' reads wait here at once (the others are answered at once).
//! - Members' and the child cluster's journals are read only while someone follows this peer
//!   (and for [`LINGER`] after the last one left), so an unwatched cluster pays nothing; the
//!   cursors are kept meanwhile, so what happened in between comes in (or is reported missed)
//!   when someone follows again. On first contact a member is read from the time this peer
//!   first had a follower, less [`CLOCK_SLACK`] for clocks that disagree.
//! - This peer's own journal is always copied into the hub, in order.

mod child;
mod relay;
pub mod subscription;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{Semaphore, watch};

use crate::consensus::MemberList;
use crate::eventlog::{CAPACITY, EventBatch, EventsAsk, Journal, Log};
use crate::ipfs::IpfsClient;
pub use subscription::{Filter, Out, Subscription};

/// Clients following one peer at once.
pub const MAX_SUBSCRIBERS: usize = 256;
/// Members' reads of this peer's journal waiting at once.
pub const MAX_WAITERS: usize = 64;
/// The longest wait of a member's read.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// Events per batch between peers.
pub const MAX_BATCH: usize = 1024;
/// How long the others' journals are still read after the last client left.
pub const LINGER: Duration = Duration::from_secs(60);
/// How far back a first contact reads, for clocks that disagree.
pub const CLOCK_SLACK: Duration = Duration::from_secs(2);

/// Too many clients follow this peer.
#[derive(Debug, thiserror::Error)]
#[error("too many event subscribers ({MAX_SUBSCRIBERS}); try again later")]
pub struct Busy;

/// What the event stream is built over.
pub struct EventsInputs {
    /// This peer's journal (the tracker writes it).
    pub journal: Journal,
    /// The cluster's members (whose journals are read).
    pub members: Arc<dyn MemberList>,
    /// The peer RPC.
    pub rpc: crate::rpc::Client,
    /// This peer's IPFS daemon: a child cluster's events are read from it when it is a Cairn
    /// gateway.
    pub daemon: IpfsClient,
    /// `consensus.raft.network_timeout`: a member's read waits at most half of it.
    pub network_timeout: Duration,
}

/// The running event stream; cheap to clone.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    journal: Journal,
    hub: Log,
    subscribers: watch::Sender<usize>,
    /// When the subscriber count last fell to zero.
    idle_since: Mutex<Instant>,
    /// When this peer first had a subscriber (first contacts read from then on).
    first_active: OnceLock<SystemTime>,
    /// When a member last read this peer's journal.
    polled: Mutex<Option<Instant>>,
    waiters: Semaphore,
}

/// Counts a subscriber until dropped.
pub(crate) struct SubscriberGuard(Arc<Inner>);

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        let inner = &self.0;
        inner.subscribers.send_modify(|n| *n = n.saturating_sub(1));
        if *inner.subscribers.borrow() == 0 {
            *lock(&inner.idle_since) = Instant::now();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Inner {
    fn new(journal: Journal, capacity: usize) -> Self {
        Self {
            journal,
            hub: Log::new(capacity),
            subscribers: watch::channel(0).0,
            idle_since: Mutex::new(Instant::now()),
            first_active: OnceLock::new(),
            polled: Mutex::new(None),
            waiters: Semaphore::new(MAX_WAITERS),
        }
    }

    /// Whether someone follows this peer, or did within [`LINGER`].
    fn followed(&self) -> bool {
        *self.subscribers.borrow() > 0
            || (self.first_active.get().is_some() && lock(&self.idle_since).elapsed() < LINGER)
    }

    /// Whether this peer's journal is wanted: followed here, or read by a member lately.
    fn journal_wanted(&self) -> bool {
        self.followed() || lock(&self.polled).is_some_and(|at| at.elapsed() < LINGER)
    }

    /// Where a first contact reads from (ms since the epoch).
    fn first_contact_ms(&self) -> u64 {
        let since = self.first_active.get().copied().unwrap_or_else(SystemTime::now);
        let since = since.checked_sub(CLOCK_SLACK).unwrap_or(since);
        crate::eventlog::millis(since)
    }
}

impl Events {
    /// The stream over `inputs`: copies this peer's journal into its log at once, and starts
    /// the readers of the members' and the child cluster's journals (idle until followed).
    pub fn start(inputs: EventsInputs) -> Self {
        let inner = Arc::new(Inner::new(inputs.journal, CAPACITY));
        tokio::spawn(relay::local(inner.clone()));
        let wait = (inputs.network_timeout / 2).min(MAX_WAIT);
        tokio::spawn(relay::members(inner.clone(), inputs.members, inputs.rpc, wait));
        tokio::spawn(child::follow(inner.clone(), inputs.daemon));
        Self { inner }
    }

    /// A stream of `capacity` events that gathers only `journal` (tests).
    #[cfg(test)]
    pub(crate) fn detached(journal: Journal, capacity: usize) -> Self {
        let inner = Arc::new(Inner::new(journal, capacity));
        tokio::spawn(relay::local(inner.clone()));
        Self { inner }
    }

    /// Follows this peer's log from now on (`since` = `None`) or after the id `since`; `Busy`
    /// when [`MAX_SUBSCRIBERS`] already do.
    pub fn subscribe(&self, filter: Filter, since: Option<u64>) -> Result<Subscription, Busy> {
        let inner = &self.inner;
        let admitted = inner.subscribers.send_if_modified(|n| {
            let room = *n < MAX_SUBSCRIBERS;
            if room {
                *n += 1;
            }
            room
        });
        if !admitted {
            return Err(Busy);
        }
        inner.first_active.get_or_init(SystemTime::now);
        let guard = SubscriberGuard(inner.clone());
        Ok(Subscription::new(inner.clone(), filter, since, guard))
    }

    /// Another member's read of this peer's journal: the events after its cursor, waiting up
    /// to `wait_ms` (at most [`MAX_WAIT`]) for a first one when there is none yet and a wait
    /// slot is free.
    pub async fn serve(&self, ask: EventsAsk) -> EventBatch {
        let inner = &self.inner;
        *lock(&inner.polled) = Some(Instant::now());
        let log = inner.journal.log();
        let limit = usize::try_from(ask.limit)
            .unwrap_or(MAX_BATCH)
            .clamp(1, MAX_BATCH);
        let batch = log.batch(&ask, limit);
        if !batch.events.is_empty() || batch.missed.is_some() || ask.wait_ms == 0 {
            return batch;
        }
        let Ok(_slot) = inner.waiters.try_acquire() else {
            return batch;
        };
        let wait = Duration::from_millis(ask.wait_ms).min(MAX_WAIT);
        if !log.wait_after(batch.cursor, wait).await {
            return batch;
        }
        let again = EventsAsk {
            since: Some(batch.cursor),
            ..ask
        };
        log.batch(&again, limit)
    }

    /// The newest id of this peer's log.
    pub fn newest(&self) -> u64 {
        self.inner.hub.newest()
    }

    /// This peer's journal.
    pub fn journal(&self) -> &Journal {
        &self.inner.journal
    }
}
