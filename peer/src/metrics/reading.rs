//! What one scrape reads from the running peer ([`Reading`]), and where it reads it from
//! ([`Source`]; [`Live`] in a running peer, a fixed reading in unit tests).
//!
//! # Invariants
//! - Reading takes no lock for long and does no I/O but one redb read (the pinset's length)
//!   and a few `/proc` files: every value was already kept by its component.
//! - A value a component does not know yet (the daemon's pins before the tracker first listed
//!   them, an informer that could not measure) is `None` and left out of the exposition,
//!   never shown as 0.

use std::sync::Arc;

use cairn_gateway::stats::{GatewayStats, Histogram, HistogramSnapshot};
use openraft::RaftMetrics;
use tokio::sync::watch;

use super::process::{self, ProcessReading};
use crate::consensus::log_store::LogStats;
use crate::consensus::recorded::Recorded;
use crate::consensus::{NodeId, PeerNode};
use crate::ipfs::IpfsClient;
use crate::monitor::Monitor;
use crate::state::PinStore;
use crate::tracker::{Status, StatusCounts, Tracker};

/// Everything one exposition shows.
#[derive(Clone, Debug, Default)]
pub struct Reading {
    /// Pins in the shared pinset as this peer applied it.
    pub pins: Option<u64>,
    /// This peer's tracked pins per status.
    pub tracker: StatusCounts,
    /// Operations waiting for a pin slot or in flight.
    pub queued: u64,
    /// Pins (recursive and direct) on this peer's IPFS daemon at the tracker's last listing.
    pub ipfs_pins: Option<u64>,
    /// Pins this peer holds on a child cluster (its daemon is a Cairn gateway); 0 otherwise.
    pub child_pins: u64,
    /// Cluster members (voters and learners).
    pub peers: u64,
    /// This peer's own informer values, bytes.
    pub freespace: Option<u64>,
    /// See [`Reading::freespace`].
    pub reposize: Option<u64>,
    /// Raft on this peer.
    pub raft: RaftReading,
    /// Writes per Raft proposal made here.
    pub proposals: Option<HistogramSnapshot>,
    /// The Raft log's commits.
    pub log: LogReading,
    /// The gateway's requests, when it counts them.
    pub gateway: Option<Arc<GatewayStats>>,
    /// This process, from `/proc` (`None` where it cannot be read).
    pub process: Option<ProcessReading>,
}

/// Raft as this peer sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftReading {
    /// The current term.
    pub term: u64,
    /// This peer is the leader.
    pub leader: bool,
    /// Some peer is known to be the leader.
    pub leader_known: bool,
    /// The last log index appended here.
    pub last_log_index: u64,
    /// The last index this peer's disk records as committed (a restart re-applies up to it).
    pub commit_index: u64,
    /// The last index applied to the pinset here.
    pub applied_index: u64,
    /// The last index included in this peer's snapshot.
    pub snapshot_index: u64,
}

/// The Raft log store's work.
#[derive(Clone, Debug, Default)]
pub struct LogReading {
    /// Commits (one redb transaction with fsync each).
    pub commits: u64,
    /// Entries written by them.
    pub entries: u64,
    /// Their duration, microseconds.
    pub fsync: Option<HistogramSnapshot>,
}

/// Where readings come from.
pub trait Source: Send + Sync + 'static {
    /// The values now.
    fn read(&self) -> Reading;
}

/// The running peer's handles, each narrow: what the components already keep.
pub struct Live {
    /// This peer's libp2p id (its informer metrics are its own).
    pub peer_id: String,
    /// Raft's metrics.
    pub raft: watch::Receiver<RaftMetrics<NodeId, PeerNode>>,
    /// How far the disk records the log as committed.
    pub recorded: Recorded,
    /// The log store's counters.
    pub log_stats: Arc<LogStats>,
    /// Writes per proposal (`Cluster::proposal_sizes`).
    pub proposals: Arc<Histogram>,
    /// The tracker.
    pub tracker: Tracker,
    /// The applied pinset.
    pub pins: PinStore,
    /// The metric store (this peer's informers are recorded there too).
    pub monitor: Monitor,
    /// This peer's daemon: its pin count, and whether it is a child cluster.
    pub daemon: IpfsClient,
    /// The gateway's counters.
    pub gateway: Option<Arc<GatewayStats>>,
}

impl Source for Live {
    fn read(&self) -> Reading {
        use std::sync::atomic::Ordering::Relaxed;
        let tracker = self.tracker.counts();
        let child_pins = match self.daemon.is_cairn() {
            true => tracker.of(Status::Pinned),
            false => 0,
        };
        let raft = self.raft.borrow().clone();
        Reading {
            pins: self.pins.len().ok(),
            queued: self.tracker.queued(),
            ipfs_pins: self.daemon.listed_pins(),
            child_pins,
            tracker,
            peers: raft.membership_config.nodes().count() as u64,
            freespace: self.informer("freespace"),
            reposize: self.informer("reposize"),
            raft: raft_reading(&raft, self.recorded.now().index),
            proposals: Some(self.proposals.snapshot()),
            log: LogReading {
                commits: self.log_stats.appends.load(Relaxed),
                entries: self.log_stats.entries.load(Relaxed),
                fsync: Some(self.log_stats.fsync.snapshot()),
            },
            gateway: self.gateway.clone(),
            process: process::read(),
        }
    }
}

impl Live {
    /// This peer's latest valid `name` metric, as a number.
    fn informer(&self, name: &str) -> Option<u64> {
        let own = self.monitor.latest(name, std::slice::from_ref(&self.peer_id));
        let metric = own.into_iter().find(|m| m.valid)?;
        metric.value.parse().ok()
    }
}

/// Raft's metrics as the exposition shows them.
fn raft_reading(m: &RaftMetrics<NodeId, PeerNode>, commit_index: u64) -> RaftReading {
    RaftReading {
        term: m.current_term,
        leader: m.current_leader == Some(m.id),
        leader_known: m.current_leader.is_some(),
        last_log_index: m.last_log_index.unwrap_or(0),
        commit_index,
        applied_index: m.last_applied.map_or(0, |l| l.index),
        snapshot_index: m.snapshot.map_or(0, |l| l.index),
    }
}
