//! `cairn node`: the embedded IPFS node (`ipfs::embedded`) alone, without a cluster peer.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cairn_node::NodeIdentity;

use super::{CliError, logging, shutdown_signal};
use crate::identity::Identity;
use crate::ipfs::embedded::{NODE_DIR, identity_of, start};

/// Arguments of `cairn node`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the node's API listens.
    #[arg(long, default_value = "127.0.0.1:5001", value_name = "ADDR")]
    listen: SocketAddr,
    /// Block store directory (default: <config dir>/ipfs).
    #[arg(long, value_name = "DIR")]
    repo: Option<PathBuf>,
}

/// `cairn node`: the embedded IPFS node alone, until Ctrl-C or SIGTERM.
pub(super) fn run(dir: &Path, args: Args, log_flags: &logging::Flags) -> Result<(), CliError> {
    let identity = node_identity(dir)?;
    let repo = args.repo.unwrap_or_else(|| dir.join(NODE_DIR));
    let _logs = logging::init(log_flags, &[])?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let node = start(&repo, args.listen, identity, None, Vec::new(), stop_rx)
            .await
            .context("starting the embedded IPFS node")?;
        println!("cairn node ready: api {}", node.addr);
        shutdown_signal().await;
        let _ = stop_tx.send(true);
        let _ = node.task.await;
        Ok(())
    })
}

/// The peer's identity as the node shows it in `id` (one identity per peer, as with kubo
/// and ipfs-cluster each having their own; the node reuses the peer's key, it has no swarm).
pub(super) fn node_identity(dir: &Path) -> Result<NodeIdentity, CliError> {
    let path = dir.join("identity.json");
    let identity = if path.exists() {
        Identity::load(&path).map_err(|e| CliError::Config(e.to_string()))?
    } else {
        Identity::generate()
    };
    Ok(identity_of(&identity))
}
