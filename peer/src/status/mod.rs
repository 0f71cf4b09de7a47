//! The status component: where pins stand across the cluster. It asks every member's tracker
//! (this peer's directly, the others through [`Remote`]), nests each member's child cluster
//! below it, decides whether a pin has landed, and serves the other peers' status requests.
//!
//! # Inputs
//! [`StatusInputs`]: this peer's id and name, the member list, its own tracker, the way to
//! the other members, its daemon as a possible child cluster, the pinset and its listings,
//! and the monitor (names and IPFS ids come from the members' pings). Each is behind the
//! narrowest handle that serves: the traits below are implemented by the running peer's
//! parts (`consensus::Members`, `tracker::Tracker`, `rpc::Client`, `ipfs::IpfsClient`) and
//! by the fakes of the unit tests.
//!
//! # Invariants
//! - A member that does not answer gives an `Err` for that member only; callers show it as
//!   `cluster_error` for that peer instead of failing the whole call.
//! - Statuses travel in pages of [`fanout::PAGE`] so that no message grows with the pinset.
//! - See [`nested`] for the depth and time budgets, [`landing`] for when a pin has landed.
//!
//! # Not here
//! Changing the pinset (`cluster`), tracking pins on this peer's daemon (`tracker`).

mod fanout;
mod landing;
mod nested;
pub mod pin_info;
mod remote;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use cid::Cid;

use crate::api::{GlobalPinInfo, PinError};
use crate::consensus::{MemberList, PeerNode};
use crate::listing::{Busy, Listings};
use crate::monitor::Monitor;
use crate::rpc::{NestedStatus, RpcError};
use crate::state::{PinStore, StateError};
use crate::tracker::LocalStatus;
use futures::future::BoxFuture;

pub use fanout::{MemberStatuses, Upkeep};
pub use pin_info::{ChildInfo, global, short};

/// Why a status could not be given.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// A CID in the request does not parse.
    #[error(transparent)]
    Invalid(#[from] PinError),
    /// Another member could not be asked, or failed.
    #[error("consensus: {0}")]
    Peer(#[from] RpcError),
    /// The pinset could not be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// Too many listings stream from this peer.
    #[error(transparent)]
    Busy(#[from] Busy),
    /// A member did not answer within the call's budget.
    #[error("consensus: peer {peer} did not answer within {budget:?}")]
    Timeout {
        /// The member.
        peer: String,
        /// What it was given.
        budget: Duration,
    },
}

/// This peer's own tracker, as the status component reads it.
pub trait LocalPins: Send + Sync {
    /// Where `cid` stands here.
    fn status(&self, cid: &Cid) -> LocalStatus;
    /// Up to `limit` tracked statuses after `after`, in CID order.
    fn page(&self, after: Option<Cid>, limit: usize) -> Vec<(Cid, LocalStatus)>;
    /// Runs `upkeep` on this peer's pins.
    fn upkeep<'a>(&'a self, upkeep: &'a Upkeep) -> BoxFuture<'a, ()>;
}

/// The other members, asked over the cluster network.
pub trait Remote: Send + Sync {
    /// `member`'s status of `cid`.
    fn status_of<'a>(
        &'a self,
        member: &'a PeerNode,
        cid: String,
    ) -> BoxFuture<'a, Result<LocalStatus, RpcError>>;
    /// Up to `limit` of `member`'s statuses after `after`.
    fn statuses<'a>(
        &'a self,
        member: &'a PeerNode,
        after: Option<String>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<(String, LocalStatus)>, RpcError>>;
    /// `member`'s statuses of `cids` with its child cluster's below them.
    fn nested<'a>(
        &'a self,
        member: &'a PeerNode,
        cids: Vec<String>,
        depth: u32,
        budget: Duration,
    ) -> BoxFuture<'a, Result<Vec<NestedStatus>, RpcError>>;
    /// Runs `upkeep` on `member`.
    fn upkeep<'a>(&'a self, member: &'a PeerNode, upkeep: &'a Upkeep) -> BoxFuture<'a, Result<(), RpcError>>;
}

/// This peer's IPFS daemon, when it is another cluster's gateway.
pub trait ChildCluster: Send + Sync {
    /// Whether the daemon is a Cairn gateway (known once it has answered).
    fn is_cluster(&self) -> bool;
    /// The child's `GlobalPinInfo` of `cids` at `depth`, each of its rounds within `budget`.
    fn status<'a>(
        &'a self,
        cids: &'a [Cid],
        depth: u32,
        budget: Duration,
    ) -> BoxFuture<'a, Result<Vec<GlobalPinInfo>, String>>;
}

/// What the status component reads.
pub struct StatusInputs {
    /// This peer's libp2p id.
    pub peer_id: String,
    /// This peer's name.
    pub peername: String,
    /// The members.
    pub members: Arc<dyn MemberList>,
    /// This peer's tracker.
    pub local: Arc<dyn LocalPins>,
    /// The other members.
    pub remote: Arc<dyn Remote>,
    /// This peer's daemon as a child cluster.
    pub child: Arc<dyn ChildCluster>,
    /// The applied pinset.
    pub pins: PinStore,
    /// Its bounded listings.
    pub listings: Listings,
    /// The members' metrics (their pings name them).
    pub monitor: Monitor,
    /// The longest a round of asking the members may take.
    pub network_timeout: Duration,
}

/// The status component; cheap to clone.
#[derive(Clone)]
pub struct Statuses(Arc<StatusInputs>);

impl Statuses {
    /// Over `inputs`.
    pub fn new(inputs: StatusInputs) -> Self {
        Self(Arc::new(inputs))
    }

    /// Every member now.
    pub fn members(&self) -> Vec<PeerNode> {
        self.0.members.list()
    }

    fn is_me(&self, member: &PeerNode) -> bool {
        member.peer_id == self.0.peer_id
    }
}
