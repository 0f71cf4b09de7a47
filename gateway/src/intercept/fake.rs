//! A [`Cluster`] in memory, for the intercept handlers' in-process tests: a pinset in a map,
//! repo figures per fake peer, and a switch that makes every write find no leader.

use std::collections::BTreeMap;
use std::sync::Mutex;

use cid::Cid;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};

use super::cluster::{Cluster, ClusterError, GcLine, Landing, PinInfo, PinRequest, RepoStat};

/// The fake cluster's state.
#[derive(Debug, Default)]
pub(crate) struct FakeCluster {
    /// The pinset, with the options each pin was asked with.
    pub(crate) pins: Mutex<Pinset>,
    /// Each fake peer's `repo/stat`, or its failure.
    pub(crate) stats: Vec<Result<RepoStat, ClusterError>>,
    /// When set, writes fail as a cluster without a leader does.
    pub(crate) leaderless: bool,
}

impl FakeCluster {
    fn write<T: Send + 'static>(
        &self,
        apply: impl FnOnce(&mut Pinset) -> Result<T, ClusterError>,
    ) -> BoxFuture<'static, Result<T, ClusterError>> {
        let result = if self.leaderless {
            Err(ClusterError::Unavailable("no Raft leader within 15s".into()))
        } else {
            apply(&mut self.pins.lock().unwrap_or_else(|e| e.into_inner()))
        };
        futures::future::ready(result).boxed()
    }

    fn snapshot(&self) -> Vec<PinInfo> {
        let pins = self.pins.lock().unwrap_or_else(|e| e.into_inner());
        pins.values().map(|(pin, _)| pin.clone()).collect()
    }
}

pub(crate) type Pinset = BTreeMap<Cid, (PinInfo, Vec<(String, String)>)>;

fn name_of(options: &[(String, String)]) -> String {
    options
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

impl Cluster for FakeCluster {
    fn pin(&self, pin: PinRequest) -> BoxFuture<'static, Result<(), ClusterError>> {
        self.write(move |pins| {
            let info = PinInfo {
                cid: pin.cid,
                recursive: pin.recursive,
                name: name_of(&pin.options),
            };
            pins.insert(pin.cid, (info, pin.options));
            Ok(())
        })
    }

    fn unpin(&self, cid: Cid) -> BoxFuture<'static, Result<(), ClusterError>> {
        self.write(move |pins| pins.remove(&cid).map(|_| ()).ok_or(ClusterError::NotPinned))
    }

    fn update(&self, from: Cid, to: Cid, unpin: bool) -> BoxFuture<'static, Result<(), ClusterError>> {
        self.write(move |pins| {
            let (mut info, options) = pins.get(&from).cloned().ok_or(ClusterError::NotPinned)?;
            info.cid = to;
            pins.insert(to, (info, options));
            if unpin {
                pins.remove(&from);
            }
            Ok(())
        })
    }

    fn get(&self, cid: Cid) -> BoxFuture<'static, Result<Option<PinInfo>, ClusterError>> {
        let pins = self.pins.lock().unwrap_or_else(|e| e.into_inner());
        futures::future::ready(Ok(pins.get(&cid).map(|(pin, _)| pin.clone()))).boxed()
    }

    fn linearize(&self) -> BoxFuture<'static, Result<(), ClusterError>> {
        futures::future::ready(Ok(())).boxed()
    }

    fn list(&self) -> BoxStream<'static, Result<PinInfo, ClusterError>> {
        futures::stream::iter(self.snapshot().into_iter().map(Ok)).boxed()
    }

    fn repo_stats(&self, _size_only: bool) -> BoxFuture<'static, Vec<Result<RepoStat, ClusterError>>> {
        futures::future::ready(self.stats.clone()).boxed()
    }

    fn repo_gc(&self) -> BoxStream<'static, GcLine> {
        futures::stream::empty().boxed()
    }

    fn landing(&self, cid: Cid) -> BoxFuture<'static, Result<Landing, ClusterError>> {
        let pins = self.pins.lock().unwrap_or_else(|e| e.into_inner());
        let landing = if pins.contains_key(&cid) {
            Landing::Pinned
        } else {
            Landing::Missing
        };
        futures::future::ready(Ok(landing)).boxed()
    }

    /// One line per CID asked for, `{"cid":…,"depth":…}`.
    fn status(
        &self,
        cids: Vec<Cid>,
        depth: u32,
        _timeout: Option<std::time::Duration>,
    ) -> BoxStream<'static, Result<super::StatusLine, ClusterError>> {
        let lines = cids.into_iter().map(move |cid| {
            let line = serde_json::json!({ "cid": cid.to_string(), "depth": depth });
            super::StatusLine::encode(&line).map_err(|e| ClusterError::Failed(e.to_string()))
        });
        futures::stream::iter(lines.collect::<Vec<_>>()).boxed()
    }
}
