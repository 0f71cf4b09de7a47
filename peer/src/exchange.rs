//! Blocks between peers: the embedded node asks the other members for blocks it lacks
//! ([`Exchange`] is the node's [`BlockSource`]); before pinning on an external daemon that
//! lacks the content (a child cluster's gateway: nodes without bitswap) the tracker has the
//! DAG copied into it from the others ([`Exchange::copy_into`]); and this peer answers the
//! others' block requests from its own daemon ([`LocalBlocks`]).
//!
//! Built by the composition root (`peer`) right after Raft and before the IPFS daemon: the
//! exchange needs only the network, the member list and this peer's id.
//!
//! # Invariants
//! - A peer serves what its own daemon has: the embedded node's local blocks, or an external
//!   daemon's `block/get` (which looks further down only: a child cluster never asks its
//!   parent), so a missing block cannot bounce around the cluster.
//! - Every fetched block is verified against its CID (by the node, or by the connector for a
//!   daemon's answer); a lying or broken peer can waste a request, never corrupt a store.

use std::collections::{HashSet, VecDeque};

use bytes::Bytes;
use cairn_node::{BlockSource, Blocks};
use cid::Cid;
use futures::future::BoxFuture;

use crate::consensus::MemberList;
use crate::ipfs::IpfsClient;
use crate::rpc::Client;

/// Fetches blocks from the other members; cheap to clone.
#[derive(Clone)]
pub struct Exchange {
    rpc: Client,
    members: std::sync::Arc<dyn MemberList>,
    me: String,
}

impl Exchange {
    /// Over the peer RPC, asking the `members` other than `me` (a follower's: its trusted
    /// peers).
    pub fn new(rpc: Client, members: std::sync::Arc<dyn MemberList>, me: String) -> Self {
        Self { rpc, members, me }
    }

    /// Asks the other members, one after the other, for the block `cid`.
    pub async fn fetch(&self, cid: Cid) -> Option<Bytes> {
        for member in self.members.list().into_iter().filter(|m| m.peer_id != self.me) {
            let (Some(peer), addrs) = member.dial_address() else {
                continue;
            };
            match self.rpc.block(peer, addrs, cid.to_bytes()).await {
                Ok(Some(data)) => return Some(data),
                Ok(None) => {}
                Err(e) => tracing::debug!(%cid, peer = %member.peer_id, error = %e, "block request failed"),
            }
        }
        None
    }

    /// Copies the DAG under `root` into the external daemon `ipfs` from the other members,
    /// when the daemon cannot find the root itself. Returns the blocks copied.
    pub async fn copy_into(&self, ipfs: &IpfsClient, root: Cid) -> usize {
        if ipfs.has_block(&root).await != Some(false) {
            return 0; // it has the root, or cannot be asked
        }
        let (mut queue, mut seen, mut copied) = (VecDeque::from([root]), HashSet::from([root]), 0);
        while let Some(cid) = queue.pop_front() {
            let Some(data) = self.fetch(cid).await else {
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
}

impl BlockSource for Exchange {
    fn fetch(&self, cid: Cid) -> BoxFuture<'static, Option<Bytes>> {
        let exchange = self.clone();
        Box::pin(async move { Exchange::fetch(&exchange, cid).await })
    }
}

/// Where this peer's own blocks are read when another member asks for one.
#[derive(Clone)]
pub enum LocalBlocks {
    /// The embedded node's store (local blocks only).
    Embedded(Blocks),
    /// An external daemon's `block/get`.
    Daemon(Box<IpfsClient>),
}

impl LocalBlocks {
    /// The block with the binary CID `cid`, if this peer's daemon has it.
    pub async fn get(&self, cid: &[u8]) -> Option<Bytes> {
        let cid = Cid::try_from(cid).ok()?;
        match self {
            Self::Embedded(blocks) => blocks.get_local(cid).await.ok(),
            Self::Daemon(ipfs) => ipfs.block_get(&cid).await,
        }
    }
}

/// The exchange copying into one external daemon: the tracker's content source.
pub struct CopyInto {
    /// Where the blocks come from.
    pub exchange: Exchange,
    /// Where they go.
    pub daemon: IpfsClient,
}

impl crate::tracker::ContentCopier for CopyInto {
    fn copy_into(&self, root: Cid) -> BoxFuture<'_, usize> {
        Box::pin(self.exchange.copy_into(&self.daemon, root))
    }
}
