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
            if let (Some(peer), addrs) = crate::consensus::network::address_of(&member) {
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
            let value: serde_json::Value = serde_json::from_str(&ping.value).unwrap_or_default();
            let addrs = value["ipfs_addresses"].as_array().cloned().unwrap_or_default();
            let id = value["ipfs_id"].as_str().unwrap_or_default().to_owned();
            for addr in addrs.iter().filter_map(|a| a.as_str()) {
                let full = if addr.contains("/p2p/") || id.is_empty() {
                    addr.to_owned()
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
        let queued = self.tracker().map_or(0, |t| t.queued());
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

/// What the checker remembers of a down peer it scanned: the applied index of the scan (nothing
/// new applied, no rescan) and, when some pins could not be moved, when to try them again.
struct Scanned {
    applied: Option<u64>,
    again_at: Option<Instant>,
}

impl Scanned {
    fn after(applied: Option<u64>, repinned: Repinned, retry: Duration) -> Self {
        let again_at = (repinned.stuck > 0).then(|| Instant::now() + retry);
        Self { applied, again_at }
    }

    fn settled(&self, applied: Option<u64>) -> bool {
        self.applied == applied && self.again_at.is_none_or(|at| Instant::now() < at)
    }
}

/// Checks in between retries of pins a failover could not move (not enough peers for a
/// moment, a commit that failed).
const STUCK_RETRY_CHECKS: u32 = 10;

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
        scanned.retain(|peer, _| !cluster.monitor.alive(peer, grace));
        // A peer whose own ping lapsed (its daemon slow for a moment) does not act: it would
        // count itself out, move nothing, and remember the down peer as scanned.
        if !cluster.monitor.alive(&cluster.peer_id, grace) {
            continue;
        }
        for down in members.iter().filter(|m| **m != cluster.peer_id) {
            let applied = cluster.last_applied();
            let settled = scanned.get(down).is_some_and(|s| s.settled(applied));
            if cluster.monitor.alive(down, grace) || settled {
                continue;
            }
            match cluster.repin_from(down, grace).await {
                Ok(repinned) => {
                    if repinned != Repinned::default() {
                        tracing::warn!(peer = %down, moved = repinned.moved, stuck = repinned.stuck, "failover: pins re-allocated");
                    }
                    let retry = every * STUCK_RETRY_CHECKS;
                    scanned.insert(
                        down.clone(),
                        Scanned::after(cluster.last_applied(), repinned, retry),
                    );
                }
                Err(e) => tracing::warn!(peer = %down, error = %e, "failover failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETRY: Duration = Duration::from_secs(60);

    #[test]
    fn a_clean_scan_is_settled_until_something_new_is_applied() {
        let clean = Repinned { moved: 3, stuck: 0 };
        let scan = Scanned::after(Some(7), clean, RETRY);
        assert!(scan.settled(Some(7)));
        assert!(!scan.settled(Some(8)));
    }

    #[test]
    fn a_scan_with_stuck_pins_is_settled_only_until_its_retry_is_due() {
        let stuck = Repinned { moved: 0, stuck: 1 };
        assert!(Scanned::after(Some(7), stuck, RETRY).settled(Some(7)));
        assert!(!Scanned::after(Some(7), stuck, Duration::ZERO).settled(Some(7)));
        assert!(!Scanned::after(Some(7), stuck, RETRY).settled(Some(9)));
    }
}
