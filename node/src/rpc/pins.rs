//! `pin/add`, `pin/rm`, `pin/ls`, `pin/update` in kubo's shapes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn_kubo::pin_name::NameListing;
use cid::Cid;
use http::Response;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::Ctx;
use super::reply::{self, Body};
use super::request::Query;
use crate::blockstore::PinMode;
use crate::dag;
use crate::error::NodeError;
use crate::pins::{self, Listed, PinFilter};
use crate::reader;

/// kubo ticks `pin/add?progress=true` this often.
const TICK: Duration = Duration::from_millis(500);

/// kubo's `AddPinOutput`.
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct AddPinOutput {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pins: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    progress: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Resolves a path argument to the CID it names.
pub(super) async fn resolve_arg(ctx: &Ctx, arg: &str) -> Result<Cid, NodeError> {
    let (root, rest) = dag::parse_path(arg)?;
    reader::resolve(&ctx.blocks, root, &rest).await
}

pub(super) async fn add(ctx: Arc<Ctx>, query: Query) -> Response<Body> {
    match add_parse(&query) {
        Ok((args, mode, name, false)) => {
            match add_apply(&ctx, &args, mode, &name, &AtomicU64::new(0)).await {
                Ok(pins) => reply::json(&AddPinOutput { pins, progress: 0 }),
                Err(e) => reply::error(&e),
            }
        }
        Ok((args, mode, name, true)) => add_with_progress(ctx, args, mode, name).await,
        Err(e) => reply::error(&e),
    }
}

fn add_parse(query: &Query) -> Result<(Vec<String>, PinMode, String, bool), NodeError> {
    let args = query.args();
    if args.is_empty() {
        return Err(NodeError::MissingArgument("ipfs-path"));
    }
    let recursive = query.bool(&["recursive", "r"], true)?;
    let mode = if recursive {
        PinMode::Recursive
    } else {
        PinMode::Direct
    };
    let name = query.string(&["name"]).unwrap_or("").to_owned();
    cairn_kubo::pin_name::check(&name).map_err(|e| NodeError::BadOption(e.to_string()))?;
    Ok((args, mode, name, query.bool(&["progress"], false)?))
}

async fn add_apply(
    ctx: &Ctx,
    args: &[String],
    mode: PinMode,
    name: &str,
    walked: &AtomicU64,
) -> Result<Vec<String>, NodeError> {
    let _gc = ctx.gc.read().await;
    let mut done = Vec::new();
    for arg in args {
        let cid = resolve_arg(ctx, arg).await?;
        let base = walked.load(Ordering::Relaxed);
        let mut progress = |n: u64| walked.store(base + n, Ordering::Relaxed);
        pins::add(&ctx.blocks, cid, mode, name, &mut progress).await?;
        done.push(cid.to_string());
    }
    Ok(done)
}

/// kubo's progress mode: `{"Progress":n}` every tick, a last one, then `{"Pins":[…]}`.
/// Until the first line is due, a failure is still an ordinary 500.
async fn add_with_progress(ctx: Arc<Ctx>, args: Vec<String>, mode: PinMode, name: String) -> Response<Body> {
    let walked = Arc::new(AtomicU64::new(0));
    let counter = walked.clone();
    let mut work = tokio::spawn(async move { add_apply(&ctx, &args, mode, &name, &counter).await });
    let mut ticker = tokio::time::interval(TICK);
    ticker.tick().await;
    let first = tokio::select! {
        done = &mut work => Some(done),
        _ = ticker.tick() => None,
    };
    if let Some(Ok(Err(e))) = &first {
        return reply::error(e);
    }
    let (response, stream) = reply::ndjson();
    tokio::spawn(async move {
        let outcome = match first {
            Some(done) => done,
            None => loop {
                let line = AddPinOutput {
                    pins: Vec::new(),
                    progress: walked.load(Ordering::Relaxed),
                };
                if !stream.line(&line).await {
                    work.abort();
                    return;
                }
                tokio::select! {
                    done = &mut work => break done,
                    _ = ticker.tick() => {}
                }
            },
        };
        match outcome
            .map_err(|e| NodeError::Unsupported(e.to_string()))
            .and_then(|r| r)
        {
            Ok(pins) => {
                let walked = walked.load(Ordering::Relaxed);
                if walked != 0 {
                    stream
                        .line(&AddPinOutput {
                            pins: Vec::new(),
                            progress: walked,
                        })
                        .await;
                }
                stream.line(&AddPinOutput { pins, progress: 0 }).await;
            }
            Err(e) => stream.fail(&e).await,
        }
    });
    response
}

pub(super) async fn rm(ctx: Arc<Ctx>, query: Query) -> Response<Body> {
    match rm_apply(&ctx, &query).await {
        Ok(pins) => reply::json(&AddPinOutput { pins, progress: 0 }),
        Err(e) => reply::error(&e),
    }
}

async fn rm_apply(ctx: &Ctx, query: &Query) -> Result<Vec<String>, NodeError> {
    let args = query.args();
    if args.is_empty() {
        return Err(NodeError::MissingArgument("ipfs-path"));
    }
    let recursive = query.bool(&["recursive", "r"], true)?;
    let mut done = Vec::new();
    for arg in args {
        let cid = resolve_arg(ctx, &arg).await?;
        pins::remove(&ctx.blocks, cid, recursive).await?;
        done.push(cid.to_string());
    }
    Ok(done)
}

pub(super) async fn ls(ctx: Arc<Ctx>, query: Query) -> Response<Body> {
    let listed = ls_apply(&ctx, &query).await;
    let stream = query.bool(&["stream", "s"], false).map_err(NodeError::from);
    match (listed, stream) {
        (Err(e), _) | (_, Err(e)) => reply::error(&e),
        (Ok(rows), Ok(false)) => reply::json(&keys_object(&rows)),
        (Ok(rows), Ok(true)) => {
            let (response, out) = reply::ndjson();
            tokio::spawn(async move {
                for row in rows {
                    if !out.line(&stream_line(&row)).await {
                        return;
                    }
                }
            });
            response
        }
    }
}

async fn ls_apply(ctx: &Ctx, query: &Query) -> Result<Vec<Listed>, NodeError> {
    let filter = PinFilter::parse(query.string(&["type", "t"]).unwrap_or("all"))
        .map_err(|e| NodeError::BadOption(e.to_string()))?;
    let mut names = NameListing::new(query.bool(&["names"], false)?, query.string(&["name"]))
        .map_err(|e| NodeError::BadOption(e.to_string()))?;
    let args = query.args();
    if !args.is_empty() {
        // kubo's listing of named arguments shows no names and applies no name filter.
        names = NameListing::default();
    }
    let mut rows = Vec::new();
    if args.is_empty() {
        rows = pins::list(&ctx.blocks, filter).await?;
    }
    for arg in args {
        let cid = resolve_arg(ctx, &arg)
            .await
            .map_err(|_| NodeError::PathNotPinned(arg.clone()))?;
        rows.push(pins::list_one(&ctx.blocks, cid, &arg, filter).await?);
    }
    // kubo: names show with `names` (or a `name` filter), and the filter keeps substrings.
    rows.retain(|r| names.keeps(&r.name));
    for row in &mut rows {
        row.name = names.shown(&row.name).to_owned();
    }
    Ok(rows)
}

/// kubo's non-stream answer: `{"Keys":{cid:{"Type","Name"}}}` sorted by CID, `{}` when empty.
fn keys_object(rows: &[Listed]) -> Value {
    let mut sorted: Vec<&Listed> = rows.iter().collect();
    sorted.sort_by_key(|r| r.cid.to_string());
    let keys: Map<String, Value> = sorted
        .into_iter()
        .map(|r| (r.cid.to_string(), json!({"Type": r.kind, "Name": r.name})))
        .collect();
    if keys.is_empty() {
        json!({})
    } else {
        json!({ "Keys": keys })
    }
}

/// kubo's stream line: `{"Cid","Name"?,"Type"}`.
fn stream_line(row: &Listed) -> Value {
    let mut line = Map::new();
    line.insert("Cid".into(), row.cid.to_string().into());
    if !row.name.is_empty() {
        line.insert("Name".into(), row.name.clone().into());
    }
    line.insert("Type".into(), row.kind.clone().into());
    Value::Object(line)
}

pub(super) async fn update(ctx: Arc<Ctx>, query: Query) -> Response<Body> {
    match update_apply(&ctx, &query).await {
        Ok(pins) => reply::json(&AddPinOutput { pins, progress: 0 }),
        Err(e) => reply::error(&e),
    }
}

async fn update_apply(ctx: &Ctx, query: &Query) -> Result<Vec<String>, NodeError> {
    let args = query.args();
    let from_arg = args.first().ok_or(NodeError::MissingArgument("from-path"))?;
    let to_arg = args.get(1).ok_or(NodeError::MissingArgument("to-path"))?;
    let unpin = query.bool(&["unpin"], true)?;
    let from = resolve_arg(ctx, from_arg).await?;
    let to = resolve_arg(ctx, to_arg).await?;
    let _gc = ctx.gc.read().await;
    let old = ctx.blocks.store().run(move |s| s.pin(&from)).await?;
    let old = old
        .filter(|p| p.mode == PinMode::Recursive)
        .ok_or_else(|| NodeError::Unsupported("'from' cid was not recursively pinned already".into()))?;
    pins::add(&ctx.blocks, to, PinMode::Recursive, &old.name, &mut |_| {}).await?;
    if unpin && from != to {
        pins::remove(&ctx.blocks, from, true).await?;
    }
    Ok(vec![from.to_string(), to.to_string()])
}
