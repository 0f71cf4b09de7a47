//! [`RepoStat`]: one IPFS daemon's repository figures, kubo's vocabulary (`cairn_kubo::repo`).

pub use cairn_kubo::repo::RepoStat;
