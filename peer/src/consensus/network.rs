//! Raft's outbound network while a peer runs alone.
//!
//! The libp2p transport (pnet + noise + yamux, request-response for Raft RPCs) is the next
//! part of the cluster issue. Until it lands a peer forms a one-member cluster, and every
//! RPC to another member reports `Unreachable`, which openraft treats as a peer that is down
//! (it backs off and retries); nothing is silently dropped or faked.

use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use super::{NodeId, PeerNode, TypeConfig};

/// Hands out [`Unconnected`] clients.
#[derive(Clone, Debug, Default)]
pub struct LocalOnly;

/// A client for a member this peer cannot reach yet.
#[derive(Debug)]
pub struct Unconnected {
    target: NodeId,
}

#[derive(Debug, thiserror::Error)]
#[error("no cluster network yet: member {0} is unreachable")]
struct NoNetwork(NodeId);

fn unreachable<E: std::error::Error>(target: NodeId) -> RPCError<NodeId, PeerNode, E> {
    RPCError::Unreachable(Unreachable::new(&NoNetwork(target)))
}

impl RaftNetworkFactory<TypeConfig> for LocalOnly {
    type Network = Unconnected;

    async fn new_client(&mut self, target: NodeId, _node: &PeerNode) -> Unconnected {
        Unconnected { target }
    }
}

impl RaftNetwork<TypeConfig> for Unconnected {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, PeerNode, RaftError<NodeId>>> {
        Err(unreachable(self.target))
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, PeerNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        Err(unreachable(self.target))
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, PeerNode, RaftError<NodeId>>> {
        Err(unreachable(self.target))
    }
}
