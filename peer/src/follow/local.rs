//! What a follower shows of itself, read-only: its pinset, its tracker's statuses, how far
//! it follows; and the refusal every write gets. Its REST API (`follow::rest`) and its
//! gateway (the [`gw::Cluster`] implementation here) read it.
//!
//! # Invariants
//! - Nothing here changes a pin: `pin`, `unpin` and `update` answer
//!   [`Local::refusal`], naming the trusted peers to write through.
//! - Reads are this follower's applied state; a linearizable read is refused (it cannot be
//!   promised without a quorum round a follower may not make).

use cairn_gateway::intercept::{self as gw, GcLine, PinInfo, PinRequest};
use cid::Cid;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use tokio::sync::watch;

use super::stream::{Progress, Sources};
use crate::api::{GlobalPinInfo, PeerIdentity, Pin};
use crate::ipfs::IpfsClient;
use crate::listing::Listings;
use crate::state::PinStore;
use crate::status::pin_info;
use crate::tracker::{LocalStatus, Status, Tracker};

/// The follower's read-only view; cheap to clone.
#[derive(Clone)]
pub struct Local {
    /// Its peer id.
    pub peer_id: String,
    /// Its name.
    pub peername: String,
    /// The pins it follows.
    pub pins: PinStore,
    /// Bounded listings of them.
    pub listings: Listings,
    /// Where each stands on its IPFS daemon.
    pub tracker: Tracker,
    /// How far it follows.
    pub progress: watch::Receiver<Progress>,
    /// The trusted peers.
    pub sources: Sources,
    /// Its IPFS daemon.
    pub ipfs: IpfsClient,
    /// Its cluster-network addresses.
    pub addresses: Vec<String>,
}

impl Local {
    /// What a write gets: this is a follower, and where writes go.
    pub fn refusal(&self) -> String {
        let trusted = self.sources.ids();
        let through = if trusted.is_empty() {
            "the cluster's trusted peers".to_owned()
        } else {
            format!("a trusted peer ({})", trusted.join(", "))
        };
        format!(
            "this peer is a follower: it does not change the cluster's pins; pin and unpin through {through}"
        )
    }

    /// This follower's status of `cid` as ipfs-cluster's `GlobalPinInfo` (one peer).
    pub fn global_info(&self, cid: &Cid, pin: Option<&Pin>) -> GlobalPinInfo {
        let local = match pin {
            Some(_) => self.tracker.status(cid),
            None => LocalStatus::now(Status::Unpinned, String::new(), 0),
        };
        let identity = PeerIdentity {
            peername: self.peername.clone(),
            ipfs: None,
        };
        let short = pin_info::short(&identity, &local, None);
        pin_info::global(cid, pin, [(self.peer_id.clone(), short)].into())
    }

    /// Every followed pin's `GlobalPinInfo`, a page at a time.
    pub fn global_infos(&self) -> BoxStream<'static, Result<GlobalPinInfo, crate::state::StateError>> {
        let this = self.clone();
        Box::pin(self.pins.pages().flat_map(move |page| {
            let items: Vec<_> = match page {
                Ok(pins) => pins
                    .iter()
                    .map(|p| Ok(this.global_info(&p.cid, Some(p))))
                    .collect(),
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(items)
        }))
    }
}

fn refused<T: Send + 'static>(local: &Local) -> BoxFuture<'static, Result<T, gw::ClusterError>> {
    let message = local.refusal();
    Box::pin(async move { Err(gw::ClusterError::Failed(message)) })
}

fn failed(e: impl std::fmt::Display) -> gw::ClusterError {
    gw::ClusterError::Failed(e.to_string())
}

impl gw::Cluster for Local {
    fn pin(&self, _pin: PinRequest) -> BoxFuture<'static, Result<(), gw::ClusterError>> {
        refused(self)
    }

    fn unpin(&self, _cid: Cid) -> BoxFuture<'static, Result<(), gw::ClusterError>> {
        refused(self)
    }

    fn update(&self, _from: Cid, _to: Cid, _unpin: bool) -> BoxFuture<'static, Result<(), gw::ClusterError>> {
        refused(self)
    }

    fn get(&self, cid: Cid) -> BoxFuture<'static, Result<Option<PinInfo>, gw::ClusterError>> {
        let found = self
            .pins
            .get(&cid)
            .map(|p| p.as_ref().map(crate::cluster::gateway::info));
        Box::pin(async move { found.map_err(failed) })
    }

    fn linearize(&self) -> BoxFuture<'static, Result<(), gw::ClusterError>> {
        Box::pin(async {
            Err(gw::ClusterError::Unavailable(
                "a follower serves local reads only; ask a trusted peer for a linearizable read".into(),
            ))
        })
    }

    fn list(&self) -> BoxStream<'static, Result<PinInfo, gw::ClusterError>> {
        match self.listings.pins() {
            Ok(pins) => {
                Box::pin(pins.map(|pin| pin.map(|p| crate::cluster::gateway::info(&p)).map_err(failed)))
            }
            Err(busy) => Box::pin(futures::stream::once(async move {
                Err(gw::ClusterError::Unavailable(busy.to_string()))
            })),
        }
    }

    fn repo_stats(&self, size_only: bool) -> BoxFuture<'static, Vec<Result<gw::RepoStat, gw::ClusterError>>> {
        let ipfs = self.ipfs.clone();
        Box::pin(async move { vec![ipfs.repo_stat(size_only).await.map_err(failed)] })
    }

    fn repo_gc(&self) -> BoxStream<'static, GcLine> {
        let ipfs = self.ipfs.clone();
        Box::pin(
            futures::stream::once(async move {
                match ipfs.repo_gc().await {
                    Ok(keys) => keys.into_iter().map(GcLine::Removed).collect(),
                    Err(e) => vec![GcLine::Failed(e.to_string())],
                }
            })
            .flat_map(futures::stream::iter),
        )
    }

    fn landing(&self, cid: Cid) -> BoxFuture<'static, Result<gw::Landing, gw::ClusterError>> {
        let landing = match self.pins.get(&cid) {
            Ok(None) => Ok(gw::Landing::Missing),
            Ok(Some(_)) => Ok(match self.tracker.status(&cid) {
                s if s.status == Status::Pinned => gw::Landing::Pinned,
                s if s.status == Status::PinError => gw::Landing::Failed(s.error),
                _ => gw::Landing::Pending { pinned: 0, needed: 1 },
            }),
            Err(e) => Err(failed(e)),
        };
        Box::pin(async move { landing })
    }

    fn status(
        &self,
        cids: Vec<Cid>,
        _depth: u32,
        _timeout: Option<std::time::Duration>,
    ) -> BoxStream<'static, Result<gw::StatusLine, gw::ClusterError>> {
        let encode = |info: GlobalPinInfo| gw::StatusLine::encode(&info).map_err(failed);
        if cids.is_empty() {
            return Box::pin(self.global_infos().map(move |info| encode(info.map_err(failed)?)));
        }
        let this = self.clone();
        Box::pin(futures::stream::iter(cids).map(move |cid| {
            let pin = this.pins.get(&cid).map_err(failed)?;
            encode(this.global_info(&cid, pin.as_ref()))
        }))
    }
}
