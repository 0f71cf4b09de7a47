//! What the gateway needs from a cluster: the small trait cairn-peer implements.
//!
//! The gateway never sees consensus, allocations or the pinset's storage; it asks for pins to
//! be committed, reads pins back as a stream, and asks every peer's IPFS daemon for its repo
//! numbers and garbage collection, where pins stand (Cairn's `cairn/status`) and how they
//! move (`cairn/events`). Every call answers only after the cluster has done the work
//! (a pin is committed to consensus when `pin` returns `Ok`).

use cid::Cid;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

/// One `cairn/status` answer line as the cluster encoded it: an ipfs-cluster `GlobalPinInfo`,
/// a type the cluster owns (cairn-peer's `api`); a `cairn/events` line is one too (an event).
/// The gateway writes it as it came and never reads it, so it needs neither the type nor a
/// JSON tree of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusLine(bytes::Bytes);

impl StatusLine {
    /// `value` encoded as one JSON line.
    pub fn encode<T: serde::Serialize>(value: &T) -> Result<Self, serde_json::Error> {
        cairn_kubo::stream::json_line(value).map(Self)
    }

    /// The encoded line, newline included (a shared reference to it, not a copy).
    pub fn bytes(&self) -> bytes::Bytes {
        self.0.clone()
    }
}

/// A pin as the gateway asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinRequest {
    /// What to pin.
    pub cid: Cid,
    /// Recursive (kubo's default) or direct.
    pub recursive: bool,
    /// The request's query pairs other than `arg` (`name`, `replication-min`, `meta-*`, …),
    /// for the cluster to read its pin options from, as its REST API does.
    pub options: Vec<(String, String)>,
}

/// A pin as the gateway lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinInfo {
    /// The pinned CID.
    pub cid: Cid,
    /// Recursive or direct.
    pub recursive: bool,
    /// The pin's name.
    pub name: String,
}

/// One peer's IPFS repository numbers (`repo/stat`).
pub use cairn_kubo::repo::RepoStat;

/// One line of a cluster-wide `repo/gc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GcLine {
    /// A block some peer's daemon removed.
    Removed(String),
    /// A peer whose daemon could not run gc, and why.
    Failed(String),
}

/// Where a committed pin stands on the cluster's IPFS daemons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Landing {
    /// Enough allocations hold it (rf-min of them; every answering peer for replication -1).
    Pinned,
    /// Not yet: `pinned` of the `needed` allocations hold it.
    Pending {
        /// Allocations that hold it.
        pinned: usize,
        /// Allocations that must.
        needed: usize,
    },
    /// Every allocation failed; why.
    Failed(String),
    /// The pin is not in this peer's pinset (not applied here yet, or removed since).
    Missing,
}

/// Why the cluster could not do what the gateway asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// The request is invalid (bad options, bad CID); kubo's 500 with the message.
    #[error("{0}")]
    Invalid(String),
    /// The CID is not in the cluster's pinset.
    #[error("not pinned or pinned indirectly")]
    NotPinned,
    /// The pin exceeds the cluster's size limit (413, the message names the limit).
    #[error("{0}")]
    TooLarge(String),
    /// No leader: the cluster cannot commit now (503).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else (500).
    #[error("{0}")]
    Failed(String),
}

/// The cluster, as the gateway sees it.
pub trait Cluster: Send + Sync + 'static {
    /// Commits `pin` to the cluster's pinset.
    fn pin(&self, pin: PinRequest) -> BoxFuture<'static, Result<(), ClusterError>>;
    /// Removes `cid` from the pinset.
    fn unpin(&self, cid: Cid) -> BoxFuture<'static, Result<(), ClusterError>>;
    /// Pins `to` with the options and allocations of the pin on `from`; unpins `from` if asked.
    fn update(&self, from: Cid, to: Cid, unpin: bool) -> BoxFuture<'static, Result<(), ClusterError>>;
    /// The pin on `cid`, if any (read from this peer's state).
    fn get(&self, cid: Cid) -> BoxFuture<'static, Result<Option<PinInfo>, ClusterError>>;
    /// Returns once this peer has applied every write acknowledged anywhere in the cluster
    /// before the call (a linearizable read follows; `consistency=linearizable`).
    fn linearize(&self) -> BoxFuture<'static, Result<(), ClusterError>>;
    /// Every pin, streamed from this peer's state (never collected).
    fn list(&self) -> BoxStream<'static, Result<PinInfo, ClusterError>>;
    /// Every peer's `repo/stat`, or the reason a peer could not answer.
    fn repo_stats(&self, size_only: bool) -> BoxFuture<'static, Vec<Result<RepoStat, ClusterError>>>;
    /// `repo/gc` on every peer's daemon.
    fn repo_gc(&self) -> BoxStream<'static, GcLine>;
    /// Where the committed pin of `cid` stands on the allocated peers' daemons.
    fn landing(&self, cid: Cid) -> BoxFuture<'static, Result<Landing, ClusterError>>;
    /// Where each pin of `cids` (every pin of the pinset when empty) stands on every peer, as
    /// ipfs-cluster's `GlobalPinInfo` objects, one per pin; `depth` above 1 includes each
    /// peer's child cluster's answer at `depth - 1` (docs/composite.md). Each round of asking
    /// the peers ends within `timeout` (the cluster's own limit when `None`).
    fn status(
        &self,
        cids: Vec<Cid>,
        depth: u32,
        timeout: Option<std::time::Duration>,
    ) -> BoxStream<'static, Result<StatusLine, ClusterError>>;
    /// Cairn's pin event stream (`cairn/events`): each line one event of this peer's log (of
    /// `cids` only, unless empty) after the id `since` (from now on when `None`), encoded by
    /// the cluster; it never ends. A cluster without one refuses (the default).
    fn events(
        &self,
        cids: Vec<Cid>,
        since: Option<u64>,
    ) -> Result<BoxStream<'static, StatusLine>, ClusterError> {
        let _ = (cids, since);
        Err(ClusterError::Unavailable(
            "this cluster has no pin event stream".into(),
        ))
    }
}
