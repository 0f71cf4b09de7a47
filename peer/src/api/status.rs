//! ipfs-cluster's status shapes: [`GlobalPinInfo`], each peer's [`PinInfoShort`] in it, the
//! tracker's [`TrackerStatus`] words, and the value of the `ping` metric ([`PingValue`]).
//!
//! These are the REST API's `GET /pins` lines, the gateway's `cairn/status` lines and what a
//! parent cluster reads from its child: one type on every side, so a renamed key is a compile
//! error rather than a silent empty field. Keys are written in ipfs-cluster's order.
//!
//! Cairn adds one key to a peer's `PinInfoShort`: `child`, the `GlobalPinInfo` of the child
//! cluster behind that peer (when its IPFS daemon is a Cairn gateway and a depth above 1 was
//! asked), or `child_error` when the child could not be asked. Plain clients ignore both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::GoTime;

/// ipfs-cluster's tracker statuses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackerStatus {
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
    #[default]
    ClusterError,
}

impl TrackerStatus {
    /// Its word, as ipfs-cluster writes it (`pinned`, `pin_error`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::PinQueued => "pin_queued",
            Self::Pinning => "pinning",
            Self::Pinned => "pinned",
            Self::PinError => "pin_error",
            Self::UnpinQueued => "unpin_queued",
            Self::Unpinning => "unpinning",
            Self::Unpinned => "unpinned",
            Self::UnpinError => "unpin_error",
            Self::Remote => "remote",
            Self::UnexpectedlyUnpinned => "unexpectedly_unpinned",
            Self::ClusterError => "cluster_error",
        }
    }

    /// Whether `filter` (a comma-separated list of statuses or the groups `error`, `queued`)
    /// selects this status.
    pub fn matches(self, filter: &str) -> bool {
        filter.split(',').map(str::trim).any(|f| match f {
            "error" => matches!(self, Self::PinError | Self::UnpinError | Self::ClusterError),
            "queued" => matches!(self, Self::PinQueued | Self::UnpinQueued),
            word => word == self.name(),
        })
    }
}

/// The value of a peer's `ping` metric: its name and its IPFS daemon's identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PingValue {
    /// The peer's name (`peername`).
    pub peer_name: String,
    /// Its IPFS daemon's peer id (empty when unknown).
    pub ipfs_id: String,
    /// Its IPFS daemon's swarm addresses.
    pub ipfs_addresses: Vec<String>,
}

impl PingValue {
    /// Reads a metric's value; a value that does not parse reads as unknown (empty).
    pub fn parse(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// The metric's value text.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Who a peer of a `peer_map` is: the part of its `PinInfoShort` that is the same for every pin.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerIdentity {
    /// Its name.
    pub peername: String,
    /// Its IPFS daemon's peer id and addresses, when known.
    pub ipfs: Option<(String, Vec<String>)>,
}

impl PeerIdentity {
    /// The identity a `ping` value gives; `own_name` replaces the name for this peer itself.
    pub fn from_ping(ping: &PingValue, own_name: Option<&str>) -> Self {
        Self {
            peername: own_name.unwrap_or(&ping.peer_name).to_owned(),
            ipfs: (!ping.ipfs_id.is_empty()).then(|| (ping.ipfs_id.clone(), ping.ipfs_addresses.clone())),
        }
    }
}

/// Where a pin stands on one peer (ipfs-cluster's `PinInfoShort`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PinInfoShort {
    /// The peer's name.
    pub peername: String,
    /// Its IPFS daemon's peer id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipfs_peer_id: Option<String>,
    /// Its IPFS daemon's addresses, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipfs_peer_addresses: Option<Vec<String>>,
    /// Where the pin stands.
    pub status: TrackerStatus,
    /// When it got there.
    pub timestamp: GoTime,
    /// Why the last attempt failed (empty when it did not).
    pub error: String,
    /// Failed attempts since the last success.
    pub attempt_count: u32,
    /// ipfs-cluster's priority flag (always false: Cairn has no priority queue).
    pub priority_pin: bool,
    /// The child cluster's view of the pin (Cairn's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child: Option<Box<GlobalPinInfo>>,
    /// Why the child cluster could not be asked (Cairn's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_error: Option<String>,
}

impl PinInfoShort {
    /// `identity`'s entry with the pin's `status`, `timestamp`, `error` and `attempt_count`.
    pub fn new(
        identity: &PeerIdentity,
        status: TrackerStatus,
        timestamp: GoTime,
        error: &str,
        attempt_count: u32,
    ) -> Self {
        let (id, addresses) = identity.ipfs.clone().unzip();
        Self {
            peername: identity.peername.clone(),
            ipfs_peer_id: id,
            ipfs_peer_addresses: addresses,
            status,
            timestamp,
            error: error.to_owned(),
            attempt_count,
            priority_pin: false,
            child: None,
            child_error: None,
        }
    }

    /// With what the child cluster said of the pin (or why it could not say).
    pub fn with_child(mut self, child: Option<Result<GlobalPinInfo, String>>) -> Self {
        match child {
            Some(Ok(info)) => self.child = Some(Box::new(info)),
            Some(Err(why)) => self.child_error = Some(why),
            None => {}
        }
        self
    }
}

/// Where a pin stands on every peer (ipfs-cluster's `GlobalPinInfo`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GlobalPinInfo {
    /// The CID.
    pub cid: String,
    /// The pin's name.
    pub name: String,
    /// The peers it is allocated to.
    pub allocations: Vec<String>,
    /// Where its content can be fetched from.
    pub origins: Vec<String>,
    /// When it was pinned (Go's zero time when it is not in the pinset).
    pub created: GoTime,
    /// Its metadata.
    pub metadata: BTreeMap<String, String>,
    /// Each peer's view, by peer id.
    pub peer_map: BTreeMap<String, PinInfoShort>,
}
