//! Blocks and pins on disk: one redb file per node.
//!
//! # Where it sits
//! Below everything else in the node: the importer writes blocks, `pins` records pins, `gc`
//! removes blocks, the RPC layer reads. All calls block on disk I/O; async callers go through
//! [`Blockstore::run`], which moves the work onto tokio's blocking pool.
//!
//! # Invariants
//! - A stored block always hashes to its CID (checked by callers that accept outside bytes,
//!   see `dag::verify`); keys are the CID's binary form, so CIDv0 and CIDv1 of the same bytes
//!   are different keys, as in kubo's blockstore keyed by CID.
//! - The object count and total size in `META` change in the same transaction as the blocks,
//!   so `repo/stat` never walks the store.
//! - Writes are durable when the call returns (fsync per transaction); importers batch blocks.
//!
//! # Not here
//! What is pinned recursively (walks are in `pins`), HTTP.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::error::{NodeError, store};

const BLOCKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("blocks");
const PINS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("pins");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const COUNT: &str = "block_count";
/// redb's page cache (its default is 1 GiB; blocks are written once and read rarely, so a
/// large cache only makes the node's memory grow with the data).
const CACHE_BYTES: usize = 64 * 1024 * 1024;
const SIZE: &str = "block_bytes";

/// How a CID is pinned (kubo's `direct` and `recursive`; `indirect` is derived, never stored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinMode {
    /// Only this block.
    Direct,
    /// This block and everything it links to.
    Recursive,
}

impl PinMode {
    /// kubo's word for the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Recursive => "recursive",
        }
    }
}

/// A stored pin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRecord {
    /// Direct or recursive.
    pub mode: PinMode,
    /// kubo's pin name (empty when none).
    #[serde(default)]
    pub name: String,
}

/// The block and pin database of one node.
#[derive(Clone, Debug)]
pub struct Blockstore {
    db: Arc<Database>,
}

impl Blockstore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, NodeError> {
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(store)?;
        let txn = db.begin_write().map_err(store)?;
        txn.open_table(BLOCKS).map_err(store)?;
        txn.open_table(PINS).map_err(store)?;
        txn.open_table(META).map_err(store)?;
        txn.commit().map_err(store)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Runs blocking store work on tokio's blocking pool.
    pub async fn run<T, F>(&self, work: F) -> Result<T, NodeError>
    where
        T: Send + 'static,
        F: FnOnce(&Blockstore) -> Result<T, NodeError> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || work(&this))
            .await
            .map_err(|e| NodeError::Store(format!("blockstore task failed: {e}")))?
    }

    /// Stores `blocks` in one durable transaction; already-present blocks are left as they are.
    pub fn put_many(&self, blocks: &[(Cid, Bytes)]) -> Result<(), NodeError> {
        self.put_many_with(blocks, true)
    }

    /// Stores `blocks`; when not `durable`, they reach the disk with the next durable commit
    /// (an importer writes its batches this way and makes the last one durable).
    pub fn put_many_with(&self, blocks: &[(Cid, Bytes)], durable: bool) -> Result<(), NodeError> {
        let mut txn = self.db.begin_write().map_err(store)?;
        if !durable {
            txn.set_durability(redb::Durability::None).map_err(store)?;
        }
        put_in(&txn, blocks)?;
        txn.commit().map_err(store)
    }

    /// The block stored under `cid`, if any.
    pub fn get(&self, cid: &Cid) -> Result<Option<Bytes>, NodeError> {
        let txn = self.db.begin_read().map_err(store)?;
        let table = txn.open_table(BLOCKS).map_err(store)?;
        let found = table.get(cid.to_bytes().as_slice()).map_err(store)?;
        Ok(found.map(|v| Bytes::copy_from_slice(v.value())))
    }

    /// Whether `cid` is stored.
    pub fn has(&self, cid: &Cid) -> Result<bool, NodeError> {
        let txn = self.db.begin_read().map_err(store)?;
        let table = txn.open_table(BLOCKS).map_err(store)?;
        Ok(table.get(cid.to_bytes().as_slice()).map_err(store)?.is_some())
    }

    /// Removes the blocks in `cids`; returns the ones that were present.
    pub fn remove_many(&self, cids: &[Cid]) -> Result<Vec<Cid>, NodeError> {
        let txn = self.db.begin_write().map_err(store)?;
        let removed = remove_in(&txn, cids)?;
        txn.commit().map_err(store)?;
        Ok(removed)
    }

    /// Number of blocks and their total size in bytes.
    pub fn usage(&self) -> Result<(u64, u64), NodeError> {
        let txn = self.db.begin_read().map_err(store)?;
        let meta = txn.open_table(META).map_err(store)?;
        let read = |key| -> Result<u64, NodeError> {
            Ok(meta.get(key).map_err(store)?.map(|v| v.value()).unwrap_or(0))
        };
        Ok((read(COUNT)?, read(SIZE)?))
    }

    /// Every stored CID (for `refs/local` and gc; CIDs only, never the blocks).
    pub fn cids(&self) -> Result<Vec<Cid>, NodeError> {
        let txn = self.db.begin_read().map_err(store)?;
        let table = txn.open_table(BLOCKS).map_err(store)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(store)? {
            let (key, _) = entry.map_err(store)?;
            out.push(Cid::try_from(key.value()).map_err(store)?);
        }
        Ok(out)
    }

    /// Records a pin on `cid` in one transaction with kubo's rules: a direct pin never
    /// replaces a recursive one (error), a recursive pin replaces a direct one, and pinning
    /// again keeps the existing name unless a new one is given.
    pub fn upsert_pin(&self, cid: &Cid, record: &PinRecord) -> Result<(), NodeError> {
        let txn = self.db.begin_write().map_err(store)?;
        {
            let mut pins = txn.open_table(PINS).map_err(store)?;
            let key = cid.to_bytes();
            let old = pins
                .get(key.as_slice())
                .map_err(store)?
                .map(|v| decode_pin(v.value()))
                .transpose()?;
            let mut new = record.clone();
            if let Some(old) = old {
                if old.mode == PinMode::Recursive && new.mode == PinMode::Direct {
                    return Err(NodeError::Unsupported(format!(
                        "pin: {cid} already pinned recursively"
                    )));
                }
                if new.name.is_empty() {
                    new.name = old.name;
                }
            }
            let value = serde_json::to_vec(&new).map_err(store)?;
            pins.insert(key.as_slice(), value.as_slice()).map_err(store)?;
        }
        txn.commit().map_err(store)
    }

    /// Removes the pin on `cid`; returns what it was.
    pub fn remove_pin(&self, cid: &Cid) -> Result<Option<PinRecord>, NodeError> {
        let txn = self.db.begin_write().map_err(store)?;
        let old = {
            let mut pins = txn.open_table(PINS).map_err(store)?;
            let old = pins.remove(cid.to_bytes().as_slice()).map_err(store)?;
            old.map(|v| decode_pin(v.value())).transpose()?
        };
        txn.commit().map_err(store)?;
        Ok(old)
    }

    /// The pin on `cid`, if any.
    pub fn pin(&self, cid: &Cid) -> Result<Option<PinRecord>, NodeError> {
        let txn = self.db.begin_read().map_err(store)?;
        let pins = txn.open_table(PINS).map_err(store)?;
        let found = pins.get(cid.to_bytes().as_slice()).map_err(store)?;
        found.map(|v| decode_pin(v.value())).transpose()
    }

    /// Every pin, in CID byte order.
    pub fn pins(&self) -> Result<Vec<(Cid, PinRecord)>, NodeError> {
        let txn = self.db.begin_read().map_err(store)?;
        let pins = txn.open_table(PINS).map_err(store)?;
        let mut out = Vec::new();
        for entry in pins.iter().map_err(store)? {
            let (key, value) = entry.map_err(store)?;
            let cid = Cid::try_from(key.value()).map_err(store)?;
            out.push((cid, decode_pin(value.value())?));
        }
        Ok(out)
    }
}

fn decode_pin(bytes: &[u8]) -> Result<PinRecord, NodeError> {
    serde_json::from_slice(bytes).map_err(store)
}

fn put_in(txn: &WriteTransaction, blocks: &[(Cid, Bytes)]) -> Result<(), NodeError> {
    let mut table = txn.open_table(BLOCKS).map_err(store)?;
    let (mut added, mut bytes) = (0u64, 0u64);
    for (cid, data) in blocks {
        let key = cid.to_bytes();
        if table.get(key.as_slice()).map_err(store)?.is_none() {
            table.insert(key.as_slice(), data.as_ref()).map_err(store)?;
            added += 1;
            bytes += data.len() as u64;
        }
    }
    drop(table);
    adjust(txn, added as i64, bytes as i64)
}

fn remove_in(txn: &WriteTransaction, cids: &[Cid]) -> Result<Vec<Cid>, NodeError> {
    let mut table = txn.open_table(BLOCKS).map_err(store)?;
    let (mut removed, mut bytes) = (Vec::new(), 0u64);
    for cid in cids {
        if let Some(old) = table.remove(cid.to_bytes().as_slice()).map_err(store)? {
            bytes += old.value().len() as u64;
            removed.push(*cid);
        }
    }
    drop(table);
    adjust(txn, -(removed.len() as i64), -(bytes as i64))?;
    Ok(removed)
}

fn adjust(txn: &WriteTransaction, count: i64, bytes: i64) -> Result<(), NodeError> {
    let mut meta = txn.open_table(META).map_err(store)?;
    for (key, delta) in [(COUNT, count), (SIZE, bytes)] {
        let now = meta.get(key).map_err(store)?.map(|v| v.value()).unwrap_or(0);
        meta.insert(key, now.saturating_add_signed(delta))
            .map_err(store)?;
    }
    Ok(())
}
