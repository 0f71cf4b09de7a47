//! The cluster's domain types in ipfs-cluster's shapes: [`Pin`], [`PinOptions`], [`PinMode`],
//! [`PinType`], the status shapes ([`GlobalPinInfo`], [`PinInfoShort`], [`TrackerStatus`],
//! [`PingValue`]), a peer's [`PeerInfo`], and the rules a pin must satisfy before it is committed.
//!
//! JSON field names and order follow ipfs-cluster's REST API (`api/types.go`), so tools written
//! for ipfs-cluster read Cairn's answers. CIDs are written as strings; times as RFC 3339, with
//! Go's zero time `0001-01-01T00:00:00Z` for "unset".
//!
//! # Invariants
//! - [`Pin::validated`] is the only way a user's pin reaches consensus: replication factors,
//!   expiry and mode are checked with ipfs-cluster's messages first.
//!
//! # Not here
//! Choosing allocations (the allocator) and tracking pin progress (the tracker).

mod gotime;
mod options;
mod peer_info;
mod repo;
mod status;
mod validate;

use std::collections::BTreeMap;

use cid::Cid;
use serde::{Deserialize, Serialize};

pub use gotime::GoTime;
pub use peer_info::{IpfsInfo, PeerInfo, RaftStatus};
pub use repo::RepoStat;
pub use status::{GlobalPinInfo, PeerIdentity, PinInfoShort, PingValue, TrackerStatus};
pub use validate::{MAX_PIN_BYTES, PinError, Replication, check_factors};

/// `shard_size` ipfs-cluster writes by default (100 MiB).
pub const DEFAULT_SHARD_SIZE: u64 = 100 * 1024 * 1024;

/// How deep a pin holds its DAG.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinMode {
    /// The whole DAG (`max_depth` -1).
    #[default]
    Recursive,
    /// Only the root block (`max_depth` 0).
    Direct,
}

impl PinMode {
    /// ipfs-cluster's `max_depth` for this mode.
    pub fn max_depth(self) -> i32 {
        match self {
            PinMode::Recursive => -1,
            PinMode::Direct => 0,
        }
    }
}

/// What kind of item is tracked; Cairn creates plain pins only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinType {
    /// A regular pin.
    #[default]
    Pin,
    /// ipfs-cluster's sharding metadata pin.
    MetaPin,
    /// ipfs-cluster's cluster-DAG pin.
    ClusterdagPin,
    /// ipfs-cluster's shard pin.
    ShardPin,
}

/// What a user asks for when pinning (ipfs-cluster `PinOptions`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PinOptions {
    /// Least number of peers that must hold the pin; -1 = every peer, 0 = cluster default.
    pub replication_factor_min: i32,
    /// Most peers that should hold the pin; -1 = every peer, 0 = cluster default.
    pub replication_factor_max: i32,
    /// Human-readable name.
    pub name: String,
    /// Recursive or direct.
    pub mode: PinMode,
    /// Shard size (kept for ipfs-cluster compatibility).
    pub shard_size: u64,
    /// Peers the user wants first.
    pub user_allocations: Option<Vec<String>>,
    /// When the pin expires; zero time = never.
    pub expire_at: GoTime,
    /// User metadata (`meta-<k>=<v>`).
    pub metadata: BTreeMap<String, String>,
    /// The pin this one replaces, for `pin/update`.
    #[serde(with = "gotime::opt_cid")]
    pub pin_update: Option<Cid>,
    /// Multiaddrs of peers known to hold the content.
    pub origins: Vec<String>,
}

impl Default for PinOptions {
    fn default() -> Self {
        Self {
            replication_factor_min: 0,
            replication_factor_max: 0,
            name: String::new(),
            mode: PinMode::Recursive,
            shard_size: DEFAULT_SHARD_SIZE,
            user_allocations: None,
            expire_at: GoTime::ZERO,
            metadata: BTreeMap::new(),
            pin_update: None,
            origins: Vec::new(),
        }
    }
}

/// An item of the shared pinset (ipfs-cluster `Pin`); options come first, as Go embeds them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The options it was pinned with.
    #[serde(flatten)]
    pub options: PinOptions,
    /// The pinned CID.
    #[serde(with = "gotime::cid_string")]
    pub cid: Cid,
    /// What kind of item this is.
    #[serde(rename = "type")]
    pub pin_type: PinType,
    /// Peers that should hold it; empty = every peer.
    pub allocations: Vec<String>,
    /// -1 recursive, 0 direct.
    pub max_depth: i32,
    /// Linked item (sharding), unused by plain pins.
    #[serde(with = "gotime::opt_cid")]
    pub reference: Option<Cid>,
    /// When the pin was submitted to consensus.
    pub timestamp: GoTime,
}

impl Pin {
    /// A new pin of `cid` with `options`, timestamped now (not yet validated).
    pub fn new(cid: Cid, options: PinOptions) -> Self {
        let max_depth = options.mode.max_depth();
        Self {
            options,
            cid,
            pin_type: PinType::Pin,
            allocations: Vec::new(),
            max_depth,
            reference: None,
            timestamp: GoTime::now(),
        }
    }

    /// True when every peer should hold it (replication -1/-1).
    pub fn is_everywhere(&self) -> bool {
        self.options.replication_factor_min == -1 && self.options.replication_factor_max == -1
    }
}

/// Parses a CID as the REST API does, with ipfs-cluster's message.
pub fn parse_cid(text: &str) -> Result<Cid, PinError> {
    text.trim()
        .parse()
        .map_err(|e: cid::Error| PinError::BadCid(format!("{text}: {e}")))
}

#[cfg(test)]
mod tests;
