//! The trusted peer's side of following: answers a follower's [`FollowAsk`] from this peer's
//! Raft log (long-polled: it waits for a first change) and serves its current snapshot file
//! in [`Chunk`]s when the log the follower needs is purged.
//!
//! # Invariants
//! - Only applied entries are sent (`last_applied` of this peer's Raft): everything a follower
//!   receives is committed. A follower costs no replication slot: it reads what the log store
//!   already holds, one bounded answer at a time, when it asks.
//! - The answer to `after` starts at entry `after + 1` or is [`FollowReply::SnapshotNeeded`]:
//!   never a gap (a purge racing the read is detected by the first entry's index).
//! - A caught-up follower's answer lingers [`LINGER`] after the first change, so a follower
//!   costs one log read and one answer per interval however fast the cluster commits; the
//!   last read is shared by the followers asking for the same range.
//! - A snapshot being downloaded stays readable after a newer one replaces it: the last
//!   [`OPEN_SNAPSHOTS`] served files are kept open (their bytes outlive the unlink).

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::storage::RaftLogReader;
use openraft::{EntryPayload, RaftMetrics};
use tokio::sync::watch;

use super::wire::{CHUNK_BYTES, Chunk, ChunkAsk, FollowAsk, FollowReply, MAX_WAIT_MS};
use crate::consensus::log_store::LogStore;
use crate::consensus::{NodeId, PeerNode, StorageError};

/// Snapshot files kept open for followers downloading them.
pub const OPEN_SNAPSHOTS: usize = 4;
/// How long a caught-up follower's answer waits after the first new change, so that one
/// answer carries what the cluster committed meanwhile (one read, one answer and one durable
/// commit on the follower per this interval, not per Raft batch).
pub const LINGER: Duration = Duration::from_millis(100);

type Metrics = watch::Receiver<RaftMetrics<NodeId, PeerNode>>;

/// Why a follower's request could not be served (sent to it as the error's text).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The log the follower needs is purged and there is no snapshot (a damaged data dir).
    #[error("the log after index {after} is purged here and there is no snapshot to serve")]
    NoSnapshot {
        /// The follower's index.
        after: u64,
    },
    /// The snapshot asked for was replaced and is no longer open here.
    #[error("snapshot {snapshot} is gone; ask for the current one")]
    Gone {
        /// Its id.
        snapshot: String,
    },
    /// The offset is past the snapshot's end.
    #[error("offset {offset} is past the end of snapshot {snapshot} ({total} bytes)")]
    Offset {
        /// The snapshot.
        snapshot: String,
        /// The asked offset.
        offset: u64,
        /// Its size.
        total: u64,
    },
    /// `current.json` does not parse.
    #[error("the snapshot directory: {0}")]
    Current(String),
    /// Reading the log failed.
    #[error("reading the Raft log")]
    Log(#[source] Box<StorageError>),
    /// Reading a snapshot file failed.
    #[error("reading the snapshot file")]
    Io(#[source] std::io::Error),
    /// This peer's Raft has stopped.
    #[error("this peer is shutting down")]
    Stopped,
}

/// A snapshot file open for followers.
#[derive(Debug)]
struct Open {
    id: String,
    index: u64,
    total: u64,
    sha256: Option<String>,
    file: File,
}

/// The last range read from the log and its answer.
#[derive(Debug)]
struct LastRead {
    after: u64,
    applied: u64,
    reply: Arc<FollowReply>,
}

/// Serves followers; cheap to clone.
#[derive(Clone)]
pub struct Source {
    metrics: Metrics,
    log: LogStore,
    snapshots: PathBuf,
    open: Arc<Mutex<VecDeque<Arc<Open>>>>,
    /// The last answer read from the log, by (after, applied): caught-up followers ask for
    /// the same range, and it is read and decoded once for all of them.
    last: Arc<Mutex<Option<LastRead>>>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("snapshots", &self.snapshots)
            .finish()
    }
}

impl Source {
    /// Over this peer's Raft metrics (applied and purged indexes, members), its log store
    /// and its snapshot directory.
    pub fn new(metrics: Metrics, log: LogStore, snapshots: PathBuf) -> Self {
        Self {
            metrics,
            log,
            snapshots,
            open: Arc::new(Mutex::new(VecDeque::new())),
            last: Arc::new(Mutex::new(None)),
        }
    }

    /// The applied changes after `ask.after`, waiting up to `ask.wait_ms` for a first one.
    pub async fn changes(&self, ask: FollowAsk) -> Result<FollowReply, ServeError> {
        let mut metrics = self.metrics.clone();
        let wait = Duration::from_millis(ask.wait_ms.min(MAX_WAIT_MS));
        let deadline = tokio::time::Instant::now() + wait;
        let mut waited = false;
        loop {
            let (applied, purged, members) = {
                let m = metrics.borrow_and_update();
                let members = m.membership_config.nodes().map(|(_, n)| n.clone()).collect();
                (
                    m.last_applied.map_or(0, |l| l.index),
                    m.purged.map_or(0, |l| l.index),
                    members,
                )
            };
            if ask.after < purged {
                return self.snapshot_needed(ask.after);
            }
            if applied > ask.after {
                if waited {
                    // Caught up: let the changes of the next moments join this answer.
                    waited = false;
                    tokio::time::sleep(LINGER).await;
                    continue;
                }
                return self.read(ask.after, applied, members).await;
            }
            waited = true;
            match tokio::time::timeout_at(deadline, metrics.changed()).await {
                Err(_elapsed) => {
                    return Ok(FollowReply::Changes {
                        ops: Vec::new(),
                        through: ask.after,
                        applied,
                        members,
                    });
                }
                Ok(Err(_closed)) => return Err(ServeError::Stopped),
                Ok(Ok(())) => {}
            }
        }
    }

    /// Entries `after + 1 ..= applied` (as many as one answer carries), from the last answer
    /// when it was the same range.
    async fn read(
        &self,
        after: u64,
        applied: u64,
        members: Vec<PeerNode>,
    ) -> Result<FollowReply, ServeError> {
        let cached = lock(&self.last)
            .as_ref()
            .filter(|last| (last.after, last.applied) == (after, applied))
            .map(|last| last.reply.clone());
        if let Some(reply) = cached {
            return Ok((*reply).clone());
        }
        let reply = self.read_log(after, applied, members).await?;
        if matches!(reply, FollowReply::Changes { .. }) {
            let reply = Arc::new(reply.clone());
            *lock(&self.last) = Some(LastRead {
                after,
                applied,
                reply,
            });
        }
        Ok(reply)
    }

    async fn read_log(
        &self,
        after: u64,
        applied: u64,
        members: Vec<PeerNode>,
    ) -> Result<FollowReply, ServeError> {
        let mut log = self.log.clone();
        let entries = log
            .limited_get_log_entries(after + 1, applied + 1)
            .await
            .map_err(|e| ServeError::Log(Box::new(e)))?;
        match entries.first() {
            Some(first) if first.log_id.index == after + 1 => {}
            // Purged between the metrics and the read.
            _ => return self.snapshot_needed(after),
        }
        let through = entries.last().map_or(after, |e| e.log_id.index);
        let ops = entries
            .into_iter()
            .filter_map(|entry| match entry.payload {
                EntryPayload::Normal(op) => Some((entry.log_id.index, op)),
                EntryPayload::Blank | EntryPayload::Membership(_) => None,
            })
            .collect();
        Ok(FollowReply::Changes {
            ops,
            through,
            applied,
            members,
        })
    }

    fn snapshot_needed(&self, after: u64) -> Result<FollowReply, ServeError> {
        match crate::consensus::published(&self.snapshots) {
            Ok(Some(snapshot)) => Ok(FollowReply::SnapshotNeeded {
                index: snapshot.index,
            }),
            Ok(None) => Err(ServeError::NoSnapshot { after }),
            Err((path, reason)) => Err(ServeError::Current(format!("{}: {reason}", path.display()))),
        }
    }

    /// The piece of a snapshot `ask` names.
    pub async fn chunk(&self, ask: ChunkAsk) -> Result<Chunk, ServeError> {
        let source = self.clone();
        tokio::task::spawn_blocking(move || source.read_chunk(&ask))
            .await
            .map_err(|_| ServeError::Stopped)?
    }

    fn read_chunk(&self, ask: &ChunkAsk) -> Result<Chunk, ServeError> {
        let open = self.open_snapshot(ask.snapshot.as_deref())?;
        if ask.offset > open.total {
            return Err(ServeError::Offset {
                snapshot: open.id.clone(),
                offset: ask.offset,
                total: open.total,
            });
        }
        let len = usize::try_from(open.total - ask.offset).map_or(CHUNK_BYTES, |left| left.min(CHUNK_BYTES));
        let mut data = vec![0; len];
        open.file
            .read_exact_at(&mut data, ask.offset)
            .map_err(ServeError::Io)?;
        Ok(Chunk {
            snapshot: open.id.clone(),
            index: open.index,
            total: open.total,
            sha256: open.sha256.clone(),
            data: data.into(),
        })
    }

    /// The open file of snapshot `id` (the current one when `None`), opening the current
    /// one if needed.
    fn open_snapshot(&self, id: Option<&str>) -> Result<Arc<Open>, ServeError> {
        let mut open = lock(&self.open);
        if let Some(found) = id.and_then(|id| open.iter().find(|o| o.id == id)) {
            return Ok(found.clone());
        }
        let current = crate::consensus::published(&self.snapshots)
            .map_err(|(path, reason)| ServeError::Current(format!("{}: {reason}", path.display())))?
            .ok_or(ServeError::NoSnapshot { after: 0 })?;
        if let Some(id) = id.filter(|id| *id != current.id) {
            return Err(ServeError::Gone { snapshot: id.into() });
        }
        if let Some(found) = open.iter().find(|o| o.id == current.id) {
            return Ok(found.clone());
        }
        let file = File::open(&current.path).map_err(ServeError::Io)?;
        let total = file.metadata().map_err(ServeError::Io)?.len();
        let opened = Arc::new(Open {
            id: current.id,
            index: current.index,
            total,
            sha256: current.sha256,
            file,
        });
        open.push_back(opened.clone());
        while open.len() > OPEN_SNAPSHOTS {
            open.pop_front();
        }
        Ok(opened)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
