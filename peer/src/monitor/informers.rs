//! Informers: turn what this peer knows about itself into [`Metric`]s (ipfs-cluster's disk,
//! tags and pinqueue informers, and the cluster's ping).
//!
//! The loops that call these and publish the results are `monitor::run`; here are only
//! the values, weights and validity rules (table in shared/reference/ipfs-proxy.md §6.4).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Metric, PING};
use crate::api::RepoStat;

/// How this peer's metrics are made and how long they live.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `freespace` or `reposize`: the disk informer's own metric (both are published).
    pub disk_type: String,
    /// Lifetime of disk metrics.
    pub disk_ttl: Duration,
    /// The tags, published as `tag:<key>`.
    pub tags: BTreeMap<String, String>,
    /// Lifetime of tag metrics.
    pub tags_ttl: Duration,
    /// Lifetime of the pin queue metric.
    pub pinqueue_ttl: Duration,
    /// Queued operations per unit of negative weight.
    pub weight_bucket_size: u64,
    /// How often the ping is published (it lives twice as long).
    pub ping_interval: Duration,
    /// How often expired metrics are looked for.
    pub check_interval: Duration,
    /// Whether ping alerts re-allocate the down peer's pins.
    pub repin: bool,
}

impl Settings {
    /// From the validated configuration.
    pub fn from_config(config: &crate::config::ServiceConfig) -> Self {
        let p = &config.placement;
        Self {
            disk_type: p.disk.metric_type.clone(),
            disk_ttl: p.disk.metric_ttl.get(),
            tags: p.tags.tags.clone(),
            tags_ttl: p.tags.metric_ttl.get(),
            pinqueue_ttl: p.pinqueue.metric_ttl.get(),
            weight_bucket_size: p.pinqueue.weight_bucket_size.max(1),
            ping_interval: config.cluster.monitor_ping_interval.get(),
            check_interval: p.monitor.check_interval.get(),
            repin: !config.cluster.disable_repinning,
        }
    }

    /// Informer metrics are refreshed every half of the shortest TTL (as ipfs-cluster).
    pub fn informer_interval(&self) -> Duration {
        let min = self.disk_ttl.min(self.tags_ttl).min(self.pinqueue_ttl);
        (min / 2).max(Duration::from_millis(100))
    }
}

/// `freespace` (StorageMax − RepoSize; invalid at or below zero) and `reposize`.
pub fn disk(peer: &str, stat: &RepoStat, ttl: Duration) -> Vec<Metric> {
    let free = stat.storage_max.saturating_sub(stat.repo_size);
    let mut freespace = Metric::new("freespace", peer, free.to_string(), weight(free), ttl);
    freespace.valid = free > 0;
    let size = stat.repo_size;
    let reposize = Metric::new("reposize", peer, size.to_string(), -weight(size), ttl);
    vec![freespace, reposize]
}

/// Invalid disk metrics when the daemon cannot be asked (never published: they only record
/// locally that this peer cannot take pins).
pub fn disk_unknown(peer: &str, ttl: Duration) -> Vec<Metric> {
    ["freespace", "reposize"]
        .into_iter()
        .map(|name| {
            let mut metric = Metric::new(name, peer, String::new(), 0, ttl);
            metric.valid = false;
            metric
        })
        .collect()
}

/// One partitionable `tag:<key>` metric per tag (an invalid `tag:none` when there are none).
pub fn tags(peer: &str, tags: &BTreeMap<String, String>, ttl: Duration) -> Vec<Metric> {
    if tags.is_empty() {
        let mut none = Metric::new("tag:none", peer, String::new(), 0, ttl);
        none.valid = false;
        return vec![none];
    }
    tags.iter()
        .map(|(key, value)| {
            let mut metric = Metric::new(&format!("tag:{key}"), peer, value.clone(), 0, ttl);
            metric.partitionable = true;
            metric
        })
        .collect()
}

/// `pinqueue`: operations waiting or in flight; fewer is preferred.
pub fn pinqueue(peer: &str, queued: u64, bucket: u64, ttl: Duration) -> Metric {
    let weight = -weight(queued / bucket.max(1));
    Metric::new("pinqueue", peer, queued.to_string(), weight, ttl)
}

/// The ping: `{"peer_name","ipfs_id","ipfs_addresses"}`, alive for twice the interval.
pub fn ping(peer: &str, peername: &str, ipfs: Option<&(String, Vec<String>)>, interval: Duration) -> Metric {
    let (ipfs_id, ipfs_addresses) = ipfs.cloned().unwrap_or_default();
    let value = crate::api::PingValue {
        peer_name: peername.to_owned(),
        ipfs_id,
        ipfs_addresses,
    };
    Metric::new(PING, peer, value.to_text(), 0, interval * 2)
}

fn weight(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
