//! [`RepoStat`]: one IPFS daemon's repository figures, as kubo's `repo/stat` reports them.

use serde::{Deserialize, Serialize};

/// One IPFS daemon's `repo/stat`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoStat {
    /// Bytes used (`RepoSize`).
    pub repo_size: u64,
    /// Bytes allowed (`StorageMax`).
    pub storage_max: u64,
    /// Blocks stored (`NumObjects`; 0 when asked `size-only`).
    pub num_objects: u64,
    /// The repository's path (`RepoPath`).
    pub repo_path: String,
    /// The repository's version text (`Version`).
    pub version: String,
}
