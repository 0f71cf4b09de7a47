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

use super::{COMMITTED, LOG, LogStats, META, Pending, Recorded, TypeConfig, Write, lock};

/// Most queued writes folded into one transaction.
const BATCH: usize = 1024;
/// How long a committed log id waits for a batch to ride in before it is written alone.
pub(super) const IDLE: std::time::Duration = std::time::Duration::from_millis(50);

pub(super) struct Writer {
    pub(super) db: Arc<Database>,
    pub(super) stats: Arc<LogStats>,
    pub(super) pending: Pending,
    /// Where the durable committed index is published.
    pub(super) recorded: Recorded,
    /// The first failed commit: redb refuses every later one ("Previous I/O error"), so
    /// later failures are reported with this cause (e.g. a full disk).
    pub(super) first_failure: Option<String>,
}

/// What to tell each queued item once the batch is committed (or failed).
enum Reply {
    Flushed(Vec<(u64, Arc<Vec<u8>>)>, LogFlushed<TypeConfig>),
    Done(oneshot::Sender<Result<(), String>>),
}

impl Writer {
    /// Runs until every `LogStore` handle is dropped.
    ///
    /// A batch of nothing but committed log ids is not written at once: the latest is held
    /// and goes into the next batch's transaction (no fsync of its own while writes flow),
    /// or alone with fsync when a write waits for it to be recorded or after [`IDLE`].
    pub(super) fn run(mut self, mut queue: mpsc::Receiver<Write>) {
        let clock = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(clock) => clock,
            Err(e) => {
                tracing::warn!("the Raft log writer has no timer ({e}); committed ids are written at once");
                return self.run_untimed(queue);
            }
        };
        let mut held: Option<Write> = None;
        loop {
            let waited = match held.as_ref() {
                None => Ok(queue.blocking_recv()),
                Some(_) => clock.block_on(self.hold(&mut queue)),
            };
            let first = match waited {
                Ok(Some(first)) => first,
                Ok(None) => {
                    if let Some(committed) = held {
                        self.commit(vec![committed]);
                    }
                    return;
                }
                Err(()) => {
                    if let Some(committed) = held.take() {
                        crate::failpoint!("log.before_committed_alone");
                        self.commit(vec![committed]);
                    }
                    continue;
                }
            };
            let mut batch = self.drain(first, &mut queue);
            if let Some(committed) = held.take() {
                batch.insert(0, committed);
            }
            match only_committed(batch) {
                Ok(latest) => held = Some(latest),
                Err(batch) => self.commit(batch),
            }
        }
    }

    /// The next queued write, or `Err` when the held committed log id should be written
    /// alone: after [`IDLE`] without one, or at once when an acknowledgement waits for it.
    async fn hold(&self, queue: &mut mpsc::Receiver<Write>) -> Result<Option<Write>, ()> {
        tokio::select! {
            biased;
            next = queue.recv() => Ok(next),
            () = self.recorded.wanted() => Err(()),
            () = tokio::time::sleep(IDLE) => Err(()),
        }
    }

    fn run_untimed(mut self, mut queue: mpsc::Receiver<Write>) {
        while let Some(first) = queue.blocking_recv() {
            let batch = self.drain(first, &mut queue);
            self.commit(batch);
        }
    }

    /// `first` and whatever else is queued, up to [`BATCH`].
    fn drain(&self, first: Write, queue: &mut mpsc::Receiver<Write>) -> Vec<Write> {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        batch
    }

    /// Writes `batch` in one transaction with fsync and answers every item, in order, with
    /// the outcome (also when the transaction could not even begin).
    fn commit(&mut self, batch: Vec<Write>) {
        let mut replies = Vec::with_capacity(batch.len());
        let mut entries = 0u64;
        let mut committed = None;
        let mut txn = self.begin();
        for write in batch {
            let done = match write {
                Write::Append { rows, flushed } => {
                    entries += rows.len() as u64;
                    let done = txn.as_ref().map(|t| insert(t, &rows));
                    replies.push(Reply::Flushed(rows, flushed));
                    done
                }
                Write::Other { op, done } => {
                    replies.push(Reply::Done(done));
                    txn.as_ref().map(op)
                }
                Write::Committed { index, bytes } => {
                    committed = committed.max(Some(index));
                    txn.as_ref().map(|t| save_committed(t, &bytes))
                }
            };
            if let Ok(Err(e)) = done {
                txn = Err(e);
            }
        }
        crate::failpoint!("log.before_commit");
        let started = std::time::Instant::now();
        let outcome = txn.and_then(|t| t.commit().map_err(redb::Error::from));
        let took = started.elapsed();
        crate::failpoint!("log.after_commit");
        let outcome = outcome.map_err(|e| match &self.first_failure {
            Some(first) => format!("{first} (the log refuses writes since; restart the peer once fixed)"),
            None => {
                self.first_failure = Some(e.to_string());
                e.to_string()
            }
        });
        if let Err(e) = &outcome
            && replies.is_empty()
        {
            tracing::warn!("the Raft log could not record the committed index: {e}");
        }
        match &outcome {
            Ok(()) => {
                self.stats.fsync.observe_duration(took);
                self.stats.appends.fetch_add(1, Ordering::Relaxed);
                self.stats.entries.fetch_add(entries, Ordering::Relaxed);
                if let Some(index) = committed {
                    self.recorded.advance(index);
                }
            }
            Err(e) => self.recorded.fail(e),
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

/// The latest committed log id when `batch` holds nothing else, or the batch.
fn only_committed(batch: Vec<Write>) -> Result<Write, Vec<Write>> {
    if !batch.iter().all(|w| matches!(w, Write::Committed { .. })) {
        return Err(batch);
    }
    batch.into_iter().last().ok_or_else(Vec::new)
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
