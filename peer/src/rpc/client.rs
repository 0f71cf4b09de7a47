//! The typed side of the peer RPC: one method per call, each returning the answer that call
//! has. A reply that does not belong to its request is recognised here and nowhere else
//! ([`RpcError::Mismatched`]); the components that talk to other peers never see
//! [`Response`] or [`ClusterReply`].
//!
//! # Invariants
//! - Every method sends exactly one request and awaits exactly one answer; retries belong to
//!   the caller, which knows whether the call is idempotent.
//! - A refusal, by the receiving network or by the receiving peer, is
//!   [`RpcError::Refused`], or [`RpcError::Unauthorized`] when the peer may not make the call
//!   at all; an error the serving peer returned is [`RpcError::Failed`] with its message.

use crate::pinlog::wire::{Chunk, ChunkAsk, FollowAsk, FollowReply};
use bytes::Bytes;
use libp2p::{Multiaddr, PeerId};
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use super::protocol::{
    ClusterReply, ClusterRequest, LeaderRequest, NestedStatus, RaftRequest, Request, Response,
};
use super::{CodecError, decode_response, encode};
use crate::api::RepoStat;
use crate::consensus::{NodeId, PeerNode, TypeConfig};
use crate::eventlog::{EventBatch, EventsAsk};
use crate::net::{Lane, Net, NetError};
use crate::state::{Applied, PinOp};
use crate::tracker::LocalStatus;

/// Why a call to another peer did not give its answer.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The member's peer id does not parse: it cannot be reached.
    #[error("member {member} has no valid peer id")]
    NoPeerId {
        /// The member's peer id as recorded.
        member: String,
    },
    /// The request could not be encoded.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The network could not carry the request or its answer.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The receiving peer could not handle the request at all (queue full, shutting down,
    /// a request it does not understand).
    #[error("peer {peer} refused the request: {reason}")]
    Refused {
        /// The peer.
        peer: PeerId,
        /// Its reason.
        reason: String,
    },
    /// The receiving peer may not be asked this by this peer (`rpc::access`): it served
    /// nothing of it. Asking again changes nothing until the membership does.
    #[error("peer {peer} refused the request: {refusal}")]
    Unauthorized {
        /// The peer.
        peer: PeerId,
        /// Why.
        refusal: super::Refusal,
    },
    /// The serving peer handled the request and failed; its message.
    #[error("{message}")]
    Failed {
        /// The peer.
        peer: PeerId,
        /// The serving peer's error.
        message: String,
    },
    /// The peer answered with a reply that belongs to another request.
    #[error("peer {peer} answered {asked} with {answer}")]
    Mismatched {
        /// The peer.
        peer: PeerId,
        /// The call.
        asked: &'static str,
        /// What came back.
        answer: String,
    },
}

/// The answer of a call only the leader serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AtLeader<T> {
    /// The leader served it.
    Done(T),
    /// The receiver is not the leader (it names the one it knows); it did not forward.
    NotLeader(Option<PeerNode>),
}

/// A write the leader committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// What applying it changed.
    pub applied: Option<Applied>,
    /// The log index it was committed at.
    pub index: u64,
}

/// Sends peer RPCs over the cluster network; cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    net: Net,
}

impl Client {
    /// Over `net`.
    pub fn new(net: Net) -> Self {
        Self { net }
    }

    /// Asks the member at `peer` (dialled at `addrs`) to add `node` to the cluster; a member
    /// that does not lead forwards it to the leader once.
    pub async fn join(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        node: PeerNode,
    ) -> Result<AtLeader<()>, RpcError> {
        let reply = self.cluster_at(peer, addrs, ClusterRequest::Join(node)).await?;
        at_leader(peer, "join", reply, |reply| match reply {
            ClusterReply::Done => Ok(()),
            other => Err(other),
        })
    }

    /// Asks `leader` to add `node` (forwarded by a member that does not lead).
    pub async fn join_at_leader(&self, leader: &PeerNode, node: PeerNode) -> Result<AtLeader<()>, RpcError> {
        self.leader_done(leader, LeaderRequest::Join(node), "join").await
    }

    /// Asks `leader` to remove the member `id`.
    pub async fn remove_at_leader(&self, leader: &PeerNode, id: NodeId) -> Result<AtLeader<()>, RpcError> {
        self.leader_done(leader, LeaderRequest::Remove(id), "remove")
            .await
    }

    /// Asks `leader` to commit `op`.
    pub async fn write(&self, leader: &PeerNode, op: PinOp) -> Result<AtLeader<Written>, RpcError> {
        let (peer, reply) = self
            .cluster(leader, ClusterRequest::Leader(LeaderRequest::Write(op)))
            .await?;
        at_leader(peer, "write", reply, |reply| match reply {
            ClusterReply::Written(applied, index) => Ok(Written { applied, index }),
            other => Err(other),
        })
    }

    /// Asks `leader` for Raft's read index, confirmed with a quorum.
    pub async fn read_index(&self, leader: &PeerNode) -> Result<AtLeader<u64>, RpcError> {
        let (peer, reply) = self
            .cluster(leader, ClusterRequest::Leader(LeaderRequest::ReadIndex))
            .await?;
        at_leader(peer, "read index", reply, |reply| match reply {
            ClusterReply::ReadIndex(index) => Ok(index),
            other => Err(other),
        })
    }

    /// `member`'s IPFS daemon's `repo/stat`.
    pub async fn repo_stat(&self, member: &PeerNode, size_only: bool) -> Result<RepoStat, RpcError> {
        match self.cluster(member, ClusterRequest::RepoStat(size_only)).await? {
            (_, ClusterReply::RepoStat(stat)) => Ok(stat),
            (peer, other) => Err(mismatched(peer, "repo/stat", other)),
        }
    }

    /// Runs `repo/gc` on `member`'s IPFS daemon; the removed keys.
    pub async fn repo_gc(&self, member: &PeerNode) -> Result<Vec<String>, RpcError> {
        match self.cluster(member, ClusterRequest::RepoGc).await? {
            (_, ClusterReply::Gc(keys)) => Ok(keys),
            (peer, other) => Err(mismatched(peer, "repo/gc", other)),
        }
    }

    /// Up to `limit` of `member`'s tracked statuses after the CID `after`, in CID order.
    pub async fn statuses(
        &self,
        member: &PeerNode,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<(String, LocalStatus)>, RpcError> {
        match self
            .cluster(member, ClusterRequest::Statuses { after, limit })
            .await?
        {
            (_, ClusterReply::Statuses(found)) => Ok(found),
            (peer, other) => Err(mismatched(peer, "statuses", other)),
        }
    }

    /// `member`'s status of `cid`.
    pub async fn status_of(&self, member: &PeerNode, cid: String) -> Result<LocalStatus, RpcError> {
        match self.cluster(member, ClusterRequest::StatusOf(cid)).await? {
            (_, ClusterReply::Status(status)) => Ok(status),
            (peer, other) => Err(mismatched(peer, "status", other)),
        }
    }

    /// `member`'s statuses of `cids` and its child cluster's view at `depth - 1`; the child
    /// is given less than `budget_ms`.
    pub async fn nested(
        &self,
        member: &PeerNode,
        cids: Vec<String>,
        depth: u32,
        budget_ms: u64,
    ) -> Result<Vec<NestedStatus>, RpcError> {
        let request = ClusterRequest::Nested {
            cids,
            depth,
            budget_ms,
        };
        match self.cluster(member, request).await? {
            (_, ClusterReply::Nested(found)) => Ok(found),
            (peer, other) => Err(mismatched(peer, "nested status", other)),
        }
    }

    /// Has `member` retry its failed pins now (one CID, or all).
    pub async fn recover(&self, member: &PeerNode, cid: Option<String>) -> Result<(), RpcError> {
        self.done(member, ClusterRequest::Recover(cid), "recover").await
    }

    /// Has `member` compare its pins with its IPFS daemon now.
    pub async fn sync(&self, member: &PeerNode) -> Result<(), RpcError> {
        self.done(member, ClusterRequest::Sync, "sync").await
    }

    /// Events of `member`'s journal after `ask.since` (the member may wait up to
    /// `ask.wait_ms` for a first one).
    pub async fn events(&self, member: &PeerNode, ask: EventsAsk) -> Result<EventBatch, RpcError> {
        match self.cluster(member, ClusterRequest::Events(ask)).await? {
            (_, ClusterReply::Events(batch)) => Ok(batch),
            (peer, other) => Err(mismatched(peer, "events", other)),
        }
    }

    /// The block with the binary CID `cid` from `peer`'s IPFS node; `None` when it does not
    /// have it.
    pub async fn block(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        cid: Vec<u8>,
    ) -> Result<Option<Bytes>, RpcError> {
        match self.call(peer, addrs, Request::Block(cid)).await? {
            Response::Block(found) => Ok(found),
            other => Err(mismatched(peer, "block", other)),
        }
    }

    /// Raft's append (replication, heartbeats) to `peer`; the remote Raft's own answer.
    pub async fn append(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        rpc: AppendEntriesRequest<TypeConfig>,
    ) -> Result<Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>, RpcError> {
        match self
            .call(peer, addrs, Request::Raft(RaftRequest::Append(rpc)))
            .await?
        {
            Response::Append(answer) => Ok(answer),
            other => Err(mismatched(peer, "append", other)),
        }
    }

    /// Raft's vote request to `peer`.
    pub async fn vote(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        rpc: VoteRequest<NodeId>,
    ) -> Result<Result<VoteResponse<NodeId>, RaftError<NodeId>>, RpcError> {
        match self
            .call(peer, addrs, Request::Raft(RaftRequest::Vote(rpc)))
            .await?
        {
            Response::Vote(answer) => Ok(answer),
            other => Err(mismatched(peer, "vote", other)),
        }
    }

    /// One chunk of a snapshot to `peer`.
    pub async fn snapshot(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        rpc: InstallSnapshotRequest<TypeConfig>,
    ) -> Result<Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>, RpcError>
    {
        match self
            .call(peer, addrs, Request::Raft(RaftRequest::Snapshot(rpc)))
            .await?
        {
            Response::Snapshot(answer) => Ok(answer),
            other => Err(mismatched(peer, "snapshot", other)),
        }
    }

    /// A follower's read of `source`'s applied log ([`FollowAsk`]).
    pub async fn follow(&self, source: &PeerNode, ask: FollowAsk) -> Result<FollowReply, RpcError> {
        match self.cluster(source, ClusterRequest::Follow(ask)).await? {
            (_, ClusterReply::Follow(reply)) => Ok(reply),
            (peer, other) => Err(mismatched(peer, "follow", other)),
        }
    }

    /// A piece of `source`'s snapshot ([`ChunkAsk`]).
    pub async fn follow_snapshot(&self, source: &PeerNode, ask: ChunkAsk) -> Result<Chunk, RpcError> {
        match self.cluster(source, ClusterRequest::FollowSnapshot(ask)).await? {
            (_, ClusterReply::Chunk(chunk)) => Ok(chunk),
            (peer, other) => Err(mismatched(peer, "follow.snapshot", other)),
        }
    }

    async fn leader_done(
        &self,
        leader: &PeerNode,
        request: LeaderRequest,
        asked: &'static str,
    ) -> Result<AtLeader<()>, RpcError> {
        let (peer, reply) = self.cluster(leader, ClusterRequest::Leader(request)).await?;
        at_leader(peer, asked, reply, |reply| match reply {
            ClusterReply::Done => Ok(()),
            other => Err(other),
        })
    }

    async fn done(
        &self,
        member: &PeerNode,
        request: ClusterRequest,
        asked: &'static str,
    ) -> Result<(), RpcError> {
        match self.cluster(member, request).await? {
            (_, ClusterReply::Done) => Ok(()),
            (peer, other) => Err(mismatched(peer, asked, other)),
        }
    }

    /// Sends a cluster request to `member`; its reply and the peer that gave it.
    async fn cluster(
        &self,
        member: &PeerNode,
        request: ClusterRequest,
    ) -> Result<(PeerId, ClusterReply), RpcError> {
        let (peer, addrs) = member.dial_address();
        let peer = peer.ok_or_else(|| RpcError::NoPeerId {
            member: member.peer_id.clone(),
        })?;
        Ok((peer, self.cluster_at(peer, addrs, request).await?))
    }

    async fn cluster_at(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: ClusterRequest,
    ) -> Result<ClusterReply, RpcError> {
        match self.call(peer, addrs, Request::Cluster(request)).await? {
            Response::Cluster(Ok(reply)) => Ok(reply),
            Response::Cluster(Err(message)) => Err(RpcError::Failed { peer, message }),
            other => Err(mismatched(peer, "a cluster request", other)),
        }
    }

    /// Sends `request` to `peer` (dialling `addrs` if not connected) and awaits its answer.
    async fn call(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: Request,
    ) -> Result<Response, RpcError> {
        let bytes = encode(&request)?;
        let lane = match request {
            Request::Raft(_) => Lane::Raft,
            _ => Lane::Cluster,
        };
        let answer = match self.net.request(peer, addrs, lane, bytes).await {
            Ok(answer) => answer,
            Err(NetError::Refused { peer, reason }) => return Err(RpcError::Refused { peer, reason }),
            Err(e) => return Err(e.into()),
        };
        match decode_response(&answer) {
            Ok(Response::Refused(reason)) => Err(RpcError::Refused { peer, reason }),
            Ok(Response::Unauthorized(refusal)) => Err(RpcError::Unauthorized { peer, refusal }),
            Ok(response) => Ok(response),
            Err(e) => Err(RpcError::Refused {
                peer,
                reason: e.to_string(),
            }),
        }
    }
}

/// Reads a leader-only call's reply: `NotLeader`, or what `done` takes from it.
fn at_leader<T>(
    peer: PeerId,
    asked: &'static str,
    reply: ClusterReply,
    done: impl FnOnce(ClusterReply) -> Result<T, ClusterReply>,
) -> Result<AtLeader<T>, RpcError> {
    match reply {
        ClusterReply::NotLeader(leader) => Ok(AtLeader::NotLeader(leader)),
        reply => done(reply)
            .map(AtLeader::Done)
            .map_err(|other| mismatched(peer, asked, other)),
    }
}

fn mismatched(peer: PeerId, asked: &'static str, answer: impl std::fmt::Debug) -> RpcError {
    RpcError::Mismatched {
        peer,
        asked,
        answer: format!("{answer:?}"),
    }
}
