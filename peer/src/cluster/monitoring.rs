//! The monitor's loops on a running peer: record what other peers publish, publish this
//! peer's informer metrics and ping, and check for expired metrics (alerts) and down peers
//! (failover, unless `disable_repinning`).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::Cluster;
use super::placement::Repinned;
use crate::ipfs::IpfsClient;
use crate::monitor::Metric;
use crate::monitor::informers::{self, Settings};
use crate::net::Gossip;

impl Cluster {
    /// Records every metric other peers publish (runs until the network stops).
    pub(super) fn spawn_metric_receiver(&self, mut gossip: mpsc::Receiver<Gossip>) {
        let monitor = self.monitor.clone();
        tokio::spawn(async move {
            while let Some(Gossip { source, data }) = gossip.recv().await {
                monitor.receive(&source.to_base58(), &data);
            }
        });
    }

    /// Measures and records this peer's metrics once (so that it can allocate to itself as
    /// soon as it serves), then starts publishing them, the ping, and the checker.
    pub async fn start_monitoring(&self, ipfs: IpfsClient, settings: Settings) {
        for metric in self.own_metrics(&ipfs, &settings).await {
            self.monitor.record(metric);
        }
        tokio::spawn(inform(self.clone(), ipfs.clone(), settings.clone()));
        tokio::spawn(ping(self.clone(), ipfs, settings.clone()));
        tokio::spawn(check(self.clone(), settings));
    }

    /// The monitor's store.
    pub fn monitor(&self) -> &crate::monitor::Monitor {
        &self.monitor
    }

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
        for member in self.members() {
            if member.peer_id == self.peer_id {
                continue;
            }
            if let (Some(peer), addrs) = crate::rpc::address_of(&member) {
                self.net.connect(peer, addrs);
            }
        }
    }

    /// Asks this peer's daemon to connect to the other peers' daemons (addresses from their
    /// pings), each address once; a daemon without a swarm (embedded, offline) refuses.
    async fn connect_ipfs_swarms(&self, ipfs: &IpfsClient, dialled: &mut HashSet<String>) {
        let members = self.member_ids();
        let others: Vec<String> = members.into_iter().filter(|m| *m != self.peer_id).collect();
        let mut fresh = Vec::new();
        for ping in self.monitor.usable(crate::monitor::PING, &others) {
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
        if let Err(e) = ipfs.swarm_connect(&fresh).await {
            tracing::debug!(error = %e, "ipfs swarm/connect to the other peers' daemons");
        }
    }

    async fn own_metrics(&self, ipfs: &IpfsClient, settings: &Settings) -> Vec<Metric> {
        let me = &self.peer_id;
        let mut metrics = match ipfs.repo_stat(true).await {
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

async fn inform(cluster: Cluster, ipfs: IpfsClient, settings: Settings) {
    loop {
        for metric in cluster.own_metrics(&ipfs, &settings).await {
            cluster.publish_metric(metric);
        }
        tokio::time::sleep(settings.informer_interval()).await;
    }
}

/// Publishes the ping while this peer's IPFS daemon answers `id` within the interval: a peer
/// whose daemon is gone cannot hold pins, so it stops announcing itself alive and the others
/// fail its pins over (in a composite cluster: a parent peer whose child gateway went away).
async fn ping(cluster: Cluster, ipfs: IpfsClient, settings: Settings) {
    let mut dialled = HashSet::new();
    loop {
        cluster.connect_members();
        match tokio::time::timeout(settings.ping_interval, ipfs.id()).await {
            Ok(Ok(ipfs_id)) => {
                cluster.connect_ipfs_swarms(&ipfs, &mut dialled).await;
                let (me, name) = (&cluster.peer_id, &cluster.peername);
                let metric = informers::ping(me, name, Some(&ipfs_id), settings.ping_interval);
                cluster.publish_metric(metric);
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "the IPFS daemon does not answer: no ping sent"),
            Err(_) => tracing::warn!("the IPFS daemon did not answer id in time: no ping sent"),
        }
        tokio::time::sleep(settings.ping_interval).await;
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

async fn check(cluster: Cluster, settings: Settings) {
    let grace = grace_ns(&settings);
    let every = settings.check_interval.max(Duration::from_millis(100));
    let mut scanned: HashMap<String, Scanned> = HashMap::new();
    loop {
        tokio::time::sleep(every).await;
        let members = cluster.member_ids();
        for alert in cluster.monitor.check(&members) {
            tracing::warn!(peer = %alert.metric.peer, metric = %alert.metric.name, "alert: metric expired");
        }
        if !settings.repin {
            continue;
        }
        scanned.retain(|peer, _| members.contains(peer) && !cluster.monitor.alive(peer, grace));
        // A peer whose own ping lapsed (its daemon slow for a moment) does not act: it would
        // count itself out, move nothing, and remember the down peer as scanned.
        if !cluster.monitor.alive(&cluster.peer_id, grace) {
            continue;
        }
        for down in members.iter().filter(|m| **m != cluster.peer_id) {
            if !cluster.monitor.alive(down, grace) {
                scan(&cluster, down, grace, every * STUCK_RETRY_CHECKS, &mut scanned).await;
            }
        }
    }
}

/// Fails over the pins of `down` unless nothing was applied since its last scan and no stuck
/// pin is due for a retry.
async fn scan(
    cluster: &Cluster,
    down: &str,
    grace: i64,
    first_wait: Duration,
    scanned: &mut HashMap<String, Scanned>,
) {
    let applied = cluster.last_applied();
    let before = scanned.get(down);
    if before.is_some_and(|s| s.settled(applied)) {
        return;
    }
    match cluster.repin_from(down, grace).await {
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
