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
