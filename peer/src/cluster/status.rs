//! Where pins stand across the cluster: each member's tracker asked over the cluster network
//! (this peer's directly), and the local side of those requests.
//!
//! # Invariants
//! - A member that does not answer gives an `Err` for that member only; the caller shows it as
//!   `cluster_error` for that peer instead of failing the whole call.
//! - Statuses travel in pages of [`PAGE`] so that no message grows with the pinset.

use std::collections::HashMap;

use cid::Cid;

use super::{Cluster, ClusterError};
use crate::consensus::PeerNode;
use crate::tracker::LocalStatus;

/// Statuses per page between peers.
pub(super) const PAGE: u32 = 5_000;

/// What every member can be asked to do to its own pins now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upkeep {
    /// Retry failed pins (one CID, or all).
    Recover(Option<String>),
    /// Compare the pins with the IPFS daemon.
    Sync,
}

/// One member's answer: its statuses, or why it could not be asked.
pub type MemberStatuses = (PeerNode, Result<HashMap<Cid, LocalStatus>, String>);

impl Cluster {
    /// Up to `limit` of this peer's statuses after `after`, as another peer asks for them.
    pub(super) fn local_statuses(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<(String, LocalStatus)>, ClusterError> {
        let after = after.map(|c| crate::api::parse_cid(&c)).transpose()?;
        let page = self.tracker.page(after, limit.min(PAGE) as usize);
        Ok(page.into_iter().map(|(c, s)| (c.to_string(), s)).collect())
    }

    /// This peer's status of `cid`, as another peer asks for it.
    pub(super) fn local_status_of(&self, cid: &str) -> Result<LocalStatus, ClusterError> {
        let cid = crate::api::parse_cid(cid)?;
        Ok(self.tracker.status(&cid))
    }

    /// Runs `upkeep` on this peer's own pins (failures are retried; the pins compared).
    pub(super) async fn local_upkeep(&self, upkeep: &Upkeep) {
        match upkeep {
            Upkeep::Recover(_) => self.tracker.recover().await,
            Upkeep::Sync => self.tracker.sync().await,
        }
    }

    /// Every member's status of `cid`.
    pub(super) async fn status_everywhere(&self, cid: &Cid) -> Vec<(PeerNode, Result<LocalStatus, String>)> {
        let asks = self.members().into_iter().map(|member| async move {
            let answer = self.status_on(&member, cid).await.map_err(|e| e.to_string());
            (member, answer)
        });
        futures::future::join_all(asks).await
    }

    async fn status_on(&self, member: &PeerNode, cid: &Cid) -> Result<LocalStatus, ClusterError> {
        if member.peer_id == self.peer_id {
            return Ok(self.tracker.status(cid));
        }
        Ok(self.rpc.status_of(member, cid.to_string()).await?)
    }

    /// Every member's tracked statuses (members asked at once, each in pages).
    pub async fn statuses_everywhere(&self) -> Vec<MemberStatuses> {
        let asks = self.members().into_iter().map(|member| async move {
            let answer = self.statuses_on(&member).await.map_err(|e| e.to_string());
            (member, answer)
        });
        futures::future::join_all(asks).await
    }

    async fn statuses_on(&self, member: &PeerNode) -> Result<HashMap<Cid, LocalStatus>, ClusterError> {
        let mut all = HashMap::new();
        let mut after = None;
        loop {
            let page = self.statuses_page(member, after.take()).await?;
            let last = page.last().map(|(c, _)| *c);
            let full = page.len() == PAGE as usize;
            all.extend(page);
            match last {
                Some(last) if full => after = Some(last),
                _ => return Ok(all),
            }
        }
    }

    async fn statuses_page(
        &self,
        member: &PeerNode,
        after: Option<Cid>,
    ) -> Result<Vec<(Cid, LocalStatus)>, ClusterError> {
        if member.peer_id == self.peer_id {
            return Ok(self.tracker.page(after, PAGE as usize));
        }
        let found = self
            .rpc
            .statuses(member, after.map(|c| c.to_string()), PAGE)
            .await?;
        found
            .into_iter()
            .map(|(c, s)| Ok((crate::api::parse_cid(&c)?, s)))
            .collect()
    }

    /// Runs `upkeep` on every member (this one served directly); returns each member's
    /// outcome.
    pub async fn on_every_member(&self, upkeep: Upkeep) -> Vec<(PeerNode, Result<(), String>)> {
        let upkeep = &upkeep;
        let asks = self.members().into_iter().map(|member| async move {
            let answer = self.upkeep_on(&member, upkeep).await.map_err(|e| e.to_string());
            (member, answer)
        });
        futures::future::join_all(asks).await
    }

    async fn upkeep_on(&self, member: &PeerNode, upkeep: &Upkeep) -> Result<(), ClusterError> {
        if member.peer_id == self.peer_id {
            self.local_upkeep(upkeep).await;
            return Ok(());
        }
        match upkeep {
            Upkeep::Recover(cid) => Ok(self.rpc.recover(member, cid.clone()).await?),
            Upkeep::Sync => Ok(self.rpc.sync(member).await?),
        }
    }
}
