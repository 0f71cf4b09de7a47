//! The upstream IPFS daemon: where it is and how to dial it.
//!
//! An upstream is written as a multiaddr, like ipfs-cluster's `node_multiaddress`:
//! `/ip4/127.0.0.1/tcp/5001`, `/ip6/::1/tcp/5001`, `/dns4/ipfs.local/tcp/5001` (resolved at
//! dial time, never up front) or `/unix/path/to/api.sock` (everything after `/unix` is the
//! path, as go-multiaddr reads it). A trailing `/http` is accepted.
//!
//! [`Connector`] is the `tower::Service<Uri>` handed to hyper-util's pooled client. It ignores
//! the URI and always dials the configured [`Target`], with a connect timeout, so one pool
//! serves every request.
//!
//! With `node_https` (or a multiaddr ending in `/https` or `/tls/http`), TCP connections are
//! wrapped in TLS (`tls`), the certificate checked against the target's host name.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use multiaddr::{Multiaddr, Protocol};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// Where the upstream daemon's RPC API listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A host (IP literal or DNS name) and TCP port.
    Tcp {
        /// IP literal or DNS name, resolved at dial time.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A unix domain socket path.
    Unix(PathBuf),
}

/// Why a multiaddr cannot name an upstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid upstream multiaddr {input:?}: {reason}")]
pub struct AddrError {
    /// The text that was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Target {
    /// Reads an upstream multiaddr (see the module docs for the accepted forms).
    pub fn from_multiaddr(input: &str) -> Result<Self, AddrError> {
        let fail = |reason: String| AddrError {
            input: input.to_owned(),
            reason,
        };
        if let Some(path) = input.strip_prefix("/unix/") {
            return unix_target(path).map_err(|r| fail(r.to_owned()));
        }
        let addr: Multiaddr = input.parse().map_err(|e| fail(format!("{e}")))?;
        tcp_target(&addr).map_err(fail)
    }

    /// The `host:port` authority used in upstream request URIs (`localhost` for unix sockets).
    pub fn authority(&self) -> String {
        match self {
            Target::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
            Target::Tcp { host, port } => format!("{host}:{port}"),
            Target::Unix(_) => "localhost".to_owned(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp { .. } => write!(f, "{}", self.authority()),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

fn unix_target(path: &str) -> Result<Target, &'static str> {
    let path = path.strip_suffix("/http").unwrap_or(path);
    if path.is_empty() {
        return Err("empty unix socket path");
    }
    Ok(Target::Unix(PathBuf::from(format!("/{path}"))))
}

fn tcp_target(addr: &Multiaddr) -> Result<Target, String> {
    let mut parts = addr.iter();
    let host = match parts.next() {
        Some(Protocol::Ip4(ip)) => ip.to_string(),
        Some(Protocol::Ip6(ip)) => ip.to_string(),
        Some(Protocol::Dns(name) | Protocol::Dns4(name) | Protocol::Dns6(name)) => name.into_owned(),
        _ => return Err("must start with /ip4, /ip6, /dns, /dns4, /dns6 or /unix".to_owned()),
    };
    let port = match parts.next() {
        Some(Protocol::Tcp(port)) => port,
        _ => return Err("the host must be followed by /tcp/<port>".to_owned()),
    };
    match parts.next() {
        None | Some(Protocol::Http | Protocol::Https) => {}
        Some(Protocol::Tls) if matches!(parts.next(), None | Some(Protocol::Http)) => {}
        Some(other) => return Err(format!("unexpected component {other} after the port")),
    }
    Ok(Target::Tcp { host, port })
}

/// Whether a multiaddr asks for TLS (`/https`, `/tls` or `/tls/http` after the port).
pub fn multiaddr_wants_tls(input: &str) -> bool {
    input.ends_with("/https") || input.ends_with("/tls") || input.ends_with("/tls/http")
}

/// Dials the configured [`Target`] for hyper-util's pooled client, whatever the URI says.
#[derive(Clone)]
pub struct Connector {
    target: Arc<Target>,
    connect_timeout: Option<Duration>,
    tls: Option<tokio_rustls::TlsConnector>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("target", &self.target)
            .field("connect_timeout", &self.connect_timeout)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Connector {
    /// A connector for `target`; `connect_timeout` of `None` waits as long as the OS does.
    pub fn new(target: Target, connect_timeout: Option<Duration>) -> Self {
        Self {
            target: Arc::new(target),
            connect_timeout,
            tls: None,
        }
    }

    /// The same connector, speaking TLS over TCP with `config` (`None` = plain).
    pub fn with_tls(mut self, config: Option<Arc<tokio_rustls::rustls::ClientConfig>>) -> Self {
        self.tls = config.map(tokio_rustls::TlsConnector::from);
        self
    }
}

impl tower::Service<http::Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: http::Uri) -> Self::Future {
        let (target, limit, tls) = (self.target.clone(), self.connect_timeout, self.tls.clone());
        Box::pin(async move {
            let stream = match limit {
                Some(limit) => tokio::time::timeout(limit, dial(&target, tls.as_ref()))
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??,
                None => dial(&target, tls.as_ref()).await?,
            };
            Ok(TokioIo::new(stream))
        })
    }
}

async fn dial(target: &Target, tls: Option<&tokio_rustls::TlsConnector>) -> io::Result<Stream> {
    match target {
        Target::Tcp { host, port } => {
            let stream = TcpStream::connect((host.as_str(), *port)).await?;
            stream.set_nodelay(true)?;
            let Some(tls) = tls else {
                return Ok(Stream::Tcp(stream));
            };
            let name = crate::tls::server_name(host)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
            Ok(Stream::Tls(Box::new(tls.connect(name, stream).await?)))
        }
        Target::Unix(path) => Ok(Stream::Unix(UnixStream::connect(path).await?)),
    }
}

/// A connection to the upstream: TCP, TLS over TCP, or unix socket.
#[derive(Debug)]
pub enum Stream {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A TLS connection over TCP.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// A unix domain socket connection.
    Unix(UnixStream),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Target {
        Target::Tcp {
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn reads_the_node_multiaddress_forms() {
        assert_eq!(
            Target::from_multiaddr("/ip4/127.0.0.1/tcp/5001").unwrap(),
            tcp("127.0.0.1", 5001)
        );
        assert_eq!(
            Target::from_multiaddr("/ip4/127.0.0.1/tcp/5001/http").unwrap(),
            tcp("127.0.0.1", 5001)
        );
        assert_eq!(
            Target::from_multiaddr("/ip6/::1/tcp/5001").unwrap(),
            tcp("::1", 5001)
        );
        assert_eq!(
            Target::from_multiaddr("/dns4/ipfs.local/tcp/80").unwrap(),
            tcp("ipfs.local", 80)
        );
        assert_eq!(
            Target::from_multiaddr("/unix/run/ipfs/api.sock").unwrap(),
            Target::Unix(PathBuf::from("/run/ipfs/api.sock"))
        );
    }

    #[test]
    fn refuses_what_cannot_be_dialled() {
        for bad in [
            "",
            "127.0.0.1:5001",
            "/ip4/127.0.0.1",
            "/ip4/127.0.0.1/udp/5001",
            "/unix/",
            "/ip4/1.2.3.4/tcp/1/ws",
            "/ip4/1.2.3.4/tcp/1/tls/ws",
        ] {
            assert!(Target::from_multiaddr(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn tls_suffixes_are_read() {
        for input in [
            "/ip4/127.0.0.1/tcp/5001/https",
            "/dns4/x/tcp/443/tls/http",
            "/ip4/1.2.3.4/tcp/1/tls",
        ] {
            assert!(Target::from_multiaddr(input).is_ok(), "{input}");
            assert!(multiaddr_wants_tls(input), "{input}");
        }
        assert!(!multiaddr_wants_tls("/ip4/127.0.0.1/tcp/5001/http"));
    }

    #[test]
    fn authority_brackets_ipv6() {
        assert_eq!(tcp("::1", 5001).authority(), "[::1]:5001");
        assert_eq!(tcp("127.0.0.1", 5001).authority(), "127.0.0.1:5001");
    }
}
