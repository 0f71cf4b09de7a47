//! The embedded IPFS node (cairn-node) a peer runs when no external daemon is configured:
//! opened in `<config dir>/ipfs`, served on a loopback port the gateway forwards to, with the
//! other members as the source of blocks it lacks.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use cairn_gateway::upstream::Target;
use cairn_node::{BlockSource, DEFAULT_STORAGE_MAX, Node, NodeConfig, NodeError, NodeIdentity};

use crate::identity::Identity;

/// The node's repository inside a peer's config directory.
pub const NODE_DIR: &str = "ipfs";

/// Why the embedded node did not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// Its block store could not be opened.
    #[error("opening the embedded IPFS node")]
    Open(#[source] NodeError),
    /// Its API could not bind.
    #[error("binding the embedded IPFS node")]
    Bind(#[source] std::io::Error),
}

/// A running embedded node: its address, its blocks, and the task serving it.
pub struct Embedded {
    /// Where its API listens.
    pub addr: SocketAddr,
    /// Its block store.
    pub blocks: cairn_node::Blocks,
    /// The task serving it; it ends when `stop` (of [`start`]) turns true.
    pub task: tokio::task::JoinHandle<()>,
}

/// Opens the node in `repo` and serves it on `listen` until `stop` turns true.
pub async fn start(
    repo: &Path,
    listen: SocketAddr,
    identity: NodeIdentity,
    source: Option<Arc<dyn BlockSource>>,
    extra_origins: Vec<String>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Embedded, EmbeddedError> {
    let node = Node::open(repo, source).map_err(EmbeddedError::Open)?;
    let config = NodeConfig {
        repo: repo.to_path_buf(),
        listen,
        identity,
        extra_origins,
        storage_max: DEFAULT_STORAGE_MAX,
    };
    let server = node.bind(config).await.map_err(EmbeddedError::Bind)?;
    let addr = server.local_addr().map_err(EmbeddedError::Bind)?;
    let task = tokio::spawn(server.serve(async move {
        let _ = stop.wait_for(|s| *s).await;
    }));
    Ok(Embedded {
        addr,
        blocks: node.blocks().clone(),
        task,
    })
}

/// The [`NodeIdentity`] of a loaded peer identity (one identity per peer, as with kubo and
/// ipfs-cluster each having their own; the node reuses the peer's key, it has no swarm).
pub fn identity_of(identity: &Identity) -> NodeIdentity {
    let public = identity.keypair.public().encode_protobuf();
    NodeIdentity {
        peer_id: identity.peer_id.to_string(),
        public_key: base64::engine::general_purpose::STANDARD.encode(public),
    }
}

/// Origins the embedded node accepts besides its own: the gateway's (its configured TCP
/// ports, and its `allowed_origins`), since the gateway forwards a browser's `Origin`.
pub fn gateway_origins(proxy: &cairn_gateway::ProxyConfig) -> Vec<String> {
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
pub fn target_of(addr: SocketAddr) -> Target {
    Target::Tcp {
        host: addr.ip().to_string(),
        port: addr.port(),
    }
}
