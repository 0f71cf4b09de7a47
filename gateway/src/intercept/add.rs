//! `add`: the upload streams to the upstream's `add` with the client's parameters, its ndjson
//! streams back as it comes, and the root CID(s) are committed to the cluster before the last
//! line is released.
//!
//! Roots are every top-level entry (a name without `/`), or the wrapping directory (name "")
//! with `wrap-with-directory`. The upstream keeps its own pin (the client's `pin`, default
//! true), so the content is never only an unpinned copy while the cluster's tracker takes
//! over. `pin=false` and `only-hash=true` are passed through untouched: nothing to pin.
//! `stream-channels=false` collects the lines and answers one JSON array, as ipfs-cluster does
//! for clients behind buffering proxies. Lines from the first top-level entry on are held
//! until the roots are committed; a pin that fails is reported in `X-Stream-Error` and the
//! held lines are withheld, so a client never sees a root as added when the cluster lacks it.

use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use http::{Request, Response};

use super::Ctx;
use super::cluster::{Cluster, ClusterError, PinRequest};
use super::lines::{UpstreamLines, restream};
use super::query::Query;
use super::reply::{self, Lines};
use crate::{Body, BoxError};

/// How the add's answer is to be pinned and shaped.
struct Plan {
    wrap: bool,
    buffered: bool,
    options: Vec<(String, String)>,
}

/// `add`: forward → watch the answer → pin the roots → release the last line.
pub(super) async fn serve(ctx: &Ctx, query: Query, req: Request<Body>) -> Result<Response<Body>, BoxError> {
    let pin = query.bool(&["pin"], true)?;
    let only_hash = query.bool(&["only-hash", "n"], false)?;
    // kubo checks the name before reading any of the upload.
    super::query::pin_name(&query, &["pin-name"])?;
    let plan = Plan {
        wrap: query.bool(&["wrap-with-directory", "w"], false)?,
        buffered: !query.bool(&["stream-channels"], true)?,
        options: query.options(),
    };
    let upstream = super::forward(&ctx.upstream, req).await?;
    if !upstream.status().is_success() || only_hash || !pin {
        return Ok(upstream);
    }
    let (parts, body) = upstream.into_parts();
    let lines = UpstreamLines::new(body);
    if plan.buffered {
        return Ok(buffered(ctx.cluster.clone(), plan, lines).await);
    }
    let (response, out) = restream(&parts.headers);
    tokio::spawn(pump(ctx.cluster.clone(), plan, lines, out));
    Ok(response)
}

/// What an add line says about an entry: its name and CID.
fn entry(line: &[u8]) -> Option<(String, Cid)> {
    let value: serde_json::Value = serde_json::from_slice(line).ok()?;
    let cid = Cid::try_from(value.get("Hash")?.as_str()?).ok()?;
    Some((value.get("Name")?.as_str()?.to_owned(), cid))
}

fn roots(entries: &[(String, Cid)], wrap: bool) -> Vec<Cid> {
    let mut out: Vec<Cid> = Vec::new();
    let tops = entries.iter().filter(|(name, _)| {
        if wrap {
            name.is_empty()
        } else {
            !name.contains('/')
        }
    });
    for (_, cid) in tops {
        if !out.contains(cid) {
            out.push(*cid);
        }
    }
    if wrap {
        out.into_iter().last().into_iter().collect()
    } else {
        out
    }
}

async fn pin_roots(
    cluster: &Arc<dyn Cluster>,
    roots: Vec<Cid>,
    options: &[(String, String)],
) -> Result<(), ClusterError> {
    for cid in roots {
        let pin = PinRequest {
            cid,
            recursive: true,
            options: options.to_vec(),
        };
        cluster.pin(pin).await?;
    }
    Ok(())
}

/// Streams the upstream's lines, holding back every line from the first top-level entry on
/// (a root must not be reported before the cluster has it; progress lines before it pass at
/// once), pins the roots, then releases what was held.
async fn pump(cluster: Arc<dyn Cluster>, plan: Plan, mut lines: UpstreamLines, out: Lines) {
    let (mut held, mut entries): (Vec<Bytes>, Vec<(String, Cid)>) = (Vec::new(), Vec::new());
    while let Some(line) = lines.next().await {
        let line = match line {
            Ok(line) => line,
            Err(e) => return release_then_fail(out, held, &format!("upstream: {e}")).await,
        };
        let named = entry(&line);
        let is_root = named
            .as_ref()
            .is_some_and(|(name, _)| plan.wrap || !name.contains('/'));
        entries.extend(named);
        if is_root || !held.is_empty() {
            held.push(line);
        } else if !out.raw(line).await {
            return;
        }
    }
    if let Some(error) = lines.stream_error() {
        return release_then_fail(out, held, error).await;
    }
    match pin_roots(&cluster, roots(&entries, plan.wrap), &plan.options).await {
        Ok(()) => drop(release(&out, held).await),
        Err(e) => out.fail(&format!("cluster pin failed: {e}")).await,
    }
}

async fn release(out: &Lines, held: Vec<Bytes>) -> bool {
    for line in held {
        if !out.raw(line).await {
            return false;
        }
    }
    true
}

async fn release_then_fail(out: Lines, held: Vec<Bytes>, error: &str) {
    release(&out, held).await;
    out.fail(error).await;
}

/// `stream-channels=false`: every line, then one JSON array (or kubo's error if anything failed).
async fn buffered(cluster: Arc<dyn Cluster>, plan: Plan, mut lines: UpstreamLines) -> Response<Body> {
    let (mut values, mut entries) = (Vec::new(), Vec::new());
    while let Some(line) = lines.next().await {
        let Ok(line) = line else {
            return crate::kubo_error::error_response(http::StatusCode::BAD_GATEWAY, "upstream add failed");
        };
        entries.extend(entry(&line));
        values.extend(serde_json::from_slice::<serde_json::Value>(&line).ok());
    }
    let failed = match lines.stream_error() {
        Some(error) => Some(error.to_owned()),
        None => pin_roots(&cluster, roots(&entries, plan.wrap), &plan.options)
            .await
            .err()
            .map(|e| e.to_string()),
    };
    match failed {
        Some(error) => crate::kubo_error::error_response(http::StatusCode::INTERNAL_SERVER_ERROR, &error),
        None => reply::json(&values),
    }
}
