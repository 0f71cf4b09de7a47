//! The IPFS daemon a peer uses: the embedded cairn-node (default) or a configured daemon.
//!
//! The gateway of `cairn daemon` fronts this same daemon, so the content a client adds through
//! the gateway lands where the peer pins. `cairn node` runs the embedded node alone.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use cairn_gateway::upstream::Target;
use std::sync::Arc;

use cairn_node::{BlockSource, DEFAULT_STORAGE_MAX, Node, NodeConfig, NodeIdentity};

use super::{CliError, logging, shutdown_signal};
use crate::identity::Identity;

/// The node's repository inside a peer's config directory.
pub(super) const NODE_DIR: &str = "ipfs";

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

/// A running embedded node: its address, its blocks, and the task serving it.
pub(super) struct Embedded {
    pub(super) addr: SocketAddr,
    pub(super) blocks: cairn_node::Blocks,
    pub(super) task: tokio::task::JoinHandle<()>,
}

/// `cairn node`: the embedded IPFS node alone, until Ctrl-C or SIGTERM.
pub(super) fn run(dir: &Path, args: Args) -> Result<(), CliError> {
    let identity = node_identity(dir)?;
    let repo = args.repo.unwrap_or_else(|| dir.join(NODE_DIR));
    logging::init(None)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let node = start(&repo, args.listen, identity, None, Vec::new(), stop_rx).await?;
        println!("cairn node ready: api {}", node.addr);
        shutdown_signal().await;
        let _ = stop_tx.send(true);
        let _ = node.task.await;
        Ok(())
    })
}

/// Opens the node in `repo` and serves it on `listen` until `stop` turns true.
pub(super) async fn start(
    repo: &Path,
    listen: SocketAddr,
    identity: NodeIdentity,
    source: Option<Arc<dyn BlockSource>>,
    extra_origins: Vec<String>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Embedded, CliError> {
    let node = Node::open(repo, source).context("opening the embedded IPFS node")?;
    let config = NodeConfig {
        repo: repo.to_path_buf(),
        listen,
        identity,
        extra_origins,
        storage_max: DEFAULT_STORAGE_MAX,
    };
    let server = node
        .bind(config)
        .await
        .context("binding the embedded IPFS node")?;
    let addr = server.local_addr().context("embedded node address")?;
    let task = tokio::spawn(server.serve(async move {
        let _ = stop.wait_for(|s| *s).await;
    }));
    Ok(Embedded {
        addr,
        blocks: node.blocks().clone(),
        task,
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

/// The [`NodeIdentity`] of a loaded peer identity.
pub(super) fn identity_of(identity: &Identity) -> NodeIdentity {
    let public = identity.keypair.public().encode_protobuf();
    NodeIdentity {
        peer_id: identity.peer_id.to_string(),
        public_key: base64::engine::general_purpose::STANDARD.encode(public),
    }
}

/// Origins the embedded node accepts besides its own: the gateway's (its configured TCP
/// ports, and its `allowed_origins`), since the gateway forwards a browser's `Origin`.
pub(super) fn gateway_origins(proxy: &cairn_gateway::ProxyConfig) -> Vec<String> {
    let mut origins = proxy.allowed_origins.clone();
    for addr in &proxy.listen {
        if let cairn_gateway::config::ListenAddr::Tcp(socket) = addr
            && socket.port() != 0
        {
            for host in ["127.0.0.1", "localhost", "[::1]"] {
                for scheme in ["http", "https"] {
                    origins.push(format!("{scheme}://{host}:{}", socket.port()));
                }
            }
        }
    }
    origins
}

/// The gateway's upstream for an embedded node at `addr`.
pub(super) fn target_of(addr: SocketAddr) -> Target {
    Target::Tcp {
        host: addr.ip().to_string(),
        port: addr.port(),
    }
}
