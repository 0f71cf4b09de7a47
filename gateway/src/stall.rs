//! A connection's write stall limit: a client that accepts no byte for `limit` is gone.
//!
//! # Invariants
//! - Only writes that make no progress count: a slow reader that takes a byte now and then is
//!   served for as long as it reads; one that stops reading while a response is pending is
//!   disconnected after `limit` (the write fails with `TimedOut`, hyper drops the
//!   connection, and whatever the response held — a listing slot, a page of pins — is freed).
//! - An idle connection (nothing to write) is never timed out here; `idle_timeout` does that.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Wraps a connection's socket; see the module docs.
pub struct StallGuard<I> {
    io: I,
    limit: Option<Duration>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<I> StallGuard<I> {
    /// `io` with writes limited to `limit` without progress (`None`: no limit).
    pub fn new(io: I, limit: Option<Duration>) -> Self {
        Self {
            io,
            limit,
            timer: None,
        }
    }

    /// Called when a write could not proceed: arms the timer, and fails once it ran out.
    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let Some(limit) = self.limit else {
            return Poll::Pending;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client accepted nothing for {limit:?}"),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progressed<T>(&mut self, result: Poll<io::Result<T>>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match result {
            Poll::Ready(done) => {
                self.timer = None;
                Poll::Ready(done)
            }
            Poll::Pending => self.stalled(cx),
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for StallGuard<I> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for StallGuard<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        this.progressed(result, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.progressed(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_flush(cx);
        this.progressed(result, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_reader_that_stops_reading_is_cut_off_and_a_slow_one_is_not() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut guarded = StallGuard::new(near, Some(Duration::from_millis(200)));
        let writer = tokio::spawn(async move {
            let mut sent = 0usize;
            loop {
                match guarded.write(&[7u8; 16]).await {
                    Ok(n) => sent += n,
                    Err(e) => return (sent, e.kind()),
                }
            }
        });
        // Slow but steady: a byte every 50 ms keeps the writer alive.
        let mut byte = [0u8; 1];
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            far.read_exact(&mut byte).await.expect("read");
        }
        assert!(!writer.is_finished(), "a slow reader was cut off");
        // Then it stops reading: the write fails with TimedOut.
        let (sent, kind) = writer.await.expect("writer task");
        assert_eq!(kind, io::ErrorKind::TimedOut);
        assert!(sent >= 64 + 10, "only {sent} bytes went out");
    }
}
