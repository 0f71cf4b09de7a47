//! Where a pin stands on this peer (ipfs-cluster's `TrackerStatus` words) and the
//! `PinInfoShort` object the REST API shows for it.

use serde::{Deserialize, Serialize};

use crate::api::GoTime;

/// ipfs-cluster's tracker statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for a pin slot.
    PinQueued,
    /// The daemon is pinning it.
    Pinning,
    /// The daemon holds it.
    Pinned,
    /// The last pin attempt failed.
    PinError,
    /// Waiting for an unpin slot.
    UnpinQueued,
    /// The daemon is unpinning it.
    Unpinning,
    /// Not in the pinset and not on the daemon.
    Unpinned,
    /// The last unpin attempt failed.
    UnpinError,
    /// Allocated to other peers.
    Remote,
    /// Allocated here and was pinned, but the daemon no longer has it.
    UnexpectedlyUnpinned,
    /// The daemon could not be asked.
    ClusterError,
}

impl Status {
    /// Whether `filter` (a comma-separated list of statuses or the groups `error`, `queued`)
    /// selects this status.
    pub fn matches(self, filter: &str) -> bool {
        filter.split(',').map(str::trim).any(|f| match f {
            "error" => matches!(self, Self::PinError | Self::UnpinError | Self::ClusterError),
            "queued" => matches!(self, Self::PinQueued | Self::UnpinQueued),
            word => serde_json::to_value(self)
                .ok()
                .and_then(|v| v.as_str().map(|s| s == word))
                .unwrap_or(false),
        })
    }
}

/// One pin's local state (`PinInfoShort` without the peer fields the REST layer adds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalStatus {
    /// Where it stands.
    pub status: Status,
    /// When it got there.
    pub timestamp: GoTime,
    /// Why the last attempt failed (empty when it did not).
    pub error: String,
    /// Failed attempts since the last success.
    pub attempt_count: u32,
    /// The generation of the newest queued operation (the tracker's; not shown).
    #[serde(skip)]
    pub op: u64,
}

impl LocalStatus {
    /// `status` as of now, carrying over the attempt count.
    pub fn now(status: Status, error: String, attempt_count: u32) -> Self {
        Self {
            status,
            timestamp: GoTime::now(),
            error,
            attempt_count,
            op: 0,
        }
    }
}
