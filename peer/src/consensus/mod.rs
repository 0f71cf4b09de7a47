//! Consensus: openraft 0.9 over the redb log ([`log_store`]) and the pinset
//! ([`state_machine`]).
//!
//! # Where it sits
//! Writes (`PinOp`s) go through [`Raft::client_write`]; once committed on a majority they are
//! applied to `state` by the state machine. Reads are served from `state` directly.
//!
//! # Invariants
//! - Durable before acknowledged: an entry is reported flushed to openraft only after its
//!   redb transaction committed with fsync; openraft hands many client writes to one `append`,
//!   so concurrent writes share one fsync (group commit).
//! - Applying entries and recording the applied log id happen in one redb transaction.
//! - Snapshots are files: built by streaming the pinset out of a read transaction and
//!   installed by streaming them back; the pinset is never held in one buffer.
//!
//! # Not here
//! The wire: Raft RPCs travel over the cluster's libp2p network (`net`).

// openraft's storage traits fix `StorageError` (224 bytes) as the error type of every method,
// so the helpers that produce it return it too.
#![allow(clippy::result_large_err)]

pub mod log_store;
pub mod recorded;

mod snapshot_dir;
pub use snapshot_dir::{Published, published};
pub mod state_machine;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::state::{Applied, PinOp};

/// Raft node ids are derived from libp2p peer ids (see `node_id`).
pub type NodeId = u64;

/// What Raft knows about a member: its libp2p identity and addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerNode {
    /// The libp2p peer id (base58).
    pub peer_id: String,
    /// Multiaddrs it listens on.
    pub addrs: Vec<String>,
}

impl PeerNode {
    /// Its peer id and dialable addresses (without their `/p2p` suffix).
    pub fn dial_address(&self) -> (Option<libp2p::PeerId>, Vec<libp2p::Multiaddr>) {
        let addrs = self
            .addrs
            .iter()
            .filter_map(|a| a.parse::<libp2p::Multiaddr>().ok());
        let addrs = addrs
            .map(|a| crate::net::split_p2p(&a).map(|(_, base)| base).unwrap_or(a))
            .collect();
        (self.peer_id.parse().ok(), addrs)
    }
}

impl fmt::Display for PeerNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.peer_id)
    }
}

openraft::declare_raft_types!(
    /// Cairn's Raft types: the log carries pin operations.
    pub TypeConfig:
        D = PinOp,
        R = Option<Applied>,
        NodeId = NodeId,
        Node = PeerNode,
        SnapshotData = tokio::fs::File,
);

/// A running Raft node.
pub type Raft = openraft::Raft<TypeConfig>;
/// Who is in the cluster, as this peer's Raft sees it now; cheap to clone. Components that
/// only need the member list (block exchange, status fan-out) take this, never the Raft.
#[derive(Clone)]
pub struct Members(tokio::sync::watch::Receiver<openraft::RaftMetrics<NodeId, PeerNode>>);

impl Members {
    /// Over `raft`'s metrics.
    pub fn of(raft: &Raft) -> Self {
        Self(raft.metrics())
    }

    /// Every member (voters and learners): peer id and addresses.
    pub fn list(&self) -> Vec<PeerNode> {
        let metrics = self.0.borrow();
        metrics
            .membership_config
            .nodes()
            .map(|(_, node)| node.clone())
            .collect()
    }
}

/// The cluster's members as they are now: what a component that fans out to them, or
/// chooses among them, reads ([`Members`] in a running peer, a list in unit tests).
pub trait MemberList: Send + Sync {
    /// Every member (voters and learners).
    fn list(&self) -> Vec<PeerNode>;

    /// Their peer ids.
    fn ids(&self) -> Vec<String> {
        self.list().into_iter().map(|m| m.peer_id).collect()
    }
}

impl MemberList for Members {
    fn list(&self) -> Vec<PeerNode> {
        Members::list(self)
    }
}

/// A storage error as openraft reports it.
pub type StorageError = openraft::StorageError<NodeId>;

/// A stable Raft node id for a peer id (64-bit FNV-1a of its text; `DefaultHasher` is not
/// stable across Rust releases, and the id is persisted in the log).
pub fn node_id(peer_id: &str) -> NodeId {
    peer_id
        .as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

/// Wraps any displayable error for openraft.
pub(crate) fn any_error(err: impl fmt::Display) -> openraft::AnyError {
    openraft::AnyError::error(err.to_string())
}

/// Runs blocking redb work off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StorageError::from(openraft::StorageIOError::write(any_error(e))))?
}

#[cfg(test)]
mod tests;
