//! A child cluster's events, one level down: while this peer's journal is wanted and its IPFS
//! daemon is a Cairn gateway, this peer follows the gateway's `cairn/events` and records each
//! event in its own journal at `level + 1`, with `via` naming this peer (docs/composite.md).
//!
//! # Invariants
//! - The child's stream is resumed after the last id read (`since`), so a reconnect neither
//!   repeats nor skips the child's events; the child's own notice that events were missed
//!   becomes a gap of this peer's child cluster (level 1, `via` this peer).
//! - A child that cannot be asked is retried with a back-off from 1 s to 30 s, warned about
//!   once until it answers again.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::Deserialize;

use super::Inner;
use super::relay::IDLE_CHECK;
use crate::eventlog::Event;
use crate::ipfs::IpfsClient;

const BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A subscriber's notice that it fell behind (`{"missed":true,"oldest":N}`).
#[derive(Deserialize)]
struct Notice {
    missed: bool,
}

/// Follows the child cluster behind `daemon` while wanted (see the module docs).
pub(super) async fn follow(inner: Arc<Inner>, daemon: IpfsClient) {
    let mut cursor: Option<u64> = None;
    let mut backoff = BACKOFF;
    let mut warned = false;
    loop {
        if !(inner.journal_wanted() && daemon.is_cairn()) {
            tokio::time::sleep(IDLE_CHECK).await;
            continue;
        }
        let mut lines = match daemon.child_events(cursor).await {
            Ok(lines) => lines,
            Err(e) => {
                if !warned {
                    tracing::warn!(error = %e, "events: cannot follow the child cluster's events; retrying");
                    warned = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        (backoff, warned) = (BACKOFF, false);
        while let Some(line) = lines.next().await {
            match line {
                Ok(line) => take(&inner, &line, &mut cursor),
                Err(e) => {
                    tracing::debug!(error = %e, "events: the child cluster's stream ended");
                    break;
                }
            }
            if !inner.journal_wanted() {
                break;
            }
        }
    }
}

/// Records one line of the child's stream one level down.
fn take(inner: &Inner, line: &[u8], cursor: &mut Option<u64>) {
    if line.iter().all(u8::is_ascii_whitespace) {
        return; // a keepalive
    }
    let me = &inner.journal;
    match serde_json::from_slice::<Event>(line) {
        Ok(mut event) => {
            *cursor = Some(event.id);
            event.level = event.level.saturating_add(1);
            event.via = me.peer().to_owned();
            me.record_child(event);
        }
        Err(e) => match serde_json::from_slice::<Notice>(line) {
            Ok(Notice { missed: true }) => {
                me.record_child(Event::gap(me.peer(), me.peername(), 1, me.peer()));
            }
            _ => tracing::debug!(error = %e, "events: a line of the child's stream is no event"),
        },
    }
}
