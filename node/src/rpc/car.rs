//! `dag/import` and `dag/export` in kubo's shapes.
//!
//! `dag/import` reads every multipart file part as a CAR ([`archive::import`]) under the gc
//! lock, then, with `pin-roots` (kubo's default true), pins each root recursively from local
//! blocks only, as kubo does. Nothing is answered before the import ends: a malformed CAR is
//! kubo's 500 error object and pins nothing; otherwise ndjson `{"Root":{"Cid":{"/":…},
//! "PinErrorMsg":""}}` per root (the pin's error in `PinErrorMsg`), then `{"Stats":…}` with
//! `stats=true`. `allow-big-block` raises the 1 MiB block limit to what a CAR section may
//! hold (`cairn_kubo::car::MAX_SECTION`).
//!
//! `dag/export <root>` streams a CARv1 ([`archive::export`]); a block missing after the first
//! byte ends the stream in `X-Stream-Error`.

use std::sync::Arc;

use cid::Cid;
use futures::{StreamExt, TryStreamExt};
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Serialize;

use super::Ctx;
use super::reply::{self, Body};
use super::request::Query;
use crate::archive::{self, Imported, KUBO_MAX_BLOCK};
use crate::error::NodeError;
use crate::pins;

/// kubo's `CarImportOutput`: a `Root` line or the `Stats` line.
#[derive(Serialize)]
enum ImportLine {
    Root {
        #[serde(rename = "Cid")]
        cid: Link,
        #[serde(rename = "PinErrorMsg")]
        pin_error: String,
    },
    Stats {
        #[serde(rename = "BlockCount")]
        blocks: u64,
        #[serde(rename = "BlockBytesCount")]
        bytes: u64,
    },
}

/// A CID as dag-json writes a link.
#[derive(Serialize)]
struct Link {
    #[serde(rename = "/")]
    cid: String,
}

/// The options of one `dag/import`.
struct ImportOptions {
    pin_roots: bool,
    stats: bool,
    max_block: usize,
}

pub(super) async fn import(ctx: Arc<Ctx>, query: Query, req: Request<Incoming>) -> Response<Body> {
    let parsed = import_options(&query).and_then(|o| Ok((o, super::add::boundary(&req)?)));
    let (options, boundary) = match parsed {
        Ok(ok) => ok,
        Err(e) => return reply::error(&e),
    };
    let multipart = multer::Multipart::new(req.into_body().into_data_stream(), boundary);
    let lines = {
        // kubo's pin lock: no gc between storing the blocks and pinning the roots.
        let _gc = ctx.gc.read().await;
        match import_all(&ctx, &options, multipart).await {
            Ok(imported) => answer(&ctx, &options, imported).await,
            Err(e) => return reply::error(&e),
        }
    };
    let (response, stream) = reply::ndjson();
    tokio::spawn(async move {
        for line in lines {
            if !stream.line(&line).await {
                return;
            }
        }
    });
    response
}

fn import_options(query: &Query) -> Result<ImportOptions, NodeError> {
    let big = query.bool(&["allow-big-block"], false)?;
    Ok(ImportOptions {
        pin_roots: query.bool(&["pin-roots"], true)?,
        stats: query.bool(&["stats"], false)?,
        max_block: if big {
            cairn_kubo::car::MAX_SECTION
        } else {
            KUBO_MAX_BLOCK
        },
    })
}

async fn import_all(
    ctx: &Ctx,
    options: &ImportOptions,
    mut multipart: multer::Multipart<'static>,
) -> Result<Imported, NodeError> {
    let mut imported = Imported::default();
    while let Some(field) = multipart.next_field().await.map_err(read_err)? {
        let source = tokio_util::io::StreamReader::new(field.map_err(std::io::Error::other));
        archive::import(ctx.blocks.store(), source, options.max_block, &mut imported).await?;
    }
    Ok(imported)
}

fn read_err(err: multer::Error) -> NodeError {
    NodeError::Unsupported(format!("error reading request: {err}"))
}

/// Pins the roots (when asked) and returns the answer's lines.
async fn answer(ctx: &Ctx, options: &ImportOptions, imported: Imported) -> Vec<ImportLine> {
    let mut lines = Vec::new();
    if options.pin_roots {
        for root in &imported.roots {
            let pinned = pins::add_local(&ctx.blocks, *root, "").await;
            lines.push(ImportLine::Root {
                cid: Link {
                    cid: root.to_string(),
                },
                pin_error: pinned.err().map(|e| e.to_string()).unwrap_or_default(),
            });
        }
    }
    if options.stats {
        lines.push(ImportLine::Stats {
            blocks: imported.blocks,
            bytes: imported.bytes,
        });
    }
    lines
}

pub(super) async fn export(ctx: Arc<Ctx>, query: Query) -> Response<Body> {
    let root = match export_root(&ctx, &query).await {
        Ok(root) => root,
        Err(e) => return reply::error(&e),
    };
    // The root is read before answering, so a missing root is kubo's error object.
    if let Err(e) = ctx.blocks.get(root).await {
        return reply::error(&e);
    }
    let (response, stream) = reply::stream_output();
    tokio::spawn(async move {
        let mut pieces = std::pin::pin!(archive::export(ctx.blocks.clone(), root));
        while let Some(piece) = pieces.next().await {
            match piece {
                Ok(bytes) => {
                    if !stream.bytes(bytes).await {
                        return;
                    }
                }
                Err(e) => return stream.fail(&e).await,
            }
        }
    });
    response
}

async fn export_root(ctx: &Ctx, query: &Query) -> Result<Cid, NodeError> {
    let arg = query.required_arg("root")?;
    super::pins::resolve_arg(ctx, &arg).await
}
