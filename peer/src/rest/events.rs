//! `GET /pins/events` (Cairn-only; docs/events.md): every member's pin transitions as they
//! happen, as ndjson, or as Server-Sent Events when the request accepts `text/event-stream`.
//!
//! `cid` (repeatable, or a comma-separated list) keeps only those pins; `since=<id>` (or SSE's
//! `Last-Event-ID` header, which wins) replays what the peer still holds after that id, then
//! goes on live. When events after it were dropped, the first line is
//! `{"missed":true,"oldest":<id>}`: the client should re-read the status.
//!
//! # Invariants
//! - The stream never ends on its own; a blank line (ndjson) or a comment (SSE) every
//!   [`KEEPALIVE`] shows it is alive, and a client that stops reading is disconnected by the
//!   server's write-stall limit, which drops the subscription.
//! - In SSE every event carries its `id:` (so a browser resumes with `Last-Event-ID`); a
//!   missed notice carries none, so it never moves the client's resumption point.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::StreamBody;
use hyper::body::Frame;

use cairn_gateway::{Body, BoxError, boxed};

use super::error;
use crate::api::parse_cid;
use crate::cluster::Cluster;
use crate::events::{Filter, Out, Subscription};

/// How often a quiet stream sends a keepalive.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// How events are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// One JSON object per line.
    Ndjson,
    /// Server-Sent Events: `id:` and `data:` lines, a blank line after each event.
    Sse,
}

impl Framing {
    /// SSE when `headers` accept `text/event-stream`.
    pub fn of(headers: &HeaderMap) -> Self {
        let accepts = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().contains("text/event-stream"));
        if accepts { Self::Sse } else { Self::Ndjson }
    }

    /// `out` as this framing writes it.
    pub fn frame(self, out: &Out) -> Result<Vec<u8>, serde_json::Error> {
        let line = out.line()?;
        Ok(match self {
            Framing::Ndjson => line,
            Framing::Sse => {
                let mut frame = match out.id() {
                    Some(id) => format!("id: {id}\n").into_bytes(),
                    None => Vec::new(),
                };
                frame.extend_from_slice(b"data: ");
                frame.extend_from_slice(&line); // JSON has no raw newline inside
                frame.push(b'\n');
                frame
            }
        })
    }

    /// What a quiet stream sends.
    pub fn keepalive(self) -> &'static [u8] {
        match self {
            Framing::Ndjson => b"\n",
            Framing::Sse => b": keepalive\n\n",
        }
    }
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct Ask {
    /// Which pins.
    pub filter: Filter,
    /// Replay after this id.
    pub since: Option<u64>,
}

/// Reads `cid` and `since` from `query` and `Last-Event-ID` from `headers`; the 400 message.
pub fn ask_of(query: &str, headers: &HeaderMap) -> Result<Ask, String> {
    let mut cids = HashSet::new();
    let mut since = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "cid" => {
                for text in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                    let cid = parse_cid(text).map_err(|e| format!("cid {text}: {e}"))?;
                    cids.insert(cid.to_string());
                }
            }
            "since" => since = Some(id_of(&value).map_err(|e| format!("since: {e}"))?),
            _ => {}
        }
    }
    if let Some(last) = headers.get("last-event-id") {
        let text = last.to_str().map_err(|e| format!("Last-Event-ID: {e}"))?;
        if !text.trim().is_empty() {
            since = Some(id_of(text).map_err(|e| format!("Last-Event-ID: {e}"))?);
        }
    }
    let cids = (!cids.is_empty()).then_some(cids);
    Ok(Ask {
        filter: Filter { cids },
        since,
    })
}

fn id_of(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not an event id"))
}

/// `GET /pins/events`.
pub(super) fn serve(cluster: &Cluster, query: &str, headers: &HeaderMap) -> Response<Body> {
    let ask = match ask_of(query, headers) {
        Ok(ask) => ask,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let framing = Framing::of(headers);
    match cluster.events().subscribe(ask.filter, ask.since) {
        Ok(subscription) => stream(subscription, framing),
        Err(busy) => error(StatusCode::SERVICE_UNAVAILABLE, &busy.to_string()),
    }
}

/// The answer streaming `subscription` in `framing`.
fn stream(subscription: Subscription, framing: Framing) -> Response<Body> {
    let frames = frames(subscription, framing).map(|bytes| Ok::<_, BoxError>(Frame::data(bytes)));
    let mut rsp = Response::new(boxed(StreamBody::new(frames)));
    let kind = match framing {
        Framing::Ndjson => "application/json",
        Framing::Sse => "text/event-stream",
    };
    let headers = rsp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Proxies (nginx) must not hold events back to fill a buffer.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    rsp
}

/// The subscription's events in `framing`, with a keepalive after each quiet [`KEEPALIVE`].
pub fn frames(subscription: Subscription, framing: Framing) -> futures::stream::BoxStream<'static, Bytes> {
    let state = (subscription, framing);
    Box::pin(futures::stream::unfold(state, |(mut sub, framing)| async move {
        let bytes = tokio::select! {
            out = sub.next() => match framing.frame(&out) {
                Ok(bytes) => Bytes::from(bytes),
                Err(e) => {
                    tracing::warn!(error = %e, "events: an event could not be encoded");
                    Bytes::from_static(framing.keepalive())
                }
            },
            () = tokio::time::sleep(KEEPALIVE) => Bytes::from_static(framing.keepalive()),
        };
        Some((bytes, (sub, framing)))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const CID: &str = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn cids_come_repeated_or_comma_separated_and_last_event_id_wins_over_since() {
        let q = format!("cid={CID}&cid=QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG,{CID}&since=5");
        let ask = ask_of(&q, &headers(&[("last-event-id", "9")])).expect("ask");
        assert_eq!(ask.since, Some(9));
        assert_eq!(ask.filter.cids.expect("cids").len(), 2);
        let plain = ask_of("since=5", &HeaderMap::new()).expect("ask");
        assert_eq!((plain.since, plain.filter.cids), (Some(5), None));
        assert!(ask_of("cid=nope", &HeaderMap::new()).is_err());
        assert!(ask_of("since=x", &HeaderMap::new()).is_err());
    }

    #[test]
    fn sse_is_chosen_by_accept_and_frames_carry_the_id() {
        assert_eq!(
            Framing::of(&headers(&[("accept", "text/event-stream")])),
            Framing::Sse
        );
        assert_eq!(Framing::of(&headers(&[("accept", "*/*")])), Framing::Ndjson);
        let mut event = crate::eventlog::Event::gap("p", "n", 0, "");
        event.id = 42;
        let out = Out::Event(Arc::new(event));
        let sse = String::from_utf8(Framing::Sse.frame(&out).expect("frame")).expect("utf8");
        assert!(sse.starts_with("id: 42\ndata: {\"id\":42,"), "{sse}");
        assert!(sse.ends_with("}\n\n"), "{sse}");
        let missed = Framing::Sse.frame(&Out::Missed { oldest: 7 }).expect("frame");
        assert_eq!(missed, b"data: {\"missed\":true,\"oldest\":7}\n\n");
        let line = Framing::Ndjson.frame(&Out::Missed { oldest: 7 }).expect("frame");
        assert_eq!(line, b"{\"missed\":true,\"oldest\":7}\n");
    }
}
