//! `pin/add`, `pin/rm` and `pin/update`: committed to the cluster, answered as kubo does
//! (`{"Pins":[…]}`, kubo's errors and argument names).
//!
//! `pin/add?progress=true` (what a parent cluster's connector sends) is held until the pins
//! really landed: `{"Progress":n}` lines (n = checks so far, at least one a second) until
//! rf-min of each pin's allocations report `pinned`, then `{"Pins":[…]}`; if every allocation
//! of a pin failed, the answer ends with that reason in `X-Stream-Error`. Without `progress`
//! the answer comes at commit, as kubo's.

use std::sync::Arc;
use std::time::Duration;

use cid::Cid;
use http::Response;
use serde::Serialize;

use super::Ctx;
use super::cluster::{Cluster, ClusterError, Landing, PinRequest};
use super::error::InterceptError;
use super::query::{Query, cid_arg, pin_name, required};
use super::reply;
use super::reply::Lines;
use crate::Body;

/// kubo's `PinOutput`.
#[derive(Serialize)]
struct PinOutput {
    #[serde(rename = "Pins")]
    pins: Vec<String>,
}

/// `pin/add`: parse → commit each CID → `{"Pins":[…]}` (an ndjson line with `progress`).
pub(super) async fn add(ctx: &Ctx, query: Query) -> Result<Response<Body>, InterceptError> {
    let args = query.args();
    if args.is_empty() {
        return Err(required("ipfs-path"));
    }
    let recursive = query.bool(&["recursive", "r"], true)?;
    let progress = query.bool(&["progress"], false)?;
    pin_name(&query, &["name"])?;
    let cids = args.iter().map(|a| cid_arg(a)).collect::<Result<Vec<_>, _>>()?;
    for cid in &cids {
        let pin = PinRequest {
            cid: *cid,
            recursive,
            options: query.options(),
        };
        ctx.cluster.pin(pin).await?;
    }
    let output = PinOutput {
        pins: cids.iter().map(ToString::to_string).collect(),
    };
    if !progress {
        return Ok(reply::json(&output));
    }
    let (response, lines) = reply::ndjson();
    tokio::spawn(hold(ctx.cluster.clone(), cids, output, lines));
    Ok(response)
}

/// kubo's pin progress line.
#[derive(Serialize)]
struct Progress {
    #[serde(rename = "Progress")]
    progress: u64,
}

/// First wait between two checks of where the pins stand; doubled up to [`HOLD_MAX_WAIT`].
const HOLD_FIRST_WAIT: Duration = Duration::from_millis(50);
/// Longest wait between two checks (and two progress lines).
const HOLD_MAX_WAIT: Duration = Duration::from_secs(1);
/// Checks that may find a pin missing from the pinset (this peer applies commits a little
/// after the leader) before the hold gives up on it.
const HOLD_MISSING_CHECKS: u32 = 30;

/// Streams progress until every pin in `cids` landed (then `output`) or one failed.
async fn hold(cluster: Arc<dyn Cluster>, cids: Vec<Cid>, output: PinOutput, lines: Lines) {
    let (mut checks, mut wait, mut missing) = (0u64, HOLD_FIRST_WAIT, 0u32);
    loop {
        match landed(cluster.as_ref(), &cids, &mut missing).await {
            Ok(true) => {
                lines.line(&output).await;
                return;
            }
            Ok(false) => {}
            Err(reason) => return lines.fail(&reason).await,
        }
        checks += 1;
        if !lines.line(&Progress { progress: checks }).await {
            return; // the caller went away; the pins stay committed
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(HOLD_MAX_WAIT);
    }
}

/// Whether every pin landed; the reason when one cannot.
async fn landed(cluster: &dyn Cluster, cids: &[Cid], missing: &mut u32) -> Result<bool, String> {
    for cid in cids {
        match cluster.landing(*cid).await {
            Ok(Landing::Pinned) => {}
            Ok(Landing::Pending { .. }) => return Ok(false),
            Ok(Landing::Missing) if *missing < HOLD_MISSING_CHECKS => {
                *missing += 1;
                return Ok(false);
            }
            Ok(Landing::Missing) => return Err(format!("{cid} is no longer in the cluster's pinset")),
            Ok(Landing::Failed(reason)) => return Err(format!("pinning {cid}: {reason}")),
            Err(e) => return Err(format!("pinning {cid}: {e}")),
        }
    }
    Ok(true)
}

/// `pin/rm`: parse → remove each CID from the pinset → `{"Pins":[…]}`. As kubo, a recursive
/// pin is removed only with `recursive` (the default).
pub(super) async fn rm(ctx: &Ctx, query: Query) -> Result<Response<Body>, InterceptError> {
    let args = query.args();
    if args.is_empty() {
        return Err(required("ipfs-path"));
    }
    let recursive = query.bool(&["recursive", "r"], true)?;
    let cids = args.iter().map(|a| cid_arg(a)).collect::<Result<Vec<_>, _>>()?;
    for cid in &cids {
        if !recursive && ctx.cluster.get(*cid).await?.is_some_and(|p| p.recursive) {
            return Err(InterceptError::Command(format!("{cid} is pinned recursively")));
        }
        ctx.cluster.unpin(*cid).await?;
    }
    Ok(reply::json(&PinOutput {
        pins: cids.iter().map(ToString::to_string).collect(),
    }))
}

/// `pin/update`: the new pin keeps the old one's options and allocations.
pub(super) async fn update(ctx: &Ctx, query: Query) -> Result<Response<Body>, InterceptError> {
    let args = query.args();
    let from = cid_arg(args.first().ok_or_else(|| required("from-path"))?)?;
    let to = cid_arg(args.get(1).ok_or_else(|| required("to-path"))?)?;
    let unpin = query.bool(&["unpin"], true)?;
    match ctx.cluster.update(from, to, unpin).await {
        Err(ClusterError::NotPinned) => Err(InterceptError::Command(
            "'from' cid was not recursively pinned already".into(),
        )),
        other => other.map_err(InterceptError::from),
    }?;
    Ok(reply::json(&PinOutput {
        pins: vec![from.to_string(), to.to_string()],
    }))
}
