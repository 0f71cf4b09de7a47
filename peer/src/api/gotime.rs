//! Go-compatible times and CID serialisation for ipfs-cluster JSON shapes.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A time as Go writes it: RFC 3339, with the zero time `0001-01-01T00:00:00Z` meaning unset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoTime(Option<SystemTime>);

/// How Go writes its zero `time.Time`.
pub(crate) const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl GoTime {
    /// Unset (Go's zero time).
    pub const ZERO: GoTime = GoTime(None);

    /// The current time.
    pub fn now() -> Self {
        Self(Some(SystemTime::now()))
    }

    /// `d` from now.
    pub fn after(d: Duration) -> Self {
        Self(SystemTime::now().checked_add(d))
    }

    /// The time, unless unset.
    pub fn get(self) -> Option<SystemTime> {
        self.0
    }

    /// Reads RFC 3339 (`2024-01-01T00:00:00Z`, fractions allowed); Go's zero time is unset.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("0001-01-01T00:00:00") {
            return Ok(Self::ZERO);
        }
        humantime::parse_rfc3339_weak(text)
            .map(|t| Self(Some(t)))
            .map_err(|e| format!("{text:?}: {e}"))
    }
}

impl std::fmt::Display for GoTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            None => f.write_str(GO_ZERO_TIME),
            Some(t) => {
                let text = humantime::format_rfc3339_nanos(t).to_string();
                // Go's RFC3339Nano drops trailing zeros of the fraction.
                let (whole, _) = text.split_once('Z').unwrap_or((&text, ""));
                let trimmed = whole.trim_end_matches('0').trim_end_matches('.');
                write!(f, "{trimmed}Z")
            }
        }
    }
}

impl Serialize for GoTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GoTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        GoTime::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A CID as a JSON string.
pub(super) mod cid_string {
    use cid::Cid;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(cid: &Cid, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(cid)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cid, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// An optional CID as a JSON string or `null`.
pub(super) mod opt_cid {
    use cid::Cid;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(cid: &Option<Cid>, s: S) -> Result<S::Ok, S::Error> {
        match cid {
            Some(cid) => s.collect_str(cid),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cid>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) if !text.is_empty() => text.parse().map(Some).map_err(serde::de::Error::custom),
            _ => Ok(None),
        }
    }
}
