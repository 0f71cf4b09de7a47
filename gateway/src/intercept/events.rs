//! `cairn/events` (Cairn's extension, not a kubo command): the cluster's pin event stream, one
//! event per line as `GET /pins/events` on the REST API writes it (docs/events.md), so that a
//! parent cluster whose upstream is this gateway can follow its child's transitions.
//!
//! `arg` (repeatable) keeps only those pins; `since=<id>` replays the events the cluster still
//! holds after that id, then goes on live (a first line `{"missed":true,"oldest":<id>}` says
//! some were dropped). The answer never ends on its own: a blank line every [`KEEPALIVE`] of
//! quiet shows it is alive, and a client that leaves ends it.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::Response;

use super::Ctx;
use super::error::InterceptError;
use super::query::{Query, cid_arg};
use super::reply;
use crate::Body;

/// How often a quiet stream sends a blank line.
pub(super) const KEEPALIVE: Duration = Duration::from_secs(15);

/// `cairn/events`: parse → subscribe → stream the lines.
pub(super) async fn serve(ctx: &Ctx, query: Query) -> Result<Response<Body>, InterceptError> {
    let cids = query
        .args()
        .iter()
        .map(|a| cid_arg(a))
        .collect::<Result<Vec<_>, _>>()?;
    let since = match query.string(&["since"]) {
        None => None,
        Some(text) => Some(text.parse::<u64>().map_err(|_| {
            InterceptError::BadOption(format!(
                "Could not convert value \"{text}\" to type \"uint64\" (for option \"-since\")"
            ))
        })?),
    };
    let mut events = ctx.cluster.events(cids, since)?;
    let (response, lines) = reply::ndjson();
    tokio::spawn(async move {
        loop {
            let bytes = tokio::select! {
                line = events.next() => match line {
                    Some(line) => line.bytes(),
                    None => return,
                },
                () = tokio::time::sleep(KEEPALIVE) => Bytes::from_static(b"\n"),
            };
            if !lines.raw(bytes).await {
                return;
            }
        }
    });
    Ok(response)
}
