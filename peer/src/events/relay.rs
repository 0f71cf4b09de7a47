//! Gathering journals into this peer's log: its own (in-process, always) and every other
//! member's (over the peer RPC, while followed).
//!
//! # Invariants
//! - One reader per member, started when it appears in the membership and stopped when it
//!   leaves; it keeps its cursor while idle, so nothing in between is lost unless the member
//!   dropped it first, which is then recorded as a gap of that member.
//! - A member that cannot be asked is retried with a back-off from 1 s to 30 s, warned about
//!   once until it answers again; events it recorded meanwhile come in when it answers.
//! - A read that comes back empty before half its wait (the member had no wait slot free) is
//!   followed by a pause, so no reader spins.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Inner, MAX_BATCH};
use crate::consensus::{MemberList, PeerNode};
use crate::eventlog::{Event, EventsAsk};

/// How often the membership is read for members that came or went.
const MEMBERS_EVERY: Duration = Duration::from_secs(2);
/// How often an idle reader checks whether someone follows again.
pub(super) const IDLE_CHECK: Duration = Duration::from_millis(250);
/// The first pause after a failed read; it doubles up to [`MAX_BACKOFF`].
const BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Copies this peer's journal into its log, in order, for as long as the peer runs.
pub(super) async fn local(inner: Arc<Inner>) {
    let journal = inner.journal.log().clone();
    // From the journal's first event: it and the log were made together.
    let mut cursor = journal.oldest().saturating_sub(1);
    loop {
        let read = journal.after(cursor, MAX_BATCH);
        if read.missed.is_some() {
            let me = &inner.journal;
            inner.hub.push(Event::gap(me.peer(), me.peername(), 0, ""));
        }
        for event in &read.items {
            inner.hub.push(Event::clone(event));
        }
        cursor = read.cursor;
        if read.items.is_empty() {
            journal.wait_after(cursor, Duration::from_secs(3600)).await;
        }
    }
}

/// Keeps one reader per other member, as the membership changes.
pub(super) async fn members(
    inner: Arc<Inner>,
    members: Arc<dyn MemberList>,
    rpc: crate::rpc::Client,
    wait: Duration,
) {
    let me = inner.journal.peer().to_owned();
    let mut readers: HashMap<String, tokio::task::AbortHandle> = HashMap::new();
    loop {
        let now: Vec<PeerNode> = members.list().into_iter().filter(|m| m.peer_id != me).collect();
        readers.retain(|id, task| {
            let stays = now.iter().any(|m| &m.peer_id == id);
            if !stays {
                task.abort();
            }
            stays
        });
        for member in now {
            if let std::collections::hash_map::Entry::Vacant(slot) = readers.entry(member.peer_id.clone()) {
                let task = tokio::spawn(member_reader(inner.clone(), rpc.clone(), member, wait));
                slot.insert(task.abort_handle());
            }
        }
        tokio::time::sleep(MEMBERS_EVERY).await;
    }
}

/// Reads `member`'s journal into this peer's log while someone follows this peer.
async fn member_reader(inner: Arc<Inner>, rpc: crate::rpc::Client, member: PeerNode, wait: Duration) {
    let mut cursor: Option<u64> = None;
    let mut backoff = BACKOFF;
    let mut warned = false;
    let mut peername = String::new();
    loop {
        if !inner.followed() {
            tokio::time::sleep(IDLE_CHECK).await;
            continue;
        }
        let ask = EventsAsk {
            since: cursor,
            from_ms: inner.first_contact_ms(),
            wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            limit: MAX_BATCH as u32,
        };
        let started = Instant::now();
        match rpc.events(&member, ask).await {
            Ok(batch) => {
                if warned {
                    tracing::info!(peer = %member.peer_id, "events: the member answers again");
                }
                (backoff, warned) = (BACKOFF, false);
                if batch.missed.is_some() && cursor.is_some() {
                    inner.hub.push(Event::gap(&member.peer_id, &peername, 0, ""));
                }
                if let Some(last) = batch.events.last() {
                    peername.clone_from(&last.peername);
                }
                let empty = batch.events.is_empty();
                for event in batch.events {
                    inner.hub.push(event);
                }
                cursor = Some(batch.cursor);
                if empty && started.elapsed() < wait / 2 {
                    tokio::time::sleep(BACKOFF).await;
                }
            }
            Err(e) => {
                if !warned {
                    tracing::warn!(peer = %member.peer_id, error = %e, "events: cannot read the member's events; retrying");
                    warned = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
