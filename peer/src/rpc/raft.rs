//! Raft's network: openraft's `RaftNetwork` over the peer RPC ([`super::Client`]).
//!
//! A member is reached at the peer id and addresses in its [`PeerNode`]. Failures map as
//! openraft expects: a peer that cannot be dialled, or refuses this peer's Raft calls
//! (`rpc::access`), is `Unreachable` (openraft backs off), a
//! timeout or refused request is a `Network` error, and an error the remote Raft returned is a
//! `RemoteError`.
//!
//! # Invariants
//! - A member has at most one append on its way, each within a byte budget that adapts to
//!   how fast the member takes them, far below the network's message limit (see
//!   [`super::append`]). An entry is at most `cluster::batcher::MAX_BATCH_BYTES` plus one pin,
//!   and one entry is always sent.

use std::error::Error;

use libp2p::{Multiaddr, PeerId};
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use crate::consensus::{NodeId, PeerNode, TypeConfig};

use super::append::{Appends, Plan};
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
    appends: Appends,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &PeerNode) -> Connection {
        let (peer, addrs) = node.dial_address();
        Connection {
            rpc: self.rpc.clone(),
            target,
            peer,
            addrs,
            appends: Appends::default(),
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
            // It will not take this peer's Raft calls (it no longer counts this peer as a
            // member): openraft backs off as from a peer it cannot reach.
            Err(e @ RpcError::Unauthorized { .. }) => Err(RPCError::Unreachable(Unreachable::new(&e))),
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
        let peer = match self.peer() {
            Ok(peer) => peer,
            Err(e) => return self.answer(Err(e)),
        };
        if let Some(higher) = self.appends.higher_vote_than(&rpc.vote) {
            return Ok(AppendEntriesResponse::HigherVote(higher));
        }
        // A heartbeat never waits behind an append on its way: a big append on a busy link
        // must not keep the follower from hearing of its leader.
        if rpc.entries.is_empty() {
            let (client, addrs) = (self.rpc.clone(), self.addrs.clone());
            let sent = async move { client.append(peer, addrs, rpc).await };
            return match self.appends.heartbeat(self.target, sent).await {
                Ok(answer) => self.answer(answer),
                Err(e) => Err(RPCError::Network(NetworkError::new(&e))),
            };
        }
        let held = self.appends.settle(self.target).await;
        if let Some(higher) = self.appends.higher_vote_than(&rpc.vote) {
            return Ok(AppendEntriesResponse::HigherVote(higher));
        }
        let plan = Plan::new(rpc, held, &self.appends);
        let (rpc, addrs, request) = (self.rpc.clone(), self.addrs.clone(), plan.request.clone());
        let sent = async move { rpc.append(peer, addrs, request).await };
        let answer = match self.appends.send(self.target, &plan, sent).await {
            Ok(answer) => self.answer(answer)?,
            Err(e) => return Err(RPCError::Network(NetworkError::new(&e))),
        };
        plan.read(self.target, answer)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))
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
