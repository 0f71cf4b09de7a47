//! Pin operations: validate locally, commit through the leader.

use cid::Cid;

use super::{Cluster, ClusterError};
use crate::api::{Pin, PinOptions};
use crate::consensus::PeerNode;
use crate::state::PinOp;

impl Cluster {
    /// Validates and commits a pin of `cid`; returns it as stored.
    pub async fn pin(&self, cid: Cid, options: PinOptions) -> Result<Pin, ClusterError> {
        let existing = self.pins.get(&cid)?;
        let mut pin = Pin::new(cid, options).validated(self.defaults, existing.as_ref())?;
        if !pin.is_everywhere() {
            // The members are the ones a leader is known under: right after `initialize` (or
            // a restart) the membership this peer sees may still be empty.
            self.wait_for_leader().await?;
            pin.allocations = existing.map(|old| old.allocations).unwrap_or_default();
            pin.allocations = self.placement.allocations_for(&pin, &[])?;
        }
        self.commit(PinOp::Pin(Box::new(pin.clone()))).await?;
        Ok(pin)
    }

    /// Commits the removal of `cid`; returns the pin that was removed.
    pub async fn unpin(&self, cid: Cid) -> Result<Pin, ClusterError> {
        let existing = self.pins.get(&cid)?.ok_or(ClusterError::NotPinned)?;
        self.commit(PinOp::Unpin(cid)).await?;
        Ok(existing)
    }

    pub(super) async fn wait_for_leader(&self) -> Result<(), ClusterError> {
        let wait = self.raft.wait(Some(self.leader_timeout));
        let found = wait.metrics(|m| m.current_leader.is_some(), "a leader").await;
        found
            .map(|_| ())
            .map_err(|e| ClusterError::NoLeader(e.to_string()))
    }

    /// The current leader's node, if this peer knows one.
    pub(super) async fn leader(&self) -> Option<(u64, Option<PeerNode>)> {
        let metrics = self.raft.metrics().borrow().clone();
        let id = metrics.current_leader?;
        let node = metrics
            .membership_config
            .nodes()
            .find(|(n, _)| **n == id)
            .map(|(_, node)| node.clone());
        Some((id, node))
    }
}
