//! A metric and an alert, shaped as ipfs-cluster's REST API writes them.

use serde::{Deserialize, Serialize};

use crate::api::GoTime;

/// The `ping` metric's name: a peer is alive while its ping is valid.
pub const PING: &str = "ping";

/// One value a peer published about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metric {
    /// `freespace`, `reposize`, `pinqueue`, `tag:<key>` or `ping`.
    pub name: String,
    /// The publishing peer's id.
    pub peer: String,
    /// The value, as a string.
    pub value: String,
    /// When it expires, unix nanoseconds.
    pub expire: i64,
    /// False when the informer could not measure (never published).
    pub valid: bool,
    /// The allocator's weight: higher is preferred.
    pub weight: i64,
    /// Whether peers with equal values form one partition (tags).
    pub partitionable: bool,
    /// When this peer received it, unix nanoseconds.
    pub received_at: i64,
}

impl Metric {
    /// A valid metric from `peer` that lives `ttl` from now.
    pub fn new(name: &str, peer: &str, value: String, weight: i64, ttl: std::time::Duration) -> Self {
        let now = now_ns();
        Self {
            name: name.to_owned(),
            peer: peer.to_owned(),
            value,
            expire: now.saturating_add(i64::try_from(ttl.as_nanos()).unwrap_or(i64::MAX)),
            valid: true,
            weight,
            partitionable: false,
            received_at: now,
        }
    }

    /// Whether its TTL has passed.
    pub fn expired(&self) -> bool {
        now_ns() >= self.expire
    }

    /// Whether the allocator and the monitor may use it.
    pub fn usable(&self) -> bool {
        self.valid && !self.expired()
    }
}

/// An expired metric as `GET /health/alerts` shows it: the metric plus `triggered_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The metric that expired.
    #[serde(flatten)]
    pub metric: Metric,
    /// When the alert was raised.
    pub triggered_at: GoTime,
}

/// Now, in unix nanoseconds.
pub fn now_ns() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
}
