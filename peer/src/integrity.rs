//! The data directory's integrity, checked before a peer starts: a peer never starts silently
//! with an empty or partial pinset because a file was damaged.
//!
//! # Owns
//! [`check`]: every redb file of the peer (`raft-log.redb`, `state.redb`, `ipfs/blocks.redb`)
//! is opened once with redb's integrity check (every page's checksum; without it redb trusts a
//! file it shut down cleanly and may even panic on damage), and the snapshot `current.json`
//! names is present with the size and SHA-256 it recorded. `identity.json` and `service.json`
//! are checked where they are loaded (`identity`, `config`).
//!
//! # Invariants
//! - A damaged file stops the start with [`Damaged`], which names the file, what is wrong, and
//!   the ways out; nothing is repaired or removed silently.
//! - A file that does not exist yet is fine (a new peer creates it).

use std::path::{Path, PathBuf};

use crate::consensus::state_machine;

/// A file of the data directory that cannot be trusted.
#[derive(Debug, thiserror::Error)]
#[error(
    "{file} is damaged: {reason}. This peer will not start on it. Ways out: restore the file from \
     a backup; or rebuild this peer's pinset from an export of a healthy peer (`cairn state export` \
     there, `cairn state import FILE --force` here); or remove this peer from the cluster \
     (`cairn peers rm <id>` on a healthy peer), delete raft-log.redb, state.redb and snapshots/ \
     here, and start it with --bootstrap <a member's address> to join again and catch up"
)]
pub struct Damaged {
    /// The file.
    pub file: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// Checks the peer's data directory `dir` (see the module docs).
pub fn check(dir: &Path) -> Result<(), Damaged> {
    for name in ["raft-log.redb", "state.redb", "ipfs/blocks.redb"] {
        check_redb(&dir.join(name))?;
    }
    state_machine::check_snapshot(&dir.join("snapshots")).map_err(|(file, reason)| Damaged { file, reason })
}

fn check_redb(path: &Path) -> Result<(), Damaged> {
    if !path.exists() {
        return Ok(());
    }
    let damaged = |reason: String| Damaged {
        file: path.to_path_buf(),
        reason,
    };
    let opened = std::panic::catch_unwind(|| {
        redb::Builder::new()
            .set_check_integrity_on_open(true)
            .set_cache_size(4 * 1024 * 1024)
            .open(path)
            .map(drop)
    });
    match opened {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(damaged(e.to_string())),
        Err(_) => Err(damaged("redb could not read it".into())),
    }
}
