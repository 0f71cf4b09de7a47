//! The shared pinset as stored on this peer: a redb table of [`Pin`]s keyed by CID bytes.
//!
//! # Where it sits
//! Consensus applies committed [`PinOp`]s with [`apply`] inside its own write transaction, so
//! the pinset and the applied log index change together (`consensus::state_machine`). Reads
//! (`pin ls`, REST, export) open their own read transactions and never block writers.
//!
//! # Invariants
//! - The database carries [`FORMAT_VERSION`]; [`open`] refuses a newer one with a clear message
//!   instead of misreading it.
//! - Listing streams from a read transaction ([`Pins`]): a million pins are never collected.
//!
//! # Not here
//! Whether a pin is allowed (api::validate) and who holds it (allocator, tracker).

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use cid::Cid;
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};

use crate::api::Pin;

/// redb's page cache for the pinset (its default is 1 GiB, which a big pinset fills and keeps:
/// memory would grow with the pinset instead of staying bounded).
const CACHE_BYTES: usize = 128 * 1024 * 1024;

/// Pins read at a time by [`PinStore::pages`].
pub const LISTING_PAGE: usize = 512;

/// The on-disk format this build reads and writes.
pub const FORMAT_VERSION: u64 = 1;

pub(crate) const PINS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("pins");
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("state_meta");
const VERSION_KEY: &str = "format_version";

/// A change to the pinset, as carried in the Raft log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PinOp {
    /// Adds or replaces a pin (boxed: a pin is large next to an unpin).
    Pin(Box<Pin>),
    /// Removes a pin.
    Unpin(#[serde(with = "cid_bytes")] Cid),
    /// Several operations proposed together (group commit); applied in order.
    Batch(Vec<PinOp>),
}

impl PinOp {
    /// An upper bound of its encoded size (see [`Pin::encoded_bound`]).
    pub fn encoded_bound(&self) -> usize {
        match self {
            PinOp::Pin(pin) => pin.encoded_bound(),
            PinOp::Unpin(_) => 128,
            PinOp::Batch(ops) => 16 + ops.iter().map(|op| 8 + op.encoded_bound()).sum::<usize>(),
        }
    }
}

/// What applying a [`PinOp`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Applied {
    /// The pin is stored.
    Pinned,
    /// The pin was removed.
    Unpinned,
    /// Unpin of a CID that was not in the pinset; nothing changed.
    NotPinned,
    /// The outcomes of a [`PinOp::Batch`], in order.
    Batch(Vec<Applied>),
}

/// Applied changes, for whoever follows the pinset (the tracker); bounded: a follower that
/// falls [`FEED_CAPACITY`] batches behind is told it lagged and rereads the pinset.
pub type Feed = tokio::sync::broadcast::Sender<Arc<[Change]>>;

/// Batches the feed holds for a slow follower.
pub const FEED_CAPACITY: usize = 1024;

/// One applied change, as the state machine's feed announces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The pin is stored (new, or replaced: other allocations, options).
    Pinned(Box<Pin>),
    /// The pin of this CID is gone.
    Unpinned(Cid),
    /// The whole pinset was replaced (a snapshot was installed): reread it.
    Reset,
}

impl Change {
    /// Appends what applying `op` changes to `out` (batches flattened, in order).
    pub fn collect(op: &PinOp, out: &mut Vec<Change>) {
        match op {
            PinOp::Pin(pin) => out.push(Change::Pinned(pin.clone())),
            PinOp::Unpin(cid) => out.push(Change::Unpinned(*cid)),
            PinOp::Batch(ops) => ops.iter().for_each(|op| Change::collect(op, out)),
        }
    }
}

/// Why the pinset could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The database is in a format from a newer Cairn.
    #[error(
        "the state in {path} has format version {found}, newer than this cairn supports ({FORMAT_VERSION}); upgrade cairn"
    )]
    FutureVersion {
        /// The database file.
        path: String,
        /// The version found.
        found: u64,
    },
    /// redb failed.
    #[error("state database: {0}")]
    Db(String),
    /// A stored or imported pin does not decode.
    #[error("invalid pin record: {0}")]
    Decode(String),
    /// Reading or writing an export failed.
    #[error("state export/import: {0}")]
    Io(#[from] std::io::Error),
}

/// Converts any redb error into [`StateError::Db`].
pub(crate) fn db<E: std::fmt::Display>(err: E) -> StateError {
    StateError::Db(err.to_string())
}

/// Opens (or creates) the database at `path` and checks its format version.
pub fn open(path: &Path) -> Result<Arc<Database>, StateError> {
    let database = redb::Builder::new()
        .set_cache_size(CACHE_BYTES)
        .create(path)
        .map_err(db)?;
    let txn = database.begin_write().map_err(db)?;
    {
        let mut meta = txn.open_table(META).map_err(db)?;
        let found = meta.get(VERSION_KEY).map_err(db)?.map(|v| decode_u64(v.value()));
        match found {
            Some(found) if found > FORMAT_VERSION => {
                return Err(StateError::FutureVersion {
                    path: path.display().to_string(),
                    found,
                });
            }
            Some(_) => {}
            None => {
                meta.insert(VERSION_KEY, FORMAT_VERSION.to_be_bytes().as_slice())
                    .map_err(db)?;
            }
        }
        txn.open_table(PINS).map_err(db)?;
    }
    txn.commit().map_err(db)?;
    Ok(Arc::new(database))
}

fn decode_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(u64::MAX)
}

/// Applies one operation inside `txn`.
pub fn apply(txn: &WriteTransaction, op: &PinOp) -> Result<Applied, StateError> {
    PinsWriter::open(txn)?.apply(op)
}

/// The pin table of one write transaction, opened once for every operation applied to it
/// (a batch of a thousand pins opens it once, not a thousand times).
pub struct PinsWriter<'txn> {
    pins: redb::Table<'txn, &'static [u8], &'static [u8]>,
}

impl<'txn> PinsWriter<'txn> {
    /// Opens the pin table inside `txn`.
    pub fn open(txn: &'txn WriteTransaction) -> Result<Self, StateError> {
        Ok(Self {
            pins: txn.open_table(PINS).map_err(db)?,
        })
    }

    /// Applies `op` (a batch one operation after another).
    pub fn apply(&mut self, op: &PinOp) -> Result<Applied, StateError> {
        match op {
            PinOp::Pin(pin) => {
                let value =
                    serde_json::to_vec(pin.as_ref()).map_err(|e| StateError::Decode(e.to_string()))?;
                self.pins
                    .insert(pin.cid.to_bytes().as_slice(), value.as_slice())
                    .map_err(db)?;
                Ok(Applied::Pinned)
            }
            PinOp::Unpin(cid) => match self.pins.remove(cid.to_bytes().as_slice()).map_err(db)? {
                Some(_) => Ok(Applied::Unpinned),
                None => Ok(Applied::NotPinned),
            },
            PinOp::Batch(ops) => ops
                .iter()
                .map(|op| self.apply(op))
                .collect::<Result<_, _>>()
                .map(Applied::Batch),
        }
    }
}

/// Removes every pin inside `txn`.
pub fn clear(txn: &WriteTransaction) -> Result<(), StateError> {
    let mut pins = txn.open_table(PINS).map_err(db)?;
    pins.retain(|_, _| false).map_err(db)?;
    Ok(())
}

fn decode(bytes: &[u8]) -> Result<Pin, StateError> {
    serde_json::from_slice(bytes).map_err(|e| StateError::Decode(e.to_string()))
}

/// Read access to the pinset.
#[derive(Clone, Debug)]
pub struct PinStore {
    db: Arc<Database>,
}

impl PinStore {
    /// Reads the pinset in `db` (opened with [`open`]).
    pub fn new(db: Arc<Database>) -> Self {
        Self { db }
    }

    /// Makes every applied change durable. Consensus applies without fsync (the Raft log is
    /// the durable record); a clean shutdown calls this so offline tools (`state export`)
    /// see everything the peer applied.
    pub fn flush(&self) -> Result<(), StateError> {
        let mut txn = self.db.begin_write().map_err(db)?;
        txn.set_durability(redb::Durability::Immediate).map_err(db)?;
        txn.commit().map_err(db)
    }

    /// The pin of `cid`, if any.
    pub fn get(&self, cid: &Cid) -> Result<Option<Pin>, StateError> {
        let txn = self.db.begin_read().map_err(db)?;
        let pins = txn.open_table(PINS).map_err(db)?;
        let found = pins.get(cid.to_bytes().as_slice()).map_err(db)?;
        found.map(|v| decode(v.value())).transpose()
    }

    /// Whether `cid` is pinned (without decoding its pin).
    pub fn contains(&self, cid: &Cid) -> Result<bool, StateError> {
        let txn = self.db.begin_read().map_err(db)?;
        let pins = txn.open_table(PINS).map_err(db)?;
        Ok(pins.get(cid.to_bytes().as_slice()).map_err(db)?.is_some())
    }

    /// How many pins there are.
    pub fn len(&self) -> Result<u64, StateError> {
        let txn = self.db.begin_read().map_err(db)?;
        txn.open_table(PINS).map_err(db)?.len().map_err(db)
    }

    /// True when there are no pins.
    pub fn is_empty(&self) -> Result<bool, StateError> {
        Ok(self.len()? == 0)
    }

    /// Up to `limit` pins after the CID bytes `after` (from the start when `None`), in
    /// CID-byte order, from one short read transaction.
    pub fn page(&self, after: Option<&[u8]>, limit: usize) -> Result<Vec<Pin>, StateError> {
        use std::ops::Bound;
        let txn = self.db.begin_read().map_err(db)?;
        let table = txn.open_table(PINS).map_err(db)?;
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let range = table.range::<&[u8]>((start, Bound::Unbounded)).map_err(db)?;
        range
            .take(limit)
            .map(|row| row.map_err(db).and_then(|(_, v)| decode(v.value())))
            .collect()
    }

    /// Every pin in CID-byte order, [`LISTING_PAGE`] at a time, each page read from its own
    /// short read transaction on the blocking pool: a consumer that stops reading holds no
    /// thread and no transaction, only the page it has not taken. A pin added or removed
    /// while the listing runs may or may not be in it; every pin applied before it began
    /// and still there is.
    pub fn pages(&self) -> futures::stream::BoxStream<'static, Result<Vec<Pin>, StateError>> {
        enum Cursor {
            After(Option<Vec<u8>>),
            Done,
        }
        let start = (self.clone(), Cursor::After(None));
        Box::pin(futures::stream::unfold(start, |(store, cursor)| async move {
            let Cursor::After(after) = cursor else {
                return None;
            };
            let reader = store.clone();
            let read = tokio::task::spawn_blocking(move || reader.page(after.as_deref(), LISTING_PAGE));
            let page = read
                .await
                .unwrap_or_else(|e| Err(StateError::Decode(format!("the pinset reader stopped: {e}"))));
            match page {
                Ok(pins) if pins.is_empty() => None,
                Ok(pins) => {
                    let next = match pins.last() {
                        Some(last) if pins.len() == LISTING_PAGE => Cursor::After(Some(last.cid.to_bytes())),
                        _ => Cursor::Done,
                    };
                    Some((Ok(pins), (store, next)))
                }
                Err(e) => Some((Err(e), (store, Cursor::Done))),
            }
        }))
    }

    /// Every pin, in CID-byte order, streamed from one read transaction.
    pub fn iter(&self) -> Result<Pins, StateError> {
        let txn = self.db.begin_read().map_err(db)?;
        let range = txn.open_table(PINS).map_err(db)?.range::<&[u8]>(..).map_err(db)?;
        Ok(Pins { range })
    }

    /// Writes every pin as one JSON line; returns how many.
    pub fn export(&self, mut out: impl Write) -> Result<u64, StateError> {
        let mut count = 0;
        for pin in self.iter()? {
            serde_json::to_writer(&mut out, &pin?).map_err(|e| StateError::Decode(e.to_string()))?;
            out.write_all(b"\n")?;
            count += 1;
        }
        out.flush()?;
        Ok(count)
    }
}

/// Reads an ndjson export into pin operations, one line at a time.
pub fn read_export(input: impl BufRead) -> impl Iterator<Item = Result<Pin, StateError>> {
    input
        .lines()
        .filter(|l| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(|line| decode(line?.as_bytes()))
}

/// A streaming iterator over stored pins.
pub struct Pins {
    range: redb::Range<'static, &'static [u8], &'static [u8]>,
}

impl Iterator for Pins {
    type Item = Result<Pin, StateError>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.range.next()?;
        Some(entry.map_err(db).and_then(|(_, v)| decode(v.value())))
    }
}

mod cid_bytes {
    use cid::Cid;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(cid: &Cid, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(cid)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cid, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
