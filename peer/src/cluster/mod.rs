//! The cluster peer's core: Raft over the redb stores, and the pin operations the REST API,
//! the CLI and (later) the gateway call.
//!
//! # Where it sits
//! `cli::daemon` starts a [`Cluster`]; `rest` and the gateway's `Cluster` trait implementation
//! call [`Cluster::pin`] / [`Cluster::unpin`]; reads come from [`Cluster::pins`].
//!
//! # Invariants
//! - A pin is validated (api::validate) against the current state before it is proposed; an
//!   invalid one changes nothing.
//! - `pin`/`unpin` return only after the operation is committed and applied.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cid::Cid;
use openraft::error::{ClientWriteError, RaftError};

use crate::api::{Pin, PinError, PinOptions, Replication};
use crate::config::ServiceConfig;
use crate::consensus::log_store::LogStore;
use crate::consensus::network::LocalOnly;
use crate::consensus::state_machine::StateMachine;
use crate::consensus::{NodeId, PeerNode, Raft, node_id};
use crate::identity::Identity;
use crate::state::{self, PinOp, PinStore, StateError};

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
    /// No leader within `wait_for_leader_timeout`; the operation may not have been applied.
    #[error("no Raft leader: {0}")]
    NoLeader(String),
    /// Consensus failed; the operation's outcome is unknown.
    #[error("consensus: {0}")]
    Consensus(String),
    /// The local state could not be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// Stores could not be opened.
    #[error("cannot start consensus: {0}")]
    Start(String),
}

/// A running cluster peer; cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    raft: Raft,
    pins: PinStore,
    defaults: Replication,
    /// This peer's libp2p id.
    pub peer_id: String,
    /// This peer's name.
    pub peername: String,
    node: NodeId,
    leader_timeout: Duration,
}

impl Cluster {
    /// Opens the stores under `dir` and starts Raft; a fresh peer initialises itself.
    pub async fn start(
        dir: &Path,
        config: &ServiceConfig,
        identity: &Identity,
    ) -> Result<Self, ClusterError> {
        let start = |e: &dyn std::fmt::Display| ClusterError::Start(e.to_string());
        let log = LogStore::open(&dir.join("raft-log.redb")).map_err(|e| start(&e))?;
        let db = state::open(&dir.join("state.redb"))?;
        let machine = StateMachine::new(db, &dir.join("snapshots")).map_err(|e| start(&e))?;
        let pins = machine.pins();
        let peer_id = identity.peer_id.to_base58();
        let node = node_id(&peer_id);
        let raft_config = raft_config(config).map_err(|e| start(&e))?;
        let raft = Raft::new(node, raft_config, LocalOnly, log, machine)
            .await
            .map_err(|e| start(&e))?;
        let cluster = Self {
            raft,
            pins,
            defaults: Replication {
                min: config.cluster.replication_factor_min,
                max: config.cluster.replication_factor_max,
            },
            peername: config.cluster.peername.clone(),
            node,
            leader_timeout: config.raft.duration(&config.raft.wait_for_leader_timeout),
            peer_id,
        };
        cluster
            .initialise_if_new(&config.cluster.listen_multiaddress)
            .await?;
        Ok(cluster)
    }

    async fn initialise_if_new(&self, addrs: &[String]) -> Result<(), ClusterError> {
        let fatal = |e: &dyn std::fmt::Display| ClusterError::Consensus(e.to_string());
        if self.raft.is_initialized().await.map_err(|e| fatal(&e))? {
            return Ok(());
        }
        let me = PeerNode {
            peer_id: self.peer_id.clone(),
            addrs: addrs.to_vec(),
        };
        let members = BTreeMap::from([(self.node, me)]);
        self.raft.initialize(members).await.map_err(|e| fatal(&e))
    }

    /// The pinset as this peer has applied it.
    pub fn pins(&self) -> &PinStore {
        &self.pins
    }

    /// Members of the cluster (peer ids).
    pub fn members(&self) -> Vec<String> {
        let metrics = self.raft.metrics().borrow().clone();
        metrics
            .membership_config
            .nodes()
            .map(|(_, node)| node.peer_id.clone())
            .collect()
    }

    /// Validates and commits a pin of `cid`; returns it as stored.
    pub async fn pin(&self, cid: Cid, options: PinOptions) -> Result<Pin, ClusterError> {
        let existing = self.pins.get(&cid)?;
        let pin = Pin::new(cid, options).validated(self.defaults, existing.as_ref())?;
        self.commit(PinOp::Pin(Box::new(pin.clone()))).await?;
        Ok(pin)
    }

    /// Commits the removal of `cid`; returns the pin that was removed.
    pub async fn unpin(&self, cid: Cid) -> Result<Pin, ClusterError> {
        let existing = self.pins.get(&cid)?.ok_or(ClusterError::NotPinned)?;
        self.commit(PinOp::Unpin(cid)).await?;
        Ok(existing)
    }

    async fn commit(&self, op: PinOp) -> Result<(), ClusterError> {
        self.wait_for_leader().await?;
        match self.raft.client_write(op).await {
            Ok(_) => Ok(()),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => Err(ClusterError::NoLeader(
                format!("this peer is not the leader (leader: {:?})", f.leader_id),
            )),
            Err(e) => Err(ClusterError::Consensus(e.to_string())),
        }
    }

    async fn wait_for_leader(&self) -> Result<(), ClusterError> {
        let wait = self.raft.wait(Some(self.leader_timeout));
        wait.metrics(|m| m.current_leader.is_some(), "a leader")
            .await
            .map_err(|e| ClusterError::NoLeader(e.to_string()))?;
        Ok(())
    }

    /// Stops Raft (the stores stay consistent; nothing acknowledged is lost).
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}

fn raft_config(config: &ServiceConfig) -> Result<Arc<openraft::Config>, String> {
    let ms = |text: &str| config.raft.duration(text).as_millis() as u64;
    let election = ms(&config.raft.election_timeout).max(1);
    let raft = openraft::Config {
        cluster_name: "cairn".into(),
        heartbeat_interval: ms(&config.raft.heartbeat_timeout).max(1),
        election_timeout_min: election,
        election_timeout_max: election * 2,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(config.raft.snapshot_threshold.max(1)),
        max_in_snapshot_log_to_keep: 1000,
        ..openraft::Config::default()
    };
    Ok(Arc::new(raft.validate().map_err(|e| e.to_string())?))
}
