//! [`GoDuration`]: a duration key of `service.json`, read and written in Go's form as
//! ipfs-cluster writes it (`"30s"`, `"1m0s"`, `"250ms"`).
//!
//! # Invariants
//! - A value that does not parse fails the load, and the error names the key (the section
//!   reader reports the path); nothing reads a duration as text after load.
//! - Writing a value and reading it back gives the same duration.
//! - Its JSON schema says `"format": "go-duration"`, the type docs/config.md names.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration as `service.json` writes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration(Duration);

impl GoDuration {
    /// `secs` seconds.
    pub const fn secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    /// `millis` milliseconds.
    pub const fn millis(millis: u64) -> Self {
        Self(Duration::from_millis(millis))
    }

    /// The duration.
    pub const fn get(self) -> Duration {
        self.0
    }

    /// Whole milliseconds, at least 1 (openraft's timer settings).
    pub fn millis_at_least_one(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX).max(1)
    }
}

impl From<Duration> for GoDuration {
    fn from(duration: Duration) -> Self {
        Self(duration)
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&cairn_gateway::duration::format(self.0))
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        cairn_gateway::duration::parse(&text)
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

/// In the schema (and so in docs/config.md), a Go duration string: `"type": "string"`,
/// `"format": "go-duration"`.
impl schemars::JsonSchema for GoDuration {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "GoDuration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "go-duration",
            "examples": ["250ms", "15s", "1m0s", "24h0m0s"],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipfs_cluster_forms_read_and_write_back_the_same() {
        for (text, duration) in [
            ("15s", Duration::from_secs(15)),
            ("12m0s", Duration::from_secs(720)),
            ("250ms", Duration::from_millis(250)),
            ("1h0m0s", Duration::from_secs(3600)),
        ] {
            let read: GoDuration = serde_json::from_value(serde_json::json!(text)).expect(text);
            assert_eq!(read.get(), duration);
            assert_eq!(
                serde_json::to_value(read).expect("writes"),
                serde_json::json!(text)
            );
        }
    }

    #[test]
    fn other_spellings_read_and_are_written_in_go_form() {
        let read: GoDuration = serde_json::from_value(serde_json::json!("90s")).expect("90s");
        assert_eq!(read.to_string(), "1m30s");
    }

    #[test]
    fn text_that_is_no_duration_is_refused_with_the_reason() {
        for bad in ["10 s", "", "-1s", "ten", "5"] {
            let err = serde_json::from_value::<GoDuration>(serde_json::json!(bad)).expect_err(bad);
            assert!(!err.to_string().is_empty(), "{bad}");
        }
        assert!(serde_json::from_value::<GoDuration>(serde_json::json!(10)).is_err());
    }
}
