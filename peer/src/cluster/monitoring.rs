//! The monitor's loops on a running peer: record what other peers publish, publish this
//! peer's informer metrics and ping, and check for expired metrics (alerts) and down peers
//! (failover, unless `disable_repinning`).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::sync::mpsc;

use super::Cluster;
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

async fn check(cluster: Cluster, settings: Settings) {
    let grace = grace_ns(&settings);
    // Down peer → the applied index its pins were last scanned at (nothing new, no rescan).
    let mut scanned: HashMap<String, Option<u64>> = HashMap::new();
    loop {
        tokio::time::sleep(settings.check_interval.max(Duration::from_millis(100))).await;
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
            if cluster.monitor.alive(down, grace) || scanned.get(down) == Some(&applied) {
                continue;
            }
            match cluster.repin_from(down, grace).await {
                Ok(moved) => {
                    if moved > 0 {
                        tracing::warn!(peer = %down, moved, "failover: pins re-allocated");
                    }
                    scanned.insert(down.clone(), cluster.last_applied());
                }
                Err(e) => tracing::warn!(peer = %down, error = %e, "failover failed"),
            }
        }
    }
}
