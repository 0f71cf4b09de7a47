//! The names of the peer RPC's calls, who may make each ([`Access`]) and why one was refused
//! ([`Refusal`]): the vocabulary both the wire protocol (`protocol`, which carries a refusal)
//! and the policy (`access`, which reads requests) use, so neither depends on the other.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Who may make a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Access {
    /// Any peer holding the cluster secret.
    Open,
    /// A current Raft member (voter or learner), or a peer in `cluster.trusted_peers`.
    Member,
}

/// Every kind of peer RPC, one per request variant (a [`LeaderRequest`] is one call each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Call {
    /// [`RaftRequest::Append`].
    RaftAppend,
    /// [`RaftRequest::Vote`].
    RaftVote,
    /// [`RaftRequest::Snapshot`].
    RaftSnapshot,
    /// [`ClusterRequest::Join`]: a new peer asks for itself.
    Join,
    /// [`LeaderRequest::Join`]: a member forwards a join to the leader.
    LeaderJoin,
    /// [`LeaderRequest::Remove`].
    Remove,
    /// [`LeaderRequest::Write`].
    Write,
    /// [`LeaderRequest::ReadIndex`].
    ReadIndex,
    /// [`ClusterRequest::RepoStat`].
    RepoStat,
    /// [`ClusterRequest::RepoGc`].
    RepoGc,
    /// [`ClusterRequest::Statuses`].
    Statuses,
    /// [`ClusterRequest::StatusOf`].
    StatusOf,
    /// [`ClusterRequest::Nested`].
    Nested,
    /// [`ClusterRequest::Recover`].
    Recover,
    /// [`ClusterRequest::Sync`].
    Sync,
    /// [`ClusterRequest::Events`].
    Events,
    /// [`Request::Block`].
    Block,
    /// [`ClusterRequest::Follow`].
    Follow,
    /// [`ClusterRequest::FollowSnapshot`].
    FollowSnapshot,
}

impl Call {
    /// Every call, in the order docs/security.md lists them.
    pub const ALL: [Call; 19] = [
        Call::Join,
        Call::RaftAppend,
        Call::RaftVote,
        Call::RaftSnapshot,
        Call::LeaderJoin,
        Call::Remove,
        Call::Write,
        Call::ReadIndex,
        Call::RepoStat,
        Call::RepoGc,
        Call::Statuses,
        Call::StatusOf,
        Call::Nested,
        Call::Recover,
        Call::Sync,
        Call::Events,
        Call::Block,
        Call::Follow,
        Call::FollowSnapshot,
    ];

    /// The policy: who may make this call (the reasons are in the module docs).
    pub fn access(self) -> Access {
        match self {
            Call::Join | Call::Block | Call::Follow | Call::FollowSnapshot => Access::Open,
            Call::RaftAppend
            | Call::RaftVote
            | Call::RaftSnapshot
            | Call::LeaderJoin
            | Call::Remove
            | Call::Write
            | Call::ReadIndex
            | Call::RepoStat
            | Call::RepoGc
            | Call::Statuses
            | Call::StatusOf
            | Call::Nested
            | Call::Recover
            | Call::Sync
            | Call::Events => Access::Member,
        }
    }

    /// Raft's own calls (admitted from anyone while this peer has no membership yet).
    pub fn is_raft(self) -> bool {
        matches!(self, Call::RaftAppend | Call::RaftVote | Call::RaftSnapshot)
    }

    /// Its name in logs and docs.
    pub fn name(self) -> &'static str {
        match self {
            Call::RaftAppend => "raft.append",
            Call::RaftVote => "raft.vote",
            Call::RaftSnapshot => "raft.snapshot",
            Call::Join => "join",
            Call::LeaderJoin => "leader.join",
            Call::Remove => "leader.remove",
            Call::Write => "leader.write",
            Call::ReadIndex => "leader.read_index",
            Call::RepoStat => "repo_stat",
            Call::RepoGc => "repo_gc",
            Call::Statuses => "statuses",
            Call::StatusOf => "status_of",
            Call::Nested => "nested",
            Call::Recover => "recover",
            Call::Sync => "sync",
            Call::Events => "events",
            Call::Block => "block",
            Call::Follow => "follow",
            Call::FollowSnapshot => "follow.snapshot",
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a peer refused a request it could decode; nothing of the request was served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Refusal {
    /// A member-class call from a peer that is neither a member nor trusted (a removed peer,
    /// or a stranger holding the secret).
    #[error(
        "{call} is for cluster members: the caller is neither a member of this cluster nor a trusted peer"
    )]
    NotMember {
        /// The call refused.
        call: Call,
    },
    /// A join that names another peer than the one sending it.
    #[error("a join must name the peer that sends it, not {claimed}")]
    ForeignJoin {
        /// The peer id (or address) the join named.
        claimed: String,
    },
}
