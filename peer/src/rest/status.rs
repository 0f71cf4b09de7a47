//! `GET /pins`, `GET /pins/{cid}`, `POST /pins/{cid}/recover`, `POST /pins/recover` and
//! `POST /pins/sync` (Cairn-only): where pins stand, in ipfs-cluster's `GlobalPinInfo` shape.
//!
//! Every member's tracker is asked over the cluster network (`local=true`: this peer only). A
//! member that does not answer shows `cluster_error` with the reason in its `peer_map` entry;
//! the call itself succeeds. `GET /pins` streams one line per pin of the pinset. `depth=N`
//! (Cairn-only, N above 1) adds each peer's child cluster below it (`status::nested`).

use cid::Cid;
use futures::StreamExt;
use http::{Response, StatusCode};
use http_body_util::StreamBody;
use hyper::body::Frame;
use std::collections::BTreeMap;

use cairn_gateway::intercept::MAX_DEPTH;
use cairn_gateway::{Body, BoxError, boxed};

use super::{error, json as reply, line};
use crate::api::{GlobalPinInfo, PeerIdentity, Pin, parse_cid};
use crate::cluster::Cluster;
use crate::status::{MemberStatuses, Upkeep, global, short};
use crate::tracker::{LocalStatus, Status, untracked};

/// The query parameters these routes read.
#[derive(Default)]
struct Query {
    local: bool,
    filter: Option<String>,
    /// Cluster levels to show (Cairn-only); `None` when absent or not a number in range.
    depth: Option<u32>,
}

fn query_of(text: &str) -> Query {
    let mut query = Query {
        depth: Some(1),
        ..Query::default()
    };
    for (key, value) in form_urlencoded::parse(text.as_bytes()) {
        match key.as_ref() {
            "local" => query.local = value == "true",
            "filter" if !value.is_empty() => query.filter = Some(value.into_owned()),
            "depth" => query.depth = value.parse().ok().filter(|d| (1..=MAX_DEPTH).contains(d)),
            _ => {}
        }
    }
    query
}

/// The answer to a `depth` that is not a number from 1 to [`MAX_DEPTH`].
fn bad_depth() -> Response<Body> {
    error(
        StatusCode::BAD_REQUEST,
        &format!("depth must be a number from 1 to {MAX_DEPTH}"),
    )
}

/// One member's entry: its statuses, or why it did not answer.
type Entry = MemberStatuses;

/// `member`'s status of `pin`: what it answered, what follows from the pin when it tracks
/// nothing yet, or `cluster_error` when it did not answer.
fn status_in(entry: &Entry, cid: &Cid, pin: Option<&Pin>) -> LocalStatus {
    match &entry.1 {
        Ok(statuses) => statuses
            .get(cid)
            .cloned()
            .unwrap_or_else(|| LocalStatus::now(untracked(pin, &entry.0.peer_id), String::new(), 0)),
        Err(why) => LocalStatus::now(Status::ClusterError, why.clone(), 0),
    }
}

/// The line for `pin`, or `None` when the filter selects none of its peers.
fn pin_line(entries: &[(Entry, PeerIdentity)], pin: &Pin, filter: Option<&str>) -> Option<GlobalPinInfo> {
    let mut peer_map = BTreeMap::new();
    for (entry, identity) in entries {
        let local = status_in(entry, &pin.cid, Some(pin));
        if filter.is_none_or(|f| local.status.matches(f)) {
            peer_map.insert(entry.0.peer_id.clone(), short(identity, &local, None));
        }
    }
    (!peer_map.is_empty()).then(|| global(&pin.cid, Some(pin), peer_map))
}

async fn entries(cluster: &Cluster, local: bool) -> Vec<Entry> {
    if !local {
        return cluster.statuses().statuses_everywhere().await;
    }
    let statuses = cluster.statuses().local_all();
    vec![(cluster.me(), Ok(statuses))]
}

/// `GET /pins/{cid}[?local=true][&depth=N]`.
pub(super) async fn one(cluster: &Cluster, cid: &str, query: &str) -> Response<Body> {
    let cid = match parse_cid(cid) {
        Ok(cid) => cid,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let query = query_of(query);
    let Some(depth) = query.depth else {
        return bad_depth();
    };
    if !query.local {
        return across_members(cluster, cid, depth).await;
    }
    let pin = cluster.pins().get(&cid).ok().flatten();
    let local = cluster.statuses().local_status(&cid);
    let me = cluster.me();
    let mut peer_map = BTreeMap::new();
    peer_map.insert(
        me.peer_id.clone(),
        short(&cluster.statuses().identity(&me), &local, None),
    );
    reply(StatusCode::OK, &global(&cid, pin.as_ref(), peer_map))
}

/// `GET /pins/{cid}[?depth=N]`: every member's status, with (above depth 1) each peer's child
/// cluster below it.
async fn across_members(cluster: &Cluster, cid: Cid, depth: u32) -> Response<Body> {
    let mut infos = cluster
        .statuses()
        .global_infos(Some(vec![cid]), depth, None, None);
    match infos.next().await {
        Some(Ok(info)) => reply(StatusCode::OK, &info),
        Some(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        None => error(StatusCode::INTERNAL_SERVER_ERROR, "no status"),
    }
}

/// `GET /pins[?filter=…][&local=true][&depth=N]`: one `GlobalPinInfo` per pin of the pinset,
/// ndjson.
pub(super) async fn all(cluster: &Cluster, query: &str) -> Response<Body> {
    let query = query_of(query);
    if let Some(f) = &query.filter
        && !known_filter(f)
    {
        return error(StatusCode::BAD_REQUEST, "invalid filter value");
    }
    match query.depth {
        None => return bad_depth(),
        Some(depth) if depth > 1 && !query.local => return nested_all(cluster, depth, query.filter),
        Some(_) => {}
    }
    let entries: Vec<(Entry, PeerIdentity)> = entries(cluster, query.local)
        .await
        .into_iter()
        .map(|entry| {
            let identity = cluster.statuses().identity(&entry.0);
            (entry, identity)
        })
        .collect();
    let filter = query.filter;
    let encode: crate::listing::Encode =
        std::sync::Arc::new(move |pin, out| match pin_line(&entries, pin, filter.as_deref()) {
            Some(value) => super::write_line(&value, out),
            None => Ok(()),
        });
    match cluster.listings().encoded(encode) {
        Ok(pages) => super::ndjson_pages(pages),
        Err(busy) => super::failure(&busy.into()),
    }
}

/// `GET /pins?depth=N` (N above 1): every pin with each peer's child cluster below it.
fn nested_all(cluster: &Cluster, depth: u32, filter: Option<String>) -> Response<Body> {
    let infos = cluster.statuses().global_infos(None, depth, filter, None);
    let frames = infos.map(|info| {
        let info = info.map_err(BoxError::from)?;
        line(&info).map(Frame::data).map_err(BoxError::from)
    });
    super::with_json_type(Response::new(boxed(StreamBody::new(frames))))
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

/// `POST /pins/{cid}/recover`, `POST /pins/recover` (retry failures now) and `POST
/// /pins/sync` (compare with the daemons now); then the status as `GET` gives it.
pub(super) async fn act(
    cluster: &Cluster,
    request: Upkeep,
    cid: Option<&str>,
    query: &str,
) -> Response<Body> {
    if query_of(query).local {
        cluster.statuses().local_upkeep(&request).await;
    } else {
        for (member, outcome) in cluster.statuses().on_every_member(request).await {
            if let Err(e) = outcome {
                tracing::warn!(peer = %member.peer_id, error = %e, "recover/sync not done");
            }
        }
    }
    match cid {
        Some(cid) => one(cluster, cid, query).await,
        None => all(cluster, query).await,
    }
}
