//! cairn-node: a small, real IPFS node speaking the part of kubo's RPC API that Cairn and
//! everyday clients use. It is the default upstream of `cairn daemon`.
//!
//! # What it owns
//! - [`blockstore`]: blocks and pins in one redb file (durable, memory bounded).
//! - [`importer`]: `add` with kubo's defaults and options and kubo's CIDs (rust-unixfs).
//! - [`pins`]: recursive and direct pins, `indirect`, gc.
//! - [`reader`]: `cat` ranges and path resolution.
//! - [`archive`]: CAR files in (`dag/import`, CARv1 and CARv2, verified) and out (`dag/export`).
//! - [`source`]: reads that fall back to a [`BlockSource`] (other cluster peers), verified.
//! - `rpc`: the HTTP API in kubo's shapes, errors and status codes.
//!
//! # Where it sits
//! cairn-peer opens a [`Node`], binds it to a loopback port and points its gateway and its
//! IPFS connector at it; any real daemon can replace it by configuration. It depends on no
//! other workspace crate.
//!
//! # Not here
//! A swarm: the node does not speak bitswap. Blocks it lacks come through [`BlockSource`].

pub mod archive;
pub mod blockstore;
pub mod dag;
pub mod error;
mod file_import;
pub mod importer;
pub mod pins;
pub mod reader;
mod rpc;
pub mod source;
mod unixfs;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use blockstore::Blockstore;
pub use error::NodeError;
pub use rpc::Server;
pub use source::{BlockSource, Blocks};

/// The kubo release whose RPC behaviour the node follows (and whose CIDs it reproduces).
pub const KUBO_VERSION: &str = "0.22.0";
/// The node's `AgentVersion`.
pub const AGENT_VERSION: &str = concat!("cairn-node/", env!("CARGO_PKG_VERSION"));
/// `repo/stat`'s `Version`.
pub const REPO_VERSION: &str = "cairn-redb@1";
/// kubo's default `Datastore.StorageMax` (10GB).
pub const DEFAULT_STORAGE_MAX: u64 = 10_000_000_000;
const STORE_FILE: &str = "blocks.redb";

/// Who the node says it is in `id` (the embedding peer passes its own identity).
#[derive(Clone, Debug)]
pub struct NodeIdentity {
    /// The libp2p peer ID string.
    pub peer_id: String,
    /// The base64 protobuf public key, as kubo prints it.
    pub public_key: String,
}

/// How to run a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Directory of the block store.
    pub repo: PathBuf,
    /// Address for the RPC API (port 0 picks one).
    pub listen: SocketAddr,
    /// Identity shown by `id`.
    pub identity: NodeIdentity,
    /// Origins accepted besides the node's own (e.g. the gateway's), `*` for any.
    pub extra_origins: Vec<String>,
    /// `repo/stat`'s StorageMax.
    pub storage_max: u64,
}

/// Facts `repo/stat` reports.
#[derive(Clone, Debug)]
pub(crate) struct RepoInfo {
    pub(crate) path: PathBuf,
    pub(crate) storage_max: u64,
}

impl RepoInfo {
    /// Bytes the store file takes on disk.
    pub(crate) fn disk_bytes(&self) -> Option<u64> {
        std::fs::metadata(self.path.join(STORE_FILE))
            .ok()
            .map(|m| m.len())
    }
}

/// An opened node: its store and block source, ready to bind.
#[derive(Clone, Debug)]
pub struct Node {
    blocks: Blocks,
}

impl Node {
    /// Opens (or creates) the store in `repo`; `source` supplies blocks it lacks. The
    /// directories it creates are its owner's only (mode 0700); an existing one keeps its mode.
    pub fn open(repo: &Path, source: Option<Arc<dyn BlockSource>>) -> Result<Self, NodeError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(repo)
            .map_err(error::store)?;
        let store = Blockstore::open(&repo.join(STORE_FILE))?;
        Ok(Self {
            blocks: Blocks::new(store, source),
        })
    }

    /// The node's blocks (the peer serves them to other peers from here).
    pub fn blocks(&self) -> &Blocks {
        &self.blocks
    }

    /// Binds the RPC API as `config` says.
    pub async fn bind(&self, config: NodeConfig) -> std::io::Result<Server> {
        let repo = RepoInfo {
            path: config.repo,
            storage_max: config.storage_max,
        };
        Server::bind(
            config.listen,
            self.blocks.clone(),
            config.identity,
            config.extra_origins,
            repo,
        )
        .await
    }
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
