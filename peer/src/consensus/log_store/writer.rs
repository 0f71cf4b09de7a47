//! The log store's single writer thread: drains the queue into one transaction per fsync.
//!
//! Every queued item is executed in queue order inside the transaction, and every item gets
//! its outcome afterwards, in order (a failure fails the whole batch; nothing is left
//! unanswered).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use openraft::storage::LogFlushed;
use redb::{Database, Durability, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use super::{COMMITTED, LOG, LogStats, META, Pending, TypeConfig, Write, lock};

/// Most queued writes folded into one transaction.
const BATCH: usize = 1024;

pub(super) struct Writer {
    pub(super) db: Arc<Database>,
    pub(super) stats: Arc<LogStats>,
    pub(super) pending: Pending,
}

/// What to tell each queued item once the batch is committed (or failed).
enum Reply {
    Flushed(Vec<(u64, Arc<Vec<u8>>)>, LogFlushed<TypeConfig>),
    Done(oneshot::Sender<Result<(), String>>),
}

impl Writer {
    /// Runs until every `LogStore` handle is dropped.
    pub(super) fn run(self, mut queue: mpsc::Receiver<Write>) {
        while let Some(first) = queue.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match queue.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            self.commit(batch);
        }
    }

    fn commit(&self, batch: Vec<Write>) {
        let mut replies = Vec::with_capacity(batch.len());
        let mut entries = 0u64;
        let outcome = self.begin().and_then(|txn| {
            let mut failure = None;
            for write in batch {
                match write {
                    Write::Append { rows, flushed } => {
                        entries += rows.len() as u64;
                        if failure.is_none() {
                            failure = insert(&txn, &rows).err();
                        }
                        replies.push(Reply::Flushed(rows, flushed));
                    }
                    Write::Other { op, done } => {
                        if failure.is_none() {
                            failure = op(&txn).err();
                        }
                        replies.push(Reply::Done(done));
                    }
                    Write::Committed(bytes) => {
                        if failure.is_none() {
                            failure = save_committed(&txn, &bytes).err();
                        }
                    }
                }
            }
            crate::failpoint!("log.before_commit");
            match failure {
                Some(e) => Err(e),
                None => txn.commit().map_err(redb::Error::from),
            }
        });
        crate::failpoint!("log.after_commit");
        let outcome = outcome.map_err(|e| e.to_string());
        if let Err(e) = &outcome
            && replies.is_empty()
        {
            tracing::warn!("the Raft log could not record the committed index: {e}");
        }
        if outcome.is_ok() {
            self.stats.appends.fetch_add(1, Ordering::Relaxed);
            self.stats.entries.fetch_add(entries, Ordering::Relaxed);
        }
        for reply in replies {
            self.reply(reply, &outcome);
        }
    }

    fn begin(&self) -> Result<WriteTransaction, redb::Error> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        Ok(txn)
    }

    fn reply(&self, reply: Reply, outcome: &Result<(), String>) {
        match reply {
            Reply::Flushed(rows, flushed) => {
                if outcome.is_ok() {
                    self.forget(&rows);
                }
                flushed.log_io_completed(outcome.clone().map_err(std::io::Error::other));
            }
            Reply::Done(done) => {
                let _ = done.send(outcome.clone());
            }
        }
    }

    /// Drops committed rows from the pending map, unless a later append replaced them.
    fn forget(&self, rows: &[(u64, Arc<Vec<u8>>)]) {
        let mut pending = lock(&self.pending);
        for (index, bytes) in rows {
            if pending.get(index).is_some_and(|p| Arc::ptr_eq(p, bytes)) {
                pending.remove(index);
            }
        }
    }
}

fn save_committed(txn: &WriteTransaction, bytes: &[u8]) -> Result<(), redb::Error> {
    txn.open_table(META)?.insert(COMMITTED, bytes)?;
    Ok(())
}

fn insert(txn: &WriteTransaction, rows: &[(u64, Arc<Vec<u8>>)]) -> Result<(), redb::Error> {
    let mut log = txn.open_table(LOG)?;
    for (index, bytes) in rows {
        log.insert(*index, bytes.as_slice())?;
    }
    Ok(())
}
