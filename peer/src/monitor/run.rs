//! The monitor's loops on a running peer: record what other peers publish, publish this
//! peer's informer metrics and ping, and check for expired metrics (alerts) and down peers
//! (failover, unless `disable_repinning`).
//!
//! # Inputs
//! [`LoopInputs`]: this peer's id and name, the monitor's store, the members, the network
//! (gossip and dialling), the IPFS daemon, the tracker (its queue length is a metric), and
//! [`Failover`], which the cluster implements: the checker decides when a down peer's pins are
//! due, the cluster moves them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::mpsc;

use super::informers::{self, Settings};
use super::{Metric, Monitor};
use crate::consensus::MemberList;
use crate::ipfs::IpfsClient;
use crate::net::{Gossip, Net};
use crate::tracker::Tracker;

/// What one failover scan of a down peer did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repinned {
    /// Pins re-allocated and committed.
    pub moved: usize,
    /// Pins that could not be re-allocated now (not enough peers, no commit): worth a retry.
    pub stuck: usize,
}

/// Moves the pins of a down peer (the cluster, in a running peer).
pub trait Failover: Send + Sync {
    /// The index of the last log entry this peer applied (nothing new: no rescan).
    fn applied(&self) -> Option<u64>;
    /// Re-allocates the pins of `down` this peer is the one to move.
    fn repin_from<'a>(&'a self, down: &'a str, grace_ns: i64) -> BoxFuture<'a, Result<Repinned, String>>;
}

/// What the loops read and drive.
pub struct LoopInputs {
    /// This peer's libp2p id.
    pub peer_id: String,
    /// This peer's name.
    pub peername: String,
    /// The metrics store.
    pub monitor: Monitor,
    /// The members.
    pub members: Arc<dyn MemberList>,
    /// Gossip out, and dialling the members.
    pub net: Net,
    /// This peer's IPFS daemon.
    pub ipfs: IpfsClient,
    /// This peer's tracker.
    pub tracker: Tracker,
    /// Failover of down peers.
    pub failover: Arc<dyn Failover>,
    /// Intervals, TTLs, tags.
    pub settings: Settings,
}

/// Records every metric other peers publish (runs until the network stops).
pub fn receive(monitor: Monitor, mut gossip: mpsc::Receiver<Gossip>) {
    tokio::spawn(async move {
        while let Some(Gossip { source, data }) = gossip.recv().await {
            monitor.receive(&source.to_base58(), &data);
        }
    });
}

/// Measures and records this peer's metrics once (so that it can allocate to itself as soon
/// as it serves), then starts publishing them, the ping, and the checker.
pub async fn start(inputs: LoopInputs) {
    let loops = Arc::new(inputs);
    for metric in loops.own_metrics().await {
        loops.monitor.record(metric);
    }
    tokio::spawn(inform(loops.clone()));
    tokio::spawn(ping(loops.clone()));
    tokio::spawn(check(loops));
}

impl LoopInputs {
    /// Records `metric` here and, when valid, publishes it to the other peers.
    fn publish_metric(&self, metric: Metric) {
        if metric.valid {
            match serde_json::to_vec(&metric) {
                Ok(data) => self.net.publish(data),
                Err(e) => tracing::warn!(error = %e, "metric not encoded"),
            }
        }
        self.monitor.record(metric);
    }

    /// Dials every other member not connected yet (gossip reaches connected peers only).
    fn connect_members(&self) {
        for member in self.members.list() {
            if member.peer_id == self.peer_id {
                continue;
            }
            if let (Some(peer), addrs) = member.dial_address() {
                self.net.connect(peer, addrs);
            }
        }
    }

    /// Asks this peer's daemon to connect to the other peers' daemons (addresses from their
    /// pings), each address once; a daemon without a swarm (embedded, offline) refuses.
    async fn connect_ipfs_swarms(&self, dialled: &mut HashSet<String>) {
        let others: Vec<String> = self
            .members
            .ids()
            .into_iter()
            .filter(|m| *m != self.peer_id)
            .collect();
        let mut fresh = Vec::new();
        for ping in self.monitor.usable(super::PING, &others) {
            let value = crate::api::PingValue::parse(&ping.value);
            let id = &value.ipfs_id;
            for addr in &value.ipfs_addresses {
                let full = if addr.contains("/p2p/") || id.is_empty() {
                    addr.clone()
                } else {
                    format!("{addr}/p2p/{id}")
                };
                if dialled.insert(full.clone()) {
                    fresh.push(full);
                }
            }
        }
        if let Err(e) = self.ipfs.swarm_connect(&fresh).await {
            tracing::debug!(error = %e, "ipfs swarm/connect to the other peers' daemons");
        }
    }

    async fn own_metrics(&self) -> Vec<Metric> {
        let (me, settings) = (&self.peer_id, &self.settings);
        let mut metrics = match self.ipfs.repo_stat(true).await {
            Ok(stat) => informers::disk(me, &stat, settings.disk_ttl),
            Err(e) => {
                tracing::warn!(error = %e, "informer: repo/stat failed");
                informers::disk_unknown(me, settings.disk_ttl)
            }
        };
        metrics.extend(informers::tags(me, &settings.tags, settings.tags_ttl));
        let queued = self.tracker.queued();
        let bucket = settings.weight_bucket_size;
        metrics.push(informers::pinqueue(me, queued, bucket, settings.pinqueue_ttl));
        metrics
    }
}

async fn inform(loops: Arc<LoopInputs>) {
    loop {
        for metric in loops.own_metrics().await {
            loops.publish_metric(metric);
        }
        tokio::time::sleep(loops.settings.informer_interval()).await;
    }
}

/// Publishes the ping while this peer's IPFS daemon answers `id` within the interval: a peer
/// whose daemon is gone cannot hold pins, so it stops announcing itself alive and the others
/// fail its pins over (in a composite cluster: a parent peer whose child gateway went away).
async fn ping(loops: Arc<LoopInputs>) {
    let mut dialled = HashSet::new();
    let interval = loops.settings.ping_interval;
    loop {
        loops.connect_members();
        match tokio::time::timeout(interval, loops.ipfs.id()).await {
            Ok(Ok(ipfs_id)) => {
                loops.connect_ipfs_swarms(&mut dialled).await;
                let (me, name) = (&loops.peer_id, &loops.peername);
                let metric = informers::ping(me, name, Some(&ipfs_id), interval);
                loops.publish_metric(metric);
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "the IPFS daemon does not answer: no ping sent"),
            Err(_) => tracing::warn!("the IPFS daemon did not answer id in time: no ping sent"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// How long a member never heard from still counts as alive (it may be starting).
fn grace_ns(settings: &Settings) -> i64 {
    i64::try_from((settings.ping_interval * 4).as_nanos()).unwrap_or(i64::MAX)
}

/// What the checker remembers of a down peer it scanned: the applied index the scan started
/// at (nothing new applied, no rescan) and, when some pins could not be moved, when to try them
/// again and how long it waited (doubling while they stay stuck).
struct Scanned {
    applied: Option<u64>,
    again_at: Option<Instant>,
    wait: Duration,
}

impl Scanned {
    /// After a scan from `applied` that did `repinned`; `before` is the previous scan's memory.
    fn after(before: Option<&Scanned>, applied: Option<u64>, repinned: Repinned, first: Duration) -> Self {
        let stuck_before = before.filter(|b| b.again_at.is_some());
        let wait = stuck_before.map_or(first, |b| (b.wait * 2).min(first * STUCK_WAIT_GROWTH));
        let again_at = (repinned.stuck > 0).then(|| Instant::now() + wait);
        Self {
            applied,
            again_at,
            wait,
        }
    }

    fn settled(&self, applied: Option<u64>) -> bool {
        self.applied == applied && self.again_at.is_none_or(|at| Instant::now() < at)
    }
}

/// Checks before the first retry of pins a failover could not move (not enough peers for a
/// moment, a commit that failed); the wait doubles while they stay stuck, up to this many times
/// [`STUCK_WAIT_GROWTH`].
const STUCK_RETRY_CHECKS: u32 = 10;

/// The longest wait between retries of stuck pins, in first waits.
const STUCK_WAIT_GROWTH: u32 = 8;

async fn check(loops: Arc<LoopInputs>) {
    let settings = &loops.settings;
    let grace = grace_ns(settings);
    let every = settings.check_interval.max(Duration::from_millis(100));
    let mut scanned: HashMap<String, Scanned> = HashMap::new();
    loop {
        tokio::time::sleep(every).await;
        let members = loops.members.ids();
        for alert in loops.monitor.check(&members) {
            tracing::warn!(peer = %alert.metric.peer, metric = %alert.metric.name, "alert: metric expired");
        }
        if !settings.repin {
            continue;
        }
        scanned.retain(|peer, _| members.contains(peer) && !loops.monitor.alive(peer, grace));
        // A peer whose own ping lapsed (its daemon slow for a moment) does not act: it would
        // count itself out, move nothing, and remember the down peer as scanned.
        if !loops.monitor.alive(&loops.peer_id, grace) {
            continue;
        }
        for down in members.iter().filter(|m| **m != loops.peer_id) {
            if !loops.monitor.alive(down, grace) {
                scan(
                    loops.failover.as_ref(),
                    down,
                    grace,
                    every * STUCK_RETRY_CHECKS,
                    &mut scanned,
                )
                .await;
            }
        }
    }
}

/// Fails over the pins of `down` unless nothing was applied since its last scan and no stuck
/// pin is due for a retry.
async fn scan(
    failover: &dyn Failover,
    down: &str,
    grace: i64,
    first_wait: Duration,
    scanned: &mut HashMap<String, Scanned>,
) {
    let applied = failover.applied();
    let before = scanned.get(down);
    if before.is_some_and(|s| s.settled(applied)) {
        return;
    }
    match failover.repin_from(down, grace).await {
        Ok(repinned) => {
            let memory = Scanned::after(before, applied, repinned, first_wait);
            if repinned != Repinned::default() {
                let (moved, stuck) = (repinned.moved, repinned.stuck);
                tracing::warn!(peer = %down, moved, stuck, retry_in = ?memory.again_at.map(|_| memory.wait), "failover scan");
            }
            scanned.insert(down.to_owned(), memory);
        }
        Err(e) => tracing::warn!(peer = %down, error = %e, "failover failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETRY: Duration = Duration::from_secs(60);

    #[test]
    fn a_clean_scan_is_settled_until_something_new_is_applied() {
        let clean = Repinned { moved: 3, stuck: 0 };
        let scan = Scanned::after(None, Some(7), clean, RETRY);
        assert!(scan.settled(Some(7)));
        assert!(!scan.settled(Some(8)));
    }

    #[test]
    fn a_scan_with_stuck_pins_is_settled_only_until_its_retry_is_due() {
        let stuck = Repinned { moved: 0, stuck: 1 };
        assert!(Scanned::after(None, Some(7), stuck, RETRY).settled(Some(7)));
        assert!(!Scanned::after(None, Some(7), stuck, Duration::ZERO).settled(Some(7)));
        assert!(!Scanned::after(None, Some(7), stuck, RETRY).settled(Some(9)));
    }

    #[test]
    fn the_wait_doubles_while_pins_stay_stuck_up_to_a_cap_and_resets_after() {
        let stuck = Repinned { moved: 0, stuck: 2 };
        let mut scan = Scanned::after(None, Some(1), stuck, RETRY);
        let mut waits = vec![scan.wait];
        for _ in 0..5 {
            scan = Scanned::after(Some(&scan), Some(1), stuck, RETRY);
            waits.push(scan.wait);
        }
        let minutes: Vec<u64> = waits.iter().map(|w| w.as_secs() / 60).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 8, 8]);
        let clean = Scanned::after(Some(&scan), Some(2), Repinned::default(), RETRY);
        assert_eq!(clean.again_at, None);
        assert_eq!(Scanned::after(Some(&clean), Some(3), stuck, RETRY).wait, RETRY);
    }
}
