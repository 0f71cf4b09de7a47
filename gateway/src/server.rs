//! Listeners and the accept loop: the gateway as a running server.
//!
//! # Where it sits
//! The binary (or a test) calls [`Server::bind`], reads [`Server::local_addrs`] (port 0 picks
//! a free port), then [`Server::serve`] until its shutdown future resolves. Each accepted
//! socket is served by `connection::serve` over the stack from `stack`.
//!
//! # Invariants
//! - The configuration is validated before any socket is bound.
//! - At most `max_connections` connections are served at once; beyond that, accepting pauses
//!   (the kernel backlog holds new clients) instead of spawning unbounded work.
//! - On shutdown, listeners close first, open connections are asked to finish their current
//!   exchange and close, and `serve` returns once they have (or after [`SHUTDOWN_GRACE`]).

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::config::{ConfigError, ListenAddr, ProxyConfig, listen_multiaddr};
use crate::connection::{self, Shared};
use crate::stack::{self, Stack};

/// How long open connections get to finish after shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid; nothing was bound.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address, as a multiaddr.
        addr: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

/// A bound gateway, ready to serve.
pub struct Server {
    listeners: Vec<Listener>,
    shared: Shared,
    max_connections: usize,
}

impl Server {
    /// Validates `config`, builds the forwarding stack and binds every listen address.
    pub async fn bind(config: ProxyConfig) -> Result<Self, ServerError> {
        let stack = stack::build(&config);
        Self::bind_with(&config, stack).await
    }

    /// Validates `config`, then binds with a given stack; for callers that assemble their own.
    pub async fn bind_with(config: &ProxyConfig, stack: Stack) -> Result<Self, ServerError> {
        config.validate()?;
        let mut listeners = Vec::with_capacity(config.listen.len());
        for addr in &config.listen {
            listeners.push(bind_one(addr).await.map_err(|source| ServerError::Bind {
                addr: listen_multiaddr(addr),
                source,
            })?);
        }
        let shared = Shared::new(config, stack);
        Ok(Self {
            listeners,
            shared,
            max_connections: config.max_connections,
        })
    }

    /// The addresses actually bound (with the real port where 0 was asked for).
    pub fn local_addrs(&self) -> Vec<ListenAddr> {
        self.listeners.iter().filter_map(Listener::local_addr).collect()
    }

    /// Serves until `shutdown` resolves, then closes gracefully.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let slots = Arc::new(Semaphore::new(self.max_connections));
        let mut accepting = JoinSet::new();
        for listener in self.listeners {
            accepting.spawn(accept_loop(
                listener,
                self.shared.clone(),
                slots.clone(),
                stop_rx.clone(),
            ));
        }
        shutdown.await;
        tracing::info!("gateway shutting down");
        let _ = stop_tx.send(true);
        accepting.shutdown().await;
        let all = u32::try_from(self.max_connections).unwrap_or(u32::MAX);
        if tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!("connections still open after the shutdown grace period");
        }
    }
}

async fn bind_one(addr: &ListenAddr) -> io::Result<Listener> {
    match addr {
        ListenAddr::Tcp(sock) => Ok(Listener::Tcp(TcpListener::bind(sock).await?)),
        ListenAddr::Unix(path) => {
            remove_stale_socket(path)?;
            Ok(Listener::Unix(UnixListener::bind(path)?, path.clone()))
        }
    }
}

/// Removes a leftover socket file nobody listens on; refuses to touch anything else.
fn remove_stale_socket(path: &PathBuf) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(meta)
            if meta.file_type().is_socket() && std::os::unix::net::UnixStream::connect(path).is_err() =>
        {
            std::fs::remove_file(path)
        }
        _ => Ok(()),
    }
}

impl Listener {
    fn local_addr(&self) -> Option<ListenAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok().map(ListenAddr::Tcp),
            Listener::Unix(_, path) => Some(ListenAddr::Unix(path.clone())),
        }
    }
}

async fn accept_loop(listener: Listener, shared: Shared, slots: Arc<Semaphore>, stop: watch::Receiver<bool>) {
    if let Some(addr) = listener.local_addr() {
        tracing::info!(addr = %listen_multiaddr(&addr), "gateway listening");
    }
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let accepted = match &listener {
            Listener::Tcp(l) => l.accept().await.map(|(s, peer)| {
                // Replies are written whole; Nagle would only hold a small last segment.
                let _ = s.set_nodelay(true);
                spawn(s, Some(peer.ip()), &shared, &stop, slot)
            }),
            Listener::Unix(l, _) => l
                .accept()
                .await
                .map(|(s, _)| spawn(s, None, &shared, &stop, slot)),
        };
        if let Err(err) = accepted {
            tracing::warn!(error = %err, "accept failed");
            tokio::time::sleep(ACCEPT_BACKOFF).await;
        }
    }
}

fn spawn<I>(
    io: I,
    client: Option<std::net::IpAddr>,
    shared: &Shared,
    stop: &watch::Receiver<bool>,
    slot: tokio::sync::OwnedSemaphorePermit,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(connection::serve(io, client, shared.clone(), stop.clone(), slot));
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}
