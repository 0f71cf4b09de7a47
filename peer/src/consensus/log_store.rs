//! The Raft log, vote and commit index in redb (`raft-log.redb`).
//!
//! Entries are keyed by index (big-endian u64 keys keep them ordered); `raft_meta` holds the
//! vote, the committed log id and the last purged log id. Every write commits with fsync
//! before openraft is told it is durable.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, Vote};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{NodeId, StorageError, TypeConfig, any_error, blocking};

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");
const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const PURGED: &str = "last_purged";

/// The log store; clones share the database (openraft reads through clones while appending).
#[derive(Clone, Debug)]
pub struct LogStore {
    db: Arc<Database>,
    stats: Arc<LogStats>,
}

/// What the log store has written: fsync'd appends and the entries they carried.
#[derive(Debug, Default)]
pub struct LogStats {
    /// Appends, each one redb commit with fsync.
    pub appends: std::sync::atomic::AtomicU64,
    /// Entries written by those appends.
    pub entries: std::sync::atomic::AtomicU64,
}

fn read_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::from(openraft::StorageIOError::read_logs(any_error(e)))
}

fn write_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::from(openraft::StorageIOError::write_logs(any_error(e)))
}

impl LogStore {
    /// Opens or creates the log database at `path`.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let db = Database::create(path).map_err(write_err)?;
        let txn = db.begin_write().map_err(write_err)?;
        txn.open_table(LOG).map_err(write_err)?;
        txn.open_table(META).map_err(write_err)?;
        txn.commit().map_err(write_err)?;
        Ok(Self {
            db: Arc::new(db),
            stats: Arc::default(),
        })
    }

    /// Counters of appends and entries (for `/raft` and benchmarks).
    pub fn stats(&self) -> Arc<LogStats> {
        self.stats.clone()
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
        let (db, bytes) = (self.db.clone(), serde_json::to_vec(value).map_err(write_err)?);
        blocking(move || {
            let txn = db.begin_write().map_err(write_err)?;
            txn.open_table(META)
                .map_err(write_err)?
                .insert(key, bytes.as_slice())
                .map_err(write_err)?;
            txn.commit().map_err(write_err)
        })
        .await
    }

    /// Removes entries whose index is in `range`; with `purged`, records it in the same commit.
    async fn remove(
        &self,
        range: (Bound<u64>, Bound<u64>),
        purged: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError> {
        let db = self.db.clone();
        let purged = purged
            .map(|p| serde_json::to_vec(&p))
            .transpose()
            .map_err(write_err)?;
        blocking(move || {
            let txn = db.begin_write().map_err(write_err)?;
            {
                let mut log = txn.open_table(LOG).map_err(write_err)?;
                log.retain_in(range, |_, _| false).map_err(write_err)?;
                if let Some(bytes) = purged {
                    txn.open_table(META)
                        .map_err(write_err)?
                        .insert(PURGED, bytes.as_slice())
                        .map_err(write_err)?;
                }
            }
            txn.commit().map_err(write_err)
        })
        .await
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let (db, bounds) = (
            self.db.clone(),
            (range.start_bound().cloned(), range.end_bound().cloned()),
        );
        blocking(move || {
            let txn = db.begin_read().map_err(read_err)?;
            let log = txn.open_table(LOG).map_err(read_err)?;
            let rows = log.range::<u64>(bounds).map_err(read_err)?;
            rows.map(|row| {
                let (_, value) = row.map_err(read_err)?;
                serde_json::from_slice(value.value()).map_err(read_err)
            })
            .collect()
        })
        .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id: Option<LogId<NodeId>> = self.read_meta(PURGED).await?;
        let db = self.db.clone();
        let last: Option<Entry<TypeConfig>> = blocking(move || {
            let txn = db.begin_read().map_err(read_err)?;
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
        self.write_meta(VOTE, vote)
            .await
            .map_err(|e| StorageError::from(openraft::StorageIOError::write_vote(any_error(e))))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.read_meta(VOTE).await
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> Result<(), StorageError> {
        self.write_meta(COMMITTED, &committed).await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError> {
        Ok(self
            .read_meta::<Option<LogId<NodeId>>>(COMMITTED)
            .await?
            .flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let rows: Vec<(u64, Vec<u8>)> = entries
            .into_iter()
            .map(|e| serde_json::to_vec(&e).map(|bytes| (e.log_id.index, bytes)))
            .collect::<Result<_, _>>()
            .map_err(write_err)?;
        let (db, stats, count) = (self.db.clone(), self.stats.clone(), rows.len() as u64);
        let written = blocking(move || {
            let txn = db.begin_write().map_err(write_err)?;
            {
                let mut log = txn.open_table(LOG).map_err(write_err)?;
                for (index, bytes) in &rows {
                    log.insert(*index, bytes.as_slice()).map_err(write_err)?;
                }
            }
            txn.commit().map_err(write_err)?;
            stats.appends.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            stats
                .entries
                .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        })
        .await;
        // Durable (fsync'd by the commit) before openraft may acknowledge anything.
        callback.log_io_completed(written.clone().map_err(std::io::Error::other));
        written
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
