//! Serves requests from other peers: Raft RPCs into this peer's Raft, cluster RPCs into
//! [`Cluster`], block requests from this peer's daemon ([`LocalBlocks`]). At most [`CONCURRENCY`] cluster requests are served at once; Raft's arrive
//! on their own queue and have their own [`RAFT_CONCURRENCY`] slots, so slow cluster
//! requests never hold back a heartbeat.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};

use super::Cluster;
use crate::exchange::LocalBlocks;
use crate::net::Inbound;
use crate::rpc::{self, ClusterRequest, RaftRequest, Request, Response};

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
        while let Some(Inbound { request, reply, .. }) = inbound.recv().await {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let server = self.clone();
            tokio::spawn(async move {
                let response = match rpc::decode_request(&request) {
                    Ok(request) => server.answer(request).await,
                    Err(e) => Response::Refused(e.to_string()),
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

async fn serve_cluster(
    cluster: &Cluster,
    request: ClusterRequest,
) -> Result<crate::rpc::ClusterReply, super::ClusterError> {
    match request {
        ClusterRequest::Join(node) => cluster.add_member(node).await,
        ClusterRequest::Write(op) => cluster.commit_here(op).await,
        ClusterRequest::ReadIndex => cluster.serve_read_index().await,
        ClusterRequest::Remove(id) => cluster.remove_node(id).await,
        ClusterRequest::RepoStat(size_only) => cluster.local_repo_stat(size_only).await.map(|s| {
            crate::rpc::ClusterReply::RepoStat(
                s.repo_size,
                s.storage_max,
                s.num_objects,
                s.repo_path,
                s.version,
            )
        }),
        ClusterRequest::RepoGc => cluster.local_repo_gc().await.map(crate::rpc::ClusterReply::Gc),
        ClusterRequest::Statuses { after, limit } => cluster.local_statuses(after, limit),
        ClusterRequest::StatusOf(cid) => cluster.local_status_of(&cid),
        ClusterRequest::Nested {
            cids,
            depth,
            budget_ms,
        } => {
            let budget = std::time::Duration::from_millis(budget_ms);
            cluster.local_nested(cids, depth, budget).await
        }
        ClusterRequest::Recover(cid) => cluster.local_recover(cid.as_deref()).await,
        ClusterRequest::Sync => cluster.local_sync().await,
    }
}
