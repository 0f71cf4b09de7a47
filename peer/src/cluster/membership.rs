//! Membership: initialising, joining through a bootstrap peer, adding and removing members.
//!
//! # Invariants
//! - Joins and removals are applied by the leader only. A member that does not lead
//!   forwards them to the leader once; the leader serves them or answers `NotLeader`.
//! - A peer is added as a learner once: its repeated join requests (it asks again while it
//!   waits to become a voter) neither restart its replication nor start a second promotion.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use libp2p::Multiaddr;
use openraft::ChangeMembers;
use openraft::error::InitializeError;

use super::{Cluster, ClusterError};
use crate::consensus::{NodeId, PeerNode, node_id};
use crate::net::split_p2p;
use crate::rpc::AtLeader;

/// How many times a joining peer asks its bootstrap peers before giving up.
const JOIN_ATTEMPTS: u32 = 10;
/// Pause between join attempts.
const JOIN_PAUSE: Duration = Duration::from_secs(1);
/// How long a joining peer may take to catch up and become a voter.
const CATCH_UP: Duration = Duration::from_secs(600);
/// How often a membership change is retried while another one is in progress.
const MEMBERSHIP_RETRIES: u32 = 100;
/// Waits until Raft holds a snapshot at `index` or later; returns its index.
async fn wait_snapshot_at(raft: &crate::consensus::Raft, index: u64) -> Result<u64, String> {
    let wait = raft.wait(Some(CATCH_UP));
    let metrics = wait
        .metrics(|m| m.snapshot.is_some_and(|s| s.index >= index), "a snapshot")
        .await
        .map_err(|e| e.to_string())?;
    Ok(metrics.snapshot.map_or(index, |s| s.index))
}

/// How often a joining peer that is not a voter yet asks again.
const VOTER_RECHECK: Duration = Duration::from_secs(30);

impl Cluster {
    pub(super) async fn initialise_or_join(&self, bootstrap: &[Multiaddr]) -> Result<(), ClusterError> {
        let fatal = |e: &dyn std::fmt::Display| ClusterError::Consensus(e.to_string());
        if self.raft.is_initialized().await.map_err(|e| fatal(&e))? {
            return Ok(());
        }
        if !self.init_peerset.is_empty() {
            let members = self.static_members(bootstrap)?;
            return self.initialise_static(members).await;
        }
        if bootstrap.is_empty() {
            let members = BTreeMap::from([(self.node, self.me())]);
            self.raft.initialize(members).await.map_err(|e| fatal(&e))?;
            return self.snapshot_imported_state().await;
        }
        self.join_through(bootstrap).await
    }

    /// Initialises the cluster of `consensus.init_peerset`. Every peer of the set does so with
    /// the same members; one whose peers already elected a leader and reached it first holds
    /// their vote or log, and openraft refuses (`NotAllowed`): it is then a member of the very
    /// cluster it would have made, and starts as one.
    async fn initialise_static(&self, members: BTreeMap<NodeId, PeerNode>) -> Result<(), ClusterError> {
        match self.raft.initialize(members).await {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.api_error(), Some(InitializeError::NotAllowed(_))) => {
                tracing::info!("the cluster of consensus.init_peerset was already initialised by its peers");
                Ok(())
            }
            Err(e) => Err(ClusterError::Consensus(e.to_string())),
        }
    }

    /// A new cluster over an imported pinset (`cairn state import`): its log holds none of
    /// those pins, so peers that join must receive them as a snapshot. Builds one and purges
    /// the log behind it, so that openraft sends it to every joiner.
    async fn snapshot_imported_state(&self) -> Result<(), ClusterError> {
        if self.pins.is_empty()? {
            return Ok(());
        }
        let fatal =
            |e: &dyn std::fmt::Display| ClusterError::Start(format!("snapshot of the imported state: {e}"));
        let wait = self.raft.wait(Some(CATCH_UP));
        let applied = wait
            .metrics(
                |m| m.current_leader == Some(m.id) && m.last_applied.is_some(),
                "leading",
            )
            .await
            .map_err(|e| fatal(&e))?
            .last_applied
            .map_or(0, |l| l.index);
        self.raft.trigger().snapshot().await.map_err(|e| fatal(&e))?;
        let built = wait_snapshot_at(&self.raft, applied)
            .await
            .map_err(|e| fatal(&e))?;
        self.raft
            .trigger()
            .purge_log(built)
            .await
            .map_err(|e| fatal(&e))?;
        tracing::info!(
            pins = self.pins.len()?,
            index = built,
            "snapshot of the imported pinset built"
        );
        Ok(())
    }

    /// `init_peerset` as Raft members, addressed through `addrs` (`…/p2p/<id>`).
    fn static_members(&self, addrs: &[Multiaddr]) -> Result<BTreeMap<u64, PeerNode>, ClusterError> {
        let mut members = BTreeMap::new();
        for peer in &self.init_peerset {
            let node = if *peer == self.peer_id {
                self.me()
            } else {
                let known = addrs
                    .iter()
                    .filter(|a| split_p2p(a).is_some_and(|(id, _)| id.to_base58() == *peer));
                let known: Vec<String> = known.map(|a| a.to_string()).collect();
                if known.is_empty() {
                    return Err(ClusterError::Start(format!(
                        "consensus.raft.init_peerset: no address for {peer} in cluster.peer_addresses"
                    )));
                }
                PeerNode {
                    peer_id: peer.clone(),
                    addrs: known,
                }
            };
            members.insert(node_id(peer), node);
        }
        if !members.contains_key(&self.node) {
            return Err(ClusterError::Start(
                "consensus.raft.init_peerset must include this peer".into(),
            ));
        }
        Ok(members)
    }

    async fn join_through(&self, bootstrap: &[Multiaddr]) -> Result<(), ClusterError> {
        let until = tokio::time::Instant::now() + CATCH_UP;
        loop {
            self.ask_to_join(bootstrap).await?;
            // The leader promotes this peer once it has caught up (log or snapshot).
            if self.became_voter(VOTER_RECHECK).await {
                return Ok(());
            }
            if tokio::time::Instant::now() > until {
                return Err(ClusterError::Start(
                    "joined as a learner but was not made a voter in time".into(),
                ));
            }
        }
    }

    async fn ask_to_join(&self, bootstrap: &[Multiaddr]) -> Result<(), ClusterError> {
        let mut last = String::from("no bootstrap address ends in /p2p/<peer id>");
        for attempt in 1..=JOIN_ATTEMPTS {
            for addr in bootstrap {
                let Some((peer, base)) = split_p2p(addr) else {
                    continue;
                };
                match self.rpc.join(peer, vec![base], self.me()).await {
                    Ok(AtLeader::Done(())) => return Ok(()),
                    Ok(AtLeader::NotLeader(_)) => last = format!("{addr}: the leader changed"),
                    Err(e) => last = format!("{addr}: {e}"),
                }
            }
            tracing::info!(attempt, error = %last, "join failed; retrying");
            tokio::time::sleep(JOIN_PAUSE).await;
        }
        Err(ClusterError::Start(format!("cannot join the cluster: {last}")))
    }

    async fn became_voter(&self, within: Duration) -> bool {
        let me = self.node;
        let wait = self.raft.wait(Some(within));
        wait.metrics(
            |m| m.membership_config.membership().voter_ids().any(|id| id == me),
            "voter",
        )
        .await
        .is_ok()
    }

    /// Adds `node` to the cluster (a join request from a new peer): here when this peer
    /// leads, else forwarded once to the leader.
    pub(super) async fn add_member(&self, node: PeerNode) -> Result<AtLeader<()>, ClusterError> {
        match self.who_leads().await? {
            Leads::Here => self.add_member_here(node).await,
            Leads::There(leader) => Ok(self.rpc.join_at_leader(&leader, node).await?),
        }
    }

    /// Adds `node` as a learner and, once it has caught up, promotes it to voter (in the
    /// background, so a join never waits for a long catch-up inside one request). Only
    /// when this peer leads; it never forwards.
    pub(super) async fn add_member_here(&self, node: PeerNode) -> Result<AtLeader<()>, ClusterError> {
        if let Some(not_leader) = self.unless_leading().await {
            return Ok(not_leader);
        }
        let id = node_id(&node.peer_id);
        let membership = self.raft.metrics().borrow().membership_config.clone();
        let is_voter = membership.membership().voter_ids().any(|v| v == id);
        let is_learner = membership.membership().learner_ids().any(|l| l == id);
        if is_voter {
            return Ok(AtLeader::Done(()));
        }
        if !is_learner {
            // Re-adding a learner would restart its replication (and a snapshot under way):
            // a joining peer asks again while it waits, so it is added once.
            let fail = |e: &dyn std::fmt::Display| ClusterError::Consensus(e.to_string());
            self.raft
                .add_learner(id, node, false)
                .await
                .map_err(|e| fail(&e))?;
        }
        self.promote_once(id);
        Ok(AtLeader::Done(()))
    }

    /// Promotes the learner `id` once it has caught up, unless that is already under way.
    fn promote_once(&self, id: u64) {
        let fresh = match self.promoting.lock() {
            Ok(mut promoting) => promoting.insert(id),
            Err(_) => true, // a panicked promotion left the set; promote anyway
        };
        if fresh {
            let this = self.clone();
            tokio::spawn(async move {
                this.clone().promote(id).await;
                if let Ok(mut promoting) = this.promoting.lock() {
                    promoting.remove(&id);
                }
            });
        }
    }

    async fn promote(self, id: u64) {
        let caught_up = |m: &openraft::RaftMetrics<u64, PeerNode>| {
            let matched = m
                .replication
                .as_ref()
                .and_then(|r| r.get(&id).cloned().flatten())
                .map(|l| l.index);
            matched.is_some() && matched >= m.last_log_index
        };
        if let Err(e) = self
            .raft
            .wait(Some(CATCH_UP))
            .metrics(caught_up, "learner caught up")
            .await
        {
            tracing::warn!(node = id, error = %e, "learner did not catch up; it stays a learner");
            return;
        }
        match self
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])))
            .await
        {
            Ok(()) => tracing::info!(node = id, "learner promoted to voter"),
            Err(e) => tracing::warn!(node = id, error = %e, "promotion failed"),
        }
    }

    /// Removes the member with peer id `peer_id` from the cluster.
    pub async fn remove_member(&self, peer_id: &str) -> Result<(), ClusterError> {
        let id = node_id(peer_id);
        if !self.members().iter().any(|m| m.peer_id == peer_id) {
            return Err(ClusterError::Consensus(format!(
                "{peer_id} is not a cluster peer"
            )));
        }
        self.remove_node(id).await
    }

    async fn remove_node(&self, id: u64) -> Result<(), ClusterError> {
        let answer = match self.who_leads().await? {
            Leads::Here => self.remove_node_here(id).await?,
            Leads::There(leader) => self.rpc.remove_at_leader(&leader, id).await?,
        };
        match answer {
            AtLeader::Done(()) => Ok(()),
            AtLeader::NotLeader(_) => Err(ClusterError::NoLeader("the leader changed; retry".into())),
        }
    }

    /// Removes the member `id`, only when this peer leads; it never forwards.
    pub(super) async fn remove_node_here(&self, id: u64) -> Result<AtLeader<()>, ClusterError> {
        if let Some(not_leader) = self.unless_leading().await {
            return Ok(not_leader);
        }
        self.change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])))
            .await?;
        Ok(AtLeader::Done(()))
    }

    /// Applies a membership change, waiting while another change is still in progress.
    async fn change_membership(&self, change: ChangeMembers<u64, PeerNode>) -> Result<(), ClusterError> {
        use openraft::error::{ChangeMembershipError, ClientWriteError, RaftError};
        let mut tries = 0;
        loop {
            match self.raft.change_membership(change.clone(), false).await {
                Ok(_) => return Ok(()),
                Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(
                    ChangeMembershipError::InProgress(_),
                ))) if tries < MEMBERSHIP_RETRIES => {
                    tries += 1;
                    tokio::time::sleep(JOIN_PAUSE / 5).await;
                }
                Err(e) => return Err(ClusterError::Consensus(e.to_string())),
            }
        }
    }

    /// `Some(reply)` from the leader when this peer is not it; `None` when it is.
    /// Where requests only the leader serves go, once a leader is known.
    async fn who_leads(&self) -> Result<Leads, ClusterError> {
        self.wait_for_leader().await?;
        match self.leader().await {
            Some((id, _)) if id == self.node => Ok(Leads::Here),
            Some((_, Some(node))) => Ok(Leads::There(node)),
            _ => Err(ClusterError::NoLeader("no leader known".into())),
        }
    }

    /// `NotLeader` (naming the leader this peer knows) unless this peer leads.
    async fn unless_leading<T>(&self) -> Option<AtLeader<T>> {
        match self.leader().await {
            Some((id, _)) if id == self.node => None,
            Some((_, node)) => Some(AtLeader::NotLeader(node)),
            None => Some(AtLeader::NotLeader(None)),
        }
    }
}

/// Which member serves a request only the leader serves.
enum Leads {
    /// This peer.
    Here,
    /// That member.
    There(PeerNode),
}
