//! What peers say to each other: Raft RPCs and cluster RPCs, carried as CBOR.

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};

use super::call::Refusal;
use crate::api::{GlobalPinInfo, RepoStat};
use crate::consensus::{NodeId, PeerNode, TypeConfig};
use crate::eventlog::{EventBatch, EventsAsk};
use crate::pinlog::wire::{Chunk, ChunkAsk, FollowAsk, FollowReply};
use crate::state::{Applied, PinOp};
use crate::tracker::LocalStatus;

/// A request between peers.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// Raft's own RPCs.
    Raft(RaftRequest),
    /// Cluster membership and forwarded writes.
    Cluster(ClusterRequest),
    /// The bytes of the block with this binary CID, from the receiver's IPFS node (local
    /// blocks only: a peer never fetches on behalf of another).
    Block(Vec<u8>),
}

/// Raft's RPCs, answered by the receiving peer's `Raft`.
#[derive(Debug, Serialize, Deserialize)]
pub enum RaftRequest {
    /// Log replication and heartbeats.
    Append(AppendEntriesRequest<TypeConfig>),
    /// Elections.
    Vote(VoteRequest<NodeId>),
    /// One chunk of a snapshot.
    Snapshot(InstallSnapshotRequest<TypeConfig>),
}

/// Requests a peer serves for the cluster.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ClusterRequest {
    /// Add this peer to the cluster (as learner, then voter); sent by the joining peer to
    /// any member, which forwards it to the leader once when it does not lead.
    Join(PeerNode),
    /// A request only the leader serves, forwarded to it by another member.
    Leader(LeaderRequest),
    /// This peer's IPFS daemon's `repo/stat` (`size-only` when true).
    RepoStat(bool),
    /// Run `repo/gc` on this peer's IPFS daemon.
    RepoGc,
    /// Up to `limit` of this peer's tracked statuses after the CID `after` (in CID order).
    Statuses {
        /// The last CID of the previous page.
        after: Option<String>,
        /// Page size.
        limit: u32,
    },
    /// This peer's status of one CID.
    StatusOf(String),
    /// This peer's statuses of these CIDs and, when `depth` is above 1, its child cluster's
    /// `GlobalPinInfo` of each at `depth - 1` (when its IPFS daemon is a Cairn gateway).
    Nested {
        /// The CIDs.
        cids: Vec<String>,
        /// How many cluster levels to show, this one included.
        depth: u32,
        /// How long the asking peer waits for the answer, in milliseconds: the child cluster
        /// is given less, so that a slow child costs only its own part of the answer.
        budget_ms: u64,
    },
    /// Retry this peer's failed pins now (one CID, or all).
    Recover(Option<String>),
    /// Compare this peer's pins with its IPFS daemon now.
    Sync,
    /// Events of this peer's journal after a cursor (long-polled: the receiver may wait for a
    /// first one); an older peer cannot decode it and refuses it.
    Events(EventsAsk),
    /// A follower's read of the applied log after an index (long-polled, `pinlog::source`).
    Follow(FollowAsk),
    /// A follower's read of a piece of this peer's snapshot.
    FollowSnapshot(ChunkAsk),
}

/// Requests only the leader serves. The receiver serves it or answers
/// [`ClusterReply::NotLeader`]; it never forwards one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum LeaderRequest {
    /// Add this peer (as learner, then voter).
    Join(PeerNode),
    /// Remove this member.
    Remove(NodeId),
    /// Commit this operation.
    Write(PinOp),
    /// Raft's read index, confirmed with a quorum (for a linearizable read on a follower).
    ReadIndex,
}

/// Answers to [`ClusterRequest`]s.
#[derive(Debug, Serialize, Deserialize)]
pub enum ClusterReply {
    /// Done (join, remove, recover, sync).
    Done,
    /// The write is committed and applied on the leader at this log index.
    Written(Option<Applied>, u64),
    /// To a [`LeaderRequest`]: this peer is not the leader (it names the one it knows).
    NotLeader(Option<PeerNode>),
    /// To [`LeaderRequest::ReadIndex`]: reads that see this log index are linearizable.
    ReadIndex(u64),
    /// To [`ClusterRequest::RepoStat`].
    RepoStat(RepoStat),
    /// To [`ClusterRequest::RepoGc`]: the removed keys.
    Gc(Vec<String>),
    /// To [`ClusterRequest::Statuses`]: (CID, status).
    Statuses(Vec<(String, LocalStatus)>),
    /// To [`ClusterRequest::StatusOf`].
    Status(LocalStatus),
    /// To [`ClusterRequest::Nested`]: one entry per CID asked, in order.
    Nested(Vec<NestedStatus>),
    /// To [`ClusterRequest::Events`].
    Events(EventBatch),
    /// To [`ClusterRequest::Follow`].
    Follow(FollowReply),
    /// To [`ClusterRequest::FollowSnapshot`].
    Chunk(Chunk),
}

/// One peer's status of one CID and what its child cluster says of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NestedStatus {
    /// The CID.
    pub cid: String,
    /// This peer's status.
    pub status: LocalStatus,
    /// The child cluster's `GlobalPinInfo`, why it could not be asked, or `None` when there
    /// is no child to ask (a plain daemon, or depth 1).
    pub child: Option<Result<GlobalPinInfo, String>>,
}

/// An answer between peers.
#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    /// To [`RaftRequest::Append`].
    Append(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    /// To [`RaftRequest::Vote`].
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    /// To [`RaftRequest::Snapshot`].
    Snapshot(Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>),
    /// To a [`ClusterRequest`]; the error is the serving peer's message.
    Cluster(Result<ClusterReply, String>),
    /// To [`Request::Block`]: the block, or `None` when the peer does not have it.
    Block(Option<bytes::Bytes>),
    /// The request could not be handled at all (queue full, peer shutting down, a request
    /// that does not decode).
    Refused(String),
    /// The request decoded but the sender may not make it (`rpc::access`); nothing of it was
    /// served.
    Unauthorized(Refusal),
}
