//! Read consistency: what a read served by this peer is guaranteed to see.
//!
//! # Invariants
//! - Default reads are local: they see every write this peer acknowledged (`commit` answers
//!   only after applying) and everything applied here before, possibly not a write another
//!   peer acknowledged a moment ago.
//! - A linearizable read ([`Consistency::Linearizable`]) first learns Raft's read index from
//!   the leader, which confirms with a quorum that it still leads (openraft's
//!   `get_read_log_id`), and waits until this peer applied up to it: the read sees every write
//!   acknowledged anywhere before it began. The index is never below the leader's last log
//!   index, so a leader that resumed leading after a crash, with a committed index older
//!   than its acknowledgements, still serves no stale read. Without a leader it waits like a write
//!   (`wait_for_leader_timeout`) and then fails with 503.

use std::time::Instant;

use openraft::error::{CheckIsLeaderError, RaftError};

use super::commit::RETRY_PAUSE;
use super::{Cluster, ClusterError};
use crate::rpc::AtLeader;

/// What a read must see.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Consistency {
    /// This peer's applied state (sees this peer's own acknowledged writes).
    #[default]
    Local,
    /// Every write acknowledged anywhere before the read began.
    Linearizable,
}

impl Consistency {
    /// Parses the `consistency` argument: `local` or `linearizable`.
    pub fn parse(word: &str) -> Result<Self, String> {
        match word {
            "local" | "" => Ok(Self::Local),
            "linearizable" => Ok(Self::Linearizable),
            other => Err(format!(
                "invalid consistency '{other}', must be one of {{local, linearizable}}"
            )),
        }
    }
}

impl Cluster {
    /// Returns once a read served now meets `consistency`.
    pub async fn read_barrier(&self, consistency: Consistency) -> Result<(), ClusterError> {
        if consistency == Consistency::Local {
            return Ok(());
        }
        let deadline = Instant::now() + self.leader_timeout;
        loop {
            self.healthy()?;
            let reason = match self.read_index().await {
                Ok(index) => return self.wait_read_index(index, deadline).await,
                Err(reason) => reason,
            };
            if Instant::now() >= deadline {
                return Err(ClusterError::NoLeader(format!(
                    "a linearizable read needs a leader and a quorum; none within {:?} ({reason}); \
                     members that do not answer: [{}]",
                    self.leader_timeout,
                    self.unreachable_members().join(", ")
                )));
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// Raft's read index, from this peer when it leads, else from the leader.
    async fn read_index(&self) -> Result<u64, String> {
        match self.leader_read_index().await {
            Ok(Some(index)) => return Ok(index),
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        let (_, Some(leader)) = self.leader().await.ok_or("no leader known")? else {
            return Err("the leader's address is unknown".into());
        };
        match self.rpc.read_index(&leader).await {
            Ok(AtLeader::Done(index)) => Ok(index),
            Ok(AtLeader::NotLeader(_)) => Err(format!("{leader} is no longer the leader")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The read index when this peer leads (confirmed by a quorum), `None` when it does not.
    ///
    /// openraft's read log id is its committed index (or this term's first entry), but a
    /// leader restarted by `kill -9` resumes leading with the committed index it finds on
    /// disk, which may be behind writes it acknowledged before the crash: the fault suite saw
    /// such a read miss them (seed 8401, kill-all). So the index is at least this leader's
    /// last log index: every acknowledged write is in the leader's log (Leader Completeness),
    /// and every entry of it gets committed while it leads, or the read times out.
    async fn leader_read_index(&self) -> Result<Option<u64>, ClusterError> {
        match self.raft.get_read_log_id().await {
            Ok((read, _)) => {
                let last_log = self.raft.metrics().borrow().last_log_index.unwrap_or(0);
                Ok(Some(read.map_or(0, |l| l.index).max(last_log)))
            }
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(_))) => Ok(None),
            Err(e) => Err(ClusterError::Consensus(e.to_string())),
        }
    }

    /// Serves [`ClusterRequest::ReadIndex`] from a follower.
    pub(super) async fn serve_read_index(&self) -> Result<AtLeader<u64>, ClusterError> {
        self.healthy()?;
        Ok(match self.leader_read_index().await? {
            Some(index) => AtLeader::Done(index),
            None => AtLeader::NotLeader(None),
        })
    }

    async fn wait_read_index(&self, index: u64, deadline: Instant) -> Result<(), ClusterError> {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(self.network_timeout);
        let wait = self.raft.wait(Some(left));
        match wait.applied_index_at_least(Some(index), "the read index").await {
            Ok(_) => Ok(()),
            Err(_) => Err(ClusterError::NoLeader(format!(
                "this peer has not applied up to the read index {index} in time; read from another peer"
            ))),
        }
    }
}
