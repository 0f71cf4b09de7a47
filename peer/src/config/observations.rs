//! The `observations.metrics` section, ipfs-cluster's: whether this peer serves Prometheus
//! metrics (`enable_stats`), where (`prometheus_endpoint`), and how long one reading of the
//! values serves scrapes (`reporting_interval`). Environment: `CLUSTER_METRICS_<KEY>`.
//!
//! # Invariants
//! - Off by default, as in ipfs-cluster: nothing listens unless `enable_stats` is true.
//! - `prometheus_endpoint` is checked whether or not the metrics are on, so turning them on
//!   with `CLUSTER_METRICS_ENABLESTATS=true` cannot meet an address that never parsed.
//! - Errors name `observations.metrics.<key>`.

use serde::{Deserialize, Serialize};

use super::reference::Multiaddr;
use super::{ConfigError, GoDuration, Section, schema_of};

/// Where the section sits, the prefix of its environment variables, and its schema.
pub(super) static SECTIONS: [Section; 1] = [Section {
    path: &PATH,
    env_prefix: "CLUSTER_METRICS_",
    schema: schema_of::<MetricsConfig>,
}];

/// The section's JSON path.
pub(super) const PATH: [&str; 2] = ["observations", "metrics"];

/// ipfs-cluster's default listener of `/metrics`.
pub const DEFAULT_PROMETHEUS_ENDPOINT: &str = "/ip4/127.0.0.1/tcp/8888";

/// `observations.metrics`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve Prometheus metrics on `prometheus_endpoint` (off by default, as in
    /// ipfs-cluster: nothing is measured for it and nothing listens); docs/operations.md lists
    /// them.
    pub enable_stats: bool,
    /// Where `GET /metrics` listens (`/ip4`, `/ip6` with `/tcp`, or `/unix/<path>`); checked
    /// even while the metrics are off.
    #[schemars(with = "Multiaddr")]
    pub prometheus_endpoint: String,
    /// How long one reading of the values answers scrapes; `0s` reads them at every scrape.
    /// Bounds the work many scrapers cause (a reading counts the tracker's statuses).
    pub reporting_interval: GoDuration,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enable_stats: false,
            prometheus_endpoint: DEFAULT_PROMETHEUS_ENDPOINT.into(),
            reporting_interval: GoDuration::secs(2),
        }
    }
}

impl MetricsConfig {
    /// Checks the endpoint (run by `ServiceConfig::load`).
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        cairn_gateway::config::listen_addr(&self.prometheus_endpoint)
            .map(drop)
            .map_err(|e| ConfigError(format!("observations.metrics.prometheus_endpoint: {e}")))
    }
}

/// Reads the section (its defaults when absent).
pub(super) fn from_json(json: &serde_json::Value) -> Result<MetricsConfig, ConfigError> {
    super::section(json, &PATH)
}

/// The section as `cairn init` writes it, under `observations`.
pub(super) fn template() -> serde_json::Value {
    serde_json::json!({ "observations": { "metrics": MetricsConfig::default() } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServiceConfig;
    use serde_json::json;

    use crate::config::testing::load;

    #[test]
    fn init_writes_ipfs_clusters_defaults_and_they_load_off() {
        let generated = ServiceConfig::generated(Some("a".into())).unwrap();
        let section = &generated["observations"]["metrics"];
        assert_eq!(
            section,
            &json!({
                "enable_stats": false,
                "prometheus_endpoint": "/ip4/127.0.0.1/tcp/8888",
                "reporting_interval": "2s",
            })
        );
        let config = load(json!({ "observations": generated["observations"].clone() }), &[]).unwrap();
        assert_eq!(config.metrics, MetricsConfig::default());
        assert_eq!(load(json!({}), &[]).unwrap().metrics, MetricsConfig::default());
    }

    #[test]
    fn environment_variables_use_the_metrics_prefix() {
        let env = [
            ("CLUSTER_METRICS_ENABLESTATS", "true"),
            ("CLUSTER_METRICS_PROMETHEUSENDPOINT", "/ip4/127.0.0.1/tcp/0"),
            ("CLUSTER_METRICS_REPORTINGINTERVAL", "0s"),
        ];
        let metrics = load(json!({}), &env).unwrap().metrics;
        assert!(metrics.enable_stats);
        assert_eq!(metrics.prometheus_endpoint, "/ip4/127.0.0.1/tcp/0");
        assert!(metrics.reporting_interval.get().is_zero());
    }

    #[test]
    fn errors_name_the_metrics_keys() {
        for (section, key) in [
            (json!({ "nope": 1 }), "observations.metrics"),
            (
                json!({ "prometheus_endpoint": "/dns4/x/tcp/1" }),
                "observations.metrics.prometheus_endpoint",
            ),
            (
                json!({ "reporting_interval": "2 s" }),
                "observations.metrics.reporting_interval",
            ),
            (
                json!({ "enable_stats": "yes" }),
                "observations.metrics.enable_stats",
            ),
        ] {
            let err = load(json!({ "observations": { "metrics": section } }), &[])
                .unwrap_err()
                .0;
            assert!(err.starts_with(key), "{err} should name {key}");
        }
    }
}
