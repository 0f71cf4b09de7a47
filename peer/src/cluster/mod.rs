//! The cluster's pin and membership operations over Raft: validate and commit pins (through
//! the leader), add and remove members, read the applied pinset with the consistency asked,
//! and answer the other peers' requests ([`inbound`]) by dispatching them to the components.
//!
//! # Where it sits
//! The composition root (`peer`) builds a [`Cluster`] from [`Parts`]: Raft and the network,
//! and the handles of the components it hands reads to (`status`, `listing`,
//! `allocator::placement`, the monitor's store). `rest` and the gateway call [`Cluster::pin`] /
//! [`Cluster::unpin`] and reach the components through [`Cluster::statuses`] and
//! [`Cluster::listings`]; the monitor's checker calls failover through `monitor::Failover`.
//!
//! # Invariants
//! - A pin is validated against the current state before it is proposed; an invalid one
//!   changes nothing.
//! - `pin`/`unpin` return only after the operation is committed (on a majority), applied here,
//!   and recorded as committed on this peer's disk; a follower forwards writes to the leader,
//!   which never forwards them again.
//! - A fresh peer with nothing to bootstrap from initialises a one-member cluster; a fresh peer
//!   with bootstrap addresses joins through them (learner, then voter) and never initialises.
//! - Another peer's request is served only if `rpc::access` admits it: member-class calls from
//!   current members (or `cluster.trusted_peers`), joins only for the joining peer itself.

mod announce;
mod batcher;
mod commit;
mod failover;
pub(crate) mod gateway;
mod inbound;
mod membership;
mod ops;
mod reads;

use std::sync::Arc;
use std::time::Duration;

use libp2p::Multiaddr;

use crate::allocator::placement::Placement;
use crate::api::{PinError, Replication};
use crate::config::ServiceConfig;
use crate::consensus::recorded::Recorded;
use crate::consensus::{NodeId, PeerNode, Raft, node_id};
use crate::exchange::LocalBlocks;
use crate::ipfs::IpfsClient;
use crate::listing::Listings;
use crate::net::{Inbound, Net};
use crate::state::{PinStore, StateError};
use crate::status::{StatusError, Statuses};
use tokio::sync::mpsc;

/// ipfs-cluster's message for an unpin of a CID that is not in the pinset.
pub const NOT_IN_PINSET: &str = "pin is not part of the pinset";

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The request is invalid; nothing was committed.
    #[error(transparent)]
    Invalid(#[from] PinError),
    /// Unpin of a CID that is not pinned.
    #[error("{NOT_IN_PINSET}")]
    NotPinned,
    /// No leader could commit within `wait_for_leader_timeout` (the message says whether the
    /// operation may still be applied).
    #[error("no Raft leader: {0}")]
    NoLeader(String),
    /// Raft or its store stopped on a fatal error (a full disk, a broken file): this peer
    /// cannot serve writes until it is restarted.
    #[error("{0}")]
    Unhealthy(String),
    /// Too many listings are streamed from this peer at once (503).
    #[error(transparent)]
    Busy(#[from] crate::listing::Busy),
    /// Consensus or the leader failed; the operation's outcome is unknown.
    #[error("consensus: {0}")]
    Consensus(String),
    /// Another peer could not be asked, or failed (the operation's outcome is unknown).
    #[error("consensus: {0}")]
    Peer(#[from] crate::rpc::RpcError),
    /// The local state could not be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// The peer could not start or join.
    #[error("{0}")]
    Start(String),
    /// This peer's IPFS daemon failed.
    #[error(transparent)]
    Ipfs(#[from] crate::ipfs::IpfsError),
    /// No allocation could be made; nothing was committed.
    #[error(transparent)]
    Allocate(#[from] crate::allocator::AllocateError),
    /// A follower's request could not be served.
    #[error(transparent)]
    Follow(#[from] crate::pinlog::ServeError),
}

impl From<StatusError> for ClusterError {
    fn from(e: StatusError) -> Self {
        match e {
            StatusError::Invalid(e) => Self::Invalid(e),
            StatusError::Peer(e) => Self::Peer(e),
            StatusError::State(e) => Self::State(e),
            StatusError::Busy(e) => Self::Busy(e),
            StatusError::Timeout { peer, budget } => {
                Self::Consensus(format!("peer {peer} did not answer within {budget:?}"))
            }
        }
    }
}

/// A running cluster peer; cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    raft: Raft,
    net: Net,
    rpc: crate::rpc::Client,
    pins: PinStore,
    defaults: Replication,
    /// This peer's libp2p id.
    pub peer_id: String,
    /// This peer's name.
    pub peername: String,
    node: NodeId,
    leader_timeout: Duration,
    /// `consensus.raft.network_timeout`: how long a request to another peer may take.
    network_timeout: Duration,
    log_stats: Arc<crate::consensus::log_store::LogStats>,
    /// How far this peer's disk records the log as committed (a write waits for it).
    recorded: Recorded,
    batcher: batcher::Batcher,
    init_peerset: Vec<String>,
    /// This peer's IPFS daemon (see `gateway`).
    ipfs: IpfsClient,
    /// Every peer's latest metrics and the alerts.
    monitor: crate::monitor::Monitor,
    /// Where pins go.
    placement: Placement,
    /// The pinset's bounded listings.
    listings: Listings,
    /// Where pins stand across the cluster.
    statuses: Statuses,
    /// The learners this peer, as leader, is waiting to promote (see `membership`).
    promoting: Arc<std::sync::Mutex<std::collections::HashSet<NodeId>>>,
    /// Who may make which peer RPC to this peer (`rpc::access`); `inbound` asks it first.
    gate: Arc<crate::rpc::Gate>,
    /// The pin event stream (`GET /pins/events`, `cairn/events`, the members' reads).
    events: crate::events::Events,
    /// What this peer serves its followers (`pinlog::source`).
    follow: crate::pinlog::Source,
}

/// What a [`Cluster`] is built over, in the composition root's order: the network, Raft over
/// the stores, this peer's daemon, and the components it hands reads to.
pub struct Parts {
    /// The cluster network.
    pub net: Net,
    /// Raft, started over the stores.
    pub raft: Raft,
    /// The applied pinset (the state machine's).
    pub pins: PinStore,
    /// The Raft log's counters.
    pub log_stats: Arc<crate::consensus::log_store::LogStats>,
    /// How far the disk records the log as committed.
    pub recorded: Recorded,
    /// This peer's libp2p id.
    pub peer_id: String,
    /// This peer's IPFS daemon.
    pub ipfs: IpfsClient,
    /// Every peer's latest metrics.
    pub monitor: crate::monitor::Monitor,
    /// The pinset's bounded listings.
    pub listings: Listings,
    /// The status component.
    pub statuses: Statuses,
    /// The placement component.
    pub placement: Placement,
    /// The pin event stream.
    pub events: crate::events::Events,
    /// What this peer serves its followers.
    pub follow: crate::pinlog::Source,
}

pub use reads::Consistency;

/// The cluster swarm's listen addresses, from `cluster.listen_multiaddress`.
pub fn listen_addrs(config: &ServiceConfig) -> Result<Vec<Multiaddr>, ClusterError> {
    config
        .cluster
        .listen_multiaddress
        .iter()
        .map(|a| {
            a.parse()
                .map_err(|e| ClusterError::Start(format!("cluster.listen_multiaddress {a}: {e}")))
        })
        .collect()
}

impl Cluster {
    /// The cluster's operations over `parts`, configured by `config`. Nothing runs until
    /// [`Cluster::serve`].
    pub fn new(config: &ServiceConfig, parts: Parts) -> Self {
        Self {
            rpc: crate::rpc::Client::new(parts.net.clone()),
            net: parts.net,
            pins: parts.pins,
            defaults: Replication {
                min: config.cluster.replication_factor_min,
                max: config.cluster.replication_factor_max,
            },
            peername: config.cluster.peername.clone(),
            node: node_id(&parts.peer_id),
            leader_timeout: config.raft.wait_for_leader_timeout.get(),
            network_timeout: config.raft.network_timeout.get(),
            peer_id: parts.peer_id,
            log_stats: parts.log_stats,
            recorded: parts.recorded,
            batcher: batcher::Batcher::spawn(parts.raft.clone()),
            init_peerset: config.raft.init_peerset.clone(),
            ipfs: parts.ipfs,
            monitor: parts.monitor,
            placement: parts.placement,
            listings: parts.listings,
            statuses: parts.statuses,
            events: parts.events,
            follow: parts.follow,
            promoting: Arc::default(),
            gate: Arc::new(crate::rpc::Gate::new(
                crate::consensus::Members::of(&parts.raft),
                crate::rpc::Trusted::new(&config.cluster.trusted_peers),
            )),
            raft: parts.raft,
        }
    }

    /// Serves the other peers' requests (`requests`, Raft's on `raft`; this peer's blocks from
    /// `blocks`), watches Raft's health, then initialises a new one-member cluster or joins
    /// through `bootstrap` (unless this peer already has state).
    pub async fn serve(
        &self,
        (requests, raft): (mpsc::Receiver<Inbound>, mpsc::Receiver<Inbound>),
        blocks: LocalBlocks,
        bootstrap: &[Multiaddr],
    ) -> Result<(), ClusterError> {
        tokio::spawn(watch_health(self.raft.clone()));
        tokio::spawn(announce::announce(self.raft.clone(), self.node));
        let server = inbound::Server::new(self.clone(), blocks);
        tokio::spawn(server.clone().serve(requests, inbound::CONCURRENCY));
        tokio::spawn(server.serve(raft, inbound::RAFT_CONCURRENCY));
        self.initialise_or_join(bootstrap).await
    }

    /// This peer as Raft knows it.
    pub fn me(&self) -> PeerNode {
        PeerNode {
            peer_id: self.peer_id.clone(),
            addrs: self.net.addrs.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// The cluster swarm's addresses (with `/p2p/<id>`).
    pub fn addresses(&self) -> Vec<String> {
        self.me().addrs
    }

    /// Where pins stand across the cluster.
    pub fn statuses(&self) -> &Statuses {
        &self.statuses
    }

    /// The pinset's bounded listings.
    pub fn listings(&self) -> &Listings {
        &self.listings
    }

    /// The pin event stream.
    pub fn events(&self) -> &crate::events::Events {
        &self.events
    }

    /// How many writes each Raft proposal of this peer carried (as leader).
    pub fn proposal_sizes(&self) -> Arc<cairn_gateway::stats::Histogram> {
        self.batcher.sizes()
    }

    /// The index of the last log entry this peer applied.
    pub fn last_applied(&self) -> Option<u64> {
        self.raft.metrics().borrow().last_applied.map(|l| l.index)
    }

    /// The pinset as this peer has applied it.
    pub fn pins(&self) -> &PinStore {
        &self.pins
    }

    /// The ids of the current members.
    pub fn member_ids(&self) -> Vec<String> {
        self.members().into_iter().map(|m| m.peer_id).collect()
    }

    /// The monitor's store.
    pub fn monitor(&self) -> &crate::monitor::Monitor {
        &self.monitor
    }

    /// Members of the cluster: (peer id, addresses).
    pub fn members(&self) -> Vec<PeerNode> {
        crate::consensus::Members::of(&self.raft).list()
    }

    /// Raft's view from this peer: leader, term, last applied index, members (Cairn-only).
    pub fn raft_status(&self) -> crate::api::RaftStatus {
        use std::sync::atomic::Ordering::Relaxed;
        let m = self.raft.metrics().borrow().clone();
        let config = &m.membership_config;
        let peer_of = |id: NodeId| {
            config
                .nodes()
                .find(|(n, _)| **n == id)
                .map(|(_, node)| node.peer_id.clone())
        };
        crate::api::RaftStatus {
            peer: self.peer_id.clone(),
            leader: m.current_leader.and_then(peer_of),
            term: m.current_term,
            last_applied: m.last_applied.map(|l| l.index),
            members: self.members().into_iter().map(|m| m.peer_id).collect(),
            voters: config.voter_ids().filter_map(peer_of).collect(),
            joint: config.membership().get_joint_config().len() > 1,
            log_appends: self.log_stats.appends.load(Relaxed),
            log_entries: self.log_stats.entries.load(Relaxed),
        }
    }

    /// Stops Raft and makes the applied state durable (nothing acknowledged is lost either
    /// way: the Raft log has it).
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
        let pins = self.pins.clone();
        match tokio::task::spawn_blocking(move || pins.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "flushing the state"),
            Err(e) => tracing::warn!(error = %e, "flushing the state"),
        }
    }
}

/// Logs, once, the fatal error that stopped Raft (a full disk, a broken store): from then on
/// `/health` answers 503 and writes are refused (`Cluster::healthy`).
async fn watch_health(raft: Raft) {
    let mut metrics = raft.metrics();
    loop {
        if let Err(fatal) = &metrics.borrow().running_state {
            if matches!(fatal, openraft::error::Fatal::Stopped) {
                return; // a clean shutdown
            }
            tracing::error!(
                error = %fatal,
                "consensus stopped: this peer refuses writes and /health answers 503; fix the \
                 cause (free disk space, restore a damaged file) and restart it"
            );
            return;
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}

/// openraft's configuration from `consensus.raft`.
pub fn raft_config(config: &ServiceConfig) -> Result<Arc<openraft::Config>, String> {
    let raft = &config.raft;
    let election = raft.election_timeout.millis_at_least_one();
    // openraft 0.9 makes a follower that heard from a leader wait its leader lease (the
    // maximum election timeout) plus a random election timeout before it stands: with
    // 750 ms to 1 s, the cluster elects 1.75 to 2 s after the leader's last heartbeat.
    let raft = openraft::Config {
        cluster_name: "cairn".into(),
        heartbeat_interval: raft.heartbeat_timeout.millis_at_least_one(),
        election_timeout_min: election,
        election_timeout_max: election + (election / 3).max(1),
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(raft.snapshot_threshold.max(1)),
        max_in_snapshot_log_to_keep: raft.trailing_logs,
        snapshot_max_chunk_size: 256 * 1024,
        install_snapshot_timeout: raft.network_timeout.millis_at_least_one(),
        ..openraft::Config::default()
    };
    Ok(Arc::new(raft.validate().map_err(|e| e.to_string())?))
}
