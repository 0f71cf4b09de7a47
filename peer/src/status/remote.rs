//! The running peer's parts behind the status component's handles.

use std::time::Duration;

use cid::Cid;
use futures::FutureExt;
use futures::future::BoxFuture;

use super::{ChildCluster, LocalPins, Remote, Upkeep};
use crate::api::GlobalPinInfo;
use crate::consensus::PeerNode;
use crate::ipfs::IpfsClient;
use crate::rpc::{Client, NestedStatus, RpcError};
use crate::tracker::{LocalStatus, Tracker};

impl LocalPins for Tracker {
    fn status(&self, cid: &Cid) -> LocalStatus {
        Tracker::status(self, cid)
    }

    fn page(&self, after: Option<Cid>, limit: usize) -> Vec<(Cid, LocalStatus)> {
        Tracker::page(self, after, limit)
    }

    fn upkeep<'a>(&'a self, upkeep: &'a Upkeep) -> BoxFuture<'a, ()> {
        match upkeep {
            Upkeep::Recover(_) => self.recover().boxed(),
            Upkeep::Sync => self.sync().boxed(),
        }
    }
}

impl Remote for Client {
    fn status_of<'a>(
        &'a self,
        member: &'a PeerNode,
        cid: String,
    ) -> BoxFuture<'a, Result<LocalStatus, RpcError>> {
        Client::status_of(self, member, cid).boxed()
    }

    fn statuses<'a>(
        &'a self,
        member: &'a PeerNode,
        after: Option<String>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<(String, LocalStatus)>, RpcError>> {
        Client::statuses(self, member, after, limit).boxed()
    }

    fn nested<'a>(
        &'a self,
        member: &'a PeerNode,
        cids: Vec<String>,
        depth: u32,
        budget: Duration,
    ) -> BoxFuture<'a, Result<Vec<NestedStatus>, RpcError>> {
        let budget_ms = u64::try_from(budget.as_millis()).unwrap_or(u64::MAX);
        Client::nested(self, member, cids, depth, budget_ms).boxed()
    }

    fn upkeep<'a>(&'a self, member: &'a PeerNode, upkeep: &'a Upkeep) -> BoxFuture<'a, Result<(), RpcError>> {
        match upkeep {
            Upkeep::Recover(cid) => self.recover(member, cid.clone()).boxed(),
            Upkeep::Sync => self.sync(member).boxed(),
        }
    }
}

impl ChildCluster for IpfsClient {
    fn is_cluster(&self) -> bool {
        self.is_cairn()
    }

    fn status<'a>(
        &'a self,
        cids: &'a [Cid],
        depth: u32,
        budget: Duration,
    ) -> BoxFuture<'a, Result<Vec<GlobalPinInfo>, String>> {
        async move {
            self.child_status(cids, depth, budget)
                .await
                .map_err(|e| e.to_string())
        }
        .boxed()
    }
}
