//! One file of an `add`: cut into chunks, leaves built and hashed on the blocking pool in
//! parallel (hashing is most of an add's CPU), the balanced tree built over the leaves at the
//! end with rust-unixfs's `build_file_from_leaves`, byte-identical to its `FileAdder`.
//!
//! # Invariants
//! - Leaves reach the sink in file order; at most [`HASHING`] chunks are in flight, so memory
//!   stays at a few chunks whatever the file size.
//! - Only the leaves' links (CID and sizes, ~100 bytes per chunk) are kept for the tree.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use cid::{Cid, Version};
use multihash_codetable::Code;
use rust_unixfs::file::adder::{Chunker, FileAdder, FileBranchLink, build_file_from_leaves};
use tokio::task::JoinHandle;

use crate::dag;
use crate::error::NodeError;
use crate::importer::{AddEvent, AddOptions, BlockSink, Importer};

/// Chunks hashed at once.
const HASHING: usize = 4;
/// Progress lines come every this many bytes of a file (kubo's progressReaderIncrement).
const PROGRESS_STEP: u64 = 256 * 1024;

/// How leaves and branches are made (kubo's rules: raw leaves by default for CIDv1, and a
/// hash other than sha2-256 implies CIDv1).
#[derive(Clone, Copy, Debug)]
struct Layout {
    chunk: usize,
    version: Version,
    raw_leaves: bool,
    hash: Code,
}

impl Layout {
    fn of(opts: &AddOptions) -> Self {
        let version = if opts.hash == Code::Sha2_256 {
            opts.cid_version
        } else {
            Version::V1
        };
        Self {
            chunk: opts.chunk,
            version,
            raw_leaves: opts.raw_leaves.unwrap_or(version == Version::V1),
            hash: opts.hash,
        }
    }
}

/// A leaf: its CID, its block, and the file bytes it holds.
struct Leaf {
    cid: Cid,
    block: Bytes,
    content: u64,
}

/// One file being imported.
pub struct FileImport {
    name: String,
    layout: Layout,
    pending: BytesMut,
    hashing: VecDeque<JoinHandle<Result<Leaf, NodeError>>>,
    leaves: Vec<FileBranchLink>,
    read: u64,
    reported: Option<u64>,
}

impl FileImport {
    pub(crate) fn new(name: &str, opts: &AddOptions) -> Self {
        Self {
            name: name.to_owned(),
            layout: Layout::of(opts),
            pending: BytesMut::new(),
            hashing: VecDeque::new(),
            leaves: Vec::new(),
            read: 0,
            reported: None,
        }
    }

    /// Feeds file bytes; returns the progress events they cause.
    pub async fn push(
        &mut self,
        sink: &mut BlockSink,
        data: &[u8],
        progress: bool,
    ) -> Result<Vec<AddEvent>, NodeError> {
        let before = self.read;
        self.pending.extend_from_slice(data);
        self.read += data.len() as u64;
        while self.pending.len() >= self.layout.chunk {
            let piece = self.pending.split_to(self.layout.chunk).freeze();
            self.start(sink, piece).await?;
        }
        let crossed = self.read / PROGRESS_STEP > before / PROGRESS_STEP;
        Ok(if progress && crossed {
            vec![self.report()]
        } else {
            Vec::new()
        })
    }

    /// Finishes the file; returns its last events (final progress, then the file line), its
    /// root and its cumulative size.
    pub async fn finish(
        mut self,
        sink: &mut BlockSink,
        progress: bool,
    ) -> Result<(Vec<AddEvent>, Cid, u64), NodeError> {
        let mut events = Vec::new();
        if progress && self.reported != Some(self.read) {
            events.push(self.report());
        }
        if !self.pending.is_empty() || (self.leaves.is_empty() && self.hashing.is_empty()) {
            let last = self.pending.split().freeze();
            self.start(sink, last).await?;
        }
        while !self.hashing.is_empty() {
            self.collect(sink).await?;
        }
        let (cid, size, branches) =
            build_file_from_leaves(&self.leaves, self.layout.version, self.layout.hash);
        for (branch, block) in branches {
            sink.put(branch, Bytes::from(block)).await?;
        }
        events.push(AddEvent::Added {
            name: self.name.clone(),
            cid,
            size,
        });
        Ok((events, cid, size))
    }

    async fn start(&mut self, sink: &mut BlockSink, piece: Bytes) -> Result<(), NodeError> {
        if self.hashing.len() >= HASHING {
            self.collect(sink).await?;
        }
        let layout = self.layout;
        self.hashing
            .push_back(tokio::task::spawn_blocking(move || leaf(layout, piece)));
        Ok(())
    }

    async fn collect(&mut self, sink: &mut BlockSink) -> Result<(), NodeError> {
        let Some(next) = self.hashing.pop_front() else {
            return Ok(());
        };
        let leaf = next
            .await
            .map_err(|e| NodeError::Unsupported(format!("hashing failed: {e}")))??;
        self.leaves.push(FileBranchLink {
            cid: leaf.cid,
            blocksize: leaf.content,
            tsize: leaf.block.len() as u64,
        });
        sink.put(leaf.cid, leaf.block).await
    }

    fn report(&mut self) -> AddEvent {
        self.reported = Some(self.read);
        AddEvent::Progress {
            name: self.name.clone(),
            bytes: self.read,
        }
    }
}

/// The leaf for one chunk: the chunk itself as a raw block, or a UnixFS file node holding it
/// (made by rust-unixfs, so it is byte-identical to a leaf of its `FileAdder`).
fn leaf(layout: Layout, data: Bytes) -> Result<Leaf, NodeError> {
    let content = data.len() as u64;
    if layout.raw_leaves {
        let cid = dag::cid_of(Version::V1, dag::RAW, layout.hash, &data)?;
        return Ok(Leaf {
            cid,
            block: data,
            content,
        });
    }
    let mut adder = FileAdder::builder()
        .with_chunker(Chunker::Size(layout.chunk))
        .with_cid_version(layout.version)
        .with_raw_leaves(false)
        .with_hasher(layout.hash)
        .build();
    let mut blocks: Vec<(Cid, Vec<u8>)> = Vec::new();
    let mut rest: &[u8] = &data;
    while !rest.is_empty() {
        let (made, used) = adder.push(rest);
        blocks.extend(made);
        rest = &rest[used..];
    }
    blocks.extend(adder.finish());
    if blocks.len() != 1 {
        let made = blocks.len();
        return Err(NodeError::Unsupported(format!(
            "a chunk made {made} blocks instead of one leaf"
        )));
    }
    let (cid, block) = blocks.remove(0);
    Ok(Leaf {
        cid,
        block: Bytes::from(block),
        content,
    })
}

impl Importer {
    /// Begins the file at `path` (already cleaned by `importer::clean_path`).
    pub fn file(&self, path: &str) -> FileImport {
        FileImport::new(path, self.options())
    }
}
