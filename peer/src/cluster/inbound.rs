//! Serves requests from other peers: Raft RPCs into this peer's Raft, cluster RPCs into
//! [`Cluster`], block requests from this peer's daemon ([`LocalBlocks`]). A request only the
//! leader serves is served here or answered `NotLeader`, never forwarded again. At most
//! [`CONCURRENCY`] cluster requests are served at once; Raft's arrive
//! on their own queue and have their own [`RAFT_CONCURRENCY`] slots, so slow cluster
//! requests never hold back a heartbeat.
//!
//! # Invariants
//! - Every request that decodes passes the cluster's [`rpc::Gate`] with the connection's
//!   authenticated peer id before anything of it is served: a call the sender may not make
//!   (`rpc::access`: a removed peer's write or vote, a join for another peer) is answered
//!   [`Response::Unauthorized`] and reaches no component.
//! - A member's read of this peer's events and a follower's read of its log (long polls)
//!   give their slot back before they wait: `events` and `pinlog::source` bound those waits
//!   themselves, so they never crowd out other requests.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};

use super::{Cluster, ClusterError};
use crate::exchange::LocalBlocks;
use crate::net::Inbound;
use crate::rpc::{
    self, AtLeader, ClusterReply, ClusterRequest, LeaderRequest, RaftRequest, Request, Response, Written,
};
use crate::status::Upkeep;

/// Cluster requests from other peers served at once.
pub(super) const CONCURRENCY: usize = 64;
/// Raft requests served at once (openraft handles them one at a time in its core).
pub(super) const RAFT_CONCURRENCY: usize = 32;

/// What answers the other peers; cheap to clone.
#[derive(Clone)]
pub(super) struct Server {
    cluster: Cluster,
    blocks: LocalBlocks,
}

impl Server {
    pub(super) fn new(cluster: Cluster, blocks: LocalBlocks) -> Self {
        Self { cluster, blocks }
    }

    /// Runs until the network stops, serving at most `concurrency` requests at once.
    pub(super) async fn serve(self, mut inbound: mpsc::Receiver<Inbound>, concurrency: usize) {
        let slots = Arc::new(Semaphore::new(concurrency));
        while let Some(Inbound { peer, request, reply }) = inbound.recv().await {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let mut slot = Some(slot);
            let server = self.clone();
            tokio::spawn(async move {
                let response = match server.cluster.gate.screen(&peer, &request) {
                    Ok(Request::Cluster(ClusterRequest::Events(ask))) => {
                        drop(slot.take());
                        let batch = server.cluster.events.serve(ask).await;
                        Response::Cluster(Ok(ClusterReply::Events(batch)))
                    }
                    Ok(Request::Cluster(ClusterRequest::Follow(ask))) => {
                        drop(slot.take());
                        let reply = server.cluster.follow.changes(ask).await;
                        Response::Cluster(reply.map(ClusterReply::Follow).map_err(|e| e.to_string()))
                    }
                    Ok(request) => server.answer(request).await,
                    Err(rejected) => rejected.into_response(),
                };
                match rpc::encode(&response) {
                    Ok(bytes) => {
                        let _ = reply.send(bytes);
                    }
                    // Dropping the reply refuses the request.
                    Err(e) => tracing::warn!(error = %e, "an answer to a peer could not be encoded"),
                }
                drop(slot);
            });
        }
    }

    async fn answer(&self, request: Request) -> Response {
        let raft = &self.cluster.raft;
        match request {
            Request::Raft(RaftRequest::Append(rpc)) => Response::Append(raft.append_entries(rpc).await),
            Request::Raft(RaftRequest::Vote(rpc)) => Response::Vote(raft.vote(rpc).await),
            Request::Raft(RaftRequest::Snapshot(rpc)) => Response::Snapshot(raft.install_snapshot(rpc).await),
            Request::Cluster(request) => Response::Cluster(
                serve_cluster(&self.cluster, request)
                    .await
                    .map_err(|e| e.to_string()),
            ),
            Request::Block(cid) => Response::Block(self.blocks.get(&cid).await),
        }
    }
}

async fn serve_cluster(cluster: &Cluster, request: ClusterRequest) -> Result<ClusterReply, ClusterError> {
    Ok(match request {
        ClusterRequest::Join(node) => done_at_leader(cluster.add_member(node).await?),
        ClusterRequest::Leader(request) => serve_at_leader(cluster, request).await?,
        ClusterRequest::RepoStat(size_only) => {
            ClusterReply::RepoStat(cluster.local_repo_stat(size_only).await?)
        }
        ClusterRequest::RepoGc => ClusterReply::Gc(cluster.local_repo_gc().await?),
        ClusterRequest::Statuses { after, limit } => {
            ClusterReply::Statuses(cluster.statuses.local_statuses(after, limit)?)
        }
        ClusterRequest::StatusOf(cid) => ClusterReply::Status(cluster.statuses.local_status_of(&cid)?),
        ClusterRequest::Nested {
            cids,
            depth,
            budget_ms,
        } => {
            let budget = std::time::Duration::from_millis(budget_ms);
            ClusterReply::Nested(cluster.statuses.local_nested(cids, depth, budget).await?)
        }
        ClusterRequest::Recover(cid) => {
            cluster.statuses.local_upkeep(&Upkeep::Recover(cid)).await;
            ClusterReply::Done
        }
        ClusterRequest::Sync => {
            cluster.statuses.local_upkeep(&Upkeep::Sync).await;
            ClusterReply::Done
        }
        ClusterRequest::Events(ask) => ClusterReply::Events(cluster.events.serve(ask).await),
        ClusterRequest::Follow(ask) => ClusterReply::Follow(cluster.follow.changes(ask).await?),
        ClusterRequest::FollowSnapshot(ask) => ClusterReply::Chunk(cluster.follow.chunk(ask).await?),
    })
}

/// Serves a request only the leader serves: here, or `NotLeader`; never forwarded again.
async fn serve_at_leader(cluster: &Cluster, request: LeaderRequest) -> Result<ClusterReply, ClusterError> {
    Ok(match request {
        LeaderRequest::Join(node) => done_at_leader(cluster.add_member_here(node).await?),
        LeaderRequest::Remove(id) => done_at_leader(cluster.remove_node_here(id).await?),
        LeaderRequest::Write(op) => match cluster.commit_here(op).await? {
            AtLeader::Done(Written { applied, index }) => ClusterReply::Written(applied, index),
            AtLeader::NotLeader(leader) => ClusterReply::NotLeader(leader),
        },
        LeaderRequest::ReadIndex => match cluster.serve_read_index().await? {
            AtLeader::Done(index) => ClusterReply::ReadIndex(index),
            AtLeader::NotLeader(leader) => ClusterReply::NotLeader(leader),
        },
    })
}

fn done_at_leader(answer: AtLeader<()>) -> ClusterReply {
    match answer {
        AtLeader::Done(()) => ClusterReply::Done,
        AtLeader::NotLeader(leader) => ClusterReply::NotLeader(leader),
    }
}
