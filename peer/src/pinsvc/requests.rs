//! The five operations of the spec over the cluster: list, add, get, replace, remove.
//!
//! # Invariants
//! - The request id is the CID (ipfs-cluster's choice): one request per CID, and a replace
//!   answers with the new CID as its id.
//! - A request id that is not a CID, or a CID not in the pinset, is `NOT_FOUND`: ids are
//!   opaque to clients.
//! - Writes go through `Cluster::pin` / `Cluster::unpin` (validation, allocation, Raft), so
//!   they are acknowledged once committed and applied here; a new or replaced request answers
//!   `queued`, and its progress shows on `GET`.

use std::collections::BTreeMap;

use cid::Cid;
use futures::StreamExt;

use super::SvcError;
use super::filters::ListQuery;
use super::page::Page;
use super::status::{Report, delegates, overall, reports_for, reports_of};
use super::types::{self, PinResults, PinStatus, Status};
use crate::api::{PeerIdentity, Pin, PinOptions};
use crate::cluster::{Cluster, ClusterError};
use crate::consensus::PeerNode;

/// Who the members are, worked out once per request.
struct Members {
    all: Vec<(PeerNode, PeerIdentity)>,
    me: PeerNode,
}

impl Members {
    fn of(cluster: &Cluster) -> Self {
        let all = cluster
            .members()
            .into_iter()
            .map(|member| {
                let identity = cluster.statuses().identity(&member);
                (member, identity)
            })
            .collect();
        Self {
            all,
            me: cluster.me(),
        }
    }

    fn status(&self, pin: &Pin, status: Status, info: BTreeMap<String, String>) -> PinStatus {
        PinStatus {
            requestid: pin.cid.to_string(),
            status,
            created: pin.timestamp,
            pin: types::Pin::of(pin),
            delegates: delegates(pin, &self.all, &self.me),
            info,
        }
    }
}

/// `GET /pins`.
pub(super) async fn list(cluster: &Cluster, query: &str) -> Result<PinResults, SvcError> {
    let filters = ListQuery::parse(query)?;
    let mut page = Page::new(filters.limit);
    let offer = |page: &mut Page<_>, pin: Pin, reports: &dyn Fn(&Pin) -> Vec<Report>| {
        if !filters.admits(&pin.options.name, &pin.options.metadata, pin.timestamp) {
            return;
        }
        let (status, info) = overall(&pin, &reports(&pin));
        if filters.statuses.contains(&status) {
            page.offer(pin.timestamp, pin.cid, (pin, status, info));
        }
    };
    if filters.cids.is_empty() {
        let everywhere = cluster.statuses().statuses_everywhere().await;
        let mut pins = cluster.listings().pins().map_err(ClusterError::from)?;
        while let Some(pin) = pins.next().await {
            let pin = pin.map_err(ClusterError::from)?;
            offer(&mut page, pin, &|pin| reports_of(pin, &everywhere));
        }
    } else {
        for cid in &filters.cids {
            let Some(pin) = cluster.pins().get(cid).map_err(ClusterError::from)? else {
                continue;
            };
            if !filters.admits(&pin.options.name, &pin.options.metadata, pin.timestamp) {
                continue;
            }
            let answers = cluster.statuses().status_everywhere(cid).await;
            offer(&mut page, pin, &|pin| reports_for(pin, cid, &answers));
        }
    }
    let (count, kept) = page.finish();
    let members = Members::of(cluster);
    let results = kept
        .into_iter()
        .map(|(pin, status, info)| members.status(&pin, status, info))
        .collect();
    Ok(PinResults { count, results })
}

/// `POST /pins`: pins `body` with the cluster's default replication.
pub(super) async fn add(cluster: &Cluster, body: types::Pin) -> Result<PinStatus, SvcError> {
    let pin = cluster.pin(body.cid, body.onto(PinOptions::default())).await?;
    tracing::debug!(cid = %pin.cid, "pinning service: pin requested");
    Ok(Members::of(cluster).status(&pin, Status::Queued, BTreeMap::new()))
}

/// `GET /pins/{requestid}`: where the request stands on every allocated member.
pub(super) async fn get(cluster: &Cluster, id: &str) -> Result<PinStatus, SvcError> {
    let (cid, pin) = find(cluster, id)?;
    let answers = cluster.statuses().status_everywhere(&cid).await;
    let (status, info) = overall(&pin, &reports_for(&pin, &cid, &answers));
    Ok(Members::of(cluster).status(&pin, status, info))
}

/// `POST /pins/{requestid}`: pins `body` in place of the request (keeping its replication
/// and mode), then unpins the old CID when it differs.
pub(super) async fn replace(cluster: &Cluster, id: &str, body: types::Pin) -> Result<PinStatus, SvcError> {
    let (old_cid, old) = find(cluster, id)?;
    let mut options = body.onto(old.options);
    options.pin_update = Some(old_cid);
    let pin = cluster.pin(body.cid, options).await?;
    if body.cid != old_cid {
        match cluster.unpin(old_cid).await {
            Ok(_) | Err(ClusterError::NotPinned) => {}
            Err(e) => return Err(e.into()),
        }
    }
    tracing::debug!(cid = %pin.cid, from = %old_cid, "pinning service: pin replaced");
    Ok(Members::of(cluster).status(&pin, Status::Queued, BTreeMap::new()))
}

/// `DELETE /pins/{requestid}`.
pub(super) async fn remove(cluster: &Cluster, id: &str) -> Result<(), SvcError> {
    let cid = requestid(id)?;
    match cluster.unpin(cid).await {
        Ok(_) => {
            tracing::debug!(%cid, "pinning service: pin removed");
            Ok(())
        }
        Err(ClusterError::NotPinned) => Err(SvcError::NotFound(id.to_owned())),
        Err(e) => Err(e.into()),
    }
}

fn requestid(id: &str) -> Result<Cid, SvcError> {
    id.parse().map_err(|_| SvcError::NotFound(id.to_owned()))
}

/// The request `id` names: its CID and pin.
fn find(cluster: &Cluster, id: &str) -> Result<(Cid, Pin), SvcError> {
    let cid = requestid(id)?;
    match cluster.pins().get(&cid).map_err(ClusterError::from)? {
        Some(pin) => Ok((cid, pin)),
        None => Err(SvcError::NotFound(id.to_owned())),
    }
}
