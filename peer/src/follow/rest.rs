//! A follower's REST API: local and read-only, in ipfs-cluster's shapes (ipfs-cluster-follow
//! serves its API on a unix socket in its config folder; `cairn follow NAME init` writes
//! that address).
//!
//! Routes: `GET /id`, `GET /version`, `GET /health`, `GET /peers` (this follower),
//! `GET /pins` and `GET /pins/{cid}` (this follower's status of each followed pin),
//! `GET /allocations` and `GET /allocations/{cid}` (the followed pinset), and Cairn's
//! `GET /follow` (how far it follows: [`FollowInfo`]). Every other method answers 403 naming
//! the trusted peers to write through; it changes nothing.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, Response, StatusCode};
use serde::Serialize;

use cairn_gateway::Body;
use cairn_gateway::access_log::Api;

use super::local::Local;
use super::stream::Progress;
use crate::api::{PeerInfo, parse_cid};
use crate::listing::ListingError;
use crate::rest::{VERSION, empty, error, json, ndjson_pages, write_line};

/// `GET /follow`: where the follower stands (Cairn-only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FollowInfo {
    /// Its peer id.
    pub id: String,
    /// Its name.
    pub peername: String,
    /// The trusted peers it may follow.
    pub trusted_peers: Vec<String>,
    /// How far it follows.
    #[serde(flatten)]
    pub progress: Progress,
    /// Log entries it lacks of what its source has applied.
    pub behind: u64,
    /// Pins in its store.
    pub pins: u64,
}

impl Local {
    /// The `GET /follow` answer.
    pub fn info(&self) -> FollowInfo {
        let progress = self.progress.borrow().clone();
        FollowInfo {
            id: self.peer_id.clone(),
            peername: self.peername.clone(),
            trusted_peers: self.sources.ids(),
            behind: progress.behind(),
            progress,
            pins: self.pins.len().unwrap_or_default(),
        }
    }

    /// ipfs-cluster's `ID` object for this follower.
    pub fn id(&self) -> PeerInfo {
        PeerInfo {
            id: self.peer_id.clone(),
            addresses: self.addresses.clone(),
            cluster_peers: Some(self.sources.ids()),
            version: Some(VERSION.to_owned()),
            peername: Some(self.peername.clone()),
            ..PeerInfo::default()
        }
    }
}

/// The follower's REST service, guarded as the REST API is (`api.restapi`'s auth and CORS).
pub fn stack(local: Local, security: Arc<crate::rest::security::Security>) -> cairn_gateway::stack::Stack {
    crate::rest::security::guarded(security, Api::Rest, move |req| {
        let local = local.clone();
        async move { route(&local, &req) }
    })
}

fn route(local: &Local, req: &Request<Body>) -> Response<Body> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return error(StatusCode::FORBIDDEN, &local.refusal());
    }
    match segments.as_slice() {
        ["id"] => json(StatusCode::OK, &local.id()),
        ["version"] => json(StatusCode::OK, &serde_json::json!({ "version": VERSION })),
        ["health"] => empty(StatusCode::NO_CONTENT),
        ["peers"] => json(StatusCode::OK, &local.id()),
        ["follow"] => json(StatusCode::OK, &local.info()),
        ["pins"] => statuses(local),
        ["pins", cid] => match parse_cid(cid) {
            Ok(cid) => match local.pins.get(&cid) {
                Ok(pin) => json(StatusCode::OK, &local.global_info(&cid, pin.as_ref())),
                Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            },
            Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
        },
        ["allocations"] => allocations(local),
        ["allocations", cid] => match parse_cid(cid).map(|cid| local.pins.get(&cid)) {
            Ok(Ok(Some(pin))) => json(StatusCode::OK, &pin),
            Ok(Ok(None)) => error(StatusCode::NOT_FOUND, "cid is not part of the global state"),
            Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
        },
        _ => error(StatusCode::NOT_FOUND, "not found"),
    }
}

fn statuses(local: &Local) -> Response<Body> {
    let lines = local.global_infos().map(|info| {
        let mut out = Vec::new();
        write_line(&info?, &mut out).map_err(ListingError::Encode)?;
        Ok::<Bytes, ListingError>(Bytes::from(out))
    });
    ndjson_pages(Box::pin(lines))
}

fn allocations(local: &Local) -> Response<Body> {
    match local.pins.is_empty() {
        Ok(true) => return empty(StatusCode::NO_CONTENT),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Ok(false) => {}
    }
    let encode: crate::listing::Encode = Arc::new(write_line::<crate::api::Pin>);
    match local.listings.encoded(encode) {
        Ok(pages) => ndjson_pages(pages),
        Err(busy) => error(StatusCode::SERVICE_UNAVAILABLE, &busy.to_string()),
    }
}
