//! `block/put` and `dag/put` with `pin=true`: each CID the upstream returns is committed to the
//! cluster before its line is passed on. Without `pin=true` these routes are not intercepted.
//!
//! ipfs-cluster forwards `pin=false` and lets its tracker pin on the allocated peers. Until
//! Cairn's tracker owns upstream pins, the upstream keeps the client's `pin=true` (as for
//! `add`): otherwise a cluster-wide `repo/gc` would delete a block the cluster says is pinned.

use std::sync::Arc;

use cid::Cid;
use http::{Request, Response};

use super::Ctx;
use super::cluster::{Cluster, PinRequest};
use super::lines::{UpstreamLines, restream};
use super::query::Query;
use super::reply::Lines;
use crate::{Body, BoxError};

/// Which answer shape the CIDs are read from.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    /// `{"Key":"<cid>","Size":n}`.
    Block,
    /// `{"Cid":{"/":"<cid>"}}`.
    Dag,
}

/// Forward, pin each returned CID, pass each line on once pinned.
pub(super) async fn serve(
    ctx: &Ctx,
    query: Query,
    req: Request<Body>,
    kind: Kind,
) -> Result<Response<Body>, BoxError> {
    let upstream = super::forward(&ctx.upstream, req).await?;
    if !upstream.status().is_success() {
        return Ok(upstream);
    }
    let (parts, body) = upstream.into_parts();
    let (response, out) = restream(&parts.headers);
    tokio::spawn(pump(
        ctx.cluster.clone(),
        kind,
        query.options(),
        UpstreamLines::new(body),
        out,
    ));
    Ok(response)
}

fn cid_of(line: &[u8], kind: Kind) -> Option<Cid> {
    let value: serde_json::Value = serde_json::from_slice(line).ok()?;
    let text = match kind {
        Kind::Block => value.get("Key")?.as_str()?,
        Kind::Dag => value.get("Cid")?.get("/")?.as_str()?,
    };
    Cid::try_from(text).ok()
}

async fn pump(
    cluster: Arc<dyn Cluster>,
    kind: Kind,
    options: Vec<(String, String)>,
    mut lines: UpstreamLines,
    out: Lines,
) {
    while let Some(line) = lines.next().await {
        let line = match line {
            Ok(line) => line,
            Err(e) => return out.fail(&format!("upstream: {e}")).await,
        };
        if let Some(cid) = cid_of(&line, kind) {
            let pin = PinRequest {
                cid,
                recursive: true,
                options: options.iter().filter(|(k, _)| k != "pin").cloned().collect(),
            };
            if let Err(e) = cluster.pin(pin).await {
                return out.fail(&format!("cluster pin of {cid} failed: {e}")).await;
            }
        }
        if !out.raw(line).await {
            return;
        }
    }
    if let Some(error) = lines.stream_error() {
        out.fail(error).await;
    }
}
