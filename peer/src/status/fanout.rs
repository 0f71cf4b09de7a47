//! Every member's statuses (this peer's from its tracker, the others' in pages over the
//! cluster network), upkeep on every member, and the local side of those requests.

use std::collections::HashMap;

use cid::Cid;

use super::{StatusError, Statuses};
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

impl Statuses {
    /// Up to `limit` of this peer's statuses after `after`, as another peer asks for them.
    pub fn local_statuses(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<(String, LocalStatus)>, StatusError> {
        let after = after.map(|c| crate::api::parse_cid(&c)).transpose()?;
        let page = self.0.local.page(after, limit.min(PAGE) as usize);
        Ok(page.into_iter().map(|(c, s)| (c.to_string(), s)).collect())
    }

    /// This peer's status of `cid`, as another peer asks for it.
    pub fn local_status_of(&self, cid: &str) -> Result<LocalStatus, StatusError> {
        let cid = crate::api::parse_cid(cid)?;
        Ok(self.0.local.status(&cid))
    }

    /// This peer's status of `cid`.
    pub fn local_status(&self, cid: &Cid) -> LocalStatus {
        self.0.local.status(cid)
    }

    /// Every status this peer's tracker holds.
    pub fn local_all(&self) -> HashMap<Cid, LocalStatus> {
        self.0.local.page(None, usize::MAX).into_iter().collect()
    }

    /// Runs `upkeep` on this peer's own pins (failures are retried; the pins compared).
    pub async fn local_upkeep(&self, upkeep: &Upkeep) {
        self.0.local.upkeep(upkeep).await;
    }

    /// Every member's status of `cid`.
    pub async fn status_everywhere(&self, cid: &Cid) -> Vec<(PeerNode, Result<LocalStatus, String>)> {
        let asks = self.members().into_iter().map(|member| async move {
            let answer = self.status_on(&member, cid).await.map_err(|e| e.to_string());
            (member, answer)
        });
        futures::future::join_all(asks).await
    }

    async fn status_on(&self, member: &PeerNode, cid: &Cid) -> Result<LocalStatus, StatusError> {
        if self.is_me(member) {
            return Ok(self.0.local.status(cid));
        }
        Ok(self.0.remote.status_of(member, cid.to_string()).await?)
    }

    /// Every member's tracked statuses (members asked at once, each in pages).
    pub async fn statuses_everywhere(&self) -> Vec<MemberStatuses> {
        let asks = self.members().into_iter().map(|member| async move {
            let answer = self.statuses_on(&member).await.map_err(|e| e.to_string());
            (member, answer)
        });
        futures::future::join_all(asks).await
    }

    async fn statuses_on(&self, member: &PeerNode) -> Result<HashMap<Cid, LocalStatus>, StatusError> {
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
    ) -> Result<Vec<(Cid, LocalStatus)>, StatusError> {
        if self.is_me(member) {
            return Ok(self.0.local.page(after, PAGE as usize));
        }
        let after = after.map(|c| c.to_string());
        let found = self.0.remote.statuses(member, after, PAGE).await?;
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

    async fn upkeep_on(&self, member: &PeerNode, upkeep: &Upkeep) -> Result<(), StatusError> {
        if self.is_me(member) {
            self.local_upkeep(upkeep).await;
            return Ok(());
        }
        Ok(self.0.remote.upkeep(member, upkeep).await?)
    }
}
