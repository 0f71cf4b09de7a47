//! The tracker's operation queue: pins and unpins waiting for one of `concurrent_pins`
//! workers.
//!
//! # Invariants
//! - Bounded: beyond `capacity` waiting operations, [`Queue::push`] refuses (`pin queue is
//!   full`, ipfs-cluster's words) instead of growing.
//! - First attempts go before retries.
//! - A newer operation on a CID cancels the older one: a running one is aborted (its daemon
//!   call is dropped) when the newer is pushed, and a waiting one is skipped when popped (the
//!   caller says which generation is current: the tracker keeps it with the CID's status, so
//!   the queue holds no second index of CIDs).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use cid::Cid;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::ipfs::PinKind;

/// What to do on the daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Work {
    /// `pin/add` of this kind.
    Pin(PinKind),
    /// `pin/rm`.
    Unpin,
}

/// One queued operation.
#[derive(Clone, Copy, Debug)]
pub(super) struct Op {
    pub cid: Cid,
    pub work: Work,
    pub generation: u64,
}

/// The queue is full.
#[derive(Debug, thiserror::Error)]
#[error("pin queue is full")]
pub(super) struct Full;

#[derive(Default)]
struct State {
    first: VecDeque<Op>,
    retries: VecDeque<Op>,
    running: HashMap<Cid, (u64, AbortHandle)>,
    next: u64,
}

/// See the module docs.
pub(super) struct Queue {
    state: Mutex<State>,
    wake: Notify,
    capacity: usize,
}

impl Queue {
    /// An empty queue holding at most `capacity` waiting operations.
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new generation for an operation about to be pushed: the caller records it as the
    /// CID's current one first, so that no worker can pop the operation before it counts.
    pub(super) fn generation(&self) -> u64 {
        let mut state = self.lock();
        state.next += 1;
        state.next
    }

    /// Queues `work` on `cid` as `generation`, aborting a running older operation on it.
    pub(super) fn push(&self, cid: Cid, work: Work, retry: bool, generation: u64) -> Result<u64, Full> {
        let mut state = self.lock();
        if state.first.len() + state.retries.len() >= self.capacity {
            return Err(Full);
        }
        let op = Op {
            cid,
            work,
            generation,
        };
        if let Some((_, older)) = state.running.remove(&cid) {
            older.abort();
        }
        let side = if retry {
            &mut state.retries
        } else {
            &mut state.first
        };
        side.push_back(op);
        drop(state);
        self.wake.notify_one();
        Ok(op.generation)
    }

    /// The next operation that `current` accepts (first attempts before retries), waiting for
    /// one; superseded ones are dropped on the way.
    pub(super) async fn pop(&self, current: impl Fn(&Op) -> bool) -> Op {
        loop {
            if let Some(op) = self.try_pop(&current) {
                return op;
            }
            self.wake.notified().await;
        }
    }

    fn try_pop(&self, current: &impl Fn(&Op) -> bool) -> Option<Op> {
        let mut state = self.lock();
        while let Some(op) = state.first.pop_front().or_else(|| state.retries.pop_front()) {
            if current(&op) {
                return Some(op);
            }
        }
        None
    }

    /// Records `op` as running as `task` (a newer push aborts it).
    pub(super) fn started(&self, op: &Op, task: AbortHandle) {
        self.lock().running.insert(op.cid, (op.generation, task));
    }

    /// Forgets `op` once it ended.
    pub(super) fn finished(&self, op: &Op) {
        let mut state = self.lock();
        let ours = state
            .running
            .get(&op.cid)
            .is_some_and(|(g, _)| *g == op.generation);
        if ours {
            state.running.remove(&op.cid);
        }
    }

    /// Operations waiting or running.
    pub(super) fn len(&self) -> usize {
        let state = self.lock();
        state.first.len() + state.retries.len() + state.running.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cid(n: u8) -> Cid {
        use multihash_codetable::{Code, MultihashDigest};
        Cid::new_v1(0x55, Code::Sha2_256.digest(&[n]))
    }

    fn any(_: &Op) -> bool {
        true
    }

    #[tokio::test]
    async fn first_attempts_go_before_retries() {
        let queue = Queue::new(10);
        queue.push(cid(1), Work::Unpin, true, queue.generation()).unwrap();
        queue
            .push(cid(2), Work::Unpin, false, queue.generation())
            .unwrap();
        assert_eq!(queue.pop(any).await.cid, cid(2));
        assert_eq!(queue.pop(any).await.cid, cid(1));
    }

    #[tokio::test]
    async fn a_newer_operation_aborts_a_running_one_and_superseded_ones_are_skipped() {
        let queue = Queue::new(10);
        queue
            .push(cid(1), Work::Pin(PinKind::Recursive), false, queue.generation())
            .unwrap();
        let running = queue.pop(any).await;
        let task = tokio::spawn(std::future::pending::<()>());
        queue.started(&running, task.abort_handle());
        queue
            .push(cid(1), Work::Unpin, false, queue.generation())
            .unwrap();
        assert!(
            task.await.unwrap_err().is_cancelled(),
            "the older pin was aborted"
        );
        let newest = queue
            .push(cid(1), Work::Pin(PinKind::Direct), false, queue.generation())
            .unwrap();
        let next = queue.pop(|op| op.generation == newest).await;
        assert_eq!(
            next.work,
            Work::Pin(PinKind::Direct),
            "the waiting unpin was skipped"
        );
        assert!(queue.try_pop(&any).is_none());
    }

    #[test]
    fn a_full_queue_refuses() {
        let queue = Queue::new(1);
        queue
            .push(cid(1), Work::Unpin, false, queue.generation())
            .unwrap();
        assert!(
            queue
                .push(cid(2), Work::Unpin, false, queue.generation())
                .is_err()
        );
    }
}
