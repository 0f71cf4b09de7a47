//! Nested status: where pins stand on every member and, under each member whose IPFS daemon is
//! a child cluster's gateway, on that child's members, down to a depth (docs/composite.md).
//!
//! # Where it sits
//! `GET /pins[/{cid}]?depth=N` (N above 1) and the gateway's `cairn/status` call
//! [`Statuses::global_infos`]. It asks every member for `rpc::ClusterRequest::Nested` a chunk of
//! CIDs at a time ([`chunk_size`]); each member answers from its tracker and, when its daemon
//! is a Cairn gateway, asks that gateway's `cairn/status` at `depth - 1` about the chunk's
//! CIDs it holds itself (a `remote` pin has nothing below it).
//!
//! # Invariants
//! - Memory follows the chunk and the tree below it, not the pinset.
//! - Every round has a budget (the caller's `timeout`, at most `network_timeout`); a member
//!   gives its child all but an eighth of what it was given, so a slow child shows `child_error`
//!   under its peer while the peer's own status still arrives. A member that does not answer
//!   shows `cluster_error` for itself only, and is not asked again in the same call.
//! - Each level asks the next one level less deep (at most `MAX_DEPTH`), so the recursion ends
//!   even when clusters name each other as upstream.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cid::Cid;
use futures::StreamExt;
use futures::stream::BoxStream;

use super::pin_info::{ChildInfo, global, short};
use super::{StatusError, Statuses};
use crate::api::{GlobalPinInfo, PeerIdentity, Pin, parse_cid};
use crate::consensus::PeerNode;
use crate::rpc::NestedStatus;
use crate::tracker::{LocalStatus, Status};

/// Pins answered per round of requests to the members: fewer when each carries the tree below.
fn chunk_size(depth: u32) -> usize {
    if depth > 1 { 16 } else { 64 }
}

/// The part of its own budget a member gives the level below: all but an eighth (at least a
/// quarter of a second), kept to answer with what it has.
fn below(budget: Duration) -> Duration {
    budget.saturating_sub((budget / 8).max(Duration::from_millis(250)))
}

/// Pins of one chunk: each CID with its pin, if the pinset has it.
type Chunk = Vec<(Cid, Option<Pin>)>;

/// One member and its identifying `PinInfoShort` part.
type Member = (PeerNode, PeerIdentity);

/// Members that failed earlier in this call, with why: not asked again.
type Failed = Mutex<HashMap<String, String>>;

/// What one call of [`Statuses::global_infos`] works with, shared by its rounds.
struct Call {
    members: Vec<Member>,
    failed: Failed,
    depth: u32,
    budget: Duration,
    filter: Option<String>,
}

impl Statuses {
    /// Serves `rpc::ClusterRequest::Nested` within `budget`.
    pub async fn local_nested(
        &self,
        cids: Vec<String>,
        depth: u32,
        budget: Duration,
    ) -> Result<Vec<NestedStatus>, StatusError> {
        let cids = cids.iter().map(|c| parse_cid(c)).collect::<Result<Vec<_>, _>>()?;
        let local = &self.0.local;
        let statuses: Vec<LocalStatus> = cids.iter().map(|cid| local.status(cid)).collect();
        let held: Vec<Cid> = cids
            .iter()
            .zip(&statuses)
            .filter(|(_, s)| !matches!(s.status, Status::Remote | Status::Unpinned))
            .map(|(cid, _)| *cid)
            .collect();
        let children = self.child_infos(&held, depth, budget).await;
        let answer = cids.iter().zip(statuses).map(|(cid, status)| NestedStatus {
            cid: cid.to_string(),
            child: children
                .as_ref()
                .filter(|_| held.contains(cid))
                .map(|found| child_of(found, cid)),
            status,
        });
        Ok(answer.collect())
    }

    /// What this peer's child cluster says of `cids` at `depth - 1` within `budget`, by CID
    /// text; `None` when there is no child to ask (depth 1, nothing held, no daemon, or a
    /// daemon that is not a Cairn gateway).
    async fn child_infos(
        &self,
        cids: &[Cid],
        depth: u32,
        budget: Duration,
    ) -> Option<Result<HashMap<String, GlobalPinInfo>, String>> {
        let child = Some(&self.0.child).filter(|c| depth > 1 && !cids.is_empty() && c.is_cluster())?;
        let asked = child.status(cids, depth - 1, below(budget));
        let answer = match tokio::time::timeout(budget, asked).await {
            Ok(answer) => answer,
            Err(_) => Err(format!("the child cluster did not answer within {budget:?}")),
        };
        Some(answer.map(|infos| infos.into_iter().map(|info| (info.cid.clone(), info)).collect()))
    }

    /// One member's `rpc::ClusterRequest::Nested` answer within `budget` (this peer's served
    /// directly).
    async fn nested_on(
        &self,
        member: &PeerNode,
        cids: &[Cid],
        depth: u32,
        budget: Duration,
    ) -> Result<Vec<NestedStatus>, StatusError> {
        let cids = cids.iter().map(ToString::to_string).collect();
        let asked = async {
            if self.is_me(member) {
                return self.local_nested(cids, depth, below(budget)).await;
            }
            Ok(self.0.remote.nested(member, cids, depth, below(budget)).await?)
        };
        match tokio::time::timeout(budget, asked).await {
            Ok(answer) => answer,
            Err(_) => Err(StatusError::Timeout {
                peer: member.peer_id.clone(),
                budget,
            }),
        }
    }

    /// `GlobalPinInfo` of each pin of `cids` (every pin of the pinset when `None`), with each
    /// peer's child cluster below it down to `depth`; only peers whose status matches `filter`
    /// are shown, and pins with none are left out. Each round of asking the members ends
    /// within `timeout` (at most, and by default, `network_timeout`).
    pub fn global_infos(
        &self,
        cids: Option<Vec<Cid>>,
        depth: u32,
        filter: Option<String>,
        timeout: Option<Duration>,
    ) -> BoxStream<'static, Result<GlobalPinInfo, StatusError>> {
        let members = self.members().into_iter().map(|m| {
            let identity = self.identity(&m);
            (m, identity)
        });
        let call = Arc::new(Call {
            members: members.collect(),
            failed: Failed::default(),
            depth,
            budget: timeout.map_or(self.0.network_timeout, |t| t.min(self.0.network_timeout)),
            filter,
        });
        let this = self.clone();
        let answered = self.chunks(cids, chunk_size(depth)).then(move |chunk| {
            let (this, call) = (this.clone(), call.clone());
            async move {
                match chunk {
                    Ok(chunk) => this.chunk_infos(&call, chunk).await,
                    Err(e) => vec![Err(e)],
                }
            }
        });
        Box::pin(answered.flat_map(futures::stream::iter))
    }

    /// The pins of `cids` (or of the whole pinset, read in the background) in chunks.
    fn chunks(&self, cids: Option<Vec<Cid>>, size: usize) -> BoxStream<'static, Result<Chunk, StatusError>> {
        let pins = self.0.pins.clone();
        let Some(cids) = cids else {
            return match self.0.listings.pins() {
                Ok(listing) => Box::pin(listing.chunks(size).map(|chunk| {
                    chunk
                        .into_iter()
                        .map(|pin| pin.map(|p| (p.cid, Some(p))).map_err(StatusError::from))
                        .collect()
                })),
                Err(busy) => Box::pin(futures::stream::once(async move { Err(busy.into()) })),
            };
        };
        let chunks: Vec<Vec<Cid>> = cids.chunks(size).map(<[Cid]>::to_vec).collect();
        Box::pin(futures::stream::iter(chunks).map(move |chunk| {
            chunk
                .into_iter()
                .map(|cid| Ok((cid, pins.get(&cid)?)))
                .collect::<Result<Chunk, StatusError>>()
        }))
    }

    /// The `GlobalPinInfo` lines of one chunk, every member asked at once (but those that
    /// failed earlier in the call).
    async fn chunk_infos(&self, call: &Call, chunk: Chunk) -> Vec<Result<GlobalPinInfo, StatusError>> {
        let cids: Vec<Cid> = chunk.iter().map(|(cid, _)| *cid).collect();
        let asks = call
            .members
            .iter()
            .map(|(m, _)| self.member_answer(call, m, &cids));
        let answers: Vec<MemberAnswer> = futures::future::join_all(asks).await;
        let lines = chunk.iter().filter_map(|(cid, pin)| {
            let mut peer_map = BTreeMap::new();
            for ((member, identity), answer) in call.members.iter().zip(&answers) {
                let (local, child) = answer.view(cid);
                if call.filter.as_deref().is_none_or(|f| local.status.matches(f)) {
                    peer_map.insert(member.peer_id.clone(), short(identity, &local, child));
                }
            }
            (!peer_map.is_empty()).then(|| Ok(global(cid, pin.as_ref(), peer_map)))
        });
        lines.collect()
    }

    /// `member`'s answer to one chunk, or the reason it failed earlier in `call`.
    async fn member_answer(&self, call: &Call, member: &PeerNode, cids: &[Cid]) -> MemberAnswer {
        if let Some(why) = lock(&call.failed).get(&member.peer_id) {
            return MemberAnswer(Err(why.clone()));
        }
        let answer = MemberAnswer::from(self.nested_on(member, cids, call.depth, call.budget).await);
        if let Err(why) = &answer.0 {
            lock(&call.failed).insert(member.peer_id.clone(), why.clone());
        }
        answer
    }
}

fn lock(failed: &Failed) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
    failed.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The child's answer for `cid` in what a member found.
fn child_of(
    found: &Result<HashMap<String, GlobalPinInfo>, String>,
    cid: &Cid,
) -> Result<GlobalPinInfo, String> {
    match found {
        Ok(by_cid) => by_cid
            .get(&cid.to_string())
            .cloned()
            .ok_or_else(|| "the child cluster did not answer for this pin".to_owned()),
        Err(why) => Err(why.clone()),
    }
}

/// One member's answer to a chunk, by CID text, or why it did not answer.
struct MemberAnswer(Result<HashMap<String, NestedStatus>, String>);

impl From<Result<Vec<NestedStatus>, StatusError>> for MemberAnswer {
    fn from(answer: Result<Vec<NestedStatus>, StatusError>) -> Self {
        Self(
            answer
                .map(|found| found.into_iter().map(|n| (n.cid.clone(), n)).collect())
                .map_err(|e| e.to_string()),
        )
    }
}

impl MemberAnswer {
    /// The member's status of `cid` and its child's `GlobalPinInfo`, if it has a child.
    fn view(&self, cid: &Cid) -> (LocalStatus, Option<ChildInfo>) {
        let found = match &self.0 {
            Ok(by_cid) => by_cid.get(&cid.to_string()),
            Err(why) => return (LocalStatus::now(Status::ClusterError, why.clone(), 0), None),
        };
        let Some(found) = found else {
            let why = "the peer did not answer for this pin".to_owned();
            return (LocalStatus::now(Status::ClusterError, why, 0), None);
        };
        let child = found.child.clone();
        (found.status.clone(), child)
    }
}
