//! Reading UnixFS: `cat` byte ranges of files and `resolve` paths through directories.
//!
//! # Invariants
//! - A file is streamed block by block in order; at most one block is held at a time.
//! - Every block comes through [`Blocks`], so a missing one is fetched or fails at once.

use bytes::Bytes;
use cid::Cid;
use rust_unixfs::file::FileReadFailed;
use rust_unixfs::file::visit::{FileVisit, IdleFileVisit};
use tokio::sync::mpsc;

use crate::dag;
use crate::error::NodeError;
use crate::source::Blocks;

/// A file read that has begun: its size is known, its bytes follow on a channel.
#[derive(Debug)]
pub struct Cat {
    /// How many bytes the range will yield.
    pub length: u64,
    /// The bytes, in order; an error ends the stream.
    pub chunks: mpsc::Receiver<Result<Bytes, NodeError>>,
}

/// Starts reading `length` bytes (all when `None`) of the file `cid` from `offset`.
pub async fn cat(blocks: Blocks, cid: Cid, offset: u64, length: Option<u64>) -> Result<Cat, NodeError> {
    let root = blocks.get(cid).await?;
    let end = length.map_or(u64::MAX, |l| offset.saturating_add(l));
    let visit = IdleFileVisit::default().with_target_range(offset..end);
    let (first, size, next) = if cid.codec() == dag::RAW {
        let (content, size, _, next) = visit.start_from_raw(&root);
        (Bytes::copy_from_slice(content), size, next)
    } else {
        let (content, size, _, next) = visit.start(&root).map_err(|e| read_failed(cid, e))?;
        (Bytes::copy_from_slice(content), size, next)
    };
    let length = size.min(end).saturating_sub(offset);
    let (tx, chunks) = mpsc::channel(4);
    tokio::spawn(async move {
        if !first.is_empty() && tx.send(Ok(first)).await.is_err() {
            return;
        }
        if let Some(walk) = next
            && let Err(e) = stream(&blocks, walk, &tx).await
        {
            let _ = tx.send(Err(e)).await;
        }
    });
    Ok(Cat { length, chunks })
}

async fn stream(
    blocks: &Blocks,
    mut walk: FileVisit,
    tx: &mpsc::Sender<Result<Bytes, NodeError>>,
) -> Result<(), NodeError> {
    let mut cache = None;
    loop {
        let next = *walk.pending_links().0;
        let block = blocks.get(next).await?;
        let (content, more) = walk
            .continue_walk(&block, &mut cache)
            .map_err(|e| read_failed(next, e))?;
        if !content.is_empty() && tx.send(Ok(Bytes::copy_from_slice(content))).await.is_err() {
            return Ok(());
        }
        match more {
            Some(rest) => walk = rest,
            None => return Ok(()),
        }
    }
}

fn read_failed(cid: Cid, err: FileReadFailed) -> NodeError {
    match err {
        FileReadFailed::UnexpectedType(t) if t.is_directory() => {
            NodeError::Unsupported("this dag node is a directory".into())
        }
        other => NodeError::Unsupported(format!("cannot read {cid} as a file: {other}")),
    }
}

/// Follows `path` (names of DAG-PB links) from `root`; returns the CID it ends at.
pub async fn resolve(blocks: &Blocks, root: Cid, path: &[String]) -> Result<Cid, NodeError> {
    let mut at = root;
    for name in path {
        let block = blocks.get(at).await?;
        let links = dag::named_links(&at, block)?;
        at = links
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, cid)| cid)
            .ok_or_else(|| NodeError::Unsupported(format!("no link named {name:?} under {at}")))?;
    }
    Ok(at)
}
