//! The cluster as the gateway sees it: cairn-gateway's `Cluster` trait over [`Cluster`].
//!
//! Pins take their options from the intercepted request's query exactly as the REST API
//! does (`name`, `replication-*`, `expire-in`, `meta-*`; kubo's `pin-name` stands for `name`;
//! kubo's `mode` is a file mode on `add`, never a pin mode). Listing streams from one read
//! transaction at a time (`listing`). `repo/stat` and `repo/gc` ask every member's own
//! IPFS daemon over the cluster network, this peer's directly. `cairn/status` is the nested
//! status of `nested`; `cairn/events` is this peer's pin event stream (`events`).

use std::sync::Arc;

use cairn_gateway::intercept::{self as gw, GcLine, PinInfo, PinRequest};
use cid::Cid;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

use super::{Cluster, ClusterError};
use crate::api::{Pin, PinMode, PinOptions, RepoStat};
use crate::consensus::PeerNode;

impl Cluster {
    /// This peer's daemon's `repo/stat`.
    pub(super) async fn local_repo_stat(&self, size_only: bool) -> Result<RepoStat, ClusterError> {
        Ok(self.ipfs.repo_stat(size_only).await?)
    }

    /// `repo/gc` on this peer's daemon.
    pub(super) async fn local_repo_gc(&self) -> Result<Vec<String>, ClusterError> {
        Ok(self.ipfs.repo_gc().await?)
    }

    async fn member_repo_stat(
        &self,
        member: PeerNode,
        size_only: bool,
    ) -> Result<gw::RepoStat, gw::ClusterError> {
        let answer = if member.peer_id == self.peer_id {
            self.local_repo_stat(size_only).await
        } else {
            self.rpc
                .repo_stat(&member, size_only)
                .await
                .map_err(ClusterError::from)
        };
        answer.map_err(|e| gw::ClusterError::Failed(format!("peer {}: {e}", member.peer_id)))
    }

    async fn member_repo_gc(&self, member: &PeerNode) -> Result<Vec<String>, ClusterError> {
        if member.peer_id == self.peer_id {
            return self.local_repo_gc().await;
        }
        Ok(self.rpc.repo_gc(member).await?)
    }
}

/// The pin options an intercepted request carries.
fn options_of(request: &PinRequest) -> Result<PinOptions, gw::ClusterError> {
    let has_name = request.options.iter().any(|(k, _)| k == "name");
    let pairs = request
        .options
        .iter()
        .filter_map(|(key, value)| match key.as_str() {
            "mode" => None, // kubo's file mode on `add`, never a pin mode
            "pin-name" if !has_name => Some(("name", value.as_str())),
            _ => Some((key.as_str(), value.as_str())),
        });
    let mut options = PinOptions::from_pairs(pairs).map_err(|e| gw::ClusterError::Invalid(e.to_string()))?;
    options.mode = if request.recursive {
        PinMode::Recursive
    } else {
        PinMode::Direct
    };
    Ok(options)
}

fn to_gateway(err: ClusterError) -> gw::ClusterError {
    match err {
        ClusterError::Invalid(e @ crate::api::PinError::TooLarge { .. }) => {
            gw::ClusterError::TooLarge(e.to_string())
        }
        ClusterError::Invalid(e) => gw::ClusterError::Invalid(e.to_string()),
        ClusterError::NotPinned => gw::ClusterError::NotPinned,
        ClusterError::NoLeader(e) => gw::ClusterError::Unavailable(format!("the cluster has no leader: {e}")),
        ClusterError::Unhealthy(e) => gw::ClusterError::Unavailable(e),
        ClusterError::Busy(busy) => gw::ClusterError::Unavailable(busy.to_string()),
        // The leader could not be reached or failed mid-commit (an election is under way).
        ClusterError::Consensus(e) => {
            gw::ClusterError::Unavailable(format!("the cluster could not commit, retry: {e}"))
        }
        ClusterError::Peer(e) => {
            gw::ClusterError::Unavailable(format!("the cluster could not commit, retry: {e}"))
        }
        other => gw::ClusterError::Failed(other.to_string()),
    }
}

pub(crate) fn info(pin: &Pin) -> PinInfo {
    PinInfo {
        cid: pin.cid,
        recursive: pin.options.mode == PinMode::Recursive,
        name: pin.options.name.clone(),
    }
}

impl gw::Cluster for Cluster {
    fn pin(&self, request: PinRequest) -> BoxFuture<'static, Result<(), gw::ClusterError>> {
        let this = self.clone();
        Box::pin(async move {
            let options = options_of(&request)?;
            this.pin(request.cid, options).await.map(drop).map_err(to_gateway)
        })
    }

    fn unpin(&self, cid: Cid) -> BoxFuture<'static, Result<(), gw::ClusterError>> {
        let this = self.clone();
        Box::pin(async move { this.unpin(cid).await.map(drop).map_err(to_gateway) })
    }

    fn update(&self, from: Cid, to: Cid, unpin: bool) -> BoxFuture<'static, Result<(), gw::ClusterError>> {
        let this = self.clone();
        Box::pin(async move {
            let old = this.pins.get(&from).map_err(|e| to_gateway(e.into()))?;
            let old = old
                .filter(|p| p.options.mode == PinMode::Recursive)
                .ok_or(gw::ClusterError::NotPinned)?;
            let mut options = old.options.clone();
            options.pin_update = Some(from);
            this.pin(to, options).await.map_err(to_gateway)?;
            if unpin && from != to {
                this.unpin(from).await.map_err(to_gateway)?;
            }
            Ok(())
        })
    }

    fn get(&self, cid: Cid) -> BoxFuture<'static, Result<Option<PinInfo>, gw::ClusterError>> {
        let found = self.pins.get(&cid).map(|p| p.as_ref().map(info));
        Box::pin(async move { found.map_err(|e| gw::ClusterError::Failed(e.to_string())) })
    }

    fn linearize(&self) -> BoxFuture<'static, Result<(), gw::ClusterError>> {
        let this = self.clone();
        Box::pin(async move {
            let barrier = this.read_barrier(super::Consistency::Linearizable);
            barrier.await.map_err(to_gateway)
        })
    }

    fn list(&self) -> BoxStream<'static, Result<PinInfo, gw::ClusterError>> {
        match self.listings.pins() {
            Ok(pins) => Box::pin(pins.map(|pin| {
                pin.map(|p| info(&p))
                    .map_err(|e| gw::ClusterError::Failed(e.to_string()))
            })),
            Err(e) => Box::pin(futures::stream::once(async move { Err(to_gateway(e.into())) })),
        }
    }

    fn repo_stats(&self, size_only: bool) -> BoxFuture<'static, Vec<Result<gw::RepoStat, gw::ClusterError>>> {
        let this = self.clone();
        Box::pin(async move {
            let asks = this
                .members()
                .into_iter()
                .map(|m| this.member_repo_stat(m, size_only));
            futures::future::join_all(asks).await
        })
    }

    fn landing(&self, cid: Cid) -> BoxFuture<'static, Result<gw::Landing, gw::ClusterError>> {
        let this = self.clone();
        Box::pin(async move { this.statuses.landing(cid).await.map_err(|e| to_gateway(e.into())) })
    }

    fn status(
        &self,
        cids: Vec<Cid>,
        depth: u32,
        timeout: Option<std::time::Duration>,
    ) -> BoxStream<'static, Result<gw::StatusLine, gw::ClusterError>> {
        let cids = (!cids.is_empty()).then_some(cids);
        let infos = self.statuses.global_infos(cids, depth, None, timeout);
        // The gateway knows no peer types: it gets each line encoded, to write as it is.
        Box::pin(infos.map(|info| {
            let info = info.map_err(|e| to_gateway(e.into()))?;
            gw::StatusLine::encode(&info).map_err(|e| gw::ClusterError::Failed(e.to_string()))
        }))
    }

    fn events(
        &self,
        cids: Vec<Cid>,
        since: Option<u64>,
    ) -> Result<BoxStream<'static, gw::StatusLine>, gw::ClusterError> {
        let cids = (!cids.is_empty()).then(|| cids.iter().map(Cid::to_string).collect());
        let filter = crate::events::Filter { cids };
        let subscription = (self.events.subscribe(filter, since))
            .map_err(|busy| gw::ClusterError::Unavailable(busy.to_string()))?;
        let lines = futures::stream::unfold(subscription, |mut subscription| async move {
            loop {
                match gw::StatusLine::encode(&subscription.next().await) {
                    Ok(line) => return Some((line, subscription)),
                    Err(e) => tracing::warn!(error = %e, "events: an event could not be encoded"),
                }
            }
        });
        Ok(Box::pin(lines))
    }

    fn repo_gc(&self) -> BoxStream<'static, GcLine> {
        let this = Arc::new(self.clone());
        let members = this.members();
        let per_member = futures::stream::iter(members).then(move |member| {
            let this = this.clone();
            async move {
                match this.member_repo_gc(&member).await {
                    Ok(keys) => keys.into_iter().map(GcLine::Removed).collect::<Vec<_>>(),
                    Err(e) => vec![GcLine::Failed(format!("peer {}: {e}", member.peer_id))],
                }
            }
        });
        Box::pin(per_member.flat_map(futures::stream::iter))
    }
}
