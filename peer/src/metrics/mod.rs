//! Prometheus metrics (`observations.metrics`, ipfs-cluster's section): `GET /metrics` on
//! `prometheus_endpoint` when `enable_stats` is true, in the Prometheus text format (0.0.4),
//! or OpenMetrics 1.0 for a scraper that asks for it.
//!
//! # Where it sits
//! The composition root (`peer`) builds one [`Exposition`] over [`reading::Live`]: narrow
//! handles on what the components already keep (Raft's metrics, the log store's counters, the
//! batcher's proposal sizes, the tracker's statuses, the pinset, the monitor's informer
//! values, the daemon client's last pin count, the gateway's [`GatewayStats`]), and binds it
//! with the gateway's server machinery ([`serve::bind`]), like the REST API.
//!
//! # Key types
//! - [`reading::Reading`]: one scrape's values; [`reading::Source`] gives them.
//! - [`collect::Scrape`]: the prometheus-client collector that writes a reading.
//! - [`Exposition`]: the registry, and the last exposition kept for `reporting_interval`.
//!
//! # Invariants
//! - Values are read at scrape time, not pushed: nothing runs between scrapes, and nothing
//!   at all when the metrics are off (the gateway then counts nothing either). The only
//!   values recorded as they happen are histograms and counters (proposal sizes, fsync and
//!   request latency, requests), in fixed atomics.
//! - One reading serves every scrape for `reporting_interval` (scrapes wait for a reading in
//!   progress instead of starting their own), so many scrapers cost one reading.
//! - A reading runs on the blocking pool: it reads redb and `/proc`.
//!
//! # Not here
//! What the values mean (their components); the metric list is docs/operations.md.
//!
//! [`GatewayStats`]: cairn_gateway::stats::GatewayStats

pub mod collect;
mod process;
pub mod reading;
pub mod serve;
pub mod text;

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;

pub use process::ProcessReading;
pub use reading::{Live, Reading, Source};

/// Why `/metrics` could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// A family could not be written (a writer error; a `String` never refuses).
    #[error("encoding the metrics")]
    Encode(#[source] std::fmt::Error),
    /// The reading's blocking task panicked or was cancelled at shutdown.
    #[error("reading the metrics")]
    Reading(#[source] tokio::task::JoinError),
}

/// The registry over one source, and the last exposition (OpenMetrics text).
pub struct Exposition {
    registry: Registry,
    /// How long one reading answers scrapes (`reporting_interval`).
    interval: Duration,
    /// The last reading's text and when it was taken; the lock is held while a reading runs.
    last: tokio::sync::Mutex<Option<(Instant, Arc<str>)>>,
}

impl Exposition {
    /// Over `source`; one reading serves scrapes for `interval`.
    pub fn new(source: impl Source, interval: Duration) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(collect::Scrape::new(source)));
        Self {
            registry,
            interval,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Reads the source now and writes the OpenMetrics text (blocking: redb and `/proc`).
    pub fn read_now(&self) -> Result<String, MetricsError> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).map_err(MetricsError::Encode)?;
        Ok(text)
    }

    /// The OpenMetrics text: the last one while younger than the interval, else a new reading.
    pub async fn openmetrics(self: &Arc<Self>) -> Result<Arc<str>, MetricsError> {
        let mut last = self.last.lock().await;
        if let Some((at, text)) = last.as_ref()
            && at.elapsed() < self.interval
        {
            return Ok(text.clone());
        }
        let this = self.clone();
        let read = tokio::task::spawn_blocking(move || this.read_now());
        let text: Arc<str> = read.await.map_err(MetricsError::Reading)??.into();
        *last = Some((Instant::now(), text.clone()));
        Ok(text)
    }
}

#[cfg(test)]
mod tests;
