//! `dag/import`: the CAR upload streams to the upstream's `dag/import` with `pin-roots=false`
//! (so the upstream pins nothing behind the cluster's back) while a copy of it is read for
//! each CAR's roots; once the upstream has stored the blocks, every root is committed to the
//! cluster with the request's pin options, and the answer is kubo's: one
//! `{"Root":{"Cid":{"/":…},"PinErrorMsg":""}}` line per root (the cluster's error in
//! `PinErrorMsg` when that root's pin failed, as kubo reports a failed pin per root), then the
//! upstream's `{"Stats":…}` line when the client asked `stats=true`.
//!
//! kubo only names the roots it pins, so with `pin-roots=false` it names none: the gateway
//! reads them itself from the upload ([`tee`](super::tee), `cairn_kubo::car`). A client's own
//! `pin-roots=false` is forwarded untouched (mod.rs): there is nothing to pin.
//!
//! # Invariants
//! - No root is pinned unless the upstream answered 200 and its answer ended without an
//!   `X-Stream-Error`: a malformed CAR gets the upstream's error as it came, and no pin.
//! - No `Root` line is written before that root's commit returned.
//! - The upload is never held: the roots reader sees the same bytes through a bounded copy.
//! - A root list the gateway could not read while the upstream accepted the upload (not
//!   multipart, a CAR the reader refuses) ends the answer in `X-Stream-Error`, nothing pinned.
//!
//! The upstream keeps no pin: between its import and the tracker's pin a `repo/gc` on that
//! daemon could remove the blocks, as with ipfs-cluster's `dag/put` (forwarded `pin=false`).

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use futures::{StreamExt, TryStreamExt};
use http::{Request, Response, Uri};
use serde::Serialize;
use tokio::task::JoinHandle;

use super::Ctx;
use super::cluster::{Cluster, PinRequest};
use super::error::InterceptError;
use super::lines::{UpstreamLines, restream};
use super::query::Query;
use super::reply::Lines;
use crate::{Body, BoxError};

/// Why the roots of an upload could not be read.
#[derive(Debug, thiserror::Error)]
enum RootsError {
    /// The upload is not `multipart/form-data` with a boundary.
    #[error("the upload is not multipart/form-data")]
    NotMultipart,
    /// The multipart framing is broken.
    #[error("reading the upload: {0}")]
    Multipart(#[from] multer::Error),
    /// A part is no CAR the reader accepts.
    #[error("reading a CAR header: {0}")]
    Car(#[from] cairn_kubo::car::CarError),
    /// The reading task ended without an answer.
    #[error("the roots reader failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// kubo's `CarImportOutput` with `Root` set.
#[derive(Serialize)]
struct RootLine {
    #[serde(rename = "Root")]
    root: RootMeta,
}

/// kubo's `RootMeta`.
#[derive(Serialize)]
struct RootMeta {
    #[serde(rename = "Cid")]
    cid: Link,
    #[serde(rename = "PinErrorMsg")]
    pin_error: String,
}

/// A CID as dag-json writes a link: `{"/":"<cid>"}`.
#[derive(Serialize)]
struct Link {
    #[serde(rename = "/")]
    cid: String,
}

/// Forward with `pin-roots=false` → read the roots from the upload → pin them → answer.
pub(super) async fn serve(ctx: &Ctx, query: Query, req: Request<Body>) -> Result<Response<Body>, BoxError> {
    let options: Vec<(String, String)> = query
        .options()
        .into_iter()
        .filter(|(k, _)| k != "pin-roots")
        .collect();
    let (mut parts, body) = req.into_parts();
    parts.uri = unpinned(&parts.uri)?;
    let boundary = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok());
    let (body, roots) = match boundary {
        Some(boundary) => {
            let (body, copy) = super::tee::tee(body);
            (crate::boxed(body), tokio::spawn(read_roots(copy, boundary)))
        }
        None => (body, tokio::spawn(async { Err(RootsError::NotMultipart) })),
    };
    let upstream = match super::forward(&ctx.upstream, Request::from_parts(parts, body)).await {
        Ok(upstream) if upstream.status().is_success() => upstream,
        other => {
            roots.abort();
            return other;
        }
    };
    let (parts, body) = upstream.into_parts();
    let (mut response, out) = restream(&parts.headers);
    response.headers_mut().insert(
        cairn_kubo::stream::X_CHUNKED_OUTPUT,
        http::HeaderValue::from_static("1"),
    );
    tokio::spawn(pump(
        ctx.cluster.clone(),
        options,
        roots,
        UpstreamLines::new(body),
        out,
    ));
    Ok(response)
}

/// `uri` with `pin-roots=false` in place of the client's `pin-roots`, every other pair kept.
fn unpinned(uri: &Uri) -> Result<Uri, InterceptError> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if key != "pin-roots" {
            query.append_pair(&key, &value);
        }
    }
    query.append_pair("pin-roots", "false");
    let mut parts = uri.clone().into_parts();
    let target = format!("{}?{}", uri.path(), query.finish());
    parts.path_and_query = Some(
        target
            .parse()
            .map_err(|e| InterceptError::BadOption(format!("{e}")))?,
    );
    Uri::from_parts(parts).map_err(|e| InterceptError::BadOption(e.to_string()))
}

/// The roots every CAR part of the upload names, each once, in the order they first appear.
async fn read_roots(
    copy: futures::channel::mpsc::Receiver<Bytes>,
    boundary: String,
) -> Result<Vec<Cid>, RootsError> {
    let mut multipart = multer::Multipart::new(copy.map(Ok::<_, std::convert::Infallible>), boundary);
    let (mut roots, mut seen) = (Vec::new(), HashSet::new());
    while let Some(field) = multipart.next_field().await? {
        let source = tokio_util::io::StreamReader::new(field.map_err(std::io::Error::other));
        let car = cairn_kubo::car::Reader::new(source).await?;
        roots.extend(car.roots().iter().filter(|root| seen.insert(**root)).copied());
        // Dropping the part here: the next `next_field` skips the rest of its bytes.
    }
    Ok(roots)
}

/// Waits for the upstream's whole answer, then pins the roots and writes kubo's lines.
async fn pump(
    cluster: Arc<dyn Cluster>,
    options: Vec<(String, String)>,
    roots: JoinHandle<Result<Vec<Cid>, RootsError>>,
    mut lines: UpstreamLines,
    out: Lines,
) {
    let mut held = Vec::new();
    while let Some(line) = lines.next().await {
        match line {
            // The upstream names no roots with pin-roots=false; one that does is not repeated.
            Ok(line) if !names_a_root(&line) => held.push(line),
            Ok(_) => {}
            Err(e) => {
                roots.abort();
                return out.fail(&format!("upstream: {e}")).await;
            }
        }
    }
    if let Some(error) = lines.stream_error() {
        roots.abort();
        return out.fail(error).await;
    }
    let roots = match roots.await.map_err(RootsError::from).and_then(|r| r) {
        Ok(roots) => roots,
        Err(e) => return out.fail(&format!("cairn: the roots were not pinned: {e}")).await,
    };
    for cid in roots {
        let pin = PinRequest {
            cid,
            recursive: true,
            options: options.clone(),
        };
        let pin_error = cluster
            .pin(pin)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let line = RootLine {
            root: RootMeta {
                cid: Link { cid: cid.to_string() },
                pin_error,
            },
        };
        if !out.line(&line).await {
            return;
        }
    }
    for line in held {
        if !out.raw(line).await {
            return;
        }
    }
}

fn names_a_root(line: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(line).is_ok_and(|v| v.get("Root").is_some())
}

#[cfg(test)]
mod tests;
