//! `add`: turns uploaded files and directories into UnixFS blocks with kubo's CIDs.
//!
//! # Where it sits
//! `rpc::add` parses the multipart upload and the options and feeds each part here in order;
//! this module chunks and hashes (rust-unixfs: size chunker, balanced layout with 174 links,
//! kubo's leaf rules), builds directories, writes blocks through [`BlockSink`] and reports
//! [`AddEvent`]s as kubo's adder would: progress while reading, a line per file when it is
//! done, a line per directory (children first) at the end.
//!
//! # Invariants
//! - Memory is bounded by one chunk plus one write batch per add, whatever the file size.
//! - Blocks are durable before the add reports its roots; `only_hash` stores nothing.
//!
//! # Not here
//! Pinning the roots (`rpc::add` does it after [`Importer::finish`], under the gc lock).

use std::collections::BTreeMap;

use bytes::Bytes;
use cid::{Cid, Version};
use multihash_codetable::Code;
use rust_unixfs::dir::builder::{BufferingTreeBuilder, TreeOptions};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::blockstore::Blockstore;
use crate::error::NodeError;

/// kubo's default chunk size.
pub const DEFAULT_CHUNK: usize = 256 * 1024;
/// kubo's largest block (`chunker=size-N` above this is refused).
pub const MAX_CHUNK: usize = 1024 * 1024;
/// Bytes of blocks written per store transaction.
const BATCH_BYTES: usize = 8 * 1024 * 1024;

/// How to import (kubo's `add` options that change the result).
#[derive(Clone, Debug)]
pub struct AddOptions {
    /// CID version of the nodes (0 by default).
    pub cid_version: Version,
    /// Raw leaves; `None` means kubo's default (on for CIDv1).
    pub raw_leaves: Option<bool>,
    /// Chunk size in bytes.
    pub chunk: usize,
    /// Multihash (a non-sha2-256 hash implies CIDv1, as in kubo).
    pub hash: Code,
    /// Wrap everything in one directory named "".
    pub wrap: bool,
    /// Compute CIDs without storing anything.
    pub only_hash: bool,
    /// Emit progress events.
    pub progress: bool,
}

impl Default for AddOptions {
    fn default() -> Self {
        Self {
            cid_version: Version::V0,
            raw_leaves: None,
            chunk: DEFAULT_CHUNK,
            hash: Code::Sha2_256,
            wrap: false,
            only_hash: false,
            progress: false,
        }
    }
}

/// What an add reports, in kubo's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddEvent {
    /// `bytes` of the file `name` have been read.
    Progress {
        /// The file's path.
        name: String,
        /// Bytes read so far.
        bytes: u64,
    },
    /// A file or directory is complete.
    Added {
        /// Its path ("" for the wrapping directory).
        name: String,
        /// Its root CID.
        cid: Cid,
        /// Cumulative DAG size in bytes.
        size: u64,
    },
}

/// Where imported blocks go: batched, and written by a blocking writer thread while the next
/// batch is hashed (at most [`WRITES_QUEUED`] batches wait, so memory stays bounded).
pub struct BlockSink {
    writer: Option<Writer>,
    batch: Vec<(Cid, Bytes)>,
    batch_bytes: usize,
}

struct Writer {
    queue: mpsc::Sender<(Vec<(Cid, Bytes)>, bool)>,
    done: JoinHandle<Result<(), NodeError>>,
}

/// Batches queued for the writer before hashing waits.
const WRITES_QUEUED: usize = 2;

impl BlockSink {
    /// Writes into `store`, or nowhere (`only-hash`).
    pub fn new(store: Option<Blockstore>) -> Self {
        let writer = store.map(|store| {
            let (queue, mut batches) = mpsc::channel::<(Vec<(Cid, Bytes)>, bool)>(WRITES_QUEUED);
            let done = tokio::task::spawn_blocking(move || {
                while let Some((batch, durable)) = batches.blocking_recv() {
                    store.put_many_with(&batch, durable)?;
                }
                Ok(())
            });
            Writer { queue, done }
        });
        Self {
            writer,
            batch: Vec::new(),
            batch_bytes: 0,
        }
    }

    pub(crate) async fn put(&mut self, cid: Cid, block: Bytes) -> Result<(), NodeError> {
        if self.writer.is_none() {
            return Ok(());
        }
        self.batch_bytes += block.len();
        self.batch.push((cid, block));
        if self.batch_bytes >= BATCH_BYTES {
            self.send(false).await?;
        }
        Ok(())
    }

    async fn send(&mut self, durable: bool) -> Result<(), NodeError> {
        let Some(writer) = &self.writer else {
            return Ok(());
        };
        let batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        if writer.queue.send((batch, durable)).await.is_err() {
            // The writer stopped on an error; finish() reports it.
            return self.finish().await;
        }
        Ok(())
    }

    /// Writes the last batch durably (making every earlier one durable too) and waits.
    pub async fn finish(&mut self) -> Result<(), NodeError> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let last = std::mem::take(&mut self.batch);
        let _ = writer.queue.send((last, true)).await;
        drop(writer.queue);
        writer
            .done
            .await
            .map_err(|e| NodeError::Store(format!("block writer failed: {e}")))?
    }
}

/// One add request: files, directories, and the roots they make.
pub struct Importer {
    opts: AddOptions,
    /// Directory trees by top-level name (one tree named "" when wrapping).
    trees: BTreeMap<String, BufferingTreeBuilder>,
    roots: Vec<Cid>,
    /// The sink blocks go to.
    pub sink: BlockSink,
}

impl Importer {
    /// Starts an add writing into `store` (ignored with `only_hash`).
    pub fn new(opts: AddOptions, store: Blockstore) -> Self {
        let store = (!opts.only_hash).then_some(store);
        Self {
            opts,
            trees: BTreeMap::new(),
            roots: Vec::new(),
            sink: BlockSink::new(store),
        }
    }

    /// The options of this add.
    pub fn options(&self) -> &AddOptions {
        &self.opts
    }

    /// Records a finished file.
    pub fn file_done(&mut self, path: &str, cid: Cid, size: u64) -> Result<(), NodeError> {
        match self.tree_for(path) {
            Some(tree) => tree.put_link(path, cid, size).map_err(tree_err),
            None => {
                self.roots.push(cid);
                Ok(())
            }
        }
    }

    /// Records a directory part (so empty directories exist too; a top-level one is a root).
    pub fn directory(&mut self, path: &str) -> Result<(), NodeError> {
        if path.is_empty() {
            return Ok(());
        }
        let options = self.tree_options();
        let tree = match self.tree_for(path) {
            Some(tree) => tree,
            None => self
                .trees
                .entry(path.to_owned())
                .or_insert_with(|| BufferingTreeBuilder::new(options)),
        };
        tree.set_metadata(path, Default::default()).map_err(tree_err)
    }

    /// Builds the directories, makes all blocks durable; returns the directory events and
    /// every root (top-level files and directories, or the wrapping directory).
    pub async fn finish(mut self) -> Result<(Vec<AddEvent>, Vec<Cid>), NodeError> {
        let mut events = Vec::new();
        if self.opts.wrap && self.trees.is_empty() {
            self.trees
                .insert(String::new(), BufferingTreeBuilder::new(self.tree_options()));
        }
        for (_, tree) in std::mem::take(&mut self.trees) {
            let mut last = None;
            for node in tree.build() {
                let node = node.map_err(|e| NodeError::Unsupported(e.to_string()))?;
                self.sink
                    .put(node.cid, Bytes::from(node.block.into_vec()))
                    .await?;
                events.push(AddEvent::Added {
                    name: node.path,
                    cid: node.cid,
                    size: node.total_size,
                });
                last = Some(node.cid);
            }
            self.roots.extend(last);
        }
        self.sink.finish().await?;
        if self.opts.wrap {
            self.roots.clear();
            if let Some(AddEvent::Added { cid, .. }) = events.last() {
                self.roots.push(*cid);
            }
        }
        Ok((events, self.roots))
    }

    /// The tree `path` belongs to, if it belongs to one.
    fn tree_for(&mut self, path: &str) -> Option<&mut BufferingTreeBuilder> {
        let options = self.tree_options();
        let key = if self.opts.wrap {
            String::new()
        } else {
            match path.split_once('/') {
                Some((top, _)) => top.to_owned(),
                None => return None,
            }
        };
        Some(
            self.trees
                .entry(key)
                .or_insert_with(|| BufferingTreeBuilder::new(options)),
        )
    }

    fn tree_options(&self) -> TreeOptions {
        let mut options = TreeOptions::default();
        let version = if self.opts.hash == Code::Sha2_256 {
            self.opts.cid_version
        } else {
            Version::V1
        };
        options.cid_version(version);
        options.hasher(self.opts.hash);
        if self.opts.wrap {
            options.wrap_with_directory();
        }
        options
    }
}

fn tree_err(err: rust_unixfs::dir::builder::TreeBuildingFailed) -> NodeError {
    NodeError::BadOption(err.to_string())
}

/// A multipart filename as a path inside the add: percent-decoded, no leading `/`, no empty,
/// `.` or `..` segments.
pub fn clean_path(raw: &str) -> Result<String, NodeError> {
    let decoded: String = form_urlencoded::parse(format!("p={}", raw.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let segments: Vec<&str> = decoded
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    if segments.contains(&"..") {
        return Err(NodeError::BadOption(format!(
            "invalid file path {raw:?}: '..' is not allowed"
        )));
    }
    Ok(segments.join("/"))
}
