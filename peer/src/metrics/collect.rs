//! Writes one [`Reading`] as metric families: the names, types, help and labels of the
//! exposition (docs/operations.md lists them; a test keeps the two equal).
//!
//! # Invariants
//! - ipfs-cluster's metrics keep its names and meanings (`ipfscluster_pins`, …); Cairn's own
//!   start with `cairn_`; the process metrics are the standard `process_*`.
//! - Names carry their unit (`_seconds`, `_bytes`); counters get `_total` from the encoder.
//! - Latency histograms are recorded in microseconds and shown in seconds.

use std::fmt;

use cairn_gateway::stats::{GatewayStats, HistogramSnapshot, RouteClass, UpstreamFailure};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::reading::{Reading, Source};
use crate::tracker::Status;

/// The tracker statuses always shown by `cairn_tracker_pins` (0 when none).
const STATUSES: [Status; 10] = [
    Status::PinQueued,
    Status::Pinning,
    Status::Pinned,
    Status::PinError,
    Status::UnpinQueued,
    Status::Unpinning,
    Status::UnpinError,
    Status::Remote,
    Status::UnexpectedlyUnpinned,
    Status::ClusterError,
];

/// Microseconds per second: latency histograms are kept in µs and shown in seconds.
const MICROS: f64 = 1e6;

/// Reads its source at every encoding and writes every family.
pub struct Scrape<S> {
    source: S,
}

impl<S: Source> Scrape<S> {
    /// Over `source`.
    pub fn new(source: S) -> Self {
        Self { source }
    }
}

impl<S> fmt::Debug for Scrape<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scrape")
    }
}

impl<S: Source> Collector for Scrape<S> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        write(&self.source.read(), &mut encoder)
    }
}

/// Every family of `reading`.
pub fn write(reading: &Reading, out: &mut DescriptorEncoder) -> fmt::Result {
    cluster(reading, out)?;
    tracker(reading, out)?;
    raft(reading, out)?;
    if let Some(stats) = &reading.gateway {
        gateway(stats, out)?;
    }
    process(reading, out)
}

/// ipfs-cluster's families, and the informers.
fn cluster(r: &Reading, out: &mut DescriptorEncoder) -> fmt::Result {
    let pins = "Total number of cluster pins (the shared pinset as this peer applied it)";
    optional_gauge(out, "ipfscluster_pins", pins, r.pins)?;
    let queued = "Current number of pins queued for pinning on this peer";
    gauge(
        out,
        "ipfscluster_pins_pin_queued",
        queued,
        r.tracker.of(Status::PinQueued),
    )?;
    let pinning = "Current number of pins currently pinning on this peer";
    gauge(
        out,
        "ipfscluster_pins_pinning",
        pinning,
        r.tracker.of(Status::Pinning),
    )?;
    let error = "Current number of pins in pin_error state on this peer";
    gauge(
        out,
        "ipfscluster_pins_pin_error",
        error,
        r.tracker.of(Status::PinError),
    )?;
    let ipfs = "Current number of items pinned on this peer's IPFS daemon (at the tracker's last listing)";
    optional_gauge(out, "ipfscluster_pins_ipfs_pins", ipfs, r.ipfs_pins)?;
    gauge(
        out,
        "ipfscluster_peers",
        "Total number of cluster peers (Raft members)",
        r.peers,
    )?;
    let free = "Free space of this peer's IPFS repository (the freespace informer), bytes";
    optional_gauge(out, "ipfscluster_informer_freespace_bytes", free, r.freespace)?;
    let size = "Size of this peer's IPFS repository (the reposize informer), bytes";
    optional_gauge(out, "ipfscluster_informer_reposize_bytes", size, r.reposize)
}

/// The tracker's statuses and queue, and the pins held on a child cluster.
fn tracker(r: &Reading, out: &mut DescriptorEncoder) -> fmt::Result {
    let help = "Pins this peer's tracker holds in each status";
    let mut family = out.encode_descriptor("cairn_tracker_pins", help, None, MetricType::Gauge)?;
    let others = r.tracker.iter().filter(|(s, _)| !STATUSES.contains(s));
    for (status, count) in STATUSES.iter().map(|s| (*s, r.tracker.of(*s))).chain(others) {
        family
            .encode_family(&[("status", status.name())])?
            .encode_gauge(&count)?;
    }
    let queue = "Pin and unpin operations waiting for a slot or in flight on this peer";
    gauge(out, "cairn_tracker_queue_operations", queue, r.queued)?;
    let child = "Pins this peer holds pinned on a child cluster (its daemon is a Cairn gateway); 0 otherwise";
    gauge(out, "cairn_composite_child_pins", child, r.child_pins)
}

/// Raft's state, indexes, proposals and log writes.
fn raft(r: &Reading, out: &mut DescriptorEncoder) -> fmt::Result {
    let raft = &r.raft;
    gauge(out, "cairn_raft_term", "The current Raft term", raft.term)?;
    gauge(
        out,
        "cairn_raft_leader",
        "1 when this peer is the Raft leader",
        u64::from(raft.leader),
    )?;
    let known = "1 when this peer knows a Raft leader";
    gauge(
        out,
        "cairn_raft_leader_known",
        known,
        u64::from(raft.leader_known),
    )?;
    let last = "The last Raft log index appended on this peer";
    gauge(out, "cairn_raft_last_log_index", last, raft.last_log_index)?;
    let commit = "The last Raft log index this peer's disk records as committed";
    gauge(out, "cairn_raft_commit_index", commit, raft.commit_index)?;
    let applied = "The last Raft log index applied to the pinset on this peer";
    gauge(out, "cairn_raft_applied_index", applied, raft.applied_index)?;
    let snapshot = "The last Raft log index in this peer's snapshot";
    gauge(out, "cairn_raft_snapshot_index", snapshot, raft.snapshot_index)?;
    if let Some(sizes) = &r.proposals {
        let help = "Writes per Raft proposal made by this peer as leader (group commit)";
        histogram(out, "cairn_raft_proposal_writes", help, &[(None, sizes)], 1.0)?;
    }
    let commits = "Raft log commits on this peer (one redb transaction with fsync each)";
    counter(out, "cairn_raft_log_commits", commits, r.log.commits)?;
    let entries = "Raft log entries written by those commits";
    counter(out, "cairn_raft_log_entries", entries, r.log.entries)?;
    match &r.log.fsync {
        Some(fsync) => {
            let help = "Duration of each Raft log commit, fsync included";
            histogram(
                out,
                "cairn_raft_log_fsync_seconds",
                help,
                &[(None, fsync)],
                MICROS,
            )
        }
        None => Ok(()),
    }
}

/// The gateway's requests, latency and upstream failures.
fn gateway(stats: &GatewayStats, out: &mut DescriptorEncoder) -> fmt::Result {
    let help = "Gateway requests answered, by route class (intercepted, forwarded) and status code";
    let mut family = out.encode_descriptor("cairn_gateway_requests", help, None, MetricType::Counter)?;
    for count in stats.requests() {
        let labels = [
            ("route", count.class.name().to_owned()),
            ("code", count.status.to_string()),
        ];
        family
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&count.count, None)?;
    }
    let latencies: Vec<_> = RouteClass::ALL.iter().map(|c| (*c, stats.latency(*c))).collect();
    let series: Vec<_> = latencies
        .iter()
        .map(|(c, h)| (Some(("route", c.name())), h))
        .collect();
    let help = "Gateway request duration until the answer's body ended, by route class";
    histogram(
        out,
        "cairn_gateway_request_duration_seconds",
        help,
        &series,
        MICROS,
    )?;
    let help = "Requests the gateway could not relay to the upstream daemon, by kind";
    let mut family =
        out.encode_descriptor("cairn_gateway_upstream_errors", help, None, MetricType::Counter)?;
    for failure in UpstreamFailure::ALL {
        let count = stats.upstream_failures(failure);
        family
            .encode_family(&[("kind", failure.name())])?
            .encode_counter::<NoLabelSet, _, u64>(&count, None)?;
    }
    Ok(())
}

/// The standard process families.
fn process(r: &Reading, out: &mut DescriptorEncoder) -> fmt::Result {
    let Some(p) = &r.process else {
        return Ok(());
    };
    let cpu = "Total user and system CPU time spent in seconds";
    let mut family = out.encode_descriptor("process_cpu_seconds", cpu, None, MetricType::Counter)?;
    family.encode_counter::<NoLabelSet, _, u64>(&p.cpu_seconds, None)?;
    let rss = "Resident memory size in bytes";
    optional_gauge(out, "process_resident_memory_bytes", rss, p.resident_bytes)?;
    let virt = "Virtual memory size in bytes";
    gauge(out, "process_virtual_memory_bytes", virt, p.virtual_bytes)?;
    optional_gauge(
        out,
        "process_open_fds",
        "Number of open file descriptors",
        p.open_fds,
    )?;
    let max = "Maximum number of open file descriptors";
    optional_gauge(out, "process_max_fds", max, p.max_fds)?;
    let start = "Start time of the process since unix epoch in seconds";
    match p.start_time_seconds {
        Some(seconds) => {
            let mut family =
                out.encode_descriptor("process_start_time_seconds", start, None, MetricType::Gauge)?;
            family.encode_gauge(&seconds)
        }
        None => Ok(()),
    }
}

fn gauge(out: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let mut family = out.encode_descriptor(name, help, None, MetricType::Gauge)?;
    family.encode_gauge(&value)
}

/// A gauge shown only when its value is known.
fn optional_gauge(out: &mut DescriptorEncoder, name: &str, help: &str, value: Option<u64>) -> fmt::Result {
    match value {
        Some(value) => gauge(out, name, help, value),
        None => Ok(()),
    }
}

fn counter(out: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let mut family = out.encode_descriptor(name, help, None, MetricType::Counter)?;
    family.encode_counter::<NoLabelSet, _, u64>(&value, None)
}

/// One histogram family: a series per (label, snapshot), values divided by `scale`.
fn histogram(
    out: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Option<(&str, &str)>, &HistogramSnapshot)],
    scale: f64,
) -> fmt::Result {
    let mut family = out.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (label, snapshot) in series {
        let buckets = buckets(snapshot, scale);
        let sum = snapshot.sum as f64 / scale;
        match label {
            Some(label) => family.encode_family(&[*label])?.encode_histogram::<NoLabelSet>(
                sum,
                snapshot.count(),
                &buckets,
                None,
            )?,
            None => family.encode_histogram::<NoLabelSet>(sum, snapshot.count(), &buckets, None)?,
        }
    }
    Ok(())
}

/// (upper bound, count in that bucket alone), the last bound `+Inf`.
fn buckets(snapshot: &HistogramSnapshot, scale: f64) -> Vec<(f64, u64)> {
    let bounds = snapshot.bounds.iter().map(|b| *b as f64 / scale);
    let bounds = bounds.chain(std::iter::once(f64::INFINITY));
    bounds.zip(snapshot.counts.iter().copied()).collect()
}
