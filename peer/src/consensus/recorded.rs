//! What survives a crash of this peer: the log index up to which a restart re-applies the
//! pinset before it serves anything.
//!
//! The state machine applies without fsync, so after `kill -9` it comes back as of its last
//! durable commit, and openraft re-applies the log up to the committed log id it finds on
//! disk. Entries committed after that id was last written are in the log but not known to be
//! committed: a restarted peer alone (no quorum) would list its pinset without them. So a
//! write is acknowledged only once this peer's disk records it as committed, or as applied
//! durably (a snapshot built or installed); [`Recorded`] publishes how far that reaches.
//!
//! # Invariants
//! - The index only grows; it is advanced only after the fsync that made it durable.
//! - After the first failed write (a full disk, a broken file) every waiter gets that
//!   failure: nothing after it can be recorded until the peer restarts.

use std::sync::Arc;

use tokio::sync::{Notify, watch};

/// How far this peer's disk records the pinset: see the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpTo {
    /// Every log entry up to this index is re-applied by a restart.
    pub index: u64,
    /// The disk failure that stopped recording, if any.
    pub failure: Option<String>,
}

/// Publishes [`UpTo`] and tells the log writer when a write waits for it; clones share both.
#[derive(Clone, Debug)]
pub struct Recorded {
    up_to: watch::Sender<UpTo>,
    /// Signalled by a waiter whose index is not recorded yet: the writer then stores the
    /// committed log id it holds at once instead of waiting for a batch to carry it.
    wanted: Arc<Notify>,
}

impl Recorded {
    /// Starting at `index` (what the disk held when the peer started).
    pub fn new(index: u64) -> Self {
        Self {
            up_to: watch::Sender::new(UpTo { index, failure: None }),
            wanted: Arc::default(),
        }
    }

    /// Everything up to `index` is durable (waiters re-check even when it does not grow).
    pub fn advance(&self, index: u64) {
        self.up_to
            .send_modify(|up_to| up_to.index = up_to.index.max(index));
    }

    /// Recording stopped on `failure`; the first failure is kept.
    pub fn fail(&self, failure: &str) {
        self.up_to.send_if_modified(|up_to| {
            let first = up_to.failure.is_none();
            if first {
                up_to.failure = Some(failure.to_owned());
            }
            first
        });
    }

    /// How far the disk records now.
    pub fn now(&self) -> UpTo {
        self.up_to.borrow().clone()
    }

    /// Waits until `index` is recorded; the disk's failure if it never can be. Asks the
    /// writer for the record each time what is recorded changes without reaching `index`.
    pub async fn wait_for(&self, index: u64) -> Result<(), String> {
        let mut changes = self.up_to.subscribe();
        loop {
            let failure = {
                let up_to = changes.borrow_and_update();
                if up_to.index >= index {
                    return Ok(());
                }
                up_to.failure.clone()
            };
            if let Some(failure) = failure {
                return Err(failure);
            }
            self.wanted.notify_one();
            changes
                .changed()
                .await
                .map_err(|_| "the Raft log stopped".to_owned())?;
        }
    }

    /// Returns when a waiter asks for the committed log id to be recorded (for the writer).
    pub async fn wanted(&self) {
        self.wanted.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_wakes_when_its_index_is_recorded_and_never_before() {
        let recorded = Recorded::new(3);
        assert_eq!(recorded.wait_for(3).await, Ok(()));
        let waiter = tokio::spawn({
            let recorded = recorded.clone();
            async move { recorded.wait_for(10).await }
        });
        recorded.advance(9);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "woke at 9 while waiting for 10");
        recorded.advance(12);
        assert_eq!(waiter.await.expect("waiter"), Ok(()));
        recorded.advance(5);
        assert_eq!(recorded.now().index, 12, "the index never goes back");
    }

    #[tokio::test]
    async fn a_failure_answers_every_waiter_and_the_first_one_is_kept() {
        let recorded = Recorded::new(0);
        let waiter = tokio::spawn({
            let recorded = recorded.clone();
            async move { recorded.wait_for(1).await }
        });
        recorded.fail("No space left on device (os error 28)");
        recorded.fail("Previous I/O error occurred");
        let answer = waiter.await.expect("waiter");
        assert_eq!(answer, Err("No space left on device (os error 28)".to_owned()));
        assert_eq!(
            recorded.wait_for(0).await,
            Ok(()),
            "what was recorded stays recorded"
        );
    }

    #[tokio::test]
    async fn a_waiter_asks_the_writer_for_the_record() {
        let recorded = Recorded::new(0);
        let waiter = tokio::spawn({
            let recorded = recorded.clone();
            async move { recorded.wait_for(4).await }
        });
        let asked = tokio::time::timeout(std::time::Duration::from_secs(10), recorded.wanted());
        asked.await.expect("the waiter asked");
        recorded.advance(4);
        assert_eq!(waiter.await.expect("waiter"), Ok(()));
    }
}
