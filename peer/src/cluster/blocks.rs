//! Blocks between peers: this peer serves its IPFS node's blocks to the others, and its
//! embedded node asks the others for blocks it lacks ([`PeerBlocks`], the node's
//! [`BlockSource`]).
//!
//! # Invariants
//! - Only local blocks are served; a peer never fetches on behalf of another, so a missing
//!   block cannot bounce around the cluster.
//! - The node verifies every fetched block against its CID (cairn-node's `Blocks`); a
//!   lying or broken peer can waste a request, never corrupt the store.
//! - With a configured external daemon (no embedded node) nothing is served: that daemon
//!   has its own swarm.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use cairn_node::{BlockSource, Blocks};
use cid::Cid;
use futures::future::BoxFuture;

use super::Cluster;
use crate::net::{Request, Response};

impl Cluster {
    /// Lets other peers read blocks from `blocks` (the embedded node's store).
    pub fn serve_blocks(&self, blocks: Blocks) {
        let _ = self.blocks.set(blocks);
    }

    /// The block `cid` (binary) from this peer's embedded node, if it has it.
    pub(super) async fn local_block(&self, cid: &[u8]) -> Option<Bytes> {
        let blocks = self.blocks.get()?;
        let cid = Cid::try_from(cid).ok()?;
        blocks.get_local(cid).await.ok()
    }

    /// Asks the other members, one after the other, for the block `cid`.
    async fn fetch_block(&self, cid: Cid) -> Option<Bytes> {
        for member in self.members().into_iter().filter(|m| m.peer_id != self.peer_id) {
            let (Some(peer), addrs) = crate::consensus::network::address_of(&member) else {
                continue;
            };
            match self
                .net
                .request(peer, addrs, Request::Block(cid.to_bytes()))
                .await
            {
                Ok(Response::Block(Some(data))) => return Some(data),
                Ok(_) => {}
                Err(e) => tracing::debug!(%cid, peer = %member.peer_id, error = %e, "block request failed"),
            }
        }
        None
    }
}

/// The embedded node's [`BlockSource`]: the cluster, once it has started.
#[derive(Clone, Default)]
pub struct PeerBlocks {
    cluster: Arc<OnceLock<Cluster>>,
}

impl PeerBlocks {
    /// Connects the source to the running cluster (before that, it finds nothing).
    pub fn attach(&self, cluster: Cluster) {
        let _ = self.cluster.set(cluster);
    }
}

impl BlockSource for PeerBlocks {
    fn fetch(&self, cid: Cid) -> BoxFuture<'static, Option<Bytes>> {
        let cluster = self.cluster.get().cloned();
        Box::pin(async move { cluster?.fetch_block(cid).await })
    }
}
