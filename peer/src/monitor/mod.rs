//! The peer monitor: the latest metric of each name from each peer, the alerts raised when one
//! expires, and the loops that publish this peer's own metrics.
//!
//! # Where it sits
//! The composition root (`peer`) creates the [`Monitor`], feeds it the metrics other peers
//! publish on gossipsub (`net`, topic `monitor.metrics`) with [`run::receive`], and starts
//! [`run::start`]: the [`informers`] that publish this peer's metrics and the checker that
//! raises alerts and hands down peers to [`Failover`] (the cluster). Placement reads
//! [`Monitor::usable`]; REST reads [`Monitor::latest`] and [`Monitor::alerts`].
//!
//! # Invariants
//! - A metric is recorded only from the peer that signed it (a peer cannot speak for another).
//! - One value per (name, peer): the newest; memory is bounded by names × peers.
//! - One alert per (peer, name) until a valid metric of that name arrives again; at most
//!   [`MAX_ALERTS`] are kept (older ones are dropped first).
//!
//! # Not here
//! Choosing peers (allocator) and moving pins (cluster::failover).

pub mod informers;
mod metric;
pub mod run;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

pub use metric::{Alert, Metric, PING, now_ns};
pub use run::{Failover, LoopInputs, Repinned};

use crate::api::GoTime;

/// Alerts kept for `GET /health/alerts`.
pub const MAX_ALERTS: usize = 1000;

/// The metric store and alert list; cheap to clone.
#[derive(Clone, Default)]
pub struct Monitor {
    inner: Arc<Mutex<Store>>,
}

#[derive(Default)]
struct Store {
    /// name → peer → newest metric.
    latest: BTreeMap<String, BTreeMap<String, Metric>>,
    /// (peer, name) pairs with an alert raised and no valid metric since.
    alerted: BTreeSet<(String, String)>,
    alerts: VecDeque<Alert>,
    /// When this monitor started, unix nanoseconds.
    started: i64,
}

impl Monitor {
    /// An empty monitor.
    pub fn new() -> Self {
        let store = Store {
            started: now_ns(),
            ..Store::default()
        };
        Self {
            inner: Arc::new(Mutex::new(store)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records `metric` as its peer's newest of its name (stamped with the receiving time).
    pub fn record(&self, mut metric: Metric) {
        metric.received_at = now_ns();
        let mut store = self.lock();
        if metric.usable() {
            store.alerted.remove(&(metric.peer.clone(), metric.name.clone()));
        }
        let peers = store.latest.entry(metric.name.clone()).or_default();
        peers.insert(metric.peer.clone(), metric);
    }

    /// Decodes a published metric and records it if `source` (the signer) is its peer.
    pub fn receive(&self, source: &str, data: &[u8]) {
        match serde_json::from_slice::<Metric>(data) {
            Ok(metric) if metric.peer == source => self.record(metric),
            Ok(metric) => tracing::warn!(%source, claimed = %metric.peer, "metric for another peer dropped"),
            Err(e) => tracing::debug!(%source, error = %e, "undecodable metric dropped"),
        }
    }

    /// The names of every metric seen.
    pub fn names(&self) -> Vec<String> {
        self.lock().latest.keys().cloned().collect()
    }

    /// The newest `name` metric of each of `members` (expired ones included).
    pub fn latest(&self, name: &str, members: &[String]) -> Vec<Metric> {
        let store = self.lock();
        let Some(peers) = store.latest.get(name) else {
            return Vec::new();
        };
        members.iter().filter_map(|m| peers.get(m).cloned()).collect()
    }

    /// The valid, unexpired `name` metrics of `members`.
    pub fn usable(&self, name: &str, members: &[String]) -> Vec<Metric> {
        let mut metrics = self.latest(name, members);
        metrics.retain(Metric::usable);
        metrics
    }

    /// Whether `peer` counts as alive: its ping is valid, or (for a peer never heard from) this
    /// monitor has not yet waited `grace_ns` for it.
    pub fn alive(&self, peer: &str, grace_ns: i64) -> bool {
        let store = self.lock();
        match store.latest.get(PING).and_then(|peers| peers.get(peer)) {
            Some(ping) => ping.usable(),
            None => now_ns() < store.started.saturating_add(grace_ns),
        }
    }

    /// Raises an alert for every expired metric of `members` not alerted yet; returns the new ones.
    pub fn check(&self, members: &[String]) -> Vec<Alert> {
        let mut store = self.lock();
        let expired: Vec<Metric> = store
            .latest
            .values()
            .flat_map(|peers| members.iter().filter_map(|m| peers.get(m)))
            .filter(|metric| metric.expired())
            .cloned()
            .collect();
        let mut raised = Vec::new();
        for metric in expired {
            if store.alerted.insert((metric.peer.clone(), metric.name.clone())) {
                raised.push(Alert {
                    metric,
                    triggered_at: GoTime::now(),
                });
            }
        }
        for alert in &raised {
            if store.alerts.len() == MAX_ALERTS {
                store.alerts.pop_front();
            }
            store.alerts.push_back(alert.clone());
        }
        raised
    }

    /// The alerts raised so far (oldest first).
    pub fn alerts(&self) -> Vec<Alert> {
        self.lock().alerts.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests;
