//! `block/put`, `block/get`, `block/stat`, `block/rm` in kubo's shapes.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use cid::{Cid, Version};
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::json;

use super::Ctx;
use super::reply::{self, Body, Stream};
use super::request::Query;
use crate::blockstore::PinMode;
use crate::dag;
use crate::error::NodeError;
use crate::pins;

/// kubo refuses blocks above 1 MiB unless `allow-big-block`.
const MAX_BLOCK: usize = 1024 * 1024;
/// Even with `allow-big-block`, a block is held in memory whole; this caps it.
const HARD_MAX_BLOCK: usize = 32 * 1024 * 1024;

/// How `block/put` makes CIDs.
struct PutFormat {
    version: Version,
    codec: u64,
    hash: multihash_codetable::Code,
    limit: usize,
    pin: bool,
}

pub(super) async fn put(ctx: Arc<Ctx>, query: Query, req: Request<Incoming>) -> Response<Body> {
    let parsed = put_format(&query).and_then(|f| Ok((f, super::add::boundary(&req)?)));
    let (format, boundary) = match parsed {
        Ok(ok) => ok,
        Err(e) => return reply::error(&e),
    };
    let (response, stream) = reply::ndjson();
    tokio::spawn(async move {
        let multipart = multer::Multipart::new(req.into_body().into_data_stream(), boundary);
        if let Err(e) = put_apply(&ctx, &format, multipart, &stream).await {
            stream.fail(&e).await;
        }
    });
    response
}

fn put_format(query: &Query) -> Result<PutFormat, NodeError> {
    let legacy = query.string(&["format", "f"]);
    let (version, codec) = match (legacy, query.string(&["cid-codec"])) {
        (Some("v0"), _) => (Version::V0, dag::DAG_PB),
        (Some(f), None) => (Version::V1, dag::codec_named(f)?),
        (_, codec) => (Version::V1, dag::codec_named(codec.unwrap_or("raw"))?),
    };
    let hash = dag::hash_named(query.string(&["mhtype"]).unwrap_or("sha2-256"))?;
    let big = query.bool(&["allow-big-block"], false)?;
    Ok(PutFormat {
        version,
        codec,
        hash,
        limit: if big { HARD_MAX_BLOCK } else { MAX_BLOCK },
        pin: query.bool(&["pin"], false)?,
    })
}

async fn put_apply(
    ctx: &Ctx,
    format: &PutFormat,
    mut multipart: multer::Multipart<'static>,
    out: &Stream,
) -> Result<(), NodeError> {
    let _gc = ctx.gc.read().await;
    while let Some(field) = multipart.next_field().await.map_err(read_err)? {
        let data = read_block(field, format.limit).await?;
        let cid = dag::cid_of(format.version, format.codec, format.hash, &data)?;
        let size = data.len();
        ctx.blocks
            .store()
            .run(move |s| s.put_many(&[(cid, data)]))
            .await?;
        if format.pin {
            pins::add(&ctx.blocks, cid, PinMode::Recursive, "", &mut |_| {}).await?;
        }
        if !out.line(&json!({"Key": cid.to_string(), "Size": size})).await {
            return Ok(());
        }
    }
    Ok(())
}

async fn read_block(mut field: multer::Field<'static>, limit: usize) -> Result<Bytes, NodeError> {
    let mut data = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(read_err)? {
        data.extend_from_slice(&chunk);
        if data.len() > limit {
            return Err(NodeError::BadOption(if limit == MAX_BLOCK {
                "produced block is over 1MiB: big blocks can't be exchanged with other peers. consider using UnixFS for automatic chunking of bigger files, or pass --allow-big-block to override".into()
            } else {
                format!("block is over {limit} bytes, the most cairn-node accepts")
            }));
        }
    }
    Ok(data.freeze())
}

fn read_err(err: multer::Error) -> NodeError {
    NodeError::Unsupported(format!("error reading request: {err}"))
}

async fn one_cid(ctx: &Ctx, query: &Query) -> Result<Cid, NodeError> {
    let arg = query.required_arg("cid")?;
    super::pins::resolve_arg(ctx, &arg).await
}

pub(super) async fn get(ctx: Arc<Ctx>, query: Query) -> Response<Body> {
    let block = match one_cid(&ctx, &query).await {
        Ok(cid) => ctx.blocks.get(cid).await,
        Err(e) => Err(e),
    };
    match block {
        Ok(data) => {
            let (response, stream) = reply::octets(data.len() as u64);
            tokio::spawn(async move { stream.bytes(data).await });
            response
        }
        Err(e) => reply::error(&e),
    }
}

pub(super) async fn stat(ctx: Arc<Ctx>, query: Query) -> Response<Body> {
    let found = match one_cid(&ctx, &query).await {
        Ok(cid) => ctx.blocks.get(cid).await.map(|data| (cid, data.len())),
        Err(e) => Err(e),
    };
    match found {
        Ok((cid, size)) => reply::json(&json!({"Key": cid.to_string(), "Size": size})),
        Err(e) => reply::error(&e),
    }
}

pub(super) async fn rm(ctx: Arc<Ctx>, query: Query) -> Response<Body> {
    let args = query.args();
    if args.is_empty() {
        return reply::error(&NodeError::MissingArgument("cid"));
    }
    let force = match query.bool(&["force", "f"], false) {
        Ok(force) => force,
        Err(e) => return reply::error(&e.into()),
    };
    let (response, stream) = reply::ndjson();
    tokio::spawn(async move {
        // Decide under the gc lock, answer after it: a slow client must not hold up adds.
        let lines = {
            let _gc = ctx.gc.write().await;
            let mut lines = Vec::with_capacity(args.len());
            for arg in &args {
                lines.push(rm_one(&ctx, arg, force).await);
            }
            lines
        };
        let failed = lines.iter().any(|(_, ok)| !ok);
        for (line, _) in lines {
            if !stream.line(&line).await {
                return;
            }
        }
        if failed {
            stream
                .fail(&NodeError::Unsupported("some blocks not removed".into()))
                .await;
        }
    });
    response
}

async fn rm_one(ctx: &Ctx, arg: &str, force: bool) -> (serde_json::Value, bool) {
    let cid = match dag::parse_path(arg) {
        Ok((cid, _)) => cid,
        Err(e) => return (json!({"Hash": arg, "Error": e.to_string()}), false),
    };
    let pinned = ctx.blocks.store().run(move |s| s.pin(&cid)).await;
    let indirect = pins::indirect_root(&ctx.blocks, cid).await;
    let outcome = match (pinned, indirect) {
        (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
        (Ok(Some(p)), _) => Err(format!("pinned: {}", p.mode.as_str())),
        (Ok(None), Ok(Some(root))) => Err(format!("pinned via {root}")),
        (Ok(None), Ok(None)) => match ctx.blocks.store().run(move |s| s.remove_many(&[cid])).await {
            Ok(removed) if removed.is_empty() && !force => Err(format!("ipld: could not find {cid}")),
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        },
    };
    match outcome {
        Ok(()) => (json!({"Hash": cid.to_string()}), true),
        Err(e) => (json!({"Hash": cid.to_string(), "Error": e}), false),
    }
}
