//! The pin tracker: makes this peer's IPFS daemon hold what the shared pinset allocates to it,
//! and keeps where each pin stands (the local state).
//!
//! # Where it sits
//! Built by the composition root (`peer`) from what it uses ([`TrackerInputs`]): the applied
//! pinset, the feed of applied changes, this peer's id, its daemon ([`Daemon`]), and a copier of
//! missing content for external daemons. It follows each applied change as Raft applies it ([`follow`]), and
//! compares the whole pinset with the daemon's pins at start, after falling behind the feed,
//! every `sync_interval`, and when failed pins are due for a retry (`recover_interval`, or on
//! demand); the REST API reads [`Tracker::status`].
//!
//! # Invariants
//! - At most `concurrent_pins` pin or unpin calls are in flight against the daemon (that many
//!   workers take operations from a bounded [`queue`]: first attempts before retries, and a
//!   newer operation on a CID cancels the older one).
//! - The tracker unpins on the daemon only what it tracked as a cluster pin (a daemon's own
//!   pins made outside the cluster are left alone).
//! - A pin allocated here (allocations empty = every peer) that the daemon lacks is pinned;
//!   one that was pinned and vanished is `unexpectedly_unpinned` and re-pinned on recovery.
//!   While the daemon cannot be asked, such pins are `pin_error` with the reason.
//! - A pin of the pinset that is not allocated here (any more) is `remote`, and the daemon's
//!   pin of it is removed: a peer that lost an allocation, or comes back after failover, follows
//!   the shared state instead of keeping stale pins.
//! - Every change of a tracked pin's status (or of its error) is recorded in the peer's
//!   [`Journal`] while the status lock is held, so the journal's order is the tracker's; a pin
//!   that stops being tracked is recorded as what [`Tracker::status`] then answers.
//!
//! # Not here
//! Choosing allocations (allocator), peer health (monitor), status across peers.

mod counts;
mod daemon;
mod follow;
mod queue;
mod reconcile;
mod status;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cid::Cid;

pub use counts::StatusCounts;
pub use daemon::Daemon;
pub use status::{LocalStatus, Status};

use futures::future::BoxFuture;

use crate::api::{Pin, PinMode};
use crate::eventlog::Journal;
use crate::ipfs::{PinKind, PinLabel};
use crate::state::{Feed, PinStore};
use queue::{Op, Queue, Work};
use reconcile::reconcile;

/// How the tracker works.
#[derive(Clone, Copy, Debug)]
pub struct TrackerConfig {
    /// Pin/unpin calls in flight at once.
    pub concurrent_pins: usize,
    /// No-progress limit of one `pin/add`.
    pub pin_timeout: Duration,
    /// Full comparison with the daemon at least this often.
    pub sync_interval: Duration,
    /// Failed pins are retried this often.
    pub recover_interval: Duration,
    /// Operations waiting for a slot at most.
    pub max_queue: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            concurrent_pins: 10,
            pin_timeout: Duration::from_secs(120),
            sync_interval: Duration::from_secs(60),
            // ipfs-cluster's pin_recover_interval is 12m; failures are retried sooner on demand.
            recover_interval: Duration::from_secs(600),
            max_queue: 1_000_000,
        }
    }
}

impl TrackerConfig {
    /// From the validated configuration.
    pub fn from_config(config: &crate::config::ServiceConfig) -> Self {
        Self {
            concurrent_pins: config.placement.tracker.concurrent_pins,
            pin_timeout: config.ipfshttp.pin_timeout.get(),
            sync_interval: config.cluster.state_sync_interval.get(),
            recover_interval: config.cluster.pin_recover_interval.get(),
            max_queue: config.placement.tracker.max_pin_queue_size,
        }
    }
}

/// How often the tracker checks whether a full sync or a recovery is due.
const TICK: Duration = Duration::from_secs(1);

/// Handle to the running tracker; cheap to clone.
#[derive(Clone)]
pub struct Tracker {
    inner: Arc<Inner>,
}

/// Copies the DAG under a root into this peer's external daemon when it lacks it (from the
/// other members); returns the blocks copied.
pub trait ContentCopier: Send + Sync {
    /// Copies what the daemon lacks under `root`.
    fn copy_into(&self, root: Cid) -> BoxFuture<'_, usize>;
}

/// What the tracker reads and where it pins.
pub struct TrackerInputs {
    /// The applied pinset.
    pub pins: PinStore,
    /// Changes as this peer applies them.
    pub changes: Feed,
    /// This peer's id (allocations name it).
    pub peer_id: String,
    /// This peer's IPFS daemon.
    pub ipfs: Arc<dyn Daemon>,
    /// Copies content into the daemon before a pin; `None` when the daemon fetches missing
    /// blocks itself (the embedded node).
    pub content: Option<std::sync::Arc<dyn ContentCopier>>,
    /// Where status changes are recorded (the pin event stream's source).
    pub journal: Journal,
}

struct Inner {
    pins: PinStore,
    me: String,
    content: Option<Arc<dyn ContentCopier>>,
    ipfs: Arc<dyn Daemon>,
    config: TrackerConfig,
    states: Mutex<BTreeMap<Cid, LocalStatus>>,
    queue: Queue,
    journal: Journal,
}

impl Inner {
    /// The name and metadata the pinset gives `cid` (none when it is gone meanwhile).
    fn label(&self, cid: &Cid) -> PinLabel {
        match self.pins.get(cid) {
            Ok(Some(pin)) => PinLabel {
                name: pin.options.name,
                metadata: pin.options.metadata,
            },
            _ => PinLabel::default(),
        }
    }
}

impl Tracker {
    /// Starts tracking the pinset of `inputs` on its daemon.
    pub fn spawn(inputs: TrackerInputs, config: TrackerConfig) -> Self {
        let feed = inputs.changes.subscribe();
        let inner = Arc::new(Inner {
            pins: inputs.pins,
            me: inputs.peer_id,
            content: inputs.content,
            ipfs: inputs.ipfs,
            queue: Queue::new(config.max_queue),
            journal: inputs.journal,
            config,
            states: Mutex::new(BTreeMap::new()),
        });
        for _ in 0..inner.config.concurrent_pins.max(1) {
            tokio::spawn(work(inner.clone()));
        }
        tokio::spawn(run(inner.clone(), feed));
        Self { inner }
    }

    /// The local state of `cid`: as tracked; for a pin not reconciled yet `pin_queued` when
    /// allocated here, else `remote`; `unpinned` when not in the pinset.
    pub fn status(&self, cid: &Cid) -> LocalStatus {
        let tracked = self.inner.lock().get(cid).cloned();
        tracked.unwrap_or_else(|| {
            let pin = self.inner.pins.get(cid).ok().flatten();
            let me = &self.inner.me;
            LocalStatus::now(untracked(pin.as_ref(), me), String::new(), 0)
        })
    }

    /// Up to `limit` tracked pins after `after`, in CID order.
    pub fn page(&self, after: Option<Cid>, limit: usize) -> Vec<(Cid, LocalStatus)> {
        use std::ops::Bound::{Excluded, Unbounded};
        let start = after.map_or(Unbounded, Excluded);
        let states = self.inner.lock();
        let range = states.range((start, Unbounded));
        range.take(limit).map(|(c, s)| (*c, s.clone())).collect()
    }

    /// Compares with the daemon now (without retrying failures).
    pub async fn sync(&self) {
        reconcile(&self.inner, false).await;
    }

    /// Operations waiting for a slot or in flight (the `pinqueue` metric).
    pub fn queued(&self) -> u64 {
        self.inner.queue.len() as u64
    }

    /// Retries every failed pin now.
    pub async fn recover(&self) {
        reconcile(&self.inner, true).await;
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Cid, LocalStatus>> {
        self.states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set(&self, cid: Cid, status: Status, error: String) {
        let op = self.lock().get(&cid).map_or(0, |s| s.op);
        self.set_with_op(cid, status, error, op);
    }

    /// Sets the status and the generation of the CID's newest operation.
    fn set_with_op(&self, cid: Cid, status: Status, error: String, op: u64) {
        let mut states = self.lock();
        let attempts = states.get(&cid).map_or(0, |s| s.attempt_count);
        let attempts = match status {
            Status::PinError | Status::UnpinError => attempts + 1,
            Status::Pinned | Status::Unpinned => 0,
            _ => attempts,
        };
        let changed = states
            .get(&cid)
            .is_none_or(|s| s.status != status || s.error != error);
        if changed {
            self.journal.record(&cid.to_string(), status, &error);
        }
        let mut entry = LocalStatus::now(status, error, attempts);
        entry.op = op;
        states.insert(cid, entry);
    }

    /// Stops tracking `cid`; records `now` (what [`Tracker::status`] answers from here on)
    /// when it was tracked with another status.
    fn forget(&self, cid: &Cid, now: Status) {
        let mut states = self.lock();
        if let Some(was) = states.remove(cid)
            && was.status != now
        {
            self.journal.record(&cid.to_string(), now, "");
        }
    }

    /// What an untracked `cid` reads as: `unpinned` out of the pinset, else `remote` or
    /// `pin_queued` as its allocations say.
    fn untracked_now(&self, cid: &Cid) -> Status {
        untracked(self.pins.get(cid).ok().flatten().as_ref(), &self.me)
    }

    /// Up to `limit` tracked CIDs after `after`, in order.
    fn keys_after(&self, after: Option<Cid>, limit: usize) -> Vec<Cid> {
        use std::ops::Bound::{Excluded, Unbounded};
        let start = after.map_or(Unbounded, Excluded);
        self.lock()
            .range((start, Unbounded))
            .take(limit)
            .map(|(c, _)| *c)
            .collect()
    }

    /// Whether `op` is the newest operation queued for its CID.
    fn current(&self, op: &Op) -> bool {
        self.lock().get(&op.cid).is_some_and(|s| s.op == op.generation)
    }

    fn status_of(&self, cid: &Cid) -> Option<Status> {
        self.lock().get(cid).map(|s| s.status)
    }
}

/// Follows applied changes one by one; compares everything at start, after a lag or a
/// snapshot, every `sync_interval`, and (retrying failures) every `recover_interval`.
async fn run(inner: Arc<Inner>, mut feed: tokio::sync::broadcast::Receiver<Arc<[crate::state::Change]>>) {
    use tokio::sync::broadcast::error::RecvError;
    reconcile(&inner, false).await;
    let (mut synced, mut recovered) = (Instant::now(), Instant::now());
    loop {
        tokio::select! {
            got = feed.recv() => match got {
                Ok(changes) if follow::apply(&inner, &changes) => {}
                Ok(_) | Err(RecvError::Lagged(_)) => {
                    reconcile(&inner, false).await;
                    synced = Instant::now();
                }
                Err(RecvError::Closed) => return,
            },
            _ = tokio::time::sleep(TICK) => {}
        }
        let recover_due = recovered.elapsed() >= inner.config.recover_interval;
        if recover_due || synced.elapsed() >= inner.config.sync_interval {
            reconcile(&inner, recover_due).await;
            synced = Instant::now();
            if recover_due {
                recovered = Instant::now();
            }
        }
    }
}

/// The status of a pin the tracker has not reconciled yet.
pub fn untracked(pin: Option<&Pin>, peer: &str) -> Status {
    match pin {
        None => Status::Unpinned,
        Some(pin) if allocated(pin, peer) => Status::PinQueued,
        Some(_) => Status::Remote,
    }
}

fn allocated(pin: &Pin, me: &str) -> bool {
    pin.allocations.is_empty() || pin.allocations.iter().any(|a| a == me)
}

fn kind_of(pin: &Pin) -> PinKind {
    match pin.options.mode {
        PinMode::Recursive => PinKind::Recursive,
        PinMode::Direct => PinKind::Direct,
    }
}

fn want_pinned(inner: &Arc<Inner>, cid: Cid, kind: PinKind, held: Option<PinKind>, retry: bool) {
    let now = inner.status_of(&cid);
    if held == Some(kind) || (held == Some(PinKind::Recursive) && kind == PinKind::Direct) {
        if !matches!(now, Some(Status::Pinning | Status::PinQueued)) {
            inner.set(cid, Status::Pinned, String::new());
        }
        return;
    }
    match now {
        Some(Status::Pinning | Status::PinQueued) => {}
        Some(Status::PinError | Status::UnexpectedlyUnpinned) if !retry => {}
        Some(Status::Pinned) => {
            let lost = "the item should be pinned but it is not".to_owned();
            inner.set(cid, Status::UnexpectedlyUnpinned, lost);
            if retry {
                enqueue(inner, cid, Work::Pin(kind), true);
            }
        }
        Some(Status::PinError | Status::UnexpectedlyUnpinned) => enqueue(inner, cid, Work::Pin(kind), true),
        _ => enqueue(inner, cid, Work::Pin(kind), false),
    }
}

fn start_unpin(inner: &Arc<Inner>, cid: Cid) {
    if matches!(
        inner.status_of(&cid),
        Some(Status::Unpinning | Status::UnpinQueued)
    ) {
        return;
    }
    enqueue(inner, cid, Work::Unpin, false);
}

/// Queues `work` (cancelling an older operation on `cid`); a full queue is an error status.
fn enqueue(inner: &Arc<Inner>, cid: Cid, work: Work, retry: bool) {
    let (queued, failed) = match work {
        Work::Pin(_) => (Status::PinQueued, Status::PinError),
        Work::Unpin => (Status::UnpinQueued, Status::UnpinError),
    };
    let generation = inner.queue.generation();
    inner.set_with_op(cid, queued, String::new(), generation);
    if let Err(full) = inner.queue.push(cid, work, retry, generation) {
        inner.set(cid, failed, full.to_string());
    }
}

/// One of `concurrent_pins` workers: runs queued operations one at a time.
async fn work(inner: Arc<Inner>) {
    loop {
        let op = inner.queue.pop(|op| inner.current(op)).await;
        let task = tokio::spawn(run_op(inner.clone(), op));
        inner.queue.started(&op, task.abort_handle());
        if !inner.current(&op) {
            task.abort(); // superseded between popping and starting
        }
        let _ = task.await; // an aborted operation was replaced by a newer one
        inner.queue.finished(&op);
    }
}

async fn run_op(inner: Arc<Inner>, op: Op) {
    let cid = op.cid;
    match op.work {
        Work::Pin(kind) => {
            inner.set(cid, Status::Pinning, String::new());
            if let Some(content) = &inner.content {
                content.copy_into(cid).await;
            }
            let label = inner.label(&cid);
            match inner
                .ipfs
                .pin_add(&cid, kind, &label, inner.config.pin_timeout)
                .await
            {
                Ok(()) => inner.set(cid, Status::Pinned, String::new()),
                Err(e) => {
                    let reason = e.reason();
                    tracing::warn!(%cid, error = %reason, "pin failed; it is retried every cluster.pin_recover_interval and on cairn recover");
                    inner.set(cid, Status::PinError, reason);
                }
            }
        }
        Work::Unpin => {
            inner.set(cid, Status::Unpinning, String::new());
            match inner.ipfs.pin_rm(&cid).await {
                Ok(()) => inner.forget(&cid, inner.untracked_now(&cid)),
                Err(e) => {
                    let reason = e.reason();
                    tracing::warn!(%cid, error = %reason, "unpin failed");
                    inner.set(cid, Status::UnpinError, reason);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
