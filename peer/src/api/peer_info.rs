//! ipfs-cluster's `ID` object ([`PeerInfo`]): a peer as `GET /id` and `GET /peers` show it,
//! and as `cairn id` and `cairn peers ls` read it.

use serde::{Deserialize, Serialize};

/// The IPFS daemon part of an `ID`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpfsInfo {
    /// Its swarm addresses.
    pub addresses: Vec<String>,
    /// Why it could not be asked (empty when it could).
    pub error: String,
}

/// ipfs-cluster's `ID`. A peer's own is complete; of another member Cairn knows what Raft
/// knows (its id and addresses), and leaves the rest out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PeerInfo {
    /// Its cluster peer id.
    pub id: String,
    /// Its cluster addresses.
    pub addresses: Vec<String>,
    /// The members it sees (itself included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_peers: Option<Vec<String>>,
    /// Their addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_peers_addresses: Option<Vec<String>>,
    /// Cairn's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The commit it was built from (empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The peer protocol's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpc_protocol_version: Option<String>,
    /// Why the peer is unhealthy (empty when it is not).
    pub error: String,
    /// Its IPFS daemon.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipfs: Option<IpfsInfo>,
    /// Its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peername: Option<String>,
}

impl PeerInfo {
    /// Another member, as Raft knows it.
    pub fn member(id: &str, addresses: &[String]) -> Self {
        Self {
            id: id.to_owned(),
            addresses: addresses.to_vec(),
            ..Self::default()
        }
    }
}

/// Raft as one peer sees it, `GET /raft` (Cairn-only): who leads, the term, how far this peer
/// applied, the members and voters by peer id, and its log's write counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RaftStatus {
    /// This peer's id.
    pub peer: String,
    /// The leader's peer id, when one is known.
    pub leader: Option<String>,
    /// The current term.
    pub term: u64,
    /// The last log index applied to the pinset here.
    pub last_applied: Option<u64>,
    /// Every member, learners included.
    pub members: Vec<String>,
    /// The members that vote.
    pub voters: Vec<String>,
    /// Whether a membership change is half-way (joint consensus).
    pub joint: bool,
    /// Appends written to this peer's log.
    pub log_appends: u64,
    /// Entries written in them.
    pub log_entries: u64,
}
