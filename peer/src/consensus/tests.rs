//! openraft's own storage conformance suite against the redb log store and state machine.

use openraft::testing::{StoreBuilder, Suite};

use super::log_store::LogStore;
use super::state_machine::StateMachine;
use super::{StorageError, TypeConfig};

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir()
            .map_err(|e| StorageError::from(openraft::StorageIOError::write(super::any_error(e))))?;
        let log = LogStore::open(&dir.path().join("raft-log.redb"))?;
        let db = crate::state::open(&dir.path().join("state.redb"))
            .map_err(|e| StorageError::from(openraft::StorageIOError::write(super::any_error(e))))?;
        let sm = StateMachine::new(db, &dir.path().join("snapshots"))?;
        Ok((dir, log, sm))
    }
}

#[test]
fn redb_store_passes_openraft_storage_suite() {
    Suite::test_all(Builder).unwrap();
}

#[test]
fn node_ids_are_stable() {
    assert_eq!(super::node_id("12D3KooWA"), super::node_id("12D3KooWA"));
    assert_ne!(super::node_id("12D3KooWA"), super::node_id("12D3KooWB"));
}

#[test]
fn leftovers_of_a_crash_are_removed_from_the_snapshot_directory_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let snapshots = dir.path().join("snapshots");
    std::fs::create_dir_all(&snapshots).expect("mkdir");
    std::fs::write(snapshots.join("incoming-1-0.tmp"), b"half a snapshot").expect("write");
    std::fs::write(snapshots.join("7-3.snap"), b"a snapshot no current.json names").expect("write");
    let db = crate::state::open(&dir.path().join("state.redb")).expect("state");
    StateMachine::new(db, &snapshots).expect("state machine");
    let left: Vec<_> = std::fs::read_dir(&snapshots).expect("read_dir").collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[tokio::test]
async fn a_built_snapshot_is_recorded_with_its_size_and_digest_and_passes_the_check() {
    use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
    let dir = tempfile::tempdir().expect("tempdir");
    let snapshots = dir.path().join("snapshots");
    let db = crate::state::open(&dir.path().join("state.redb")).expect("state");
    let mut sm = StateMachine::new(db, &snapshots).expect("state machine");
    let snapshot = sm
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .expect("build");
    let current: serde_json::Value =
        serde_json::from_slice(&std::fs::read(snapshots.join("current.json")).expect("current.json"))
            .expect("json");
    assert_eq!(current["file"], format!("{}.snap", snapshot.meta.snapshot_id));
    assert_eq!(current["digest"]["bytes"], 0, "an empty pinset is an empty file");
    assert!(super::state_machine::check_snapshot(&snapshots).is_ok());
    std::fs::write(snapshots.join(current["file"].as_str().expect("file")), b"{}\n").expect("damage");
    let damaged = super::state_machine::check_snapshot(&snapshots).expect_err("a damaged snapshot");
    assert!(damaged.1.contains("SHA-256"), "{}", damaged.1);
}

/// Committed log ids cost no fsync of their own while writes flow: queued ones are held and
/// the latest is written once, alone with fsync, after the writer has been idle a moment.
#[tokio::test]
async fn committed_log_ids_are_held_then_written_once_when_the_writer_is_idle() {
    use std::sync::atomic::Ordering;

    use openraft::storage::RaftLogStorage;
    use openraft::{CommittedLeaderId, LogId};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = LogStore::open(&dir.path().join("raft-log.redb")).expect("open");
    let stats = log.stats();
    let before = stats.appends.load(Ordering::Relaxed);
    for index in 1..=3 {
        let id = LogId::new(CommittedLeaderId::new(1, 7), index);
        log.save_committed(Some(id)).await.expect("save");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while log.read_committed().await.expect("read").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the committed id was never written"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let read = log.read_committed().await.expect("read");
    assert_eq!(read.map(|l| l.index), Some(3));
    assert_eq!(
        stats.appends.load(Ordering::Relaxed) - before,
        1,
        "one commit for three ids"
    );
}

/// A replication read stops at [`REPLICATION_READ_BYTES`] of stored entries (and always
/// returns the first), whether the entries are still pending or already on disk.
#[tokio::test]
async fn replication_reads_stop_at_their_byte_bound_and_return_at_least_one_entry() {
    use openraft::storage::{RaftLogReader, RaftLogStorageExt};
    use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};

    use super::log_store::REPLICATION_READ_BYTES;
    use crate::state::PinOp;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = LogStore::open(&dir.path().join("raft-log.redb")).expect("open");
    // Entries of about 300 KB stored.
    let entry = |index| Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 0), index),
        payload: EntryPayload::Normal(PinOp::Batch(vec![PinOp::Unpin(cid::Cid::default()); 15_000])),
    };
    log.blocking_append((1..=12).map(entry)).await.expect("append");
    let stored = serde_json::to_vec(&entry(1)).expect("encode").len();
    assert!(
        stored > 200_000 && stored < REPLICATION_READ_BYTES / 2,
        "{stored} bytes an entry"
    );
    let read = log.limited_get_log_entries(1, 13).await.expect("read");
    let expected = REPLICATION_READ_BYTES / stored;
    assert_eq!(read.len(), expected, "{stored} bytes an entry");
    assert_eq!(
        read.iter().map(|e| e.log_id.index).collect::<Vec<_>>(),
        (1..=expected as u64).collect::<Vec<_>>()
    );
    let everything = log.try_get_log_entries(1..13).await.expect("read");
    assert_eq!(everything.len(), 12, "other reads are not bounded");

    let mut small = LogStore::open(&dir.path().join("small.redb")).expect("open");
    small.blocking_append([entry(1)]).await.expect("append");
    let one = small.limited_get_log_entries(1, 2).await.expect("read");
    assert_eq!(one.len(), 1);
    let huge = Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 0), 2),
        payload: EntryPayload::Normal(PinOp::Batch(vec![PinOp::Unpin(cid::Cid::default()); 120_000])),
    };
    small.blocking_append([huge]).await.expect("append");
    let first = small.limited_get_log_entries(2, 3).await.expect("read");
    assert_eq!(first.len(), 1, "an entry over the bound is still read alone");
}
