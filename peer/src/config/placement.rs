//! The sections that decide where pins go and how their placement is watched:
//! `pin_tracker.stateless`, `allocator.balanced`, `informer.disk`, `informer.tags`,
//! `informer.pinqueue` and `monitor.pubsubmon` (ipfs-cluster's section and key names). The
//! `cluster` section's timers (`monitor_ping_interval`, `pin_recover_interval`, …) live in
//! [`super::ClusterConfig`].
//!
//! # Invariants
//! Durations are typed ([`GoDuration`], written in Go's form, `"15s"`, `"2m0s"`) and refused
//! at load when they do not parse; [`Placement::validate`] checks that each is above zero, and
//! the other values, before the peer binds anything.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{GoDuration, Section, schema_of};

/// `pin_tracker.stateless`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerSection {
    /// Pin and unpin calls in flight against the daemon at once.
    pub concurrent_pins: usize,
    /// Operations waiting for a slot; beyond it a pin fails with `pin queue is full`.
    pub max_pin_queue_size: usize,
}

impl Default for TrackerSection {
    fn default() -> Self {
        Self {
            concurrent_pins: 10,
            max_pin_queue_size: 1_000_000,
        }
    }
}

/// `allocator.balanced`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BalancedSection {
    /// Metrics the balanced allocator partitions and orders peers by, most significant
    /// first (`freespace`, `reposize`, `pinqueue`, `tag:<key>`); a peer lacking one of them is
    /// not a candidate.
    pub allocate_by: Vec<String>,
}

impl Default for BalancedSection {
    fn default() -> Self {
        Self {
            allocate_by: vec!["tag:group".into(), "freespace".into()],
        }
    }
}

/// `informer.disk`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DiskSection {
    /// How long a published `freespace` or `reposize` metric stays valid; both are published
    /// every half TTL.
    pub metric_ttl: GoDuration,
    /// `freespace` (StorageMax − RepoSize from `repo/stat`) or `reposize`: the disk
    /// informer's own metric (both are published).
    pub metric_type: String,
}

impl Default for DiskSection {
    fn default() -> Self {
        Self {
            metric_ttl: GoDuration::secs(30),
            metric_type: "freespace".into(),
        }
    }
}

/// `informer.tags`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TagsSection {
    /// How long a published tag metric stays valid; published every half TTL.
    pub metric_ttl: GoDuration,
    /// This peer's tags: each is a partitionable `tag:<key>` metric (`allocate_by`).
    pub tags: BTreeMap<String, String>,
}

impl Default for TagsSection {
    fn default() -> Self {
        Self {
            metric_ttl: GoDuration::secs(30),
            tags: BTreeMap::from([("group".to_owned(), "default".to_owned())]),
        }
    }
}

/// `informer.pinqueue`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PinQueueSection {
    /// How long a published `pinqueue` metric (the tracker's queued and running operations)
    /// stays valid; published every half TTL.
    pub metric_ttl: GoDuration,
    /// Queued operations per unit of (negative) weight.
    pub weight_bucket_size: u64,
}

impl Default for PinQueueSection {
    fn default() -> Self {
        Self {
            metric_ttl: GoDuration::secs(30),
            weight_bucket_size: 100_000,
        }
    }
}

/// `monitor.pubsubmon`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorSection {
    /// How often expired metrics raise alerts and down peers are failed over.
    pub check_interval: GoDuration,
}

impl Default for MonitorSection {
    fn default() -> Self {
        Self {
            check_interval: GoDuration::secs(15),
        }
    }
}

/// Every placement section, parsed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Placement {
    /// `pin_tracker.stateless`.
    pub tracker: TrackerSection,
    /// `allocator.balanced`.
    pub balanced: BalancedSection,
    /// `informer.disk`.
    pub disk: DiskSection,
    /// `informer.tags`.
    pub tags: TagsSection,
    /// `informer.pinqueue`.
    pub pinqueue: PinQueueSection,
    /// `monitor.pubsubmon`.
    pub monitor: MonitorSection,
}

/// Where each section sits in `service.json`, the prefix of its environment variables, and
/// its schema.
pub(super) static SECTIONS: [Section; 6] = [
    Section {
        path: &["pin_tracker", "stateless"],
        env_prefix: "CLUSTER_STATELESS_",
        schema: schema_of::<TrackerSection>,
    },
    Section {
        path: &["allocator", "balanced"],
        env_prefix: "CLUSTER_BALANCED_",
        schema: schema_of::<BalancedSection>,
    },
    Section {
        path: &["informer", "disk"],
        env_prefix: "CLUSTER_DISK_",
        schema: schema_of::<DiskSection>,
    },
    Section {
        path: &["informer", "tags"],
        env_prefix: "CLUSTER_TAGS_",
        schema: schema_of::<TagsSection>,
    },
    Section {
        path: &["informer", "pinqueue"],
        env_prefix: "CLUSTER_PINQUEUE_",
        schema: schema_of::<PinQueueSection>,
    },
    Section {
        path: &["monitor", "pubsubmon"],
        env_prefix: "CLUSTER_PUBSUBMON_",
        schema: schema_of::<MonitorSection>,
    },
];

impl Placement {
    /// Parses every section of `json` (absent ones take their defaults).
    pub(super) fn from_json(json: &serde_json::Value) -> Result<Self, super::ConfigError> {
        Ok(Self {
            tracker: super::section(json, SECTIONS[0].path)?,
            balanced: super::section(json, SECTIONS[1].path)?,
            disk: super::section(json, SECTIONS[2].path)?,
            tags: super::section(json, SECTIONS[3].path)?,
            pinqueue: super::section(json, SECTIONS[4].path)?,
            monitor: super::section(json, SECTIONS[5].path)?,
        })
    }

    /// The defaults as `service.json` writes them.
    pub(super) fn template() -> serde_json::Value {
        let d = Self::default();
        serde_json::json!({
            "pin_tracker": { "stateless": d.tracker },
            "allocator": { "balanced": d.balanced },
            "informer": { "disk": d.disk, "tags": d.tags, "pinqueue": d.pinqueue },
            "monitor": { "pubsubmon": d.monitor },
        })
    }

    /// Checks durations, the metric type and the allocator's metric names.
    pub(super) fn validate(&self) -> Result<(), String> {
        for (key, value) in [
            ("informer.disk.metric_ttl", self.disk.metric_ttl),
            ("informer.tags.metric_ttl", self.tags.metric_ttl),
            ("informer.pinqueue.metric_ttl", self.pinqueue.metric_ttl),
            ("monitor.pubsubmon.check_interval", self.monitor.check_interval),
        ] {
            positive(key, value)?;
        }
        if !matches!(self.disk.metric_type.as_str(), "freespace" | "reposize") {
            return Err("informer.disk.metric_type: must be freespace or reposize".into());
        }
        if self.tracker.concurrent_pins == 0 || self.tracker.max_pin_queue_size == 0 {
            return Err("pin_tracker.stateless: concurrent_pins and max_pin_queue_size must be > 0".into());
        }
        self.check_allocate_by()
    }

    fn check_allocate_by(&self) -> Result<(), String> {
        let known =
            |name: &str| name.starts_with("tag:") || matches!(name, "freespace" | "reposize" | "pinqueue");
        match self.balanced.allocate_by.iter().find(|n| !known(n)) {
            Some(name) => Err(format!(
                "allocator.balanced.allocate_by: unknown metric {name:?} (freespace, reposize, pinqueue, tag:<key>)"
            )),
            None => Ok(()),
        }
    }
}

/// Fails unless `value` is above zero.
pub(super) fn positive(key: &str, value: GoDuration) -> Result<(), String> {
    match value.get().is_zero() {
        false => Ok(()),
        true => Err(format!("{key}: must be above zero")),
    }
}
