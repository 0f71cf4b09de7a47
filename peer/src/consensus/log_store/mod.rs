//! The Raft log, vote and commit index in redb (`raft-log.redb`), with group commit.
//!
//! Entries are keyed by index (big-endian u64 keys keep them ordered); `raft_meta` holds the
//! vote, the last purged log id and the last committed log id.
//!
//! # The committed log id
//! The state machine applies without fsync (the log is the durable record), so after a crash
//! it is behind what this peer acknowledged. openraft re-applies the committed part of the
//! log when it starts, before Cairn serves anything, up to the committed log id
//! `read_committed` returns. `save_committed` queues that id without waiting (no fsync on
//! openraft's path from commit to apply); the writer stores it in its next transaction, or
//! alone with fsync when nothing else comes within [`writer::IDLE`], and only then publishes
//! its index through [`Recorded`]. A write is acknowledged only once that index reaches it
//! (`cluster::commit`), so a restarted peer has applied every write it acknowledged before
//! it serves anything, with or without a quorum.
//!
//! # Group commit
//! `append` does not wait for the disk: it records the entries in [`Pending`] (so reads see
//! them at once) and queues them for the single [`writer`] thread, which drains everything
//! queued into one redb transaction, commits it with fsync, and only then tells openraft the
//! entries are durable (`LogFlushed`), in order. Many concurrent client writes therefore share
//! one fsync. Votes, truncation and purges go through the same queue, so all log I/O stays
//! serialised as openraft requires, and they return only once durable.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, Vote};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};

use super::recorded::Recorded;
use super::{NodeId, StorageError, TypeConfig, any_error, blocking};

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");
const VOTE: &str = "vote";
const PURGED: &str = "last_purged";
const COMMITTED: &str = "committed";
/// The most stored bytes one replication read returns (at least one entry): openraft reads
/// up to `max_payload_entries` entries for each append and sends again after a timeout, so
/// a follower far behind big entries would otherwise cost the leader many megabytes decoded
/// per heartbeat interval. Appends carry at most this much (`rpc::append`).
pub const REPLICATION_READ_BYTES: usize = 1024 * 1024;
/// Writes queued for the writer thread (bounded: `append` waits when the disk falls behind).
const QUEUE: usize = 4096;

/// What the log store has written: fsync'd commits and the entries they carried.
#[derive(Debug, Default)]
pub struct LogStats {
    /// Commits, each one redb transaction with fsync.
    pub appends: AtomicU64,
    /// Entries written by those commits.
    pub entries: AtomicU64,
    /// How long each of those commits took, fsync included, in microseconds (the
    /// `cairn_raft_log_fsync_seconds` histogram).
    pub fsync: cairn_gateway::stats::Histogram,
}

/// Serialised entries appended but not yet committed, by index.
type Pending = Arc<Mutex<BTreeMap<u64, Arc<Vec<u8>>>>>;
type Op = Box<dyn FnOnce(&WriteTransaction) -> Result<(), redb::Error> + Send>;

enum Write {
    Append {
        rows: Vec<(u64, Arc<Vec<u8>>)>,
        flushed: LogFlushed<TypeConfig>,
    },
    Other {
        op: Op,
        done: oneshot::Sender<Result<(), String>>,
    },
    /// The committed log id: its index (published through [`Recorded`] once durable) and
    /// its serialised form.
    Committed { index: u64, bytes: Vec<u8> },
}

/// The log store; clones share the database, the pending entries and the writer.
#[derive(Clone, Debug)]
pub struct LogStore {
    db: Arc<Database>,
    stats: Arc<LogStats>,
    pending: Pending,
    writes: mpsc::Sender<Write>,
    recorded: Recorded,
}

impl Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Write::Append { .. } => "Append",
            Write::Other { .. } => "Other",
            Write::Committed { .. } => "Committed",
        })
    }
}

/// The index of the committed log id stored in `db` (0 when none is).
fn stored_committed(db: &Database) -> Result<u64, StorageError> {
    let txn = db.begin_read().map_err(read_err)?;
    let meta = txn.open_table(META).map_err(read_err)?;
    let Some(value) = meta.get(COMMITTED).map_err(read_err)? else {
        return Ok(0);
    };
    let committed: Option<LogId<NodeId>> = serde_json::from_slice(value.value()).map_err(read_err)?;
    Ok(committed.map_or(0, |c| c.index))
}

fn read_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::from(openraft::StorageIOError::read_logs(any_error(e)))
}

fn write_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::from(openraft::StorageIOError::write_logs(any_error(e)))
}

fn lock(pending: &Pending) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Vec<u8>>>> {
    pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LogStore {
    /// Opens or creates the log database at `path` and starts its writer thread.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        // The log is appended, read back once for replication and purged: a small cache does.
        let db = redb::Builder::new()
            .set_cache_size(32 * 1024 * 1024)
            .create(path)
            .map_err(write_err)?;
        let txn = db.begin_write().map_err(write_err)?;
        txn.open_table(LOG).map_err(write_err)?;
        txn.open_table(META).map_err(write_err)?;
        txn.commit().map_err(write_err)?;
        let recorded = Recorded::new(stored_committed(&db)?);
        let (db, stats, pending) = (Arc::new(db), Arc::new(LogStats::default()), Pending::default());
        let (writes, queue) = mpsc::channel(QUEUE);
        let writer = writer::Writer {
            db: db.clone(),
            stats: stats.clone(),
            pending: pending.clone(),
            recorded: recorded.clone(),
            first_failure: None,
        };
        std::thread::Builder::new()
            .name("raft-log-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(write_err)?;
        Ok(Self {
            db,
            stats,
            pending,
            writes,
            recorded,
        })
    }

    /// How far this peer's disk records the log as committed (see `consensus::recorded`).
    pub fn recorded(&self) -> Recorded {
        self.recorded.clone()
    }

    /// Counters of commits and entries (for `/raft` and benchmarks).
    pub fn stats(&self) -> Arc<LogStats> {
        self.stats.clone()
    }

    /// Runs `op` in the writer's order and waits until it is durable.
    async fn durable(&self, op: Op) -> Result<(), StorageError> {
        let (done, result) = oneshot::channel();
        self.writes
            .send(Write::Other { op, done })
            .await
            .map_err(write_err)?;
        result.await.map_err(write_err)?.map_err(write_err)
    }

    async fn read_meta<T: DeserializeOwned + Send + 'static>(
        &self,
        key: &'static str,
    ) -> Result<Option<T>, StorageError> {
        let db = self.db.clone();
        blocking(move || {
            let txn = db.begin_read().map_err(read_err)?;
            let meta = txn.open_table(META).map_err(read_err)?;
            let value = meta.get(key).map_err(read_err)?;
            value
                .map(|v| serde_json::from_slice(v.value()).map_err(read_err))
                .transpose()
        })
        .await
    }

    async fn write_meta<T: Serialize>(&self, key: &'static str, value: &T) -> Result<(), StorageError> {
        let bytes = serde_json::to_vec(value).map_err(write_err)?;
        self.durable(Box::new(move |txn| {
            txn.open_table(META)?.insert(key, bytes.as_slice())?;
            Ok(())
        }))
        .await
    }

    /// Removes entries whose index is in `range` (pending and stored); records `purged`.
    async fn remove(
        &self,
        range: (Bound<u64>, Bound<u64>),
        purged: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError> {
        lock(&self.pending).retain(|index, _| !range.contains(index));
        let purged = purged
            .map(|p| serde_json::to_vec(&p))
            .transpose()
            .map_err(write_err)?;
        self.durable(Box::new(move |txn| {
            txn.open_table(LOG)?.retain_in(range, |_, _| false)?;
            if let Some(bytes) = purged {
                txn.open_table(META)?.insert(PURGED, bytes.as_slice())?;
            }
            Ok(())
        }))
        .await
    }

    /// Entries in `bounds`: pending ones (copied first) over stored ones, so an entry being
    /// committed meanwhile is found in one or the other.
    fn read_range(&self, bounds: (Bound<u64>, Bound<u64>)) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let pending: BTreeMap<u64, Arc<Vec<u8>>> = lock(&self.pending)
            .range(bounds)
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        let decode = |bytes: &[u8]| serde_json::from_slice::<Entry<TypeConfig>>(bytes).map_err(read_err);
        let txn = self.db.begin_read().map_err(read_err)?;
        let log = txn.open_table(LOG).map_err(read_err)?;
        let mut entries = BTreeMap::new();
        for row in log.range::<u64>(bounds).map_err(read_err)? {
            let (key, value) = row.map_err(read_err)?;
            if !pending.contains_key(&key.value()) {
                entries.insert(key.value(), decode(value.value())?);
            }
        }
        for (index, bytes) in &pending {
            entries.insert(*index, decode(bytes)?);
        }
        Ok(entries.into_values().collect())
    }
}

impl LogStore {
    /// Entries `start..end` in order, stopping before the one that would take the stored
    /// bytes read past `max_bytes` (the first is always read) or at the first one missing.
    fn read_limited(
        &self,
        start: u64,
        end: u64,
        max_bytes: usize,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let pending: BTreeMap<u64, Arc<Vec<u8>>> = lock(&self.pending)
            .range(start..end)
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        let txn = self.db.begin_read().map_err(read_err)?;
        let log = txn.open_table(LOG).map_err(read_err)?;
        let (mut entries, mut bytes) = (Vec::new(), 0);
        for index in start..end {
            let guard;
            let stored: &[u8] = match pending.get(&index) {
                Some(stored) => stored,
                None => match log.get(index).map_err(read_err)? {
                    Some(found) => {
                        guard = found;
                        guard.value()
                    }
                    None => break,
                },
            };
            bytes += stored.len();
            if bytes > max_bytes && !entries.is_empty() {
                break;
            }
            entries.push(serde_json::from_slice(stored).map_err(read_err)?);
        }
        Ok(entries)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let this = self.clone();
        blocking(move || this.read_limited(start, end, REPLICATION_READ_BYTES)).await
    }

    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let (this, bounds) = (
            self.clone(),
            (range.start_bound().cloned(), range.end_bound().cloned()),
        );
        blocking(move || this.read_range(bounds)).await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id: Option<LogId<NodeId>> = self.read_meta(PURGED).await?;
        let this = self.clone();
        let last = blocking(move || {
            let pending_last = lock(&this.pending).last_key_value().map(|(_, v)| v.clone());
            if let Some(bytes) = pending_last {
                return serde_json::from_slice::<Entry<TypeConfig>>(&bytes)
                    .map(Some)
                    .map_err(read_err);
            }
            let txn = this.db.begin_read().map_err(read_err)?;
            let log = txn.open_table(LOG).map_err(read_err)?;
            let last = log.last().map_err(read_err)?;
            last.map(|(_, v)| serde_json::from_slice(v.value()).map_err(read_err))
                .transpose()
        })
        .await?;
        let last_log_id = last.map(|e| e.log_id).or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        self.write_meta(VOTE, vote).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.read_meta(VOTE).await
    }

    async fn append<I>(&mut self, entries: I, flushed: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let rows: Vec<(u64, Arc<Vec<u8>>)> = entries
            .into_iter()
            .map(|e| serde_json::to_vec(&e).map(|bytes| (e.log_id.index, Arc::new(bytes))))
            .collect::<Result<_, _>>()
            .map_err(write_err)?;
        lock(&self.pending).extend(rows.iter().cloned());
        // Durability is reported through `flushed` by the writer, after its fsync.
        self.writes
            .send(Write::Append { rows, flushed })
            .await
            .map_err(write_err)
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> Result<(), StorageError> {
        let bytes = serde_json::to_vec(&committed).map_err(write_err)?;
        let index = committed.map_or(0, |c| c.index);
        self.writes
            .send(Write::Committed { index, bytes })
            .await
            .map_err(write_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError> {
        Ok(self
            .read_meta::<Option<LogId<NodeId>>>(COMMITTED)
            .await?
            .flatten())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError> {
        self.remove((Bound::Included(log_id.index), Bound::Unbounded), None)
            .await
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError> {
        self.remove((Bound::Unbounded, Bound::Included(log_id.index)), Some(log_id))
            .await
    }
}

mod writer;
