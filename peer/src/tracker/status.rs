//! Where a pin stands on this peer (ipfs-cluster's `TrackerStatus` words) and the
//! `PinInfoShort` object the REST API shows for it.

use serde::{Deserialize, Serialize};

use crate::api::GoTime;

/// ipfs-cluster's tracker statuses (defined with the other status shapes in `api`).
pub use crate::api::TrackerStatus as Status;

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
