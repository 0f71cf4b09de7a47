//! The IPFS Pinning Service API's objects (spec v1.0): [`Pin`], [`PinStatus`], [`PinResults`],
//! [`Failure`], and the four [`Status`] words, with their limits and how a [`Pin`] becomes
//! the cluster's `PinOptions`.
//!
//! # Invariants
//! - A [`Pin`] from a client is checked against the spec's limits ([`Pin::checked`]) before it
//!   reaches the cluster: a name of at most [`MAX_NAME`] characters, at most [`MAX_ORIGINS`]
//!   distinct multiaddrs as origins, at most [`MAX_META`] metadata entries.
//! - Written JSON keeps the spec's names; `info` is left out when empty, `name` when unset.

use std::collections::BTreeMap;

use cid::Cid;
use serde::{Deserialize, Serialize};

use crate::api::{GoTime, PinOptions};

/// The spec's longest `name` (characters).
pub const MAX_NAME: usize = 255;
/// The spec's most `origins` (and `delegates`).
pub const MAX_ORIGINS: usize = 20;
/// The spec's most `meta` (and `info`) entries.
pub const MAX_META: usize = 1000;

/// Where a pin request stands (the spec's `Status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting to be pinned.
    Queued,
    /// Being pinned.
    Pinning,
    /// Pinned.
    Pinned,
    /// Pinning failed (the service may still retry).
    Failed,
}

impl Status {
    /// Every status, in the spec's order.
    pub const ALL: [Status; 4] = [Status::Queued, Status::Pinning, Status::Pinned, Status::Failed];

    /// Its word.
    pub fn name(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Pinning => "pinning",
            Status::Pinned => "pinned",
            Status::Failed => "failed",
        }
    }

    /// The status a word names.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == word)
    }
}

/// What to pin (the spec's `Pin`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The content's CID.
    #[serde(with = "cid_text")]
    pub cid: Cid,
    /// A name for the pin (the cluster pin's `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Multiaddrs of peers known to provide the content (the cluster pin's `origins`).
    #[serde(default)]
    pub origins: Vec<String>,
    /// Free-form metadata (the cluster pin's `metadata`).
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
}

/// A pin request as the cluster holds it (the spec's `PinStatus`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinStatus {
    /// The request's id: the CID, as in ipfs-cluster.
    pub requestid: String,
    /// Where it stands across its allocations.
    pub status: Status,
    /// When the pin was submitted to consensus (the cluster pin's `timestamp`).
    pub created: GoTime,
    /// What is pinned.
    pub pin: Pin,
    /// Multiaddrs of the nodes holding the pin (1 to [`MAX_ORIGINS`]).
    pub delegates: Vec<String>,
    /// Details: each failing peer's error.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub info: BTreeMap<String, String>,
}

/// A page of pin requests (the spec's `PinResults`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinResults {
    /// How many requests match the filters (all pages).
    pub count: u64,
    /// This page, newest first.
    pub results: Vec<PinStatus>,
}

/// An error answer (the spec's `Failure`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// What went wrong.
    pub error: FailureError,
}

/// The body of a [`Failure`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureError {
    /// A machine-readable word (`NOT_FOUND`, `BAD_REQUEST`, …).
    pub reason: String,
    /// What a human should know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

impl Failure {
    /// A failure with `reason` and `details`.
    pub fn new(reason: impl Into<String>, details: impl Into<String>) -> Self {
        let details = details.into();
        Self {
            error: FailureError {
                reason: reason.into(),
                details: (!details.is_empty()).then_some(details),
            },
        }
    }
}

/// Why a [`Pin`] from a client was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinRefused {
    /// `name` is longer than the spec allows.
    #[error("name has {0} characters; at most {MAX_NAME} are allowed")]
    NameTooLong(usize),
    /// Too many origins.
    #[error("{0} origins; at most {MAX_ORIGINS} are allowed")]
    TooManyOrigins(usize),
    /// An origin is not a multiaddr.
    #[error("origin {origin:?} is not a multiaddr: {reason}")]
    BadOrigin {
        /// The origin as sent.
        origin: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The same origin twice.
    #[error("origin {0:?} is listed twice")]
    DuplicateOrigin(String),
    /// Too many metadata entries.
    #[error("{0} meta entries; at most {MAX_META} are allowed")]
    TooMuchMeta(usize),
}

impl Pin {
    /// The pin if it is within the spec's limits.
    pub fn checked(self) -> Result<Self, PinRefused> {
        if let Some(name) = &self.name
            && name.chars().count() > MAX_NAME
        {
            return Err(PinRefused::NameTooLong(name.chars().count()));
        }
        if self.origins.len() > MAX_ORIGINS {
            return Err(PinRefused::TooManyOrigins(self.origins.len()));
        }
        for (i, origin) in self.origins.iter().enumerate() {
            if let Err(e) = origin.parse::<multiaddr::Multiaddr>() {
                return Err(PinRefused::BadOrigin {
                    origin: origin.clone(),
                    reason: e.to_string(),
                });
            }
            if self.origins[..i].contains(origin) {
                return Err(PinRefused::DuplicateOrigin(origin.clone()));
            }
        }
        if self.meta.len() > MAX_META {
            return Err(PinRefused::TooMuchMeta(self.meta.len()));
        }
        Ok(self)
    }

    /// `options` with this pin's name, origins and metadata in place of theirs.
    pub fn onto(&self, mut options: PinOptions) -> PinOptions {
        options.name = self.name.clone().unwrap_or_default();
        options.origins = self.origins.clone();
        options.metadata = self.meta.clone();
        options
    }

    /// The spec's view of a cluster pin.
    pub fn of(pin: &crate::api::Pin) -> Self {
        let options = &pin.options;
        Self {
            cid: pin.cid,
            name: Some(options.name.clone()).filter(|n| !n.is_empty()),
            origins: options.origins.clone(),
            meta: options.metadata.clone(),
        }
    }
}

/// A CID as a JSON string, refused with the parser's reason.
mod cid_text {
    use cid::Cid;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(cid: &Cid, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(cid)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cid, D::Error> {
        let text = String::deserialize(d)?;
        text.trim()
            .parse()
            .map_err(|e| serde::de::Error::custom(format!("cid {text:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CID: &str = "QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u";

    fn pin(value: serde_json::Value) -> Result<Pin, String> {
        serde_json::from_value::<Pin>(value).map_err(|e| e.to_string())
    }

    #[test]
    fn a_pin_reads_with_only_its_cid_and_writes_the_spec_names() {
        let only = pin(json!({ "cid": CID })).unwrap();
        assert_eq!(
            (only.name.clone(), only.origins.len(), only.meta.len()),
            (None, 0, 0)
        );
        assert_eq!(
            serde_json::to_value(&only).unwrap(),
            json!({ "cid": CID, "origins": [], "meta": {} })
        );
        let full =
            json!({ "cid": CID, "name": "n", "origins": ["/ip4/1.2.3.4/tcp/4001"], "meta": { "k": "v" } });
        assert_eq!(serde_json::to_value(pin(full.clone()).unwrap()).unwrap(), full);
    }

    #[test]
    fn a_pin_without_a_valid_cid_is_refused_with_the_reason() {
        assert!(
            pin(json!({ "name": "n" }))
                .unwrap_err()
                .contains("missing field `cid`")
        );
        assert!(
            pin(json!({ "cid": "nope" }))
                .unwrap_err()
                .contains("cid \"nope\"")
        );
        assert!(pin(json!({ "cid": 5 })).is_err());
        assert!(
            pin(json!({ "cid": CID, "meta": { "k": 1 } })).is_err(),
            "meta values are strings"
        );
    }

    #[test]
    fn the_spec_limits_are_checked() {
        let base = || pin(json!({ "cid": CID })).unwrap();
        let named = Pin {
            name: Some("é".repeat(MAX_NAME)),
            ..base()
        };
        assert!(named.checked().is_ok(), "characters, not bytes");
        let long = Pin {
            name: Some("x".repeat(MAX_NAME + 1)),
            ..base()
        };
        assert_eq!(long.checked(), Err(PinRefused::NameTooLong(MAX_NAME + 1)));
        let many = Pin {
            origins: (0..21).map(|i| format!("/ip4/1.2.3.{i}/tcp/1")).collect(),
            ..base()
        };
        assert_eq!(many.checked(), Err(PinRefused::TooManyOrigins(21)));
        let bad = Pin {
            origins: vec!["not-a-multiaddr".into()],
            ..base()
        };
        assert!(matches!(bad.checked(), Err(PinRefused::BadOrigin { .. })));
        let twice = Pin {
            origins: vec!["/ip4/1.2.3.4/tcp/1".into(); 2],
            ..base()
        };
        assert!(matches!(twice.checked(), Err(PinRefused::DuplicateOrigin(_))));
        let meta = Pin {
            meta: (0..=MAX_META).map(|i| (i.to_string(), String::new())).collect(),
            ..base()
        };
        assert_eq!(meta.checked(), Err(PinRefused::TooMuchMeta(MAX_META + 1)));
    }

    #[test]
    fn a_pin_maps_onto_the_cluster_options_and_back() {
        let svc =
            pin(json!({ "cid": CID, "name": "n", "origins": ["/ip4/1.2.3.4/tcp/1"], "meta": { "k": "v" } }))
                .unwrap();
        let options = svc.onto(PinOptions {
            replication_factor_min: 2,
            name: "old".into(),
            ..PinOptions::default()
        });
        assert_eq!(options.name, "n");
        assert_eq!(options.replication_factor_min, 2, "other options are kept");
        let cluster_pin = crate::api::Pin::new(svc.cid, options);
        assert_eq!(Pin::of(&cluster_pin), svc);
        let unnamed = crate::api::Pin::new(svc.cid, PinOptions::default());
        assert_eq!(Pin::of(&unnamed).name, None);
    }

    #[test]
    fn statuses_results_and_failures_have_the_spec_shapes() {
        assert_eq!(
            Status::ALL.map(|s| Status::parse(s.name())),
            Status::ALL.map(Some)
        );
        assert_eq!(Status::parse("pin_error"), None);
        let status = PinStatus {
            requestid: CID.into(),
            status: Status::Pinned,
            created: GoTime::parse("2024-01-02T03:04:05Z").unwrap(),
            pin: pin(json!({ "cid": CID })).unwrap(),
            delegates: vec!["/ip4/1.2.3.4/tcp/4001/p2p/12D3KooW".into()],
            info: BTreeMap::new(),
        };
        let results = PinResults {
            count: 7,
            results: vec![status],
        };
        assert_eq!(
            serde_json::to_value(&results).unwrap(),
            json!({ "count": 7, "results": [{
                "requestid": CID, "status": "pinned", "created": "2024-01-02T03:04:05Z",
                "pin": { "cid": CID, "origins": [], "meta": {} },
                "delegates": ["/ip4/1.2.3.4/tcp/4001/p2p/12D3KooW"],
            }] })
        );
        assert_eq!(
            serde_json::to_value(Failure::new("NOT_FOUND", "no such request")).unwrap(),
            json!({ "error": { "reason": "NOT_FOUND", "details": "no such request" } })
        );
        assert_eq!(
            serde_json::to_value(Failure::new("X", "")).unwrap(),
            json!({ "error": { "reason": "X" } })
        );
    }
}
