//! What a follower and a trusted peer say to each other (carried in the peer RPC as
//! `ClusterRequest::Follow` / `FollowSnapshot`): the applied changes after a log index, or
//! the word that the log there is gone and the snapshot must be taken, in chunks.
//!
//! # Invariants
//! - Log indexes are Raft's: the same on every member, so a follower resumes from its own
//!   applied index at any trusted peer.
//! - A trusted peer sends only what it has applied (committed entries), never more than
//!   [`CHANGES_BYTES`] of stored entries in one answer (at least one entry).

use serde::{Deserialize, Serialize};

use crate::consensus::PeerNode;
use crate::state::PinOp;

/// The most stored log bytes one [`FollowReply::Changes`] carries (at least one entry).
pub const CHANGES_BYTES: usize = 1024 * 1024;
/// The most snapshot bytes one [`Chunk`] carries.
pub const CHUNK_BYTES: usize = 1024 * 1024;
/// The longest a trusted peer holds a [`FollowAsk`] open waiting for a change.
pub const MAX_WAIT_MS: u64 = 30_000;

/// "Send me what you applied after log index `after`."
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowAsk {
    /// The follower's last applied log index (0: nothing yet).
    pub after: u64,
    /// How long the trusted peer may wait for a first change, in milliseconds (at most
    /// [`MAX_WAIT_MS`]); the follower keeps it below its request timeout.
    pub wait_ms: u64,
}

/// A trusted peer's answer to a [`FollowAsk`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FollowReply {
    /// The pin operations of the entries `after + 1 ..= through` (entries that change no pin,
    /// Raft's blank and membership entries, are covered by `through` but carry no operation).
    Changes {
        /// (log index, operation), in log order.
        ops: Vec<(u64, PinOp)>,
        /// The last log index this answer covers (`after` when nothing new came in the wait).
        through: u64,
        /// The trusted peer's last applied index (how far behind the follower is).
        applied: u64,
        /// The cluster's members as the trusted peer sees them (ids and addresses), so that a
        /// follower knows where else it may go.
        members: Vec<PeerNode>,
    },
    /// The log after `after` is no longer kept here: take the snapshot ([`ChunkAsk`]).
    SnapshotNeeded {
        /// The log index the trusted peer's current snapshot is at.
        index: u64,
    },
}

/// "Send me the snapshot `snapshot` (the current one when `None`) from byte `offset`."
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkAsk {
    /// The snapshot's id from an earlier [`Chunk`]; `None` for the current one.
    pub snapshot: Option<String>,
    /// Where to start reading.
    pub offset: u64,
}

/// One piece of a snapshot file (the pinset as one JSON pin per line).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// The snapshot's id (ask for the same one until `offset + data.len() == total`).
    pub snapshot: String,
    /// The log index the snapshot is at: the follower resumes after it.
    pub index: u64,
    /// The file's size in bytes.
    pub total: u64,
    /// The file's SHA-256 (hex), when the trusted peer recorded it.
    pub sha256: Option<String>,
    /// The bytes from the asked offset.
    pub data: bytes::Bytes,
}
