//! Raw-socket HTTP for tests that must send what a well-behaved client never would.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the server did with a raw request.
#[derive(Debug)]
pub struct RawAnswer {
    /// Everything the server sent before closing (or before `wait` ran out).
    pub bytes: Vec<u8>,
    /// Whether the server closed the connection within `wait`.
    pub closed: bool,
}

impl RawAnswer {
    /// The answer as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The status code of the first answer, if any.
    pub fn status(&self) -> Option<u16> {
        self.text().split_whitespace().nth(1)?.parse().ok()
    }
}

/// Writes `request` to `addr`, then reads until the server closes or `wait` passes.
pub async fn exchange(addr: SocketAddr, request: &[u8], wait: Duration) -> anyhow::Result<RawAnswer> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request).await?;
    read_until_close(&mut stream, wait).await
}

/// Reads from `stream` until it is closed or `wait` passes.
pub async fn read_until_close(stream: &mut TcpStream, wait: Duration) -> anyhow::Result<RawAnswer> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    let until = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(until, stream.read(&mut buf)).await {
            Err(_) => return Ok(RawAnswer { bytes, closed: false }),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(RawAnswer { bytes, closed: true }),
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
        }
    }
}
