//! CAR archives in and out of the node: `dag/import` stores every block of a CARv1 or CARv2,
//! `dag/export` writes the DAG below a root as a CARv1 in kubo's block order.
//!
//! # Where it sits
//! `rpc::car` parses the request and answers; the framing is `cairn_kubo::car` (iroh-car
//! underneath); blocks go to the [`Blockstore`] in batches like an `add`'s.
//!
//! # Invariants
//! - Every imported block hashes to its CID (checked before it is stored); one that does not,
//!   or one over the size limit, ends the import with kubo's `import failed at block …`.
//! - An import that fails keeps the blocks it stored before the failure unpinned (kubo's
//!   batches do the same): gc removes them. Pinning the roots is the caller's, afterwards.
//! - An export names one root and holds each block once, depth first, parent before its
//!   links, links in their order (go-car's selective writer, which kubo's `dag export` uses).
//!   Only DAG-PB links are followed (`dag::links`): a dag-cbor block is exported alone.

use std::collections::HashSet;

use bytes::Bytes;
use cairn_kubo::car;
use cid::Cid;
use futures::Stream;
use tokio::io::AsyncRead;

use crate::blockstore::Blockstore;
use crate::dag;
use crate::error::NodeError;
pub use crate::error::{ImportError, KUBO_MAX_BLOCK};
use crate::source::Blocks;

/// Blocks buffered before a (non-durable) write; the import's last write is durable.
const BATCH_BLOCKS: usize = 256;
/// Bytes buffered before a write.
const BATCH_BYTES: usize = 8 * 1024 * 1024;

/// What one request's CARs held.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// Every root the headers name, each once, in the order first named.
    pub roots: Vec<Cid>,
    /// Blocks read (a block present twice counts twice, as kubo's `BlockCount`).
    pub blocks: u64,
    /// Their bytes (kubo's `BlockBytesCount`).
    pub bytes: u64,
}

/// Stores every block of the CAR in `source` (CARv1 or CARv2), each checked against its CID
/// and `max_block`; adds its roots and counts to `into`.
pub async fn import<R: AsyncRead + Unpin>(
    store: &Blockstore,
    source: R,
    max_block: usize,
    into: &mut Imported,
) -> Result<(), NodeError> {
    let mut reader = car::Reader::new(source).await.map_err(ImportError::Header)?;
    for root in reader.roots() {
        if !into.roots.contains(root) {
            into.roots.push(*root);
        }
    }
    let mut batch = Batch::default();
    let mut previous = None;
    loop {
        let next = reader
            .next_block()
            .await
            .map_err(|source| ImportError::Section { previous, source })?;
        let Some((cid, data)) = next else { break };
        if data.len() > max_block {
            return Err(ImportError::TooBig {
                cid,
                limit: max_block,
            }
            .into());
        }
        dag::verify(&cid, &data).map_err(|_| ImportError::Mismatch(cid))?;
        into.blocks += 1;
        into.bytes += data.len() as u64;
        batch.push(store, cid, data).await?;
        previous = Some(cid);
    }
    batch.flush(store, true).await
}

/// Blocks waiting for one write.
#[derive(Default)]
struct Batch {
    blocks: Vec<(Cid, Bytes)>,
    bytes: usize,
}

impl Batch {
    async fn push(&mut self, store: &Blockstore, cid: Cid, data: Bytes) -> Result<(), NodeError> {
        self.bytes += data.len();
        self.blocks.push((cid, data));
        if self.blocks.len() >= BATCH_BLOCKS || self.bytes >= BATCH_BYTES {
            self.flush(store, false).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, store: &Blockstore, durable: bool) -> Result<(), NodeError> {
        let blocks = std::mem::take(&mut self.blocks);
        self.bytes = 0;
        store.run(move |s| s.put_many_with(&blocks, durable)).await
    }
}

/// The DAG below `root` as a CARv1, piece by piece: the header, then one section per block
/// (see the module's invariants for the order). A block that cannot be had ends the stream
/// with its error.
pub fn export(blocks: Blocks, root: Cid) -> impl Stream<Item = Result<Bytes, NodeError>> + Send {
    let walk = Walk {
        blocks,
        header: Some(root),
        stack: vec![root],
        seen: HashSet::new(),
    };
    futures::stream::try_unfold(walk, |mut walk| async move {
        let piece = walk.next().await?;
        Ok(piece.map(|piece| (piece, walk)))
    })
}

/// Where an export stands.
struct Walk {
    blocks: Blocks,
    /// The root to name in the header, until the header is written.
    header: Option<Cid>,
    /// Blocks still to visit, the next on top.
    stack: Vec<Cid>,
    seen: HashSet<Cid>,
}

impl Walk {
    async fn next(&mut self) -> Result<Option<Bytes>, NodeError> {
        if let Some(root) = self.header.take() {
            let header = car::header(&[root]).map_err(|e| NodeError::Unsupported(e.to_string()))?;
            return Ok(Some(header));
        }
        while let Some(cid) = self.stack.pop() {
            if !self.seen.insert(cid) {
                continue;
            }
            let data = self.blocks.get(cid).await?;
            let links = dag::links(&cid, &data)?;
            self.stack.extend(links.into_iter().rev());
            return Ok(Some(car::section(&cid, &data)));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests;
