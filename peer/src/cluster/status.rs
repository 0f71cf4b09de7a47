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
use crate::rpc::{ClusterReply, ClusterRequest};
use crate::tracker::LocalStatus;

/// Statuses per page between peers.
pub(super) const PAGE: u32 = 5_000;

/// One member's answer: its statuses, or why it could not be asked.
pub type MemberStatuses = (PeerNode, Result<HashMap<Cid, LocalStatus>, String>);

impl Cluster {
    /// Serves [`ClusterRequest::Statuses`].
    pub(super) fn local_statuses(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> Result<ClusterReply, ClusterError> {
        let after = after.map(|c| crate::api::parse_cid(&c)).transpose()?;
        let page = self.tracker.page(after, limit.min(PAGE) as usize);
        Ok(ClusterReply::Statuses(
            page.into_iter().map(|(c, s)| (c.to_string(), s)).collect(),
        ))
    }

    /// Serves [`ClusterRequest::StatusOf`].
    pub(super) fn local_status_of(&self, cid: &str) -> Result<ClusterReply, ClusterError> {
        let cid = crate::api::parse_cid(cid)?;
        let status = self.tracker.status(&cid);
        Ok(ClusterReply::Statuses(vec![(cid.to_string(), status)]))
    }

    /// Serves [`ClusterRequest::Recover`] (this peer's failures are retried; one CID or all).
    pub(super) async fn local_recover(&self, _cid: Option<&str>) -> Result<ClusterReply, ClusterError> {
        self.tracker.recover().await;
        Ok(ClusterReply::Done)
    }

    /// Serves [`ClusterRequest::Sync`].
    pub(super) async fn local_sync(&self) -> Result<ClusterReply, ClusterError> {
        self.tracker.sync().await;
        Ok(ClusterReply::Done)
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
        match self
            .ask(member, ClusterRequest::StatusOf(cid.to_string()))
            .await?
        {
            ClusterReply::Statuses(mut found) if found.len() == 1 => Ok(found.remove(0).1),
            other => Err(ClusterError::Consensus(format!("unexpected answer {other:?}"))),
        }
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
        let request = ClusterRequest::Statuses {
            after: after.map(|c| c.to_string()),
            limit: PAGE,
        };
        match self.ask(member, request).await? {
            ClusterReply::Statuses(found) => found
                .into_iter()
                .map(|(c, s)| Ok((crate::api::parse_cid(&c)?, s)))
                .collect(),
            other => Err(ClusterError::Consensus(format!("unexpected answer {other:?}"))),
        }
    }

    /// Sends `request` ([`ClusterRequest::Recover`] or [`ClusterRequest::Sync`]) to every
    /// member (this one served directly); returns each member's outcome.
    pub async fn on_every_member(&self, request: ClusterRequest) -> Vec<(PeerNode, Result<(), String>)> {
        let request = &request;
        let asks = self.members().into_iter().map(|member| async move {
            let answer = self
                .run_on(&member, request.clone())
                .await
                .map_err(|e| e.to_string());
            (member, answer)
        });
        futures::future::join_all(asks).await
    }

    async fn run_on(&self, member: &PeerNode, request: ClusterRequest) -> Result<(), ClusterError> {
        if member.peer_id != self.peer_id {
            return self.ask(member, request).await.map(drop);
        }
        match request {
            ClusterRequest::Recover(cid) => self.local_recover(cid.as_deref()).await.map(drop),
            _ => self.local_sync().await.map(drop),
        }
    }
}
