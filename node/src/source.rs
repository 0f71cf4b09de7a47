//! Getting blocks: from the local store, or else from a [`BlockSource`] (other cluster peers).
//!
//! # Invariants
//! - A block from a source is verified against its CID before it is stored or used; a block
//!   that does not match is dropped and counts as missing.
//! - Without a source, or when the source has nothing, a missing block fails at once with
//!   kubo's offline error: the node never hangs waiting for content.

use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use futures::future::BoxFuture;

use crate::blockstore::Blockstore;
use crate::dag;
use crate::error::NodeError;

/// Somewhere to ask for blocks this node does not have (cairn-peer implements it over the
/// cluster's private network).
pub trait BlockSource: Send + Sync + 'static {
    /// The bytes of `cid`, if some peer has them. Unverified: the node checks them.
    fn fetch(&self, cid: Cid) -> BoxFuture<'static, Option<Bytes>>;
}

/// The store plus an optional source: every read of a block goes through here.
#[derive(Clone)]
pub struct Blocks {
    store: Blockstore,
    source: Option<Arc<dyn BlockSource>>,
}

impl std::fmt::Debug for Blocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocks")
            .field("store", &self.store)
            .field("source", &self.source.is_some())
            .finish()
    }
}

impl Blocks {
    /// Reads from `store`, falling back to `source`.
    pub fn new(store: Blockstore, source: Option<Arc<dyn BlockSource>>) -> Self {
        Self { store, source }
    }

    /// The local store.
    pub fn store(&self) -> &Blockstore {
        &self.store
    }

    /// The block `cid`, fetched from the source (and stored) when it is not local.
    pub async fn get(&self, cid: Cid) -> Result<Bytes, NodeError> {
        if let Some(found) = self.store.run(move |s| s.get(&cid)).await? {
            return Ok(found);
        }
        self.fetch(cid).await
    }

    /// The block `cid` from the local store only.
    pub async fn get_local(&self, cid: Cid) -> Result<Bytes, NodeError> {
        self.store
            .run(move |s| s.get(&cid))
            .await?
            .ok_or(NodeError::NotFound(cid))
    }

    async fn fetch(&self, cid: Cid) -> Result<Bytes, NodeError> {
        let source = self.source.as_ref().ok_or(NodeError::NotFound(cid))?;
        let data = source.fetch(cid).await.ok_or(NodeError::NotFound(cid))?;
        if dag::verify(&cid, &data).is_err() {
            tracing::warn!(%cid, "a block source sent bytes that do not match the CID; dropped");
            return Err(NodeError::NotFound(cid));
        }
        let stored = data.clone();
        self.store.run(move |s| s.put_many(&[(cid, stored)])).await?;
        Ok(data)
    }
}
