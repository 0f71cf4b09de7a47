//! `add`: multipart upload in, kubo's `AddEvent` ndjson out, roots pinned unless `pin=false`.
//!
//! Options are checked before anything is read, so a bad option is a plain 500 (kubo's
//! error before output); after that the answer streams and a failure (a broken upload, a
//! bad path) ends it with `X-Stream-Error`, as kubo does. Parts with `Content-Type:
//! application/x-directory` are directories; other parts are files named by their
//! percent-encoded `filename` (`dir%2Fa.txt`), exactly as kubo's multipart reader reads them.

use std::sync::Arc;

use cid::Version;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Serialize;

use super::Ctx;
use super::reply::{self, Body, Stream};
use super::request::Query;
use crate::blockstore::PinMode;
use crate::dag;
use crate::error::NodeError;
use crate::importer::{AddEvent, AddOptions, DEFAULT_CHUNK, Importer, MAX_CHUNK, clean_path};
use crate::pins;

/// kubo's `AddEvent` as it is written (fields left out when empty).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AddLine<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<String>,
}

/// What `add` was asked besides the DAG options.
struct Request_ {
    opts: AddOptions,
    pin: bool,
    pin_name: String,
}

pub(super) async fn add(ctx: Arc<Ctx>, query: Query, req: Request<Incoming>) -> Response<Body> {
    let parsed = parse(&query).and_then(|r| Ok((r, boundary(&req)?)));
    let (request, boundary) = match parsed {
        Ok(ok) => ok,
        Err(e) => return reply::error(&e),
    };
    let (response, stream) = reply::ndjson();
    tokio::spawn(async move {
        let body = req.into_body().into_data_stream();
        let multipart = multer::Multipart::new(body, boundary);
        if let Err(e) = apply(&ctx, request, multipart, &stream).await {
            stream.fail(&e).await;
        }
    });
    response
}

pub(super) fn boundary<B>(req: &Request<B>) -> Result<String, NodeError> {
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    multer::parse_boundary(content_type).map_err(|_| NodeError::MissingArgument("path"))
}

fn parse(query: &Query) -> Result<Request_, NodeError> {
    let opts = AddOptions {
        cid_version: cid_version(query.uint(&["cid-version"])?)?,
        raw_leaves: query
            .string(&["raw-leaves"])
            .map(|_| query.bool(&["raw-leaves"], false))
            .transpose()?,
        chunk: chunk_size(query.string(&["chunker", "s"]).unwrap_or(""))?,
        hash: dag::hash_named(query.string(&["hash"]).unwrap_or("sha2-256"))?,
        wrap: query.bool(&["wrap-with-directory", "w"], false)?,
        only_hash: query.bool(&["only-hash", "n"], false)?,
        progress: query.bool(&["progress", "p"], false)?,
    };
    for unsupported in ["trickle", "inline", "nocopy", "fscache"] {
        if query.bool(&[unsupported], false)? {
            return Err(NodeError::BadOption(format!(
                "{unsupported} is not supported by cairn-node"
            )));
        }
    }
    let pin_name = query.string(&["pin-name"]).unwrap_or("").to_owned();
    cairn_kubo::pin_name::check(&pin_name).map_err(|e| NodeError::BadOption(e.to_string()))?;
    Ok(Request_ {
        opts,
        pin: query.bool(&["pin"], true)?,
        pin_name,
    })
}

fn cid_version(asked: Option<u64>) -> Result<Version, NodeError> {
    match asked {
        None | Some(0) => Ok(Version::V0),
        Some(1) => Ok(Version::V1),
        Some(other) => Err(NodeError::BadOption(format!("unknown CID version: {other}"))),
    }
}

/// kubo's `size-N` chunker (the only one cairn-node implements).
fn chunk_size(spec: &str) -> Result<usize, NodeError> {
    if spec.is_empty() || spec == "default" {
        return Ok(DEFAULT_CHUNK);
    }
    let size = spec.strip_prefix("size-").ok_or_else(|| {
        NodeError::BadOption(format!(
            "chunker {spec:?} is not supported by cairn-node (only size-<bytes>)"
        ))
    })?;
    let size: usize = size
        .parse()
        .map_err(|_| NodeError::BadOption(format!("invalid chunker size {size:?}")))?;
    if size == 0 || size > MAX_CHUNK {
        return Err(NodeError::BadOption(format!(
            "chunker parameters may not exceed the maximum block size of {MAX_CHUNK}"
        )));
    }
    Ok(size)
}

async fn apply(
    ctx: &Ctx,
    request: Request_,
    mut multipart: multer::Multipart<'static>,
    out: &Stream,
) -> Result<(), NodeError> {
    let _gc = ctx.gc.read().await;
    let (wrap, only_hash) = (request.opts.wrap, request.opts.only_hash);
    let mut importer = Importer::new(request.opts, ctx.blocks.store().clone());
    while let Some(field) = multipart.next_field().await.map_err(multipart_err)? {
        import_part(&mut importer, field, wrap, out).await?;
    }
    let (events, roots) = importer.finish().await?;
    emit(out, &events, wrap).await;
    if request.pin && !only_hash {
        for root in roots {
            pins::add(
                &ctx.blocks,
                root,
                PinMode::Recursive,
                &request.pin_name,
                &mut |_| {},
            )
            .await?;
        }
    }
    Ok(())
}

async fn import_part(
    importer: &mut Importer,
    mut field: multer::Field<'static>,
    wrap: bool,
    out: &Stream,
) -> Result<(), NodeError> {
    let raw = field.file_name().or(field.name()).unwrap_or("").to_owned();
    let path = clean_path(&raw)?;
    let kind = field
        .content_type()
        .map(|m| m.essence_str().to_owned())
        .unwrap_or_default();
    if kind == "application/x-directory" {
        return importer.directory(&path);
    }
    if kind == "application/symlink" {
        return Err(NodeError::BadOption(
            "symlinks are not supported by cairn-node".into(),
        ));
    }
    let progress = importer.options().progress;
    let mut file = importer.file(&path);
    while let Some(chunk) = field.chunk().await.map_err(multipart_err)? {
        let events = file.push(&mut importer.sink, &chunk, progress).await?;
        emit(out, &events, wrap).await;
    }
    let (events, cid, size) = file.finish(&mut importer.sink, progress).await?;
    emit(out, &events, wrap).await;
    importer.file_done(&path, cid, size)
}

async fn emit(out: &Stream, events: &[AddEvent], wrap: bool) {
    for event in events {
        let sent = match event {
            AddEvent::Progress { name, bytes } => {
                let bytes = (*bytes != 0).then_some(*bytes);
                out.line(&AddLine {
                    name,
                    hash: None,
                    bytes,
                    size: None,
                })
                .await
            }
            AddEvent::Added { name, cid, size } => {
                // A nameless top-level file is named by its CID, as `ipfs add` from stdin.
                let cid = cid.to_string();
                let name = if name.is_empty() && !wrap { &cid } else { name };
                let size = (*size != 0).then(|| size.to_string());
                out.line(&AddLine {
                    name,
                    hash: Some(cid.clone()),
                    bytes: None,
                    size,
                })
                .await
            }
        };
        if !sent {
            return;
        }
    }
}

fn multipart_err(err: multer::Error) -> NodeError {
    NodeError::Unsupported(format!("error reading request: {err}"))
}
