//! A pin request's [`Status`] from the trackers of the peers it is allocated to, and its
//! `delegates` from who those peers are.
//!
//! # The mapping (ipfs-cluster's precedence, over the allocations only)
//! Each allocated member (every member when the pin is everywhere) says one tracker status;
//! a member that did not answer says `cluster_error`. Then, first rule that applies:
//! 1. any `pin_error`, `unpin_error`, `cluster_error` or `unexpectedly_unpinned` → `failed`
//!    (the errors go in `info`, by peer id);
//! 2. any `pin_queued`, `unpin_queued`, `unpinning` or `unpinned` (the tracker has not taken
//!    it up yet) → `queued`;
//! 3. any `pinning` → `pinning`;
//! 4. any `pinned` → `pinned`;
//! 5. nothing (no allocated peer is a member) → `failed`.
//!
//! `remote` is a member the pin is not allocated to, and says nothing. Unlike ipfs-cluster, a
//! member that is not allocated the pin cannot make it fail by being unreachable.
//!
//! # Delegates
//! The allocated members' IPFS swarm addresses (from their `ping` metric), else their cluster
//! swarm addresses (the embedded node has no swarm), each ending in `/p2p/<id>`; at most 20,
//! and at least this peer's own.

use std::collections::BTreeMap;

use cid::Cid;

use super::types::{MAX_ORIGINS, Status};
use crate::api::{PeerIdentity, Pin, TrackerStatus};
use crate::consensus::PeerNode;
use crate::tracker::{LocalStatus, untracked};

/// What one member says of a pin: its tracker's status and error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The member's peer id.
    pub peer: String,
    /// Its tracker's status.
    pub status: TrackerStatus,
    /// Its tracker's error (empty when none).
    pub error: String,
}

impl Report {
    /// `member`'s report of `pin` from its tracker's statuses, or from why it did not answer.
    pub fn of(member: &PeerNode, pin: &Pin, answer: Result<Option<&LocalStatus>, &str>) -> Self {
        let (status, error) = match answer {
            Ok(Some(local)) => (local.status, local.error.clone()),
            Ok(None) => (untracked(Some(pin), &member.peer_id), String::new()),
            Err(why) => (TrackerStatus::ClusterError, why.to_owned()),
        };
        Self {
            peer: member.peer_id.clone(),
            status,
            error,
        }
    }
}

/// Whether `pin` is allocated to `peer` (every peer when its allocations are empty).
pub fn allocated(pin: &Pin, peer: &str) -> bool {
    pin.allocations.is_empty() || pin.allocations.iter().any(|a| a == peer)
}

fn class(status: TrackerStatus) -> Option<Status> {
    match status {
        TrackerStatus::PinError
        | TrackerStatus::UnpinError
        | TrackerStatus::ClusterError
        | TrackerStatus::UnexpectedlyUnpinned => Some(Status::Failed),
        TrackerStatus::PinQueued
        | TrackerStatus::UnpinQueued
        | TrackerStatus::Unpinning
        | TrackerStatus::Unpinned => Some(Status::Queued),
        TrackerStatus::Pinning => Some(Status::Pinning),
        TrackerStatus::Pinned => Some(Status::Pinned),
        TrackerStatus::Remote => None,
    }
}

/// The request's status from the members' `reports` (see the module docs), with the failing
/// peers' errors as `info`.
pub fn overall(pin: &Pin, reports: &[Report]) -> (Status, BTreeMap<String, String>) {
    let classes: Vec<(&Report, Status)> = reports
        .iter()
        .filter(|r| allocated(pin, &r.peer))
        .filter_map(|r| class(r.status).map(|c| (r, c)))
        .collect();
    let any = |wanted: Status| classes.iter().any(|(_, c)| *c == wanted);
    let status = [Status::Failed, Status::Queued, Status::Pinning, Status::Pinned]
        .into_iter()
        .find(|s| any(*s))
        .unwrap_or(Status::Failed);
    let mut info: BTreeMap<String, String> = classes
        .iter()
        .filter(|(_, c)| *c == Status::Failed)
        .take(MAX_ORIGINS)
        .map(|(r, _)| (r.peer.clone(), failure_text(r)))
        .collect();
    if classes.is_empty() {
        info.insert(
            "error".into(),
            "no member of the cluster is allocated this pin".into(),
        );
    }
    (status, info)
}

fn failure_text(report: &Report) -> String {
    match report.error.is_empty() {
        true => report.status.name().to_owned(),
        false => format!("{}: {}", report.status.name(), report.error),
    }
}

/// The multiaddrs of the nodes that hold `pin`: each allocated member's IPFS addresses, else
/// its cluster addresses; `fallback`'s (this peer's) when none is known.
pub fn delegates(pin: &Pin, members: &[(PeerNode, PeerIdentity)], fallback: &PeerNode) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (member, identity) in members.iter().filter(|(m, _)| allocated(pin, &m.peer_id)) {
        add_unique(&mut out, addresses_of(member, identity));
    }
    if out.is_empty() {
        add_unique(&mut out, with_id(&fallback.addrs, &fallback.peer_id));
    }
    out
}

/// Appends the addresses not yet in `out`, up to [`MAX_ORIGINS`] in all.
fn add_unique(out: &mut Vec<String>, addrs: Vec<String>) {
    for addr in addrs {
        if out.len() < MAX_ORIGINS && !out.contains(&addr) {
            out.push(addr);
        }
    }
}

fn addresses_of(member: &PeerNode, identity: &PeerIdentity) -> Vec<String> {
    match &identity.ipfs {
        Some((id, addrs)) if !addrs.is_empty() => with_id(addrs, id),
        _ => with_id(&member.addrs, &member.peer_id),
    }
}

/// `addrs`, each ending in `/p2p/<id>`.
fn with_id(addrs: &[String], id: &str) -> Vec<String> {
    addrs
        .iter()
        .map(|a| match a.contains("/p2p/") {
            true => a.clone(),
            false => format!("{}/p2p/{id}", a.trim_end_matches('/')),
        })
        .collect()
}

/// Each member's report of `pin` from a fan-out of every member's statuses.
pub fn reports_of(pin: &Pin, everywhere: &[crate::status::MemberStatuses]) -> Vec<Report> {
    everywhere
        .iter()
        .map(|(member, answer)| {
            let answer = answer
                .as_ref()
                .map(|all| all.get(&pin.cid))
                .map_err(String::as_str);
            Report::of(member, pin, answer)
        })
        .collect()
}

/// Each member's report of `cid`'s `pin` from a fan-out for that CID alone.
pub fn reports_for(pin: &Pin, cid: &Cid, answers: &[(PeerNode, Result<LocalStatus, String>)]) -> Vec<Report> {
    debug_assert_eq!(&pin.cid, cid);
    answers
        .iter()
        .map(|(member, answer)| Report::of(member, pin, answer.as_ref().map(Some).map_err(String::as_str)))
        .collect()
}

#[cfg(test)]
mod tests;
