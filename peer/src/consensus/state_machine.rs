//! The Raft state machine: applies committed [`PinOp`]s to the redb pinset and keeps
//! snapshots as files.
//!
//! # Invariants
//! - Applying commits without fsync: the Raft log is the durable record and openraft re-applies
//!   from it after a crash.
//! - A snapshot is one point-in-time view: its pins and the log id and membership in its meta
//!   come from one read transaction, opened before the durable commit that makes everything up
//!   to that log id durable in `state.redb`. openraft purges log only up to a snapshot's log id
//!   (minus `trailing_logs`), so no entry is purged before its effect is on disk.
//! - Snapshot files are published atomically: written to a `*.tmp` file, fsync'd, renamed, and
//!   the directory fsync'd; `current.json` (same way) names the latest one and its meta, so a
//!   restarted peer serves it without rebuilding. Leftover `*.tmp` files and snapshot files
//!   `current.json` does not name (a crash mid-build or mid-install) are removed at start.
//! - Installing a snapshot streams the received file into the pinset in one durable write
//!   transaction (old pins cleared first), then publishes that same file.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{Entry, EntryPayload, LogId, OptionalSend, StoredMembership};
use redb::{Database, ReadableDatabase, TableDefinition, WriteTransaction};
use serde::Deserialize;
use tokio::io::AsyncSeekExt;

use super::recorded::Recorded;
use super::snapshot_dir::{Digest, Hashing, SnapshotDir, snap_err};
use super::{NodeId, PeerNode, StorageError, TypeConfig, any_error, blocking};
use crate::state::{self, Applied, Change, FEED_CAPACITY, Feed, PinStore};

const SM_META: TableDefinition<&str, &[u8]> = TableDefinition::new("sm_meta");
const APPLIED: &str = "last_applied";
const MEMBERSHIP: &str = "membership";

type Membership = StoredMembership<NodeId, PeerNode>;
type Meta = SnapshotMeta<NodeId, PeerNode>;

/// Checks the snapshot directory `dir` before a start (see `integrity`).
pub fn check_snapshot(dir: &Path) -> Result<(), (PathBuf, String)> {
    super::snapshot_dir::check(dir)
}

/// The state machine; clones share the database, the snapshot directory and the feed.
#[derive(Clone, Debug)]
pub struct StateMachine {
    db: Arc<Database>,
    snapshots: SnapshotDir,
    feed: Feed,
    /// Told how far the pinset is durable after a snapshot (see `consensus::recorded`).
    recorded: Option<Recorded>,
}

fn sm_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::from(openraft::StorageIOError::write_state_machine(any_error(e)))
}

impl StateMachine {
    /// Over the pinset database `db` (from `state::open`), with snapshots in `snapshots`.
    pub fn new(db: Arc<Database>, snapshots: &Path) -> Result<Self, StorageError> {
        Ok(Self {
            db,
            snapshots: SnapshotDir::open(snapshots)?,
            feed: tokio::sync::broadcast::channel(FEED_CAPACITY).0,
            recorded: None,
        })
    }

    /// Tells `recorded` how far the pinset is durable each time a snapshot makes it so.
    pub fn recording(self, recorded: Recorded) -> Self {
        Self {
            recorded: Some(recorded),
            ..self
        }
    }

    fn durable_up_to(&self, log_id: Option<&LogId<NodeId>>) {
        if let (Some(recorded), Some(log_id)) = (&self.recorded, log_id) {
            recorded.advance(log_id.index);
        }
    }

    /// The feed of applied changes (subscribe to follow the pinset).
    pub fn feed(&self) -> Feed {
        self.feed.clone()
    }

    fn announce(&self, changes: Vec<Change>) {
        if !changes.is_empty() && self.feed.receiver_count() > 0 {
            let _ = self.feed.send(changes.into());
        }
    }

    /// Read access to the pinset this machine maintains.
    pub fn pins(&self) -> PinStore {
        PinStore::new(self.db.clone())
    }

    fn read_meta<T: for<'de> Deserialize<'de>>(
        txn: &redb::ReadTransaction,
        key: &str,
    ) -> Result<Option<T>, StorageError> {
        let table = match txn.open_table(SM_META) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(sm_err(e)),
        };
        let value = table.get(key).map_err(sm_err)?;
        value
            .map(|v| serde_json::from_slice(v.value()).map_err(sm_err))
            .transpose()
    }

    fn write_meta(
        txn: &WriteTransaction,
        applied: &Option<LogId<NodeId>>,
        membership: Option<&Membership>,
    ) -> Result<(), StorageError> {
        let mut table = txn.open_table(SM_META).map_err(sm_err)?;
        table
            .insert(APPLIED, serde_json::to_vec(applied).map_err(sm_err)?.as_slice())
            .map_err(sm_err)?;
        if let Some(membership) = membership {
            table
                .insert(
                    MEMBERSHIP,
                    serde_json::to_vec(membership).map_err(sm_err)?.as_slice(),
                )
                .map_err(sm_err)?;
        }
        Ok(())
    }

    /// The applied log id and membership as of `txn`.
    fn state(txn: &redb::ReadTransaction) -> Result<(Option<LogId<NodeId>>, Membership), StorageError> {
        let applied = Self::read_meta::<Option<LogId<NodeId>>>(txn, APPLIED)?.flatten();
        Ok((applied, Self::read_meta(txn, MEMBERSHIP)?.unwrap_or_default()))
    }

    /// Makes every commit so far durable (applies commit without fsync).
    fn make_durable(db: &Database) -> Result<(), StorageError> {
        let mut flush = db.begin_write().map_err(sm_err)?;
        flush
            .set_durability(redb::Durability::Immediate)
            .map_err(sm_err)?;
        flush.commit().map_err(sm_err)
    }

    /// Applies `entries` in one commit; records the applied log id, and the membership only
    /// when the batch changes it (nothing is read back).
    fn apply_batch(&self, entries: Vec<Entry<TypeConfig>>) -> Result<Vec<Option<Applied>>, StorageError> {
        let db = &self.db;
        let Some(last) = entries.last().map(|e| e.log_id) else {
            return Ok(Vec::new());
        };
        let following = self.feed.receiver_count() > 0;
        let mut changes = Vec::new();
        let mut txn = db.begin_write().map_err(sm_err)?;
        // The Raft log is the durable record: after a crash, openraft re-applies what this
        // commit may lose. `build_snapshot` makes everything durable before log is purged.
        txn.set_durability(redb::Durability::None).map_err(sm_err)?;
        let mut membership = None;
        let mut results = Vec::with_capacity(entries.len());
        let mut pins = state::PinsWriter::open(&txn).map_err(sm_err)?;
        for entry in entries {
            results.push(match entry.payload {
                EntryPayload::Blank => None,
                EntryPayload::Normal(op) => {
                    if following {
                        Change::collect(&op, &mut changes);
                    }
                    Some(pins.apply(&op).map_err(sm_err)?)
                }
                EntryPayload::Membership(m) => {
                    membership = Some(StoredMembership::new(Some(entry.log_id), m));
                    None
                }
            });
        }
        drop(pins);
        Self::write_meta(&txn, &Some(last), membership.as_ref())?;
        crate::failpoint!("apply.before_commit");
        txn.commit().map_err(sm_err)?;
        self.announce(changes);
        Ok(results)
    }

    /// Forgets Raft's record of what was applied (for `cairn state import|clean`, with the
    /// daemon stopped and the Raft log removed alongside).
    pub fn forget_raft(db: &Database) -> Result<(), StorageError> {
        let txn = db.begin_write().map_err(sm_err)?;
        txn.delete_table(SM_META).map_err(sm_err)?;
        txn.commit().map_err(sm_err)
    }
}

async fn open_read(path: PathBuf) -> Result<Box<tokio::fs::File>, StorageError> {
    Ok(Box::new(tokio::fs::File::open(path).await.map_err(snap_err)?))
}

impl StateMachine {
    /// Writes the pinset as of one read transaction to a new snapshot file and publishes it.
    fn write_snapshot(&self, temp: &Path) -> Result<Meta, StorageError> {
        // The view first, then the durable commit: everything the view holds is on disk
        // before openraft may purge the log it came from.
        let txn = self.db.begin_read().map_err(sm_err)?;
        let (applied, membership) = StateMachine::state(&txn)?;
        StateMachine::make_durable(&self.db)?;
        self.durable_up_to(applied.as_ref());
        crate::failpoint!("snapshot.after_durable");
        let created = std::fs::File::create(temp).map_err(snap_err)?;
        let mut out = std::io::BufWriter::new(Hashing::new(created));
        let pins = txn.open_table(state::PINS).map_err(sm_err)?;
        for row in redb::ReadableTable::iter(&pins).map_err(sm_err)? {
            let (_, value) = row.map_err(sm_err)?;
            out.write_all(value.value())
                .and_then(|()| out.write_all(b"\n"))
                .map_err(snap_err)?;
        }
        let hashed = out.into_inner().map_err(snap_err)?;
        let digest = hashed.digest();
        hashed.into_inner().sync_all().map_err(snap_err)?;
        let index = applied.map_or(0, |l| l.index);
        let snapshot_id = format!("{index}-{}", self.snapshots.next());
        let meta = Meta {
            last_log_id: applied,
            last_membership: membership,
            snapshot_id,
        };
        self.snapshots.publish(&meta, temp, digest)?;
        Ok(meta)
    }

    /// Replaces the pinset with the snapshot in `file`, and records its meta, in one durable
    /// write transaction; the file's size and SHA-256.
    fn load(&self, file: &std::fs::File, meta: &Meta) -> Result<Digest, StorageError> {
        let mut source = file;
        std::io::Seek::rewind(&mut source).map_err(snap_err)?;
        let txn = self.db.begin_write().map_err(sm_err)?;
        state::clear(&txn).map_err(sm_err)?;
        let mut reader = BufReader::new(Hashing::new(source));
        let mut pins = state::PinsWriter::open(&txn).map_err(sm_err)?;
        for line in (&mut reader).lines() {
            let line = line.map_err(snap_err)?;
            if line.trim().is_empty() {
                continue;
            }
            let pin = serde_json::from_str(&line).map_err(snap_err)?;
            pins.apply(&state::PinOp::Pin(Box::new(pin))).map_err(sm_err)?;
        }
        drop(pins);
        StateMachine::write_meta(&txn, &meta.last_log_id, Some(&meta.last_membership))?;
        txn.commit().map_err(sm_err)?;
        Ok(reader.get_ref().digest())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let (this, temp) = (self.clone(), self.snapshots.temp_file());
        let built = blocking(move || {
            let meta = this.write_snapshot(&temp);
            if meta.is_err() {
                let _ = std::fs::remove_file(&temp);
            }
            meta
        });
        let meta = built.await?;
        let snapshot = open_read(self.snapshots.join(&format!("{}.snap", meta.snapshot_id))).await?;
        Ok(Snapshot { meta, snapshot })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId<NodeId>>, Membership), StorageError> {
        let db = self.db.clone();
        blocking(move || StateMachine::state(&db.begin_read().map_err(sm_err)?)).await
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Option<Applied>>, StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let (this, entries) = (self.clone(), entries.into_iter().collect::<Vec<_>>());
        blocking(move || this.apply_batch(entries)).await
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let path = self.snapshots.temp_file();
        let file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(snap_err)?;
        self.snapshots.receiving(path);
        Ok(Box::new(file))
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        let mut file = *snapshot;
        file.sync_all().await.map_err(snap_err)?;
        file.rewind().await.map_err(snap_err)?;
        let (this, meta, file) = (self.clone(), meta.clone(), file.into_std().await);
        blocking(move || {
            let received = match this.snapshots.received_path(&file)? {
                Some(path) => path,
                None => this.snapshots.copy_to_temp(&file)?,
            };
            let digest = this.load(&file, &meta)?;
            this.durable_up_to(meta.last_log_id.as_ref());
            crate::failpoint!("snapshot.after_install");
            this.snapshots.publish(&meta, &received, digest)?;
            this.announce(vec![Change::Reset]);
            tracing::info!(
                index = meta.last_log_id.map(|l| l.index),
                "installed a snapshot of the pinset sent by the leader"
            );
            Ok(())
        })
        .await
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let Some(current) = self.snapshots.current()? else {
            return Ok(None);
        };
        let snapshot = open_read(self.snapshots.join(&current.file)).await?;
        Ok(Some(Snapshot {
            meta: current.meta,
            snapshot,
        }))
    }
}
