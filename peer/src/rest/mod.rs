//! The REST API in ipfs-cluster's shapes, served on `api.restapi.http_listen_multiaddress`.
//!
//! Routes: `GET /id`, `GET /version`, `GET /health` (204, or 503 with the reason when this
//! peer's consensus or store failed), `GET /peers` (ndjson),
//! `DELETE /peers/{id}`, `GET /raft` (Cairn-only: leader, term, last applied, members),
//! `POST /pins/{cid}` (PinOptions in the query; `pin-update={from}` pins with the options of
//! `from`, `update`), `DELETE /pins/{cid}`, `POST /add` (`add`: the upload streamed into this
//! peer's daemon through the gateway's add, the roots pinned; ipfs-cluster's `AddedOutput`
//! lines), `GET /allocations` (ndjson, streamed from the store; 204 when empty),
//! `GET /allocations/{cid}`.
//! Errors are `{"code":<status>,"message":"…"}` plus a newline; values end with a newline.
//! Every request passes `security` first (body limit, CORS, CSRF, basic auth and tokens,
//! `POST /token`).
//! Reads under `/pins` and `/allocations` take `?consistency=linearizable` (Cairn-only; see
//! `cluster::reads`); by default they are served from this peer's applied state.
//!
//! `GET /pins`, `GET /pins/{cid}`, the recover routes and `POST /pins/sync` (`status`) show
//! every peer's tracker; `GET /monitor/metrics[/{name}]` and `GET /health/alerts` (`health`)
//! the monitor; `GET /pins/events` (`events`, Cairn-only) streams every peer's pin transitions.
//!
//! # Not here
//! Choosing allocations (allocator, `Cluster::pin`).

pub mod add;
pub mod events;
mod health;
pub mod security;
mod status;
mod update;

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{Full, StreamBody};
use hyper::body::Frame;
use serde::Serialize;

use cairn_gateway::access_log::Api;
use cairn_gateway::{Body, BoxError, boxed};

use crate::api::{IpfsInfo, PeerInfo, parse_cid};
use crate::cluster::{Cluster, ClusterError, Consistency};
use crate::status::Upkeep;

/// Cairn's version, as `/version` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Builds the REST service for `cluster`, guarded by `security`, as a gateway-server stack;
/// `adder` serves `POST /add`.
pub fn stack(
    cluster: Cluster,
    security: Arc<security::Security>,
    adder: add::Adder,
) -> cairn_gateway::stack::Stack {
    security::guarded(security, Api::Rest, move |req| {
        let (cluster, adder) = (cluster.clone(), adder.clone());
        async move { route(&cluster, &adder, req).await }
    })
}

async fn route(cluster: &Cluster, adder: &add::Adder, req: Request<Body>) -> Response<Body> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    if req.method() == Method::POST && segments == ["add"] {
        return add::serve(adder, cluster, &query, req).await;
    }
    if req.method() == Method::GET
        && matches!(segments.first(), Some(&"pins" | &"allocations"))
        && let Err(rsp) = read_barrier(cluster, &query).await
    {
        return rsp;
    }
    match (req.method(), segments.as_slice()) {
        (&Method::GET, ["id"]) => json(StatusCode::OK, &id(cluster)),
        (&Method::GET, ["version"]) => json(StatusCode::OK, &serde_json::json!({ "version": VERSION })),
        (&Method::GET, ["health"]) => match cluster.healthy() {
            Ok(()) => empty(StatusCode::NO_CONTENT),
            Err(e) => failure(&e),
        },
        (&Method::GET, ["raft"]) => json(StatusCode::OK, &cluster.raft_status()),
        (&Method::GET, ["peers"]) => ndjson_of(peers(cluster)),
        (&Method::DELETE, ["peers", peer]) => match cluster.remove_member(peer).await {
            Ok(()) => empty(StatusCode::NO_CONTENT),
            Err(e) => failure(&e),
        },
        (&Method::GET, ["pins"]) => status::all(cluster, &query).await,
        (&Method::GET, ["pins", "events"]) => events::serve(cluster, &query, req.headers()),
        (&Method::GET, ["pins", cid]) => status::one(cluster, cid, &query).await,
        (&Method::POST, ["pins", "recover"]) => status::act(cluster, recover(None), None, &query).await,
        (&Method::POST, ["pins", "sync"]) => status::act(cluster, Upkeep::Sync, None, &query).await,
        (&Method::POST, ["pins", cid, "recover"]) => {
            status::act(cluster, recover(Some(cid)), Some(cid), &query).await
        }
        (&Method::GET, ["monitor", "metrics"]) => json(StatusCode::OK, &cluster.monitor().names()),
        (&Method::GET, ["monitor", "metrics", name]) => health::metrics(cluster, name),
        (&Method::GET, ["health", "alerts"]) => json(StatusCode::OK, &cluster.monitor().alerts()),
        (&Method::POST, ["pins", cid]) => pin(cluster, cid, &query).await,
        (&Method::DELETE, ["pins", cid]) => unpin(cluster, cid).await,
        (&Method::GET, ["allocations"]) => allocations(cluster),
        (&Method::GET, ["allocations", cid]) => allocation(cluster, cid),
        _ => error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// Waits until a read meets the query's `consistency` (`local` by default, `linearizable`).
async fn read_barrier(cluster: &Cluster, query: &str) -> Result<(), Response<Body>> {
    let word = form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "consistency")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let consistency = Consistency::parse(&word).map_err(|e| error(StatusCode::BAD_REQUEST, &e))?;
    cluster.read_barrier(consistency).await.map_err(|e| failure(&e))
}

fn recover(cid: Option<&str>) -> Upkeep {
    Upkeep::Recover(cid.map(str::to_owned))
}

/// ipfs-cluster's `ID` object for every member (this peer's own is complete; others carry
/// what Raft knows of them: id and addresses).
fn peers(cluster: &Cluster) -> Vec<Result<PeerInfo, ClusterError>> {
    let mut all = vec![Ok(id(cluster))];
    for member in cluster
        .members()
        .into_iter()
        .filter(|m| m.peer_id != cluster.peer_id)
    {
        all.push(Ok(PeerInfo::member(&member.peer_id, &member.addrs)));
    }
    all
}

/// ipfs-cluster's `ID` object for this peer.
pub fn id(cluster: &Cluster) -> PeerInfo {
    let members = cluster.members();
    PeerInfo {
        id: cluster.peer_id.clone(),
        addresses: cluster.addresses(),
        cluster_peers: Some(members.iter().map(|m| m.peer_id.clone()).collect()),
        cluster_peers_addresses: Some(members.iter().flat_map(|m| m.addrs.clone()).collect()),
        version: Some(VERSION.to_owned()),
        commit: Some(String::new()),
        rpc_protocol_version: Some("/cairn/0.1/rpc".to_owned()),
        error: cluster.healthy().err().map(|e| e.to_string()).unwrap_or_default(),
        ipfs: Some(IpfsInfo::default()),
        peername: Some(cluster.peername.clone()),
    }
}

async fn pin(cluster: &Cluster, cid: &str, query: &str) -> Response<Body> {
    let result = async {
        let cid = parse_cid(cid)?;
        let options = update::options(cluster, &cid, query)?;
        cluster.pin(cid, options).await
    };
    answer(result.await)
}

async fn unpin(cluster: &Cluster, cid: &str) -> Response<Body> {
    let result = async { cluster.unpin(parse_cid(cid)?).await };
    answer(result.await)
}

fn allocation(cluster: &Cluster, cid: &str) -> Response<Body> {
    let found = parse_cid(cid)
        .map_err(ClusterError::from)
        .and_then(|cid| Ok(cluster.pins().get(&cid)?));
    match found {
        Ok(Some(pin)) => json(StatusCode::OK, &pin),
        Ok(None) => error(StatusCode::NOT_FOUND, "cid is not part of the global state"),
        Err(e) => failure(&e),
    }
}

/// Streams every pin as ndjson, a page at a time (`listing::Listings`).
fn allocations(cluster: &Cluster) -> Response<Body> {
    match cluster.pins().is_empty() {
        Ok(true) => return empty(StatusCode::NO_CONTENT),
        Err(e) => return failure(&e.into()),
        Ok(false) => {}
    }
    let encode: crate::listing::Encode = Arc::new(write_line::<crate::api::Pin>);
    match cluster.listings().encoded(encode) {
        Ok(pages) => ndjson_pages(pages),
        Err(busy) => failure(&busy.into()),
    }
}

/// An ndjson answer of encoded pages.
pub(crate) fn ndjson_pages(
    pages: BoxStream<'static, Result<Bytes, crate::listing::ListingError>>,
) -> Response<Body> {
    let frames = pages.map(|page| page.map(Frame::data).map_err(BoxError::from));
    with_json_type(Response::new(boxed(StreamBody::new(frames))))
}

/// Appends `value` as one JSON line.
pub(crate) fn write_line<T: Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    serde_json::to_writer(&mut *out, value)?;
    out.push(b'\n');
    Ok(())
}

fn line<T: Serialize>(value: &T) -> Result<Bytes, serde_json::Error> {
    let mut bytes = serde_json::to_vec(value)?;
    bytes.push(b'\n');
    Ok(Bytes::from(bytes))
}

fn ndjson_of<T: Serialize>(items: Vec<Result<T, ClusterError>>) -> Response<Body> {
    let mut body = Vec::new();
    for item in items {
        match item.map(|v| line(&v)) {
            Ok(Ok(bytes)) => body.extend_from_slice(&bytes),
            Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            Err(e) => return failure(&e),
        }
    }
    with_json_type(Response::new(boxed(Full::new(Bytes::from(body)))))
}

fn answer<T: Serialize>(result: Result<T, ClusterError>) -> Response<Body> {
    match result {
        Ok(value) => json(StatusCode::OK, &value),
        Err(e) => failure(&e),
    }
}

/// The status ipfs-cluster gives each failure.
fn failure(err: &ClusterError) -> Response<Body> {
    let status = match err {
        ClusterError::Invalid(crate::api::PinError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
        ClusterError::Invalid(_) => StatusCode::BAD_REQUEST,
        ClusterError::NotPinned => StatusCode::NOT_FOUND,
        ClusterError::NoLeader(_) | ClusterError::Unhealthy(_) | ClusterError::Busy(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, &err.to_string())
}

pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match line(value) {
        Ok(bytes) => {
            let mut rsp = with_json_type(Response::new(boxed(Full::new(bytes))));
            *rsp.status_mut() = status;
            rsp
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "code": status.as_u16(), "message": message });
    let mut rsp = with_json_type(Response::new(boxed(Full::new(Bytes::from(format!("{body}\n"))))));
    *rsp.status_mut() = status;
    rsp
}

pub(crate) fn empty(status: StatusCode) -> Response<Body> {
    let mut rsp = Response::new(boxed(http_body_util::Empty::<Bytes>::new()));
    *rsp.status_mut() = status;
    rsp
}

pub(super) fn with_json_type(mut rsp: Response<Body>) -> Response<Body> {
    rsp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    rsp
}
