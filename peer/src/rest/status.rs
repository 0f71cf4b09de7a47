//! `GET /pins`, `GET /pins/{cid}`, `POST /pins/{cid}/recover`, `POST /pins/recover`: where pins
//! stand, in ipfs-cluster's `GlobalPinInfo` shape, from this peer's tracker.
//!
//! Only this peer's entry is in `peer_map` for now (as ipfs-cluster's `local=true`); the view
//! across every peer over the cluster network comes next.

use http::{Response, StatusCode};
use serde_json::{Value, json};

use cairn_gateway::Body;

use super::{error, json as reply, line};
use crate::api::parse_cid;
use crate::cluster::Cluster;
use crate::tracker::{LocalStatus, Status, Tracker};

fn tracker(cluster: &Cluster) -> Option<&Tracker> {
    cluster.tracker()
}

fn no_tracker() -> Response<Body> {
    error(StatusCode::SERVICE_UNAVAILABLE, "the pin tracker is not running")
}

/// ipfs-cluster's `GlobalPinInfo` for `cid` with this peer's `PinInfoShort`.
fn global(cluster: &Cluster, cid: &cid::Cid, local: &LocalStatus) -> Value {
    let pin = cluster.pins().get(cid).ok().flatten();
    let short = json!({
        "peername": cluster.peername,
        "status": local.status,
        "timestamp": local.timestamp,
        "error": local.error,
        "attempt_count": local.attempt_count,
        "priority_pin": false,
    });
    json!({
        "cid": cid.to_string(),
        "name": pin.as_ref().map(|p| p.options.name.clone()).unwrap_or_default(),
        "allocations": pin.as_ref().map(|p| p.allocations.clone()).unwrap_or_default(),
        "origins": [],
        "created": pin.as_ref().map(|p| serde_json::to_value(p.timestamp).unwrap_or_default()).unwrap_or_default(),
        "metadata": pin.as_ref().map(|p| serde_json::to_value(&p.options.metadata).unwrap_or_default()).unwrap_or_default(),
        "peer_map": { cluster.peer_id.clone(): short },
    })
}

/// `GET /pins/{cid}`.
pub(super) fn one(cluster: &Cluster, cid: &str) -> Response<Body> {
    let (tracker, cid) = match (tracker(cluster), parse_cid(cid)) {
        (None, _) => return no_tracker(),
        (_, Err(e)) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
        (Some(t), Ok(cid)) => (t, cid),
    };
    reply(StatusCode::OK, &global(cluster, &cid, &tracker.status(&cid)))
}

/// `GET /pins[?filter=…]`: every tracked pin, ndjson.
pub(super) fn all(cluster: &Cluster, query: &str) -> Response<Body> {
    let Some(tracker) = tracker(cluster) else {
        return no_tracker();
    };
    let filter = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "filter")
        .map(|(_, v)| v.into_owned());
    if let Some(f) = &filter
        && !known_filter(f)
    {
        return error(StatusCode::BAD_REQUEST, "invalid filter value");
    }
    let mut body = Vec::new();
    for (cid, local) in tracker.all() {
        if filter.as_deref().is_none_or(|f| local.status.matches(f)) {
            body.extend_from_slice(&line(&global(cluster, &cid, &local)).unwrap_or_default());
        }
    }
    super::ndjson_bytes(body)
}

fn known_filter(filter: &str) -> bool {
    const ALL: [Status; 11] = [
        Status::PinQueued,
        Status::Pinning,
        Status::Pinned,
        Status::PinError,
        Status::UnpinQueued,
        Status::Unpinning,
        Status::Unpinned,
        Status::UnpinError,
        Status::Remote,
        Status::UnexpectedlyUnpinned,
        Status::ClusterError,
    ];
    ALL.iter().any(|s| s.matches(filter))
}

/// `POST /pins/{cid}/recover` and `POST /pins/recover`: retry failures now.
pub(super) async fn recover(cluster: &Cluster, cid: Option<&str>) -> Response<Body> {
    let Some(tracker) = tracker(cluster).cloned() else {
        return no_tracker();
    };
    tracker.recover().await;
    match cid {
        Some(cid) => one(cluster, cid),
        None => all(cluster, ""),
    }
}
