//! Raft's network: openraft's `RaftNetwork` over the peer RPC ([`super::Client`]).
//!
//! A member is reached at the peer id and addresses in its [`PeerNode`]. Failures map as
//! openraft expects: a peer that cannot be dialled is `Unreachable` (openraft backs off), a
//! timeout or refused request is a `Network` error, and an error the remote Raft returned is a
//! `RemoteError`.
//!
//! # Invariants
//! - An append stays under [`MAX_APPEND_BYTES`] (by [`crate::state::PinOp::encoded_bound`], far below the
//!   network's message limit): a larger one is refused with openraft's `PayloadTooLarge` and
//!   a hint of how many entries fit, and openraft sends fewer. An entry is at most
//!   `cluster::batcher::MAX_BATCH_BYTES` plus one pin, so one entry always fits.

use std::error::Error;

use libp2p::{Multiaddr, PeerId};
use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use crate::consensus::{NodeId, PeerNode, TypeConfig};

/// The most bytes one append carries. openraft gives an append one heartbeat interval to
/// complete (encode, send, decode, fsync on the follower, answer); a follower behind big
/// entries that cannot take one append in that time never catches up, so appends stay small
/// (and far below `net::MAX_MESSAGE`).
pub const MAX_APPEND_BYTES: usize = 1024 * 1024;

/// An upper bound of an entry's encoded size.
fn entry_bound(entry: &openraft::Entry<TypeConfig>) -> usize {
    const FRAME: usize = 64;
    match &entry.payload {
        openraft::EntryPayload::Blank => FRAME,
        openraft::EntryPayload::Normal(op) => FRAME + op.encoded_bound(),
        openraft::EntryPayload::Membership(m) => FRAME + 512 * (1 + m.nodes().count()),
    }
}

/// How many of `entries` fit in one append, when not all of them do.
fn entries_that_fit(entries: &[openraft::Entry<TypeConfig>]) -> Option<u64> {
    let mut bytes = 0;
    for (count, entry) in entries.iter().enumerate() {
        bytes += entry_bound(entry);
        if bytes > MAX_APPEND_BYTES {
            return Some(count.max(1) as u64);
        }
    }
    None
}
use super::{Client, RpcError};
use crate::net::NetError;

/// Hands out [`Connection`]s over one [`Net`].
#[derive(Clone, Debug)]
pub struct Network {
    rpc: Client,
}

impl Network {
    /// Raft's network over the peer RPC `rpc`.
    pub fn new(rpc: Client) -> Self {
        Self { rpc }
    }
}

/// Raft's client for one member.
#[derive(Debug)]
pub struct Connection {
    rpc: Client,
    target: NodeId,
    peer: Option<PeerId>,
    addrs: Vec<Multiaddr>,
}

/// The member's peer id and dialable addresses (without their `/p2p` suffix).
pub fn address_of(node: &PeerNode) -> (Option<PeerId>, Vec<Multiaddr>) {
    let addrs = node.addrs.iter().filter_map(|a| a.parse::<Multiaddr>().ok());
    let addrs = addrs
        .map(|a| crate::net::split_p2p(&a).map(|(_, base)| base).unwrap_or(a))
        .collect();
    (node.peer_id.parse().ok(), addrs)
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &PeerNode) -> Connection {
        let (peer, addrs) = address_of(node);
        Connection {
            rpc: self.rpc.clone(),
            target,
            peer,
            addrs,
        }
    }
}

impl Connection {
    /// The target's peer id, or why it has none.
    fn peer(&self) -> Result<PeerId, RpcError> {
        self.peer.ok_or_else(|| RpcError::NoPeerId {
            member: self.target.to_string(),
        })
    }

    /// The remote Raft's answer, or the failure as openraft expects it.
    #[allow(clippy::result_large_err)] // openraft's `RaftNetwork` returns this error type
    fn answer<T, E: Error>(
        &self,
        answer: Result<Result<T, E>, RpcError>,
    ) -> Result<T, RPCError<NodeId, PeerNode, E>> {
        match answer {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(RPCError::RemoteError(RemoteError::new(self.target, e))),
            Err(RpcError::Net(e @ NetError::Unreachable { .. })) => {
                Err(RPCError::Unreachable(Unreachable::new(&e)))
            }
            Err(e) => Err(RPCError::Network(NetworkError::new(&e))),
        }
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, PeerNode, RaftError<NodeId>>> {
        if rpc.entries.len() > 1
            && let Some(fit) = entries_that_fit(&rpc.entries)
        {
            return Err(RPCError::PayloadTooLarge(PayloadTooLarge::new_entries_hint(fit)));
        }
        let answer = match self.peer() {
            Ok(peer) => self.rpc.append(peer, self.addrs.clone(), rpc).await,
            Err(e) => Err(e),
        };
        self.answer(answer)
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, PeerNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let answer = match self.peer() {
            Ok(peer) => self.rpc.snapshot(peer, self.addrs.clone(), rpc).await,
            Err(e) => Err(e),
        };
        self.answer(answer)
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, PeerNode, RaftError<NodeId>>> {
        let answer = match self.peer() {
            Ok(peer) => self.rpc.vote(peer, self.addrs.clone(), rpc).await,
            Err(e) => Err(e),
        };
        self.answer(answer)
    }
}
