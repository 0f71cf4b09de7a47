//! A pinset in a temporary directory, for the unit tests of the components that read one
//! (listings, status, placement): real redb, no Raft.

use std::sync::Arc;

use cid::Cid;
use multihash_codetable::MultihashDigest;
use redb::Database;

use super::{Applied, PinOp, PinStore, apply, open};
use crate::api::{Pin, PinOptions};

/// A distinct raw-leaf CID for each `n`.
pub(crate) fn cid_of(n: u32) -> Cid {
    Cid::new_v1(0x55, multihash_codetable::Code::Sha2_256.digest(&n.to_be_bytes()))
}

/// A pin of [`cid_of`]`(n)` with default options.
pub(crate) fn pin_of(n: u32) -> Pin {
    Pin::new(cid_of(n), PinOptions::default())
}

/// A pinset on disk, removed when dropped.
pub(crate) struct TempPins {
    _dir: tempfile::TempDir,
    db: Arc<Database>,
    /// The store over it.
    pub(crate) store: PinStore,
}

impl TempPins {
    /// An empty pinset.
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open(&dir.path().join("state.redb")).expect("open the state");
        Self {
            store: PinStore::new(db.clone()),
            db,
            _dir: dir,
        }
    }

    /// A pinset holding `pins`.
    pub(crate) fn with(pins: impl IntoIterator<Item = Pin>) -> Self {
        let temp = Self::new();
        let ops: Vec<PinOp> = pins.into_iter().map(|p| PinOp::Pin(Box::new(p))).collect();
        temp.apply(&ops);
        temp
    }

    /// Applies `ops` in one transaction, as the state machine does.
    pub(crate) fn apply(&self, ops: &[PinOp]) -> Vec<Applied> {
        let txn = self.db.begin_write().expect("begin");
        let out = ops.iter().map(|op| apply(&txn, op).expect("apply")).collect();
        txn.commit().expect("commit");
        out
    }
}
