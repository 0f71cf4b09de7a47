//! A request body that also hands each of its data frames to a reader beside the upstream:
//! `dag/import` reads the roots of the CARs it forwards from this copy.
//!
//! # Invariants
//! - The body itself is unchanged: every frame, trailers and errors included, in order, with
//!   the same size hint (a `Content-Length` upload stays one).
//! - The copy is the same `Bytes` (no byte is copied) through a bounded channel: a slow
//!   reader slows the upload, it never makes the gateway hold it. A reader that stops (its
//!   receiver dropped) gets nothing more and the upload goes on.
//! - The copy ends when the body ends or fails: the reader sees the end of its stream.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::channel::mpsc;
use http_body::{Frame, SizeHint};

use crate::{Body, BoxError};

/// Frames of the copy in flight before the upload waits for the reader.
const COPY_BUFFER: usize = 8;

/// `body`, copied into the returned receiver as it is read.
pub(super) fn tee(body: Body) -> (Tee, mpsc::Receiver<Bytes>) {
    let (tx, rx) = mpsc::channel(COPY_BUFFER);
    let tee = Tee {
        body,
        copy: Some(tx),
        held: None,
    };
    (tee, rx)
}

/// See the module docs.
pub(super) struct Tee {
    body: Body,
    /// Where the copy goes; `None` once the reader has gone or the body ended.
    copy: Option<mpsc::Sender<Bytes>>,
    /// A frame read from `body` that waits for room in the copy before it is passed on.
    held: Option<Frame<Bytes>>,
}

impl http_body::Body for Tee {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.held.is_none() {
            match ready!(Pin::new(&mut this.body).poll_frame(cx)) {
                Some(Ok(frame)) => this.held = Some(frame),
                other => {
                    this.copy = None;
                    return Poll::Ready(other);
                }
            }
        }
        let data = this.held.as_ref().and_then(Frame::data_ref).cloned();
        if let (Some(tx), Some(data)) = (this.copy.as_mut(), data) {
            match tx.poll_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) => {
                    if tx.start_send(data).is_err() {
                        this.copy = None;
                    }
                }
                Poll::Ready(Err(_)) => this.copy = None,
            }
        }
        Poll::Ready(this.held.take().map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        self.held.is_none() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.body.size_hint();
        if let Some(held) = self.held.as_ref().and_then(Frame::data_ref) {
            let len = held.len() as u64;
            hint.set_lower(hint.lower().saturating_add(len));
            if let Some(upper) = hint.upper() {
                hint.set_upper(upper.saturating_add(len));
            }
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use http_body::Body as _;
    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    #[tokio::test]
    async fn the_body_passes_unchanged_and_the_copy_sees_every_data_frame() {
        let pieces: Vec<Result<Frame<Bytes>, BoxError>> = (0..40u8)
            .map(|n| Ok(Frame::data(Bytes::from(vec![n; 1000]))))
            .collect();
        let want: Vec<u8> = (0..40u8).flat_map(|n| vec![n; 1000]).collect();
        let body = crate::boxed(StreamBody::new(futures::stream::iter(pieces)));
        let (tee, rx) = tee(body);
        let reader = tokio::spawn(rx.map(|b| b.to_vec()).concat());
        let passed = tee.collect().await.expect("body").to_bytes();
        assert_eq!(passed.as_ref(), want.as_slice());
        assert_eq!(reader.await.expect("reader"), want);
    }

    #[tokio::test]
    async fn a_reader_that_stops_leaves_the_upload_going() {
        let body = crate::boxed(http_body_util::Full::new(Bytes::from_static(b"abc")));
        let (tee, rx) = tee(body);
        drop(rx);
        assert_eq!(tee.size_hint().exact(), Some(3));
        let passed = tee.collect().await.expect("body").to_bytes();
        assert_eq!(passed.as_ref(), b"abc");
    }

    #[tokio::test]
    async fn a_slow_reader_slows_the_upload_without_losing_a_frame() {
        let frames = (0..100u32).map(|n| Ok::<_, BoxError>(Frame::data(Bytes::from(n.to_string()))));
        let body = crate::boxed(StreamBody::new(futures::stream::iter(frames.collect::<Vec<_>>())));
        let (tee, mut rx) = tee(body);
        let upload = tokio::spawn(tee.collect());
        let mut seen = Vec::new();
        while let Some(piece) = rx.next().await {
            tokio::task::yield_now().await;
            seen.push(piece);
        }
        let passed = upload.await.expect("join").expect("body").to_bytes();
        assert_eq!(seen.concat(), passed.to_vec());
        assert_eq!(seen.len(), 100);
    }
}
