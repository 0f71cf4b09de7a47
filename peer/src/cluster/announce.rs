//! The cluster's events as an operator reads them, at INFO: who leads, who joined, who left.
//!
//! Raft's own INFO lines (openraft's internals) are off by default (`cli::logging::levels`);
//! this module is what replaces them: it watches this peer's Raft metrics and names peers by
//! their libp2p peer id, as every other Cairn message and command does.
//!
//! # Invariants
//! - One line per change: a leader is announced when it differs from the last one announced,
//!   a member when it enters or leaves the membership (not on every metrics update).
//! - The first membership seen is announced as one line (its size), not peer by peer.

use std::collections::BTreeMap;

use crate::consensus::{NodeId, PeerNode, Raft};

/// What was last announced.
#[derive(Default)]
struct Announced {
    leader: Option<NodeId>,
    members: Option<BTreeMap<NodeId, String>>,
}

/// Logs leader and membership changes until Raft stops.
pub(super) async fn announce(raft: Raft, me: NodeId) {
    let mut metrics = raft.metrics();
    let mut announced = Announced::default();
    loop {
        {
            let now = metrics.borrow_and_update();
            let members: BTreeMap<NodeId, String> = (now.membership_config.nodes())
                .map(|(id, node): (&NodeId, &PeerNode)| (*id, node.peer_id.clone()))
                .collect();
            announced.members(members);
            announced.leader(now.current_leader, now.current_term, me);
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}

impl Announced {
    fn leader(&mut self, leader: Option<NodeId>, term: u64, me: NodeId) {
        let Some(id) = leader.filter(|id| Some(*id) != self.leader) else {
            return;
        };
        self.leader = Some(id);
        match id == me {
            true => tracing::info!(term, "this peer is the cluster's leader"),
            false => tracing::info!(leader = %self.name(id), term, "leader elected"),
        }
    }

    fn members(&mut self, now: BTreeMap<NodeId, String>) {
        let Some(before) = self.members.replace(now.clone()) else {
            if !now.is_empty() {
                tracing::info!(members = now.len(), "cluster membership loaded");
            }
            return;
        };
        for (id, peer) in &now {
            if !before.contains_key(id) {
                tracing::info!(%peer, members = now.len(), "peer joined the cluster");
            }
        }
        for (id, peer) in &before {
            if !now.contains_key(id) {
                tracing::info!(%peer, members = now.len(), "peer left the cluster");
            }
        }
    }

    fn name(&self, id: NodeId) -> String {
        (self.members.as_ref())
            .and_then(|m| m.get(&id).cloned())
            .unwrap_or_else(|| format!("raft node {id}"))
    }
}
