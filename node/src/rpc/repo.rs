//! `repo/stat`, `repo/gc`, `refs` and `refs/local` in kubo's shapes.

use std::collections::HashSet;
use std::sync::Arc;

use cid::Cid;
use http::Response;
use serde_json::json;

use super::Ctx;
use super::reply::{self, Body, Stream};
use super::request::Query;
use crate::dag;
use crate::error::NodeError;
use crate::pins;

pub(super) async fn stat(ctx: Arc<Ctx>, query: Query) -> Response<Body> {
    let size_only = match query.bool(&["size-only", "s"], false) {
        Ok(b) => b,
        Err(e) => return reply::error(&e.into()),
    };
    let usage = ctx.blocks.store().run(|s| s.usage()).await;
    let (objects, bytes) = match usage {
        Ok(usage) => usage,
        Err(e) => return reply::error(&e),
    };
    let repo_size = ctx.repo.disk_bytes().unwrap_or(bytes).max(bytes);
    let body = if size_only {
        json!({"RepoSize": repo_size, "StorageMax": ctx.repo.storage_max, "NumObjects": 0, "RepoPath": "", "Version": ""})
    } else {
        json!({
            "RepoSize": repo_size,
            "StorageMax": ctx.repo.storage_max,
            "NumObjects": objects,
            "RepoPath": ctx.repo.path.display().to_string(),
            "Version": crate::REPO_VERSION,
        })
    };
    reply::json(&body)
}

pub(super) async fn gc(ctx: Arc<Ctx>, query: Query) -> Response<Body> {
    let quiet = query.bool(&["quiet", "q"], false).unwrap_or(false);
    // gc runs to the end before the answer starts: a failure is kubo's 500, which a cluster
    // peer's connector reads as a failed gc (a trailer would be lost on most clients).
    let removed = {
        let _gc = ctx.gc.write().await;
        pins::gc(&ctx.blocks).await
    };
    let cids = match removed {
        Ok(cids) => cids,
        Err(e) => return reply::error(&e),
    };
    let (response, stream) = reply::ndjson();
    tokio::spawn(async move {
        for cid in cids.into_iter().filter(|_| !quiet) {
            if !stream.line(&json!({"Key": {"/": cid.to_string()}})).await {
                return;
            }
        }
    });
    response
}

pub(super) async fn refs_local(ctx: Arc<Ctx>) -> Response<Body> {
    let cids = match ctx.blocks.store().run(|s| s.cids()).await {
        Ok(cids) => cids,
        Err(e) => return reply::error(&e),
    };
    let (response, stream) = reply::ndjson();
    tokio::spawn(async move {
        for cid in cids {
            if !stream.line(&json!({"Ref": cid.to_string(), "Err": ""})).await {
                return;
            }
        }
    });
    response
}

/// How `refs` walks.
#[derive(Clone, Copy)]
struct Walk {
    recursive: bool,
    unique: bool,
}

pub(super) async fn refs(ctx: Arc<Ctx>, query: Query) -> Response<Body> {
    let parsed = refs_parse(&query);
    let (roots, walk) = match parsed {
        Ok(ok) => ok,
        Err(e) => return reply::error(&e),
    };
    let mut cids = Vec::new();
    for root in roots {
        match super::pins::resolve_arg(&ctx, &root).await {
            Ok(cid) => cids.push(cid),
            Err(e) => return reply::error(&e),
        }
    }
    let (response, stream) = reply::ndjson();
    tokio::spawn(async move {
        let mut seen = HashSet::new();
        for cid in cids {
            if let Err(e) = refs_of(&ctx, cid, walk, &mut seen, &stream).await {
                stream.fail(&e).await;
                return;
            }
        }
    });
    response
}

fn refs_parse(query: &Query) -> Result<(Vec<String>, Walk), NodeError> {
    let roots = query.args();
    if roots.is_empty() {
        return Err(NodeError::MissingArgument("ipfs-path"));
    }
    let walk = Walk {
        recursive: query.bool(&["recursive", "r"], false)?,
        unique: query.bool(&["unique", "u"], false)?,
    };
    Ok((roots, walk))
}

/// Depth-first, pre-order: each link as it is met (kubo's order).
async fn refs_of(
    ctx: &Ctx,
    root: Cid,
    walk: Walk,
    seen: &mut HashSet<Cid>,
    out: &Stream,
) -> Result<(), NodeError> {
    let mut stack = vec![(root, 0usize)];
    while let Some((cid, depth)) = stack.pop() {
        if depth > 0 {
            if walk.unique && !seen.insert(cid) {
                continue;
            }
            if !out.line(&json!({"Ref": cid.to_string(), "Err": ""})).await {
                return Ok(());
            }
            if !walk.recursive {
                continue;
            }
        }
        let block = ctx.blocks.get(cid).await?;
        let links = dag::links(&cid, &block)?;
        stack.extend(links.into_iter().rev().map(|l| (l, depth + 1)));
    }
    Ok(())
}
