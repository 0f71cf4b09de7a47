//! `pin/add`, `pin/rm` and `pin/update`: committed to the cluster, answered as kubo does
//! (`{"Pins":[…]}`, kubo's errors and argument names).

use http::Response;
use serde::Serialize;

use super::Ctx;
use super::cluster::{ClusterError, PinRequest};
use super::error::InterceptError;
use super::query::{Query, cid_arg, required};
use super::reply;
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
    tokio::spawn(async move { lines.line(&output).await });
    Ok(response)
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
