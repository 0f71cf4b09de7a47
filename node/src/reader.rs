//! Reading UnixFS: `cat` byte ranges of files and `resolve` paths through directories.
//!
//! # Invariants
//! - A file is streamed block by block in order; at most one block is held at a time.
//! - A read never sends more bytes than the length it announced.
//! - Every block comes through [`Blocks`], so a missing one is fetched or fails at once.
//! - Every DAG-PB block goes through [`FileWalk`] before rust-unixfs reads it: sizes that
//!   would overflow are an error, and a walk with nothing left in range ends.

use bytes::Bytes;
use cid::Cid;
use rust_unixfs::file::FileReadFailed;
use rust_unixfs::file::visit::{FileVisit, IdleFileVisit};
use tokio::sync::mpsc;

use crate::dag;
use crate::error::NodeError;
use crate::source::Blocks;
use crate::unixfs::FileWalk;

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
    let mut guard = FileWalk::new(offset..end);
    let (first, size, next) = if cid.codec() == dag::RAW {
        let (content, size, _, next) = visit.start_from_raw(&root);
        (content.to_vec(), size, next)
    } else {
        guard.root(&cid, &root)?;
        let (content, size, _, next) = visit.start(&root).map_err(|e| read_failed(cid, e))?;
        (content.to_vec(), size, next)
    };
    let length = size.min(end).saturating_sub(offset);
    let (tx, chunks) = mpsc::channel(4);
    let mut out = Out { tx, left: length };
    tokio::spawn(async move {
        if !out.send(&first).await {
            return;
        }
        if let Some(walk) = next
            && let Err(e) = stream(&blocks, walk, guard, &mut out).await
        {
            let _ = out.tx.send(Err(e)).await;
        }
    });
    Ok(Cat { length, chunks })
}

/// Where `cat` sends a file's bytes: never more than the length it announced (a lying node
/// can hold more data than its file size says).
struct Out {
    tx: mpsc::Sender<Result<Bytes, NodeError>>,
    left: u64,
}

impl Out {
    /// Sends what of `content` fits; false once nothing more will (all sent, or no reader).
    async fn send(&mut self, content: &[u8]) -> bool {
        let fits = content
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if fits > 0
            && self
                .tx
                .send(Ok(Bytes::copy_from_slice(&content[..fits])))
                .await
                .is_err()
        {
            return false;
        }
        self.left -= fits as u64;
        self.left > 0
    }
}

async fn stream(
    blocks: &Blocks,
    mut walk: FileVisit,
    mut guard: FileWalk,
    out: &mut Out,
) -> Result<(), NodeError> {
    let mut cache = None;
    loop {
        let next = *walk.pending_links().0;
        let block = blocks.get(next).await?;
        guard.next(&next, &block)?;
        let (content, more) = walk
            .continue_walk(&block, &mut cache)
            .map_err(|e| read_failed(next, e))?;
        if !out.send(content).await {
            return Ok(());
        }
        match more {
            Some(rest) if !guard.is_done() => walk = rest,
            _ => return Ok(()),
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

#[cfg(test)]
mod tests {
    use cid::Version;
    use multihash_codetable::Code;

    use super::*;
    use crate::Blockstore;

    /// A PB node: UnixFS `Data { Type: File, filesize, blocksizes }` over `links`.
    fn file_node(filesize: u8, blocksizes: &[u8], links: &[Cid]) -> (Cid, Bytes) {
        let mut data = vec![0x08, 0x02, 0x18, filesize];
        for size in blocksizes {
            data.extend([0x20, *size]);
        }
        let links = links
            .iter()
            .map(|cid| ipld_dagpb::PbLink {
                cid: *cid,
                name: Some(String::new()),
                size: None,
            })
            .collect();
        let block = ipld_dagpb::PbNode {
            links,
            data: Some(Bytes::from(data)),
        }
        .into_bytes();
        let cid = dag::cid_of(Version::V1, dag::DAG_PB, Code::Sha2_256, &block).expect("cid");
        (cid, Bytes::from(block))
    }

    /// A node holding more data than its file size says (here 4 bytes, `filesize: 1`) sends
    /// only the length `cat` announced; it sent them all. Found by `props::dag`.
    #[tokio::test]
    async fn a_read_never_sends_more_than_it_announced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Blockstore::open(&dir.path().join("b.redb")).expect("open");
        // PBNode { Data: UnixFs { Type: Raw, Data: "abcd", filesize: 1 } }
        let data = Bytes::from_static(&[0x08, 0x00, 0x12, 0x04, b'a', b'b', b'c', b'd', 0x18, 0x01]);
        let block = Bytes::from(
            ipld_dagpb::PbNode {
                links: Vec::new(),
                data: Some(data),
            }
            .into_bytes(),
        );
        let cid = dag::cid_of(Version::V1, dag::DAG_PB, Code::Sha2_256, &block).expect("cid");
        store.put_many(&[(cid, block)]).expect("put");
        let mut cat = cat(Blocks::new(store, None), cid, 0, None).await.expect("cat");
        assert_eq!(cat.length, 1);
        let mut read = Vec::new();
        while let Some(chunk) = cat.chunks.recv().await {
            read.extend_from_slice(&chunk.expect("no error"));
        }
        assert_eq!(read, b"a");
    }

    /// A branch whose children all lie outside the range read (its one child covers 5..10 of
    /// the 5..15 its parent gives it; the read starts at 12) ends the walk. rust-unixfs then
    /// returns a walk with nothing pending, whose `pending_links` panicked (in release builds
    /// too, inside `cat`'s task). Found by `props::dag`.
    #[tokio::test]
    async fn a_branch_with_nothing_in_the_range_read_ends_the_walk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Blockstore::open(&dir.path().join("b.redb")).expect("open");
        let leaf = dag::cid_of(Version::V1, dag::RAW, Code::Sha2_256, b"abcde").expect("cid");
        let (branch, branch_block) = file_node(5, &[5], &[leaf]);
        let (root, root_block) = file_node(15, &[5, 10], &[leaf, branch]);
        let blocks = [(leaf, Bytes::from_static(b"abcde")), (branch, branch_block)];
        store.put_many(&blocks).expect("put");
        let range = 12..u64::MAX;
        let mut guard = FileWalk::new(range.clone());
        guard.root(&root, &root_block).expect("admitted");
        let visit = IdleFileVisit::default().with_target_range(range);
        let (_, _, _, walk) = visit.start(&root_block).expect("a file");
        let (tx, mut rx) = mpsc::channel(4);
        let mut out = Out { tx, left: 3 };
        let blocks = Blocks::new(store, None);
        stream(&blocks, walk.expect("the branch is pending"), guard, &mut out)
            .await
            .expect("the walk ends");
        drop(out);
        assert!(rx.recv().await.is_none(), "nothing in range");
    }
}
