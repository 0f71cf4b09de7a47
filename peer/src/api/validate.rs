//! The checks a pin passes before it is committed, with ipfs-cluster's messages
//! (`cluster_config.go isReplicationFactorValid`, `cluster.go setupPin`).

use super::{Pin, PinMode};

/// Why a pin request was refused; nothing was committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// The CID does not parse.
    #[error("error decoding Cid: {0}")]
    BadCid(String),
    /// Replication factors that cannot be satisfied or are contradictory.
    #[error("{0}")]
    Replication(&'static str),
    /// The expiry is already past.
    #[error("pin.ExpireAt set before current time")]
    Expired,
    /// A recursive pin cannot be downgraded in place.
    #[error(
        "cannot repin a CID which is already pinned in recursive mode (new pin is pinned as {0}). Unpin it first."
    )]
    Downgrade(&'static str),
    /// The pin's name, metadata and peer lists together exceed [`MAX_PIN_BYTES`] (413).
    #[error(
        "pin too large: its name, metadata and peer lists take {bytes} bytes, the limit is {limit} bytes"
    )]
    TooLarge {
        /// The pin's size bound ([`Pin::encoded_bound`]).
        bytes: usize,
        /// [`MAX_PIN_BYTES`].
        limit: usize,
    },
    /// A query parameter has a value that cannot be used.
    #[error("invalid value for {key}: {reason}")]
    BadOption {
        /// The parameter.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// The cluster-wide default replication factors (`cluster.replication_factor_min/max`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replication {
    /// Default minimum; -1 = every peer.
    pub min: i32,
    /// Default maximum; -1 = every peer.
    pub max: i32,
}

impl Default for Replication {
    fn default() -> Self {
        Self { min: -1, max: -1 }
    }
}

/// ipfs-cluster's `isReplicationFactorValid`, message for message.
pub fn check_factors(min: i32, max: i32) -> Result<(), PinError> {
    let fail = |msg| Err(PinError::Replication(msg));
    if min == 0 || max == 0 {
        return fail("cluster.replication_factor_min and max must be set");
    }
    if min > max {
        return fail("cluster.replication_factor_min is larger than max");
    }
    if min < -1 {
        return fail("cluster.replication_factor_min is wrong");
    }
    if max < -1 {
        return fail("cluster.replication_factor_max is wrong");
    }
    if (min == -1) != (max == -1) {
        return fail("cluster.replication_factor_min and max must be -1 when one of them is");
    }
    Ok(())
}

impl Pin {
    /// Applies the cluster defaults (0 = default) and checks the pin against `existing`.
    pub fn validated(mut self, defaults: Replication, existing: Option<&Pin>) -> Result<Pin, PinError> {
        let options = &mut self.options;
        if options.replication_factor_min == 0 {
            options.replication_factor_min = defaults.min;
        }
        if options.replication_factor_max == 0 {
            options.replication_factor_max = defaults.max;
        }
        check_factors(options.replication_factor_min, options.replication_factor_max)?;
        if self.is_everywhere() {
            self.allocations.clear();
        }
        if let Some(at) = self.options.expire_at.get()
            && at < std::time::SystemTime::now()
        {
            return Err(PinError::Expired);
        }
        if existing.is_some_and(|old| old.options.mode == PinMode::Recursive)
            && self.options.mode == PinMode::Direct
        {
            return Err(PinError::Downgrade("direct"));
        }
        self.max_depth = self.options.mode.max_depth();
        let bytes = self.encoded_bound();
        if bytes > MAX_PIN_BYTES {
            return Err(PinError::TooLarge {
                bytes,
                limit: MAX_PIN_BYTES,
            });
        }
        Ok(self)
    }

    /// An upper bound of the bytes this pin takes in any of its encodings (the pinset's JSON,
    /// a Raft entry's CBOR): its variable parts plus a fixed allowance for the rest, so that
    /// log entries and appends can be bounded by bytes without encoding them.
    pub fn encoded_bound(&self) -> usize {
        let options = &self.options;
        let peers = |list: &[String]| list.iter().map(|p| p.len() + PER_ITEM).sum::<usize>();
        let metadata: usize = options
            .metadata
            .iter()
            .map(|(k, v)| 2 * PER_ITEM + escaped(k) + escaped(v))
            .sum();
        FIXED_PIN_BYTES
            + escaped(&options.name)
            + metadata
            + peers(&self.allocations)
            + peers(options.user_allocations.as_deref().unwrap_or_default())
            + peers(&options.origins)
    }
}

/// The most a pin may take ([`Pin::encoded_bound`]): its name, metadata and peer lists.
pub const MAX_PIN_BYTES: usize = 32 * 1024;
/// What a pin's fixed fields take at most (field names, CIDs, numbers, timestamps).
const FIXED_PIN_BYTES: usize = 1024;
/// Framing of one list or map item.
const PER_ITEM: usize = 8;

/// A text's bytes in the worst of its encodings (JSON escapes a control byte as 6 bytes).
fn escaped(text: &str) -> usize {
    text.bytes()
        .map(|b| match b {
            0..0x20 => 6,
            b'"' | b'\\' => 2,
            _ => 1,
        })
        .sum()
}
