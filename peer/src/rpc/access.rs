//! Who may make which peer RPC: every request variant is classified here, in [`Call::access`]
//! (one `match`, so a new variant does not compile until it is classified), and the answering
//! side checks each request against it with [`Gate::admit`] before serving it.
//!
//! # The classes
//! - [`Access::Open`]: any peer holding the cluster secret. [`Call::Join`]: a new peer
//!   must be able to ask to join before anyone knows it (ipfs-cluster's `PeerAdd` is open for
//!   the same reason). A join is bound to the connection: it must name the peer that sends it
//!   ([`Refusal::ForeignJoin`]), so a peer can only ask for itself. The follower's calls
//!   ([`Call::Follow`], [`Call::FollowSnapshot`]) and [`Call::Block`]: a follower is no
//!   member and no one knows it in advance (ipfs-cluster's followers need only the secret);
//!   it reads the applied pinset, never writes, and fetches the content it pins.
//! - [`Access::Member`]: a current Raft member (voter or learner) of this peer's membership, or
//!   a peer in `cluster.trusted_peers` (ipfs-cluster's "trusted"). Everything else: Raft's
//!   append, vote and snapshot (a non-member must not vote or feed the log), the requests only
//!   the leader serves (a forwarded join, remove, write, read index: they change or read the
//!   shared state), the daemon's `repo/stat` and `repo/gc`, statuses, recover and sync (each
//!   makes this peer's daemon work or shows what it holds), events (as statuses: what this
//!   peer's tracker does).
//!
//! There is no "closed" class (ipfs-cluster's calls a peer makes on itself): what only an
//! operator may start (REST, the CLI) never travels as a peer RPC; it reaches the other peers
//! as the member-class calls above, sent by the member the operator talks to.
//!
//! # Invariants
//! - Membership is read at each request, never cached at connect: a peer removed from the
//!   membership (`cairn peers rm`) is refused from the next request on.
//! - A refused request is answered [`Refusal`] and nothing of it is served.
//! - The one exception to the member rule: while this peer's Raft holds no membership at all
//!   (it is joining and has not heard from the leader yet, or has not initialised), Raft's
//!   calls are admitted from any peer holding the secret, since the joiner learns who its
//!   members are only from the leader's first append or snapshot. From its first membership
//!   on, the rule holds.
//! - A refusal is logged at WARN once per (peer, call), not per request; the set of warned
//!   pairs is bounded by [`WARNED_MAX`] (when full it starts again, so warnings come back).
//!
//! # Not here
//! Who is a member is Raft's (`consensus::Members`); decoding is `rpc`'s; serving is
//! `cluster::inbound`'s.

use std::collections::HashSet;
use std::fmt;
use std::sync::Mutex;

use libp2p::{Multiaddr, PeerId};

use super::CodecError;
pub use super::call::{Access, Call, Refusal};
use super::protocol::{ClusterRequest, LeaderRequest, RaftRequest, Request, Response};
use crate::consensus::{MemberList, PeerNode};

/// (peer, call) pairs whose refusal was logged, at most.
pub const WARNED_MAX: usize = 1024;

impl Call {
    /// The call `request` makes.
    pub fn of(request: &Request) -> Call {
        match request {
            Request::Raft(RaftRequest::Append(_)) => Call::RaftAppend,
            Request::Raft(RaftRequest::Vote(_)) => Call::RaftVote,
            Request::Raft(RaftRequest::Snapshot(_)) => Call::RaftSnapshot,
            Request::Cluster(request) => match request {
                ClusterRequest::Join(_) => Call::Join,
                ClusterRequest::Leader(LeaderRequest::Join(_)) => Call::LeaderJoin,
                ClusterRequest::Leader(LeaderRequest::Remove(_)) => Call::Remove,
                ClusterRequest::Leader(LeaderRequest::Write(_)) => Call::Write,
                ClusterRequest::Leader(LeaderRequest::ReadIndex) => Call::ReadIndex,
                ClusterRequest::RepoStat(_) => Call::RepoStat,
                ClusterRequest::RepoGc => Call::RepoGc,
                ClusterRequest::Statuses { .. } => Call::Statuses,
                ClusterRequest::StatusOf(_) => Call::StatusOf,
                ClusterRequest::Nested { .. } => Call::Nested,
                ClusterRequest::Recover(_) => Call::Recover,
                ClusterRequest::Sync => Call::Sync,
                ClusterRequest::Events(_) => Call::Events,
                ClusterRequest::Follow(_) => Call::Follow,
                ClusterRequest::FollowSnapshot(_) => Call::FollowSnapshot,
            },
            Request::Block(_) => Call::Block,
        }
    }
}

/// Who may make `request` ([`Call::access`] of its call).
pub fn access(request: &Request) -> Access {
    Call::of(request).access()
}

/// Why an inbound request is not served.
#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    /// It does not decode.
    #[error(transparent)]
    Undecodable(#[from] CodecError),
    /// The sender may not make it.
    #[error(transparent)]
    Unauthorized(#[from] Refusal),
}

impl Rejected {
    /// The answer that tells the sender: [`Response::Refused`] for a request that does not
    /// decode, [`Response::Unauthorized`] for one it may not make.
    pub fn into_response(self) -> Response {
        match self {
            Rejected::Undecodable(e) => Response::Refused(e.to_string()),
            Rejected::Unauthorized(refusal) => Response::Unauthorized(refusal),
        }
    }
}

/// `cluster.trusted_peers`: peers admitted to member-class calls without being members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trusted {
    /// `"*"` was listed: every peer holding the secret is trusted.
    any: bool,
    peers: HashSet<PeerId>,
}

impl Trusted {
    /// From the configured entries (peer ids, or `"*"` for any). Entries are validated with
    /// the configuration; one that does not parse trusts nobody (and is logged).
    pub fn new(entries: &[String]) -> Self {
        let mut trusted = Self::default();
        for entry in entries {
            let entry = entry.trim();
            if entry == "*" {
                trusted.any = true;
            } else if let Ok(peer) = entry.parse::<PeerId>() {
                trusted.peers.insert(peer);
            } else {
                tracing::warn!(entry, "cluster.trusted_peers: not a peer id; ignored");
            }
        }
        trusted
    }

    /// Whether `peer` is trusted.
    pub fn allows(&self, peer: &PeerId) -> bool {
        self.any || self.peers.contains(peer)
    }
}

/// The check every inbound request passes before it is served (see the module docs).
pub struct Gate {
    members: Box<dyn MemberList>,
    trusted: Trusted,
    /// The (peer, call) pairs already logged, so that a refused peer's retries (a removed
    /// peer's elections) log once.
    warned: Mutex<HashSet<(PeerId, Call)>>,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate").field("trusted", &self.trusted).finish()
    }
}

impl Gate {
    /// Over the membership as it is at each request (`members`) and the trusted peers.
    pub fn new(members: impl MemberList + 'static, trusted: Trusted) -> Self {
        Self {
            members: Box::new(members),
            trusted,
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// Decodes an inbound request and admits it: the request to serve, or why it is not
    /// served ([`Rejected::into_response`] is the answer that says so).
    pub fn screen(&self, sender: &PeerId, bytes: &[u8]) -> Result<Request, Rejected> {
        let request = super::decode_request(bytes)?;
        self.admit(sender, &request)?;
        Ok(request)
    }

    /// `Ok` when `sender` (the connection's authenticated peer id) may make `request`; else
    /// why not, logged once per (sender, call).
    pub fn admit(&self, sender: &PeerId, request: &Request) -> Result<(), Refusal> {
        let call = Call::of(request);
        let verdict = self.judge(sender, call, request);
        if let Err(refusal) = &verdict {
            self.warn_once(sender, call, refusal);
        }
        verdict
    }

    fn judge(&self, sender: &PeerId, call: Call, request: &Request) -> Result<(), Refusal> {
        match call.access() {
            Access::Open => match request {
                Request::Cluster(ClusterRequest::Join(node)) => bound_to(sender, node),
                _ => Ok(()),
            },
            Access::Member if self.trusted.allows(sender) || self.is_member(sender, call) => Ok(()),
            Access::Member => Err(Refusal::NotMember { call }),
        }
    }

    /// Whether `sender` is in the membership now (Raft's calls: or there is none yet).
    fn is_member(&self, sender: &PeerId, call: Call) -> bool {
        let members = self.members.list();
        if members.is_empty() {
            return call.is_raft();
        }
        let sender = sender.to_base58();
        members.iter().any(|m| m.peer_id == sender)
    }

    fn warn_once(&self, sender: &PeerId, call: Call, refusal: &Refusal) {
        let fresh = match self.warned.lock() {
            Ok(mut warned) => {
                if warned.len() >= WARNED_MAX {
                    warned.clear();
                }
                warned.insert((*sender, call))
            }
            Err(_) => true,
        };
        if fresh {
            tracing::warn!(
                peer = %sender,
                %call,
                reason = %refusal,
                "peer RPC refused (logged once per peer and call)"
            );
        }
    }
}

/// `Ok` when the join names `sender` itself, in its peer id and in every address that names
/// a peer (`…/p2p/<id>`).
fn bound_to(sender: &PeerId, node: &PeerNode) -> Result<(), Refusal> {
    let foreign = || Refusal::ForeignJoin {
        claimed: node.peer_id.clone(),
    };
    if node.peer_id.parse::<PeerId>().ok().as_ref() != Some(sender) {
        return Err(foreign());
    }
    let names_another = |addr: &String| {
        addr.parse::<Multiaddr>()
            .ok()
            .and_then(|a| crate::net::split_p2p(&a))
            .is_some_and(|(peer, _)| peer != *sender)
    };
    match node.addrs.iter().find(|a| names_another(a)) {
        Some(addr) => Err(Refusal::ForeignJoin {
            claimed: addr.clone(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
