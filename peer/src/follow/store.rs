//! A follower's local copy of the pinset (`state.redb`, the same pin table a cluster peer
//! keeps, so `cairn state export` reads either) and the last log index it has applied.
//!
//! # Invariants
//! - The pins and the applied index change in one durable write transaction: after a crash
//!   the follower resumes from an index whose effects are exactly what it holds.
//! - A snapshot replaces every pin (cleared first) and sets the index to the snapshot's, in
//!   one transaction; a partial download never reaches the pinset.
//! - Every change is announced on the feed after its commit, as the state machine announces
//!   its own (the tracker reads it the same way); a snapshot is announced as `Reset`.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, TableDefinition};

use crate::state::{self, Change, FEED_CAPACITY, Feed, PinOp, PinStore, StateError};

const FOLLOW_META: TableDefinition<&str, u64> = TableDefinition::new("follow_meta");
const APPLIED: &str = "applied";

/// The follower's pinset and applied index; clones share the database and the feed.
#[derive(Clone, Debug)]
pub struct FollowStore {
    db: Arc<Database>,
    feed: Feed,
}

fn db(e: impl std::fmt::Display) -> StateError {
    StateError::Db(e.to_string())
}

impl FollowStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        Ok(Self {
            db: state::open(path)?,
            feed: tokio::sync::broadcast::channel(FEED_CAPACITY).0,
        })
    }

    /// Read access to the pins.
    pub fn pins(&self) -> PinStore {
        PinStore::new(self.db.clone())
    }

    /// The feed of applied changes.
    pub fn feed(&self) -> Feed {
        self.feed.clone()
    }

    /// The last log index applied (0: none).
    pub fn applied(&self) -> Result<u64, StateError> {
        let txn = self.db.begin_read().map_err(db)?;
        let table = match txn.open_table(FOLLOW_META) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
            Err(e) => return Err(db(e)),
        };
        Ok(table.get(APPLIED).map_err(db)?.map_or(0, |v| v.value()))
    }

    /// Applies `ops` (in log order) and records `through` as applied, durably.
    pub fn apply(&self, ops: &[(u64, PinOp)], through: u64) -> Result<(), StateError> {
        let mut changes = Vec::new();
        let mut txn = self.db.begin_write().map_err(db)?;
        txn.set_durability(redb::Durability::Immediate).map_err(db)?;
        {
            let mut pins = state::PinsWriter::open(&txn)?;
            for (_, op) in ops {
                pins.apply(op)?;
                Change::collect(op, &mut changes);
            }
            txn.open_table(FOLLOW_META)
                .map_err(db)?
                .insert(APPLIED, through)
                .map_err(db)?;
        }
        txn.commit().map_err(db)?;
        self.announce(changes);
        Ok(())
    }

    /// Replaces the pinset with the snapshot file `file` (one JSON pin per line) at log index
    /// `index`; returns how many pins it holds.
    pub fn install(&self, file: &Path, index: u64) -> Result<u64, StateError> {
        let input = std::io::BufReader::new(std::fs::File::open(file)?);
        let mut txn = self.db.begin_write().map_err(db)?;
        txn.set_durability(redb::Durability::Immediate).map_err(db)?;
        let mut count = 0;
        {
            state::clear(&txn)?;
            let mut pins = state::PinsWriter::open(&txn)?;
            for pin in state::read_export(input) {
                pins.apply(&PinOp::Pin(Box::new(pin?)))?;
                count += 1;
            }
            txn.open_table(FOLLOW_META)
                .map_err(db)?
                .insert(APPLIED, index)
                .map_err(db)?;
        }
        txn.commit().map_err(db)?;
        self.announce(vec![Change::Reset]);
        Ok(count)
    }

    fn announce(&self, changes: Vec<Change>) {
        if !changes.is_empty() && self.feed.receiver_count() > 0 {
            let _ = self.feed.send(changes.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::pin_of as pin;

    #[test]
    fn changes_and_the_index_are_kept_together_and_a_snapshot_replaces_everything() {
        let dir = tempfile::tempdir().unwrap();
        let store = FollowStore::open(&dir.path().join("state.redb")).unwrap();
        assert_eq!(store.applied().unwrap(), 0);
        let (a, b) = (pin(1), pin(2));
        store
            .apply(
                &[
                    (3, PinOp::Pin(Box::new(a.clone()))),
                    (5, PinOp::Pin(Box::new(b.clone()))),
                ],
                7,
            )
            .unwrap();
        store.apply(&[(8, PinOp::Unpin(a.cid))], 8).unwrap();
        assert_eq!(store.applied().unwrap(), 8);
        assert!(!store.pins().contains(&a.cid).unwrap());
        assert!(store.pins().contains(&b.cid).unwrap());

        let snapshot = dir.path().join("snap");
        let c = pin(3);
        std::fs::write(&snapshot, format!("{}\n", serde_json::to_string(&c).unwrap())).unwrap();
        let mut changes = store.feed().subscribe();
        assert_eq!(store.install(&snapshot, 40).unwrap(), 1);
        assert_eq!(store.applied().unwrap(), 40);
        assert!(store.pins().contains(&c.cid).unwrap());
        assert!(!store.pins().contains(&b.cid).unwrap());
        assert_eq!(&*changes.try_recv().unwrap(), &[Change::Reset]);

        drop(store);
        let reopened = FollowStore::open(&dir.path().join("state.redb")).unwrap();
        assert_eq!(reopened.applied().unwrap(), 40);
        assert_eq!(reopened.pins().len().unwrap(), 1);
    }

    #[test]
    fn a_bad_snapshot_line_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FollowStore::open(&dir.path().join("state.redb")).unwrap();
        let a = pin(1);
        store.apply(&[(1, PinOp::Pin(Box::new(a.clone())))], 1).unwrap();
        let snapshot = dir.path().join("snap");
        std::fs::write(&snapshot, "{\"not\": \"a pin\"}\n").unwrap();
        assert!(store.install(&snapshot, 9).is_err());
        assert_eq!(store.applied().unwrap(), 1);
        assert!(store.pins().contains(&a.cid).unwrap());
    }
}
