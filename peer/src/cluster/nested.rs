//! Nested status: where pins stand on every member and, under each member whose IPFS daemon is
//! a child cluster's gateway, on that child's members, down to a depth (docs/composite.md).
//!
//! # Where it sits
//! `GET /pins[/{cid}]?depth=N` (N above 1) and the gateway's `cairn/status` call
//! [`Cluster::global_infos`]. It asks every member for [`ClusterRequest::Nested`] a chunk of
//! [`CHUNK`] CIDs at a time; each member answers from its tracker and, when its daemon is a
//! Cairn gateway, asks that gateway's `cairn/status` for the same chunk at `depth - 1`.
//!
//! # Invariants
//! - Memory and message sizes follow the chunk, not the pinset.
//! - A member that does not answer shows `cluster_error` for itself only; a child that does
//!   not answer shows `child_error` under its peer. The call itself succeeds.
//! - Each level asks the next one level less deep, so the recursion ends even when clusters
//!   name each other as upstream.

use std::collections::HashMap;
use std::sync::Arc;

use cid::Cid;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Map, Value};

use super::pin_info::{ChildInfo, global, short};
use super::{Cluster, ClusterError};
use crate::api::{Pin, parse_cid};
use crate::consensus::PeerNode;
use crate::net::{ClusterReply, ClusterRequest, NestedStatus};
use crate::tracker::{LocalStatus, Status};

/// Pins answered per round of requests to the members (and to their children).
pub(super) const CHUNK: usize = 64;

/// Pins of one chunk: each CID with its pin, if the pinset has it.
type Chunk = Vec<(Cid, Option<Pin>)>;

/// One member and its identifying `PinInfoShort` part.
type Member = (PeerNode, Value);

impl Cluster {
    /// Serves [`ClusterRequest::Nested`].
    pub(super) async fn local_nested(
        &self,
        cids: Vec<String>,
        depth: u32,
    ) -> Result<ClusterReply, ClusterError> {
        let cids = cids.iter().map(|c| parse_cid(c)).collect::<Result<Vec<_>, _>>()?;
        let tracker = self.running_tracker()?;
        let children = self.child_infos(&cids, depth).await;
        let answer = cids.iter().map(|cid| NestedStatus {
            cid: cid.to_string(),
            status: tracker.status(cid),
            child: children.as_ref().map(|found| child_of(found, cid)),
        });
        Ok(ClusterReply::Nested(answer.collect()))
    }

    /// What this peer's child cluster says of `cids` at `depth - 1`, by CID text; `None` when
    /// there is no child to ask (depth 1, no daemon, or a daemon that is not a Cairn gateway).
    async fn child_infos(&self, cids: &[Cid], depth: u32) -> Option<Result<HashMap<String, Value>, String>> {
        let ipfs = self.ipfs.get().filter(|ipfs| depth > 1 && ipfs.is_cairn())?;
        let answer = ipfs.child_status(cids, depth - 1).await;
        Some(answer.map_err(|e| e.to_string()).map(|infos| {
            let by_cid = infos
                .into_iter()
                .map(|info| (info["cid"].as_str().unwrap_or_default().to_owned(), info));
            by_cid.collect()
        }))
    }

    /// One member's [`ClusterRequest::Nested`] answer (this peer's served directly).
    async fn nested_on(
        &self,
        member: &PeerNode,
        cids: &[Cid],
        depth: u32,
    ) -> Result<Vec<NestedStatus>, ClusterError> {
        let cids = cids.iter().map(ToString::to_string).collect();
        let reply = if member.peer_id == self.peer_id {
            self.local_nested(cids, depth).await?
        } else {
            self.ask(member, ClusterRequest::Nested { cids, depth }).await?
        };
        match reply {
            ClusterReply::Nested(found) => Ok(found),
            other => Err(ClusterError::Consensus(format!("unexpected answer {other:?}"))),
        }
    }

    /// `GlobalPinInfo` of each pin of `cids` (every pin of the pinset when `None`), with each
    /// peer's child cluster below it down to `depth`; only peers whose status matches `filter`
    /// are shown, and pins with none are left out.
    pub fn global_infos(
        &self,
        cids: Option<Vec<Cid>>,
        depth: u32,
        filter: Option<String>,
    ) -> BoxStream<'static, Result<Value, ClusterError>> {
        let members: Arc<Vec<Member>> = Arc::new(
            self.members()
                .into_iter()
                .map(|m| {
                    let identity = self.identity(&m);
                    (m, identity)
                })
                .collect(),
        );
        let this = self.clone();
        let answered = self.chunks(cids).then(move |chunk| {
            let (this, members, filter) = (this.clone(), members.clone(), filter.clone());
            async move {
                match chunk {
                    Ok(chunk) => this.chunk_infos(&members, chunk, depth, filter.as_deref()).await,
                    Err(e) => vec![Err(e)],
                }
            }
        });
        Box::pin(answered.flat_map(futures::stream::iter))
    }

    /// The pins of `cids` (or of the whole pinset, read in the background) in chunks.
    fn chunks(&self, cids: Option<Vec<Cid>>) -> BoxStream<'static, Result<Chunk, ClusterError>> {
        let pins = self.pins.clone();
        let Some(cids) = cids else {
            let (tx, rx) = tokio::sync::mpsc::channel(2);
            tokio::task::spawn_blocking(move || read_chunks(&pins, &tx));
            return Box::pin(crate::receiver_stream(rx));
        };
        let chunks: Vec<Vec<Cid>> = cids.chunks(CHUNK).map(<[Cid]>::to_vec).collect();
        Box::pin(futures::stream::iter(chunks).map(move |chunk| {
            chunk
                .into_iter()
                .map(|cid| Ok((cid, pins.get(&cid)?)))
                .collect::<Result<Chunk, ClusterError>>()
        }))
    }

    /// The `GlobalPinInfo` lines of one chunk, every member asked at once.
    async fn chunk_infos(
        &self,
        members: &[Member],
        chunk: Chunk,
        depth: u32,
        filter: Option<&str>,
    ) -> Vec<Result<Value, ClusterError>> {
        let cids: Vec<Cid> = chunk.iter().map(|(cid, _)| *cid).collect();
        let asks = members.iter().map(|(m, _)| self.nested_on(m, &cids, depth));
        let answers: Vec<MemberAnswer> = futures::future::join_all(asks)
            .await
            .into_iter()
            .map(MemberAnswer::from)
            .collect();
        let lines = chunk.iter().filter_map(|(cid, pin)| {
            let mut peer_map = Map::new();
            for ((member, identity), answer) in members.iter().zip(&answers) {
                let (local, child) = answer.view(cid);
                if filter.is_none_or(|f| local.status.matches(f)) {
                    peer_map.insert(member.peer_id.clone(), short(identity, &local, child.as_ref()));
                }
            }
            (!peer_map.is_empty()).then(|| Ok(global(cid, pin.as_ref(), peer_map)))
        });
        lines.collect()
    }
}

/// Reads the whole pinset into `tx` a chunk at a time (blocking: redb).
fn read_chunks(pins: &crate::state::PinStore, tx: &tokio::sync::mpsc::Sender<Result<Chunk, ClusterError>>) {
    let rows = match pins.iter() {
        Ok(rows) => rows,
        Err(e) => return drop(tx.blocking_send(Err(e.into()))),
    };
    let mut chunk = Vec::with_capacity(CHUNK);
    for row in rows {
        match row {
            Ok(pin) => chunk.push((pin.cid, Some(pin))),
            Err(e) => return drop(tx.blocking_send(Err(e.into()))),
        }
        if chunk.len() == CHUNK && tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err() {
            return; // the caller went away
        }
    }
    if !chunk.is_empty() {
        let _ = tx.blocking_send(Ok(chunk));
    }
}

/// The child's answer for `cid` in what a member found.
fn child_of(found: &Result<HashMap<String, Value>, String>, cid: &Cid) -> Result<String, String> {
    match found {
        Ok(by_cid) => by_cid
            .get(&cid.to_string())
            .map(Value::to_string)
            .ok_or_else(|| "the child cluster did not answer for this pin".to_owned()),
        Err(why) => Err(why.clone()),
    }
}

/// One member's answer to a chunk, by CID text, or why it did not answer.
struct MemberAnswer(Result<HashMap<String, NestedStatus>, String>);

impl From<Result<Vec<NestedStatus>, ClusterError>> for MemberAnswer {
    fn from(answer: Result<Vec<NestedStatus>, ClusterError>) -> Self {
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
        let child = found.child.as_ref().map(|child| match child {
            Ok(text) => serde_json::from_str(text).map_err(|e| format!("child answer: {e}")),
            Err(why) => Err(why.clone()),
        });
        (found.status.clone(), child)
    }
}
