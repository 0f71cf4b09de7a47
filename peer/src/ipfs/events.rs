//! A child cluster's pin event stream: the Cairn gateway's `cairn/events`, read line by line
//! as it comes (docs/events.md).
//!
//! # Invariants
//! - The stream fails when nothing (not even a keepalive line, sent every 15 s) comes for
//!   [`IDLE`], and when a line grows beyond [`MAX_LINE`] bytes; it never buffers more.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use http_body_util::{BodyExt, Full};

use super::{IpfsClient, IpfsError};

/// Silence after which the child's stream counts as dead (it sends a keepalive every 15 s).
pub(super) const IDLE: Duration = Duration::from_secs(45);
/// The longest line accepted.
pub(super) const MAX_LINE: usize = 64 * 1024;

impl IpfsClient {
    /// Opens the child gateway's `cairn/events` after its event `since` (from now on when
    /// `None`); its lines, without the newline.
    pub async fn child_events(
        &self,
        since: Option<u64>,
    ) -> Result<BoxStream<'static, Result<Bytes, IpfsError>>, IpfsError> {
        let query = since.map(|s| format!("?since={s}")).unwrap_or_default();
        let uri = format!("http://{}/api/v0/cairn/events{query}", self.target.authority());
        let mut req = http::Request::post(uri);
        if let Some(secret) = &self.secret {
            req = req.header(http::header::AUTHORIZATION, secret.clone());
        }
        let unreachable = |reason: String| IpfsError::Unreachable {
            target: cairn_gateway::config::target_multiaddr(&self.target),
            reason,
        };
        let req = req
            .body(Full::new(Bytes::new()))
            .map_err(|e| unreachable(e.to_string()))?;
        let limit = self.timeouts.request;
        let rsp = tokio::time::timeout(limit, self.client.request(req))
            .await
            .map_err(|_| unreachable(format!("no answer within {limit:?}")))?
            .map_err(|e| unreachable(e.to_string()))?;
        let status = rsp.status();
        if !status.is_success() {
            let body = tokio::time::timeout(limit, rsp.into_body().collect()).await;
            let text = match body {
                Ok(Ok(body)) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
                _ => String::new(),
            };
            return Err(self.refused(status.as_u16(), format!("cairn/events: {}", text.trim())));
        }
        let this = self.clone();
        let state = (rsp.into_body(), BytesMut::new(), false);
        let lines = futures::stream::unfold(state, move |(mut body, mut buf, done)| {
            let this = this.clone();
            async move {
                if done {
                    return None;
                }
                loop {
                    if let Some(end) = buf.iter().position(|b| *b == b'\n') {
                        let line = buf.split_to(end + 1).freeze().slice(..end);
                        return Some((Ok(line), (body, buf, false)));
                    }
                    if buf.len() > MAX_LINE {
                        let e = this.refused(200, format!("cairn/events: a line beyond {MAX_LINE} bytes"));
                        return Some((Err(e), (body, buf, true)));
                    }
                    let failed = |reason: String| this.refused(200, format!("cairn/events: {reason}"));
                    match tokio::time::timeout(IDLE, body.frame()).await {
                        Err(_) => {
                            return Some((Err(failed(format!("silent for {IDLE:?}"))), (body, buf, true)));
                        }
                        Ok(None) => return Some((Err(failed("ended".into())), (body, buf, true))),
                        Ok(Some(Err(e))) => return Some((Err(failed(e.to_string())), (body, buf, true))),
                        Ok(Some(Ok(frame))) => {
                            if let Ok(data) = frame.into_data() {
                                buf.extend_from_slice(&data);
                            }
                        }
                    }
                }
            }
        });
        Ok(Box::pin(lines))
    }
}
