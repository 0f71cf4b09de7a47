//! Blocks between peers: this peer serves its IPFS daemon's blocks to the others, its
//! embedded node asks the others for blocks it lacks ([`PeerBlocks`], the node's
//! [`BlockSource`]), and before pinning on an external daemon that lacks the content (a child
//! cluster's gateway: nodes without bitswap) the peer copies the DAG into it from the others
//! ([`Cluster::ensure_content`]).
//!
//! # Invariants
//! - A peer serves what its own daemon has: the embedded node's local blocks, or an external
//!   daemon's `block/get` (which looks further down only: a child cluster never asks its
//!   parent), so a missing block cannot bounce around the cluster.
//! - Every fetched block is verified against its CID (by the node, or by the connector for a
//!   daemon's answer); a lying or broken peer can waste a request, never corrupt a store.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use cairn_node::{BlockSource, Blocks};
use cid::Cid;
use futures::future::BoxFuture;

use super::Cluster;
use crate::ipfs::IpfsClient;
use crate::net::{Request, Response};

impl Cluster {
    /// Lets other peers read blocks from `blocks` (the embedded node's store).
    pub fn serve_blocks(&self, blocks: Blocks) {
        let _ = self.blocks.set(blocks);
    }

    /// The block `cid` (binary) from this peer's daemon, if it has it.
    pub(super) async fn local_block(&self, cid: &[u8]) -> Option<Bytes> {
        let cid = Cid::try_from(cid).ok()?;
        match self.blocks.get() {
            Some(blocks) => blocks.get_local(cid).await.ok(),
            None => self.ipfs.get()?.block_get(&cid).await,
        }
    }

    /// Before pinning `root` on `ipfs`: when the daemon is external and cannot find the root,
    /// copies the DAG into it from the other members. Returns the blocks copied.
    pub async fn ensure_content(&self, ipfs: &IpfsClient, root: Cid) -> usize {
        // The embedded node fetches from the members itself; a daemon that has the root or
        // cannot be asked needs no copy.
        if self.blocks.get().is_some() || ipfs.has_block(&root).await != Some(false) {
            return 0;
        }
        let (mut queue, mut seen, mut copied) = (VecDeque::from([root]), HashSet::from([root]), 0);
        while let Some(cid) = queue.pop_front() {
            let Some(data) = self.fetch_block(cid).await else {
                tracing::debug!(%cid, "no member has it: copy stopped");
                break;
            };
            let links = cairn_node::dag::links(&cid, &data).unwrap_or_default();
            if let Err(e) = ipfs.block_put_as(&cid, data).await {
                tracing::warn!(%cid, error = %e, "copying a block into the daemon");
                break;
            }
            copied += 1;
            queue.extend(links.into_iter().filter(|l| seen.insert(*l)));
        }
        copied
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
