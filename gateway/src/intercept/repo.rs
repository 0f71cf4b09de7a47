//! `repo/stat` and `repo/gc` over the whole cluster: every peer's daemon is asked.
//!
//! `repo/stat` sums sizes and object counts with saturating arithmetic (a child cluster
//! reporting `u64::MAX` as StorageMax, kubo's "no limit", stays at the maximum instead of
//! wrapping). `repo/gc` streams every removed key and reports each peer that failed as an
//! `{"Error":…}` line, then `encountered errors during gc run` in the trailer, as kubo's
//! `stream-errors` does.

use futures::StreamExt;
use http::Response;
use serde_json::json;

use super::Ctx;
use super::cluster::{ClusterError, GcLine, RepoStat};
use super::error::InterceptError;
use super::query::Query;
use super::reply;
use crate::Body;

/// `repo/stat`: the cluster's aggregate in kubo's shape.
pub(super) async fn stat(ctx: &Ctx, query: Query) -> Result<Response<Body>, InterceptError> {
    let size_only = query.bool(&["size-only", "s"], false)?;
    let answers = ctx.cluster.repo_stats(size_only).await;
    let failed: Vec<String> = answers
        .iter()
        .filter_map(|a| a.as_ref().err().map(ToString::to_string))
        .collect();
    let stats: Vec<RepoStat> = answers.into_iter().filter_map(Result::ok).collect();
    if stats.is_empty() {
        return Err(
            ClusterError::Failed(format!("no peer could report repo/stat: {}", failed.join("; "))).into(),
        );
    }
    for failure in &failed {
        tracing::warn!(error = %failure, "a peer did not report repo/stat; the sum leaves it out");
    }
    let total = sum(&stats);
    let (objects, path, version) = if size_only {
        (0, String::new(), String::new())
    } else {
        (
            total.num_objects,
            stats[0].repo_path.clone(),
            stats[0].version.clone(),
        )
    };
    Ok(reply::json(&json!({
        "RepoSize": total.repo_size,
        "StorageMax": total.storage_max,
        "NumObjects": objects,
        "RepoPath": path,
        "Version": version,
    })))
}

fn sum(stats: &[RepoStat]) -> RepoStat {
    stats.iter().fold(RepoStat::default(), |acc, s| RepoStat {
        repo_size: acc.repo_size.saturating_add(s.repo_size),
        storage_max: acc.storage_max.saturating_add(s.storage_max),
        num_objects: acc.num_objects.saturating_add(s.num_objects),
        ..acc
    })
}

/// `repo/gc`: every peer's daemon collects; removed keys stream back.
pub(super) async fn gc(ctx: &Ctx, query: Query) -> Result<Response<Body>, InterceptError> {
    let quiet = query.bool(&["quiet", "q"], false)?;
    let mut lines_in = ctx.cluster.repo_gc();
    let (response, out) = reply::ndjson();
    tokio::spawn(async move {
        let mut failed = false;
        while let Some(line) = lines_in.next().await {
            let sent = match line {
                GcLine::Removed(_) if quiet => true,
                GcLine::Removed(cid) => out.line(&json!({"Key": {"/": cid}})).await,
                GcLine::Failed(why) => {
                    failed = true;
                    out.line(&json!({"Error": why})).await
                }
            };
            if !sent {
                return;
            }
        }
        if failed {
            out.fail("encountered errors during gc run").await;
        }
    });
    Ok(response)
}
