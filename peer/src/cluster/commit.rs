//! The write path's promise: a write is answered only once it is committed on a majority and
//! applied on this peer, and while the cluster has no leader it waits for one.
//!
//! # Invariants
//! - Success means durable on a majority (the leader's `client_write` returned) and applied
//!   here: a follower that forwarded the write waits until its own applied index reaches the
//!   write's log index, so every read it serves afterwards sees it (read-your-writes).
//! - And recorded here: this peer's disk holds the write as committed (or a snapshot past
//!   it), so it is still applied when the peer restarts after a crash, even alone without a
//!   quorum (`consensus::recorded`). A disk that cannot record it fails the write with its
//!   cause (503), though the write is committed on the majority.
//! - While no leader is known, or the known one cannot be reached, the write waits and tries
//!   again, up to `consensus.raft.wait_for_leader_timeout`; only then does it fail, with
//!   [`ClusterError::NoLeader`] naming the members that do not answer.
//! - Trying again is safe because every [`PinOp`] is idempotent and is sent again unchanged:
//!   applying a pin twice stores the same pin, an unpin of what is gone changes nothing. An
//!   attempt that failed after the write reached a leader may still be applied later; the
//!   write then took effect within this call's interval (possibly twice), never after a
//!   later acknowledged write of the same caller. A write that finally fails is indeterminate
//!   (docs/consistency.md).
//! - A peer whose Raft core or store failed fatally refuses writes ([`ClusterError::Unhealthy`]).
//! - A write the leader refuses as unauthorized (this peer was removed from the membership,
//!   `rpc::access`) fails at once with that refusal; it was not applied.

use std::time::{Duration, Instant};

use super::batcher::Outcome;
use super::{Cluster, ClusterError};
use crate::rpc::{AtLeader, RpcError, Written};
use crate::state::{Applied, PinOp};

/// Pause between attempts while a leader is elected (a new leader shows in Raft's metrics,
/// which end the pause early).
pub(super) const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// One attempt's result.
enum Attempt {
    /// Committed at this log index; what applying it did.
    Done(Option<Applied>, u64),
    /// Worth another try: no leader, or the leader could not be reached.
    Retry(String),
}

impl Cluster {
    /// Commits `op` (through the leader when this peer is not it) and waits until it is applied
    /// here; see the module docs.
    pub(super) async fn commit(&self, op: PinOp) -> Result<Option<Applied>, ClusterError> {
        let deadline = Instant::now() + self.leader_timeout;
        loop {
            self.healthy()?;
            let reason = match self.attempt(&op, deadline).await? {
                Attempt::Done(applied, index) => {
                    self.wait_applied(index, deadline).await?;
                    self.wait_recorded(index, deadline).await?;
                    return Ok(applied);
                }
                Attempt::Retry(reason) => reason,
            };
            if Instant::now() >= deadline {
                return Err(self.no_leader(&reason));
            }
            self.pause_for_leader(deadline).await;
        }
    }

    /// Commits `op` only if this peer leads (a write forwarded here by another peer).
    pub(super) async fn commit_here(&self, op: PinOp) -> Result<AtLeader<Written>, ClusterError> {
        self.healthy()?;
        match self.batcher.propose(op).await? {
            Outcome::Applied(applied, index) => Ok(AtLeader::Done(Written { applied, index })),
            Outcome::NotLeader(leader) => Ok(AtLeader::NotLeader(leader)),
        }
    }

    async fn attempt(&self, op: &PinOp, deadline: Instant) -> Result<Attempt, ClusterError> {
        let limit = deadline
            .saturating_duration_since(Instant::now())
            .max(RETRY_PAUSE);
        let proposed = tokio::time::timeout(limit, self.batcher.propose(op.clone())).await;
        let leader = match proposed {
            Err(_) => return Err(self.indeterminate("the commit did not finish in time")),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Outcome::Applied(applied, index))) => return Ok(Attempt::Done(applied, index)),
            Ok(Ok(Outcome::NotLeader(leader))) => leader,
        };
        let Some(leader) = leader else {
            return Ok(Attempt::Retry("no leader known".into()));
        };
        match self.rpc.write(&leader, op.clone()).await {
            Ok(AtLeader::Done(Written { applied, index })) => Ok(Attempt::Done(applied, index)),
            Ok(AtLeader::NotLeader(_)) => Ok(Attempt::Retry(format!("{leader} is no longer the leader"))),
            // The leader will not take writes from this peer (it is no longer a member):
            // asking again changes nothing, so the write fails now, with the reason.
            Err(e @ (RpcError::Mismatched { .. } | RpcError::Unauthorized { .. })) => Err(e.into()),
            Err(e) => Ok(Attempt::Retry(e.to_string())),
        }
    }

    /// Waits until this peer applied `index` (read-your-writes on a follower).
    async fn wait_applied(&self, index: u64, deadline: Instant) -> Result<(), ClusterError> {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(self.network_timeout);
        let wait = self.raft.wait(Some(left));
        match wait
            .applied_index_at_least(Some(index), "the write applied here")
            .await
        {
            Ok(_) => Ok(()),
            Err(_) => Err(ClusterError::NoLeader(format!(
                "the write is committed at log index {index} but this peer has not applied it \
                 yet; read it from another peer or retry"
            ))),
        }
    }

    /// Waits until this peer's disk records `index` as committed (see the module docs).
    async fn wait_recorded(&self, index: u64, deadline: Instant) -> Result<(), ClusterError> {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(self.network_timeout);
        match tokio::time::timeout(left, self.recorded.wait_for(index)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(failure)) => Err(ClusterError::Unhealthy(format!(
                "the write is committed at log index {index}, but this peer's disk could not \
                 record it ({failure}); restart the peer once the cause is fixed"
            ))),
            Err(_) => Err(self.indeterminate(&format!(
                "the write is committed at log index {index}, but this peer's disk did not record it"
            ))),
        }
    }

    /// Waits for a leader other than one that just failed, at most [`RETRY_PAUSE`] when one
    /// is known (it may be the same, reachable again).
    async fn pause_for_leader(&self, deadline: Instant) {
        let left = deadline.saturating_duration_since(Instant::now());
        let before = self.raft.metrics().borrow().current_leader;
        let wait = self.raft.wait(Some(left.min(RETRY_PAUSE)));
        let _ = wait
            .metrics(
                |m| m.current_leader.is_some() && m.current_leader != before,
                "a new leader",
            )
            .await;
    }

    fn no_leader(&self, last: &str) -> ClusterError {
        self.no_quorum(
            &format!("no leader could commit the write ({last})"),
            "it was not applied, or (if it had reached a leader) may still be",
        )
    }

    /// The write may or may not be applied.
    fn indeterminate(&self, why: &str) -> ClusterError {
        self.no_quorum(why, "it may still be applied")
    }

    /// A 503 that says what failed, who does not answer, how many members a write needs, and
    /// what became of the write.
    fn no_quorum(&self, what: &str, outcome: &str) -> ClusterError {
        let members = self.members();
        let quorum = members.len() / 2 + 1;
        ClusterError::NoLeader(format!(
            "{what} within {:?}; members that do not answer: [{}]; a write needs {quorum} of {} \
             members; {outcome}",
            self.leader_timeout,
            self.unreachable_members().join(", "),
            members.len()
        ))
    }

    /// Members (other than this peer) whose ping has lapsed.
    pub(super) fn unreachable_members(&self) -> Vec<String> {
        self.members()
            .into_iter()
            .map(|m| m.peer_id)
            .filter(|id| *id != self.peer_id && !self.monitor.alive(id, 0))
            .collect()
    }

    /// `Ok` unless Raft or its store stopped on a fatal error.
    pub fn healthy(&self) -> Result<(), ClusterError> {
        match &self.raft.metrics().borrow().running_state {
            Ok(()) => Ok(()),
            Err(fatal) => Err(ClusterError::Unhealthy(format!(
                "this peer's consensus stopped: {fatal}; restart it once the cause is fixed"
            ))),
        }
    }
}
