//! `GET /monitor/metrics/{name}`: the newest metric of that name from each member (expired
//! ones included, so that a down peer's last word shows; `valid` and `expire` tell).

use http::{Response, StatusCode};

use cairn_gateway::Body;

use super::json;
use crate::cluster::Cluster;

/// `GET /monitor/metrics/{name}`.
pub(super) fn metrics(cluster: &Cluster, name: &str) -> Response<Body> {
    let members = cluster.member_ids();
    json(StatusCode::OK, &cluster.monitor().latest(name, &members))
}
