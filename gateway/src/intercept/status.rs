//! `cairn/status` (Cairn's extension, not a kubo command): where pins stand across this
//! cluster, one ipfs-cluster `GlobalPinInfo` per line, so that a parent cluster whose upstream
//! is this gateway can show the bytes' whereabouts below it (docs/composite.md).
//!
//! `arg` (repeatable) names the pins, none means every pin of the pinset; `depth` (default 1)
//! above 1 adds, under each peer whose own upstream is a Cairn gateway, that child cluster's
//! answer at `depth - 1`; kubo's global `timeout` option (a Go duration) bounds each round of
//! asking the peers, so a parent that must answer its own caller in time can say how long it
//! can wait. Lines stream as the cluster answers; a late failure ends the answer with
//! `X-Stream-Error`, as kubo's streams do.

use std::time::Duration;

use futures::StreamExt;
use http::Response;

use super::Ctx;
use super::error::InterceptError;
use super::query::{Query, cid_arg};
use super::reply;
use crate::Body;

/// The deepest nesting asked for. Each level asks the next one level less, so even clusters
/// that name each other as upstream end the recursion; the cap keeps the fan-out of such a
/// loop (members to the power of the depth) small.
pub const MAX_DEPTH: u32 = 5;

/// `cairn/status`: parse → ask the cluster → stream its lines.
pub(super) async fn serve(ctx: &Ctx, query: Query) -> Result<Response<Body>, InterceptError> {
    let depth = depth(&query)?;
    let timeout = timeout(&query)?;
    let cids = query
        .args()
        .iter()
        .map(|a| cid_arg(a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut infos = ctx.cluster.status(cids, depth, timeout);
    let (response, lines) = reply::ndjson();
    tokio::spawn(async move {
        while let Some(info) = infos.next().await {
            match info {
                Ok(info) if lines.raw(info.bytes()).await => {}
                Ok(_) => return,
                Err(e) => return lines.fail(&e.to_string()).await,
            }
        }
    });
    Ok(response)
}

/// The `depth` option, 1 to [`MAX_DEPTH`], in go-ipfs-cmds' words when it does not parse.
fn depth(query: &Query) -> Result<u32, InterceptError> {
    let Some(text) = query.string(&["depth"]) else {
        return Ok(1);
    };
    let parsed = text.parse::<u32>().map_err(|_| {
        InterceptError::BadOption(format!(
            "Could not convert value \"{text}\" to type \"uint\" (for option \"-depth\")"
        ))
    })?;
    if !(1..=MAX_DEPTH).contains(&parsed) {
        return Err(InterceptError::BadOption(format!(
            "depth must be between 1 and {MAX_DEPTH}"
        )));
    }
    Ok(parsed)
}

/// kubo's global `timeout` option, if given.
fn timeout(query: &Query) -> Result<Option<Duration>, InterceptError> {
    let Some(text) = query.string(&["timeout"]) else {
        return Ok(None);
    };
    crate::duration::parse(text)
        .map(Some)
        .map_err(|e| InterceptError::BadOption(format!("timeout: {e}")))
}
