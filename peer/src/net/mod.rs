//! The cluster's private libp2p network: a generic transport of byte messages between peers.
//!
//! # Where it sits
//! [`Net::start`] builds the swarm and spawns its [`EventLoop`]; [`Net`] is the cheap, cloneable
//! handle that sends a request (bytes) on a [`Lane`] and returns the answer (bytes), and
//! [`Inbound`] requests from other peers arrive on the receivers it returns. What the bytes
//! mean is the peer RPC's business (`rpc`); this module imports no other module of the crate.
//! The Raft lane ([`RAFT_PROTOCOL`]) has its own protocol and inbound queue, so that heartbeats
//! never wait behind cluster RPCs (join, forwarded writes, status fan-out, blocks), which share
//! [`PROTOCOL`].
//!
//! # Transport
//! TCP → private network (pnet, XSalsa20 keyed by the 32-byte cluster secret) → noise →
//! yamux, as rust-libp2p's `ipfs-private` example builds it. A peer with another secret fails
//! the pnet handshake and never gets a connection. No QUIC: pnet cannot wrap it.
//!
//! # Invariants
//! - Every channel is bounded; a full inbound queue answers the request with an error
//!   instead of growing.
//! - Every outbound request has a timeout (request-response's) and always gets an answer.

mod event_loop;

use std::time::Duration;

use bytes::Bytes;
use libp2p::{Multiaddr, PeerId, identity::Keypair};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

pub(crate) use event_loop::EventLoop;

/// Commands from [`Net`] handles to the event loop.
const COMMAND_QUEUE: usize = 256;
/// Inbound requests waiting for the peer to handle them.
pub const INBOUND_QUEUE: usize = 256;
/// The request-response protocol of cluster RPCs; its version changes with any message's
/// shape (0.4: `NestedStatus` carries a typed `GlobalPinInfo`, not JSON text; 0.5: a call the
/// sender may not make is answered `Response::Unauthorized`).
pub const PROTOCOL: &str = "/cairn/rpc/0.5.0";
/// The request-response protocol of Raft's RPCs (0.4: `Response::Unauthorized`, as above).
pub const RAFT_PROTOCOL: &str = "/cairn/raft/0.4.0";
/// Raft requests waiting for the peer's Raft.
pub const RAFT_QUEUE: usize = 256;
/// Streams of one protocol open at once on one connection.
pub const MAX_STREAMS: usize = 256;
/// The largest request or response accepted (Raft appends and snapshot chunks fit well below).
pub const MAX_MESSAGE: u64 = 16 * 1024 * 1024;

/// Why a request did not get an answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NetError {
    /// The peer could not be dialled or the connection failed (wrong secret, down, …).
    #[error("peer {peer} unreachable: {reason}")]
    Unreachable {
        /// The peer.
        peer: PeerId,
        /// What failed.
        reason: String,
    },
    /// The request was sent but no answer came in time; it may still have been acted on.
    #[error("peer {peer} did not answer in time")]
    Timeout {
        /// The peer.
        peer: PeerId,
    },
    /// The peer received the request but could not handle it (queue full, shutting down).
    #[error("peer {peer} refused the request: {reason}")]
    Refused {
        /// The peer.
        peer: PeerId,
        /// Its reason.
        reason: String,
    },
    /// The event loop has stopped.
    #[error("the cluster network has stopped")]
    Stopped,
}

/// Which protocol, and which inbound queue, a request travels on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Raft's own RPCs ([`RAFT_PROTOCOL`]).
    Raft,
    /// Everything else ([`PROTOCOL`]).
    Cluster,
}

/// An answer as it travels: the receiver's reply, or why the receiving network refused the
/// request before anyone handled it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Answer {
    Reply(Bytes),
    Refused(String),
}

/// A request from another peer, and where its answer goes.
pub struct Inbound {
    /// Who asked.
    pub peer: PeerId,
    /// What they asked.
    pub request: Bytes,
    /// Send the answer here (dropping it refuses the request).
    pub reply: oneshot::Sender<Bytes>,
}

pub(crate) enum Command {
    Request {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        lane: Lane,
        request: Bytes,
        reply: oneshot::Sender<Result<Bytes, NetError>>,
    },
    /// Publish on [`METRICS_TOPIC`].
    Publish(Vec<u8>),
    /// Dial the peer unless connected (gossip reaches connected peers only).
    Connect(PeerId, Vec<Multiaddr>),
}

/// A message another peer published on [`METRICS_TOPIC`] (signed by `source`).
#[derive(Debug)]
pub struct Gossip {
    /// The peer that signed it.
    pub source: PeerId,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// The gossipsub topic metrics travel on (ipfs-cluster's name).
pub const METRICS_TOPIC: &str = "monitor.metrics";
/// Received metrics waiting for the monitor; beyond it they are dropped (the next one comes).
pub const GOSSIP_QUEUE: usize = 1024;

/// What arrives from other peers: requests to answer and published metrics.
pub struct Incoming {
    /// Cluster requests (see [`Inbound`]).
    pub requests: mpsc::Receiver<Inbound>,
    /// Raft's requests.
    pub raft: mpsc::Receiver<Inbound>,
    /// Metrics (see [`Gossip`]).
    pub gossip: mpsc::Receiver<Gossip>,
}

/// A handle to the running network; cheap to clone.
#[derive(Clone, Debug)]
pub struct Net {
    commands: mpsc::Sender<Command>,
    /// This peer's id.
    pub peer_id: PeerId,
    /// The addresses the swarm listens on, with `/p2p/<id>` appended.
    pub addrs: Vec<Multiaddr>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Request { peer, .. } => write!(f, "Request({peer})"),
            Command::Publish(data) => write!(f, "Publish({} bytes)", data.len()),
            Command::Connect(peer, _) => write!(f, "Connect({peer})"),
        }
    }
}

/// Settings for [`Net::start`].
#[derive(Clone, Debug)]
pub struct Settings {
    /// The peer's key.
    pub keypair: Keypair,
    /// The cluster secret (pnet pre-shared key).
    pub secret: [u8; 32],
    /// Where to listen.
    pub listen: Vec<Multiaddr>,
    /// How long a request may wait for its answer.
    pub request_timeout: Duration,
}

impl Net {
    /// Builds the swarm, starts listening, and spawns the event loop.
    pub async fn start(settings: Settings) -> Result<(Net, Incoming), String> {
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
        let (raft_tx, raft_rx) = mpsc::channel(RAFT_QUEUE);
        let (gossip_tx, gossip_rx) = mpsc::channel(GOSSIP_QUEUE);
        let peer_id = settings.keypair.public().to_peer_id();
        let (event_loop, addrs) =
            EventLoop::new(&settings, command_rx, inbound_tx, raft_tx, gossip_tx).await?;
        tokio::spawn(event_loop.run());
        let addrs = addrs
            .into_iter()
            .map(|a| a.with(libp2p::multiaddr::Protocol::P2p(peer_id)))
            .collect();
        Ok((
            Net {
                commands,
                peer_id,
                addrs,
            },
            Incoming {
                requests: inbound_rx,
                raft: raft_rx,
                gossip: gossip_rx,
            },
        ))
    }

    /// Publishes `data` on [`METRICS_TOPIC`]; dropped when the network is too busy to queue it.
    pub fn publish(&self, data: Vec<u8>) {
        let _ = self.commands.try_send(Command::Publish(data));
    }

    /// Dials `peer` unless already connected (never waits).
    pub fn connect(&self, peer: PeerId, addrs: Vec<Multiaddr>) {
        let _ = self.commands.try_send(Command::Connect(peer, addrs));
    }

    /// Sends `request` to `peer` on `lane` (dialling `addrs` if not connected) and awaits the
    /// answer.
    pub async fn request(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        lane: Lane,
        request: Bytes,
    ) -> Result<Bytes, NetError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Request {
            peer,
            addrs,
            lane,
            request,
            reply,
        };
        self.commands.send(command).await.map_err(|_| NetError::Stopped)?;
        answer.await.map_err(|_| NetError::Stopped)?
    }
}

/// Splits `/…/p2p/<id>` into the peer id and the address without it.
pub fn split_p2p(addr: &Multiaddr) -> Option<(PeerId, Multiaddr)> {
    let mut base = addr.clone();
    match base.pop()? {
        libp2p::multiaddr::Protocol::P2p(peer) => Some((peer, base)),
        _ => None,
    }
}
