//! `POST /add`: ipfs-cluster's REST add. The multipart upload streams into this peer's IPFS
//! daemon through the gateway's own intercepted `add` (cairn-gateway's `Intercept` over a
//! `Forward` to the daemon, built from the gateway's settings), which pins the roots in the
//! cluster before it releases their lines; each kubo line is answered as ipfs-cluster's
//! `AddedOutput`: `{"name","cid","bytes"?,"size"?,"allocations"?}` (shared/reference/
//! ipfs-proxy.md §2.4, "The REST /add"), the roots with the allocations they were pinned to.
//!
//! Query: the pin options (`name`, `replication-*`, `user-allocations`, `expire-*`, `meta-*`)
//! and kubo's add options (`wrap-with-directory`, `cid-version`, `raw-leaves`, `chunker`,
//! `hash`, `progress`) pass to the gateway's add; `no-pin=true` stores without pinning;
//! `local` is accepted (the content always goes to this peer's daemon); `stream-channels=false`
//! answers one JSON array. `shard=true` and `format=car` are refused (400).
//!
//! # Invariants
//! - The upload is never collected: it streams from the client to the daemon.
//! - A failure before any line is a 500 `{"code","message"}`; after one, it is the
//!   `X-Stream-Error` trailer (always set, `""` on success), as ipfs-cluster's StreamResponse.

use std::sync::Arc;

use bytes::Bytes;
use cairn_gateway::forward::Forward;
use cairn_gateway::intercept::{InterceptLayer, Upstream};
use cairn_gateway::{Body, BoxError, ProxyConfig, boxed};
use cid::Cid;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde::Serialize;
use tower::Layer;

use super::{error, with_json_type};
use crate::api::PinOptions;
use crate::cluster::Cluster;

/// The gateway's add path towards this peer's daemon; cheap to clone.
#[derive(Clone)]
pub struct Adder {
    service: Upstream,
}

impl Adder {
    /// The intercepted add of `gateway` (this peer's gateway settings: its daemon, TLS and
    /// secret) pinning through `cluster`.
    pub fn new(
        gateway: &ProxyConfig,
        cluster: Arc<dyn cairn_gateway::intercept::Cluster>,
    ) -> Result<Self, cairn_gateway::tls::TlsError> {
        let forward = Forward::new(gateway)?;
        Ok(Self {
            service: Upstream::new(InterceptLayer::new(cluster, gateway).layer(forward)),
        })
    }
}

/// ipfs-cluster's `AddedOutput`, fields left out when empty.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(super) struct Added {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allocations: Vec<String>,
}

/// kubo's add query for the REST query: what the gateway's add reads.
pub(super) fn kubo_query(query: &str) -> Result<(String, bool, bool), String> {
    let mut out = form_urlencoded::Serializer::new(String::new());
    let (mut buffered, mut wrap) = (false, false);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let on = matches!(value.as_ref(), "true" | "1" | "");
        match key.as_ref() {
            "shard" if on => return Err("shard=true is not supported by Cairn's /add".into()),
            "format" if !matches!(value.as_ref(), "" | "unixfs") => {
                return Err(format!(
                    "format={value} is not supported by /add: import CAR files with dag/import on the gateway"
                ));
            }
            "stream-channels" => buffered = value == "false",
            "no-pin" if on => {
                out.append_pair("pin", "false");
            }
            // A pin mode in ipfs-cluster (recursive for adds), a file mode in kubo; cleared for
            // adds, as ipfs-cluster clears `pin-update`.
            "mode" | "pin-update" | "local" | "no-pin" | "format" | "shard" => {}
            other => {
                if other == "wrap-with-directory" {
                    wrap = on;
                }
                out.append_pair(other, &value);
            }
        }
    }
    Ok((out.finish(), buffered, wrap))
}

/// `POST /add`.
pub(super) async fn serve(
    adder: &Adder,
    cluster: &Cluster,
    query: &str,
    req: Request<Body>,
) -> Response<Body> {
    if let Err(e) = PinOptions::from_query(query) {
        return error(StatusCode::BAD_REQUEST, &e.to_string());
    }
    let (kubo, buffered, wrap) = match kubo_query(query) {
        Ok(parts) => parts,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let mut inner = Request::post(format!("/api/v0/add?{kubo}"))
        .header(header::HOST, "127.0.0.1")
        .header(header::TE, "trailers");
    if let Some(kind) = req.headers().get(header::CONTENT_TYPE) {
        inner = inner.header(header::CONTENT_TYPE, kind.clone());
    }
    let inner = match inner.body(req.into_body()) {
        Ok(inner) => inner,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let answer = match cairn_gateway::intercept::forward(&adder.service, inner).await {
        Ok(answer) => answer,
        Err(e) => return error(cairn_gateway::rescue::status_of(&*e), &e.to_string()),
    };
    if !answer.status().is_success() {
        return refused(answer).await;
    }
    let mut lines = Lines::new(answer.into_body());
    let shape = Shape {
        cluster: cluster.clone(),
        wrap,
    };
    let first = lines.next().await;
    let first = match first {
        Some(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e),
        Some(Ok(line)) => shape.line(&line),
        None => return super::empty(StatusCode::NO_CONTENT),
    };
    match buffered {
        true => collected(first, lines, shape).await,
        false => streamed(first, lines, shape),
    }
}

/// The daemon's (or the gateway's) refusal in the REST API's error shape.
async fn refused(answer: Response<Body>) -> Response<Body> {
    let status = answer.status();
    let body = answer
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["Message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_owned());
    error(status, &message)
}

/// Turns kubo's lines into ipfs-cluster's.
struct Shape {
    cluster: Cluster,
    wrap: bool,
}

impl Shape {
    fn line(&self, line: &[u8]) -> Option<Added> {
        let value: serde_json::Value = serde_json::from_slice(line).ok()?;
        let name = value["Name"].as_str().unwrap_or_default().to_owned();
        let cid = value["Hash"].as_str().map(str::to_owned);
        let root = cid.is_some()
            && (if self.wrap {
                name.is_empty()
            } else {
                !name.contains('/')
            });
        let allocations = match (root, cid.as_deref().and_then(|c| Cid::try_from(c).ok())) {
            (true, Some(cid)) => self.allocations(&cid),
            _ => Vec::new(),
        };
        Some(Added {
            name,
            cid,
            bytes: value["Bytes"].as_u64().filter(|b| *b > 0),
            size: value["Size"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .filter(|s| *s > 0),
            allocations,
        })
    }

    /// Where the cluster pinned a root (empty: everywhere, or not pinned).
    fn allocations(&self, cid: &Cid) -> Vec<String> {
        match self.cluster.pins().get(cid) {
            Ok(Some(pin)) => pin.allocations,
            _ => Vec::new(),
        }
    }
}

/// `stream-channels=false`: one JSON array, or the error.
async fn collected(first: Option<Added>, mut lines: Lines, shape: Shape) -> Response<Body> {
    let mut all: Vec<Added> = first.into_iter().collect();
    while let Some(line) = lines.next().await {
        match line {
            Ok(line) => all.extend(shape.line(&line)),
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e),
        }
    }
    super::json(StatusCode::OK, &all)
}

/// ndjson, a line as each comes, and `X-Stream-Error` at the end.
fn streamed(first: Option<Added>, mut lines: Lines, shape: Shape) -> Response<Body> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(16);
    tokio::spawn(async move {
        let encoded = |added: &Added| {
            let mut out = Vec::new();
            super::write_line(added, &mut out).map(|()| Frame::data(Bytes::from(out)))
        };
        if let Some(added) = &first
            && let Ok(frame) = encoded(added)
            && tx.send(Ok(frame)).await.is_err()
        {
            return;
        }
        let mut failure = String::new();
        while let Some(line) = lines.next().await {
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    failure = e;
                    break;
                }
            };
            let Some(frame) = shape.line(&line).and_then(|added| encoded(&added).ok()) else {
                continue;
            };
            if tx.send(Ok(frame)).await.is_err() {
                return; // the client went away
            }
        }
        let mut trailers = http::HeaderMap::new();
        if let Ok(value) = http::HeaderValue::from_str(&failure) {
            trailers.insert("x-stream-error", value);
        }
        let _ = tx.send(Ok(Frame::trailers(trailers))).await;
    });
    let frames = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
    let mut rsp = with_json_type(Response::new(boxed(StreamBody::new(frames))));
    rsp.headers_mut()
        .insert(header::TRAILER, http::HeaderValue::from_static("X-Stream-Error"));
    rsp
}

/// The lines of an ndjson body; its `X-Stream-Error` (or a broken body) as the last item.
struct Lines {
    body: Option<Body>,
    pending: Vec<u8>,
}

impl Lines {
    fn new(body: Body) -> Self {
        Self {
            body: Some(body),
            pending: Vec::new(),
        }
    }

    async fn next(&mut self) -> Option<Result<Vec<u8>, String>> {
        loop {
            if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Some(Ok(line));
            }
            let Some(body) = self.body.as_mut() else {
                let rest = std::mem::take(&mut self.pending);
                return (!rest.iter().all(u8::is_ascii_whitespace)).then_some(Ok(rest));
            };
            match body.frame().await {
                None => self.body = None,
                Some(Err(e)) => {
                    self.body = None;
                    return Some(Err(format!("the IPFS daemon's add broke off: {e}")));
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.pending.extend_from_slice(&data),
                    Err(frame) => {
                        let failed = frame
                            .trailers_ref()
                            .and_then(|t| t.get("x-stream-error"))
                            .and_then(|v| v.to_str().ok())
                            .filter(|e| !e.is_empty())
                            .map(str::to_owned);
                        if let Some(failed) = failed {
                            self.body = None;
                            self.pending.clear();
                            return Some(Err(failed));
                        }
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(text: &'static str) -> Body {
        boxed(http_body_util::Full::new(Bytes::from_static(text.as_bytes())))
    }

    #[test]
    fn the_rest_query_becomes_the_gateways_add_query() {
        let (kubo, buffered, wrap) =
            kubo_query("name=n&replication-min=1&wrap-with-directory=true&no-pin=true&local=true&mode=recursive&pin-update=Qm&stream-channels=false&cid-version=1")
                .expect("query");
        assert_eq!(
            kubo,
            "name=n&replication-min=1&wrap-with-directory=true&pin=false&cid-version=1"
        );
        assert!(buffered && wrap);
        assert!(kubo_query("shard=true").is_err());
        assert!(kubo_query("format=car").unwrap_err().contains("dag/import"));
        assert!(kubo_query("format=unixfs").is_ok());
    }

    #[tokio::test]
    async fn lines_split_across_frames_and_a_late_failure_ends_them() {
        let mut lines = Lines::new(body_of("{\"Name\":\"a\"}\n\n{\"Name\":\"b\"}"));
        assert_eq!(lines.next().await, Some(Ok(b"{\"Name\":\"a\"}\n".to_vec())));
        assert_eq!(lines.next().await, Some(Ok(b"{\"Name\":\"b\"}".to_vec())));
        assert_eq!(lines.next().await, None);

        let (mut tx, body) = {
            let (tx, rx) = futures::channel::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(4);
            (tx, boxed(StreamBody::new(rx)))
        };
        let mut trailers = http::HeaderMap::new();
        trailers.insert(
            "x-stream-error",
            http::HeaderValue::from_static("cluster pin failed: no"),
        );
        for frame in [
            Frame::data(Bytes::from_static(b"{\"Na")),
            Frame::data(Bytes::from_static(b"me\":\"a\"}\n")),
            Frame::trailers(trailers),
        ] {
            tx.try_send(Ok(frame)).expect("queued");
        }
        drop(tx);
        let mut lines = Lines::new(body);
        assert_eq!(lines.next().await, Some(Ok(b"{\"Name\":\"a\"}\n".to_vec())));
        assert_eq!(lines.next().await, Some(Err("cluster pin failed: no".to_owned())));
        assert_eq!(lines.next().await, None);
    }
}
