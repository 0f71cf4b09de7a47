//! One member's appends: at most one on its way at a time, each within a byte budget that
//! adapts to how fast the member takes them.
//!
//! openraft gives an append one heartbeat interval and, when that passes, drops it and sends
//! the same entries again. On a follower that is slow to take big entries, every resend is more
//! work queued behind the last one: the follower falls further behind, misses heartbeats,
//! starts elections, and replication to it never recovers. So here:
//!
//! - An append that openraft dropped keeps going ([`Appends::settle`] waits for it before the
//!   next one is sent), and what it got the follower to hold is not sent again: the next
//!   append starts after it ([`Plan::new`]). A member has at most one append of entries on
//!   its way; heartbeats (no entries) go at once beside it (`rpc::raft`), so the follower
//!   keeps hearing of its leader while a big append crosses a busy link.
//! - An answer that arrives after openraft stopped waiting is not lost when it says the
//!   follower holds a higher vote: the next call (append or heartbeat) answers openraft with
//!   it, so a leader a member has moved past steps down instead of sending on forever
//!   (heartbeats are kept on their way as appends are, one at a time).
//! - The entries sent stay within the budget (by [`crate::state::PinOp::encoded_bound`]); the
//!   rest wait for the next append and openraft is told of a partial success. One entry is
//!   always sent. The budget starts at [`MAX_APPEND_BYTES`], far below the network's message
//!   limit, halves (down to [`MIN_APPEND_BYTES`]) each time openraft's timeout finds an append
//!   still on its way, and grows by a quarter after each one that the budget limited and that
//!   completed in time (additive increase, multiplicative decrease).
//!
//! # Invariants
//! - A success is only reported for entries the follower acknowledged under the same vote, in
//!   an append sent after openraft asked: the leader's view of the follower's log, and the time
//!   it credits the acknowledgement to, are never ahead of the follower.

use std::time::{Duration, Instant};

use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse};
use openraft::{LogId, RaftTypeConfig, Vote};
use tokio::task::JoinHandle;

use super::RpcError;
use crate::consensus::{NodeId, TypeConfig};

/// The most bytes one append carries, and its budget's start.
pub(super) const MAX_APPEND_BYTES: usize = 1024 * 1024;
/// The smallest budget: a slow follower still gets a few pins per append.
pub(super) const MIN_APPEND_BYTES: usize = 16 * 1024;

/// The remote Raft's answer to an append, or why there is none.
pub(super) type Answer =
    Result<Result<AppendEntriesResponse<NodeId>, openraft::error::RaftError<NodeId>>, RpcError>;

type Entry = <TypeConfig as RaftTypeConfig>::Entry;

/// Why an append has no answer for openraft (both make openraft send again).
#[derive(Debug, thiserror::Error)]
pub(super) enum AppendError {
    /// The task carrying the append ended without an answer.
    #[error("the append to member {member} ended without an answer")]
    Abandoned {
        /// The member.
        member: NodeId,
        /// Why the task ended.
        #[source]
        source: tokio::task::JoinError,
    },
    /// The follower answered a conflict at entries it had acknowledged (a later leader
    /// replaced them).
    #[error("member {member} no longer holds entries it acknowledged")]
    Regressed {
        /// The member.
        member: NodeId,
    },
}

/// An upper bound of an entry's encoded size.
fn entry_bound(entry: &Entry) -> usize {
    use openraft::EntryPayload;
    64 + match &entry.payload {
        EntryPayload::Normal(op) => op.encoded_bound(),
        EntryPayload::Membership(_) => 4096,
        EntryPayload::Blank => 0,
    }
}

/// How many of `entries` fit in `budget` bytes (at least one), when not all of them do.
fn entries_that_fit(entries: &[Entry], budget: usize) -> Option<usize> {
    let mut bytes = 0;
    for (count, entry) in entries.iter().enumerate() {
        bytes += entry_bound(entry);
        if bytes > budget {
            return Some(count.max(1));
        }
    }
    None
}

/// How often a member's shrinking budget is logged at WARN (each change is at DEBUG).
const WARN_EVERY: Duration = Duration::from_secs(30);

/// The byte budget of one member's appends.
#[derive(Debug)]
struct Budget {
    bytes: usize,
    warned: Option<Instant>,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            bytes: MAX_APPEND_BYTES,
            warned: None,
        }
    }
}

impl Budget {
    /// Halves the budget (not below the floor); whether it changed.
    fn shrink(&mut self) -> bool {
        let before = self.bytes;
        self.bytes = (self.bytes / 2).max(MIN_APPEND_BYTES);
        self.bytes < before
    }

    /// Says that appends to `target` did not complete in time and now carry less; at WARN
    /// at most once per [`WARN_EVERY`].
    fn report(&mut self, target: NodeId) {
        let kib = self.bytes / 1024;
        if self.warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            self.warned = Some(Instant::now());
            tracing::warn!(
                "appends to member {target} do not complete within the heartbeat interval: \
                 they now carry at most {kib} KiB (a slow link or a busy member)"
            );
        } else {
            tracing::debug!("appends to member {target} now carry at most {kib} KiB");
        }
    }

    /// Grows the budget by a quarter (not above the ceiling).
    fn grow(&mut self) {
        self.bytes = (self.bytes + self.bytes / 4).min(MAX_APPEND_BYTES);
    }
}

/// What the follower is known to hold: its log matches the leader's up to `last`, as it
/// acknowledged to the leader of `vote`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Held {
    vote: Vote<NodeId>,
    last: Option<LogId<NodeId>>,
}

/// An append sent and not yet answered.
#[derive(Debug)]
struct OnItsWay {
    vote: Vote<NodeId>,
    /// The last log id it carries (its `prev_log_id` when it carries none).
    last: Option<LogId<NodeId>>,
    /// Whether the budget cut it or it would not have fit in half the budget.
    limited: bool,
    answer: JoinHandle<Answer>,
}

/// One member's appends (see the module docs).
#[derive(Debug, Default)]
pub(super) struct Appends {
    budget: Budget,
    on_its_way: Option<OnItsWay>,
    /// The last heartbeat, while openraft has not seen its answer.
    heartbeat: Option<JoinHandle<Answer>>,
    /// A higher vote the member answered with after openraft stopped waiting.
    higher: Option<Vote<NodeId>>,
}

/// The higher of two votes (a vote is only partially ordered: of two that cannot be compared,
/// the one seen first stays).
fn higher_of(seen: Option<Vote<NodeId>>, new: Option<Vote<NodeId>>) -> Option<Vote<NodeId>> {
    match (seen, new) {
        (Some(seen), Some(new)) if new > seen => Some(new),
        (Some(seen), _) => Some(seen),
        (None, new) => new,
    }
}

/// The vote in `answer` when it is a refusal for a higher one.
fn higher_vote_in(answer: &Result<Answer, tokio::task::JoinError>) -> Option<Vote<NodeId>> {
    match answer {
        Ok(Ok(Ok(AppendEntriesResponse::HigherVote(vote)))) => Some(*vote),
        _ => None,
    }
}

impl Appends {
    /// Waits for the append still on its way, if any: what it got the follower to hold.
    /// Finding it unanswered means openraft's timeout dropped it, so the budget halves.
    pub(super) async fn settle(&mut self, target: NodeId) -> Option<Held> {
        let on_its_way = self.on_its_way.as_mut()?;
        if !on_its_way.answer.is_finished() && self.budget.shrink() {
            self.budget.report(target);
        }
        let answer = (&mut on_its_way.answer).await;
        let done = self.on_its_way.take()?;
        self.higher = higher_of(self.higher, higher_vote_in(&answer));
        let last = match answer {
            Ok(Ok(Ok(AppendEntriesResponse::Success))) => done.last,
            Ok(Ok(Ok(AppendEntriesResponse::PartialSuccess(matching)))) => matching,
            _ => return None,
        };
        Some(Held {
            vote: done.vote,
            last,
        })
    }

    /// Sends `plan`'s request with `send` and waits for its answer. Dropped by openraft's
    /// timeout, the append stays on its way for the next [`Appends::settle`].
    pub(super) async fn send<F>(
        &mut self,
        target: NodeId,
        plan: &Plan,
        send: F,
    ) -> Result<Answer, AppendError>
    where
        F: std::future::Future<Output = Answer> + Send + 'static,
    {
        let limited =
            plan.cut.is_some() || entries_that_fit(&plan.request.entries, self.budget.bytes / 2).is_some();
        let on_its_way = self.on_its_way.insert(OnItsWay {
            vote: plan.request.vote,
            last: plan.last_sent(),
            limited,
            answer: tokio::spawn(send),
        });
        let answer = (&mut on_its_way.answer).await;
        let accepted = matches!(
            answer,
            Ok(Ok(Ok(
                AppendEntriesResponse::Success | AppendEntriesResponse::PartialSuccess(_)
            )))
        );
        if self.on_its_way.take().is_some_and(|done| done.limited) && accepted {
            self.budget.grow();
        }
        answer.map_err(|source| AppendError::Abandoned {
            member: target,
            source,
        })
    }

    /// Sends a heartbeat with `send` and waits for its answer. Dropped by openraft's timeout,
    /// it stays on its way until the next call, which reads a higher vote from its answer.
    pub(super) async fn heartbeat<F>(&mut self, target: NodeId, send: F) -> Result<Answer, AppendError>
    where
        F: std::future::Future<Output = Answer> + Send + 'static,
    {
        self.collect_late_heartbeat();
        let answer = self.heartbeat.insert(tokio::spawn(send)).await;
        self.heartbeat = None;
        answer.map_err(|source| AppendError::Abandoned {
            member: target,
            source,
        })
    }

    /// A vote higher than `vote` that the member answered with after openraft stopped
    /// waiting (each is reported once).
    pub(super) fn higher_vote_than(&mut self, vote: &Vote<NodeId>) -> Option<Vote<NodeId>> {
        self.collect_late_heartbeat();
        self.higher.take().filter(|higher| higher > vote)
    }

    /// Reads the answer of a heartbeat openraft dropped, once it has arrived.
    fn collect_late_heartbeat(&mut self) {
        use futures::FutureExt;
        let Some(handle) = self.heartbeat.as_mut() else {
            return;
        };
        if let Some(answer) = handle.now_or_never() {
            self.heartbeat = None;
            self.higher = higher_of(self.higher, higher_vote_in(&answer));
        }
    }

    /// The current budget, in bytes.
    #[cfg(test)]
    fn budget(&self) -> usize {
        self.budget.bytes
    }
}

/// What is sent for one of openraft's appends, and how its answer reads for openraft.
#[derive(Debug)]
pub(super) struct Plan {
    /// What goes to the follower.
    pub(super) request: AppendEntriesRequest<TypeConfig>,
    /// Entries of openraft's request left out because the follower already holds them.
    skipped: usize,
    /// The last log id sent, when the budget left entries out at the end.
    cut: Option<LogId<NodeId>>,
}

impl Plan {
    /// openraft's `request` without the entries `held` says the follower has, cut to `budget`.
    pub(super) fn new(
        mut request: AppendEntriesRequest<TypeConfig>,
        held: Option<Held>,
        appends: &Appends,
    ) -> Self {
        let skipped = held
            .filter(|held| held.vote == request.vote)
            .and_then(|held| held.last)
            .and_then(|last| request.entries.iter().position(|e| e.log_id == last))
            .map_or(0, |position| position + 1);
        if skipped > 0 {
            request.prev_log_id = Some(request.entries[skipped - 1].log_id);
            request.entries.drain(..skipped);
        }
        let cut = entries_that_fit(&request.entries, appends.budget.bytes).map(|fit| {
            request.entries.truncate(fit);
            request.entries[fit - 1].log_id
        });
        Self {
            request,
            skipped,
            cut,
        }
    }

    fn last_sent(&self) -> Option<LogId<NodeId>> {
        self.request
            .entries
            .last()
            .map(|e| e.log_id)
            .or(self.request.prev_log_id)
    }

    /// The follower's answer to what was sent, as an answer to what openraft asked; `None`
    /// an error when it cannot be one (the follower no longer holds entries it acknowledged,
    /// which only a later leader can cause): openraft then sends again from where it was.
    pub(super) fn read(
        &self,
        target: NodeId,
        answer: AppendEntriesResponse<NodeId>,
    ) -> Result<AppendEntriesResponse<NodeId>, AppendError> {
        Ok(match answer {
            AppendEntriesResponse::Success => match self.cut {
                Some(last) => AppendEntriesResponse::PartialSuccess(Some(last)),
                None => AppendEntriesResponse::Success,
            },
            AppendEntriesResponse::Conflict if self.skipped > 0 => {
                return Err(AppendError::Regressed { member: target });
            }
            other => other,
        })
    }
}

#[cfg(test)]
mod tests;
