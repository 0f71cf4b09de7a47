//! Listeners and the accept loop: the gateway as a running server.
//!
//! # Where it sits
//! The binary (or a test) calls [`Server::bind`], reads [`Server::local_addrs`] (port 0 picks
//! a free port), then [`Server::serve`] until its shutdown future resolves. Each accepted
//! socket is served by `connection::serve` over the stack from `stack`.
//!
//! # Invariants
//! - The configuration is validated, and TLS certificates loaded, before any socket is bound.
//! - With `ssl_cert_file`/`ssl_key_file`, TCP listeners speak only TLS; a handshake that does
//!   not finish within the head timeout (`read_header_timeout`, else [`HANDSHAKE_LIMIT`])
//!   closes the connection and frees its slot.
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
/// Handshake limit when `read_header_timeout` is off.
pub const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid; nothing was bound.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The TLS certificate, key or upstream trust anchors could not be loaded.
    #[error("TLS")]
    Tls(#[from] crate::tls::TlsError),
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
    tls: Option<Tls>,
}

/// TLS on accepted TCP connections.
#[derive(Clone)]
struct Tls {
    acceptor: tokio_rustls::TlsAcceptor,
    limit: Duration,
}

impl Server {
    /// Validates `config`, builds the forwarding stack and binds every listen address.
    pub async fn bind(config: ProxyConfig) -> Result<Self, ServerError> {
        config.validate()?;
        let stack = stack::build(&config)?;
        Self::bind_with(&config, stack).await
    }

    /// Validates `config`, then binds with a given stack; for callers that assemble their own.
    pub async fn bind_with(config: &ProxyConfig, stack: Stack) -> Result<Self, ServerError> {
        config.validate()?;
        let tls = match config.server_tls() {
            Some(files) => Some(Tls {
                acceptor: tokio_rustls::TlsAcceptor::from(crate::tls::server_config(&files)?),
                limit: config.read_header_timeout.unwrap_or(HANDSHAKE_LIMIT),
            }),
            None => None,
        };
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
            tls,
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
                Serving {
                    shared: self.shared.clone(),
                    stop: stop_rx.clone(),
                    tls: self.tls.clone(),
                },
                slots.clone(),
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

/// What each accepted connection is served with.
struct Serving {
    shared: Shared,
    stop: watch::Receiver<bool>,
    tls: Option<Tls>,
}

async fn accept_loop(listener: Listener, serving: Serving, slots: Arc<Semaphore>) {
    if let Some(addr) = listener.local_addr() {
        let scheme = if serving.tls.is_some() { "https" } else { "http" };
        tracing::debug!(addr = %listen_multiaddr(&addr), scheme, "listening");
    }
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let accepted = match &listener {
            Listener::Tcp(l) => l.accept().await.map(|(s, peer)| {
                // Replies are written whole; Nagle would only hold a small last segment.
                let _ = s.set_nodelay(true);
                match &serving.tls {
                    Some(tls) => spawn_tls(s, peer.ip(), &serving, tls.clone(), slot),
                    None => spawn(s, Some(peer.ip()), &serving.shared, &serving.stop, slot),
                }
            }),
            Listener::Unix(l, _) => l
                .accept()
                .await
                .map(|(s, _)| spawn(s, None, &serving.shared, &serving.stop, slot)),
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

/// Finishes the TLS handshake (bounded), then serves the connection.
fn spawn_tls(
    tcp: tokio::net::TcpStream,
    client: std::net::IpAddr,
    serving: &Serving,
    tls: Tls,
    slot: tokio::sync::OwnedSemaphorePermit,
) {
    let (shared, stop) = (serving.shared.clone(), serving.stop.clone());
    tokio::spawn(async move {
        match tokio::time::timeout(tls.limit, tls.acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => connection::serve(stream, Some(client), shared, stop, slot).await,
            Ok(Err(err)) => tracing::debug!(%client, error = %err, "TLS handshake failed"),
            Err(_) => tracing::debug!(%client, "TLS handshake timed out"),
        }
    });
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}
