//! The pin event stream (`GET /pins/events`, docs/events.md) on three real peers: a subscriber
//! on one peer sees every peer take a pin through `pin_queued` → `pinning` → `pinned`; one
//! that disconnects and comes back with `since` gets what happened meanwhile, once; SSE framing
//! with `Last-Event-ID`; a filtered subscription sees only its CID.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use cairn_compat_tests::cluster::{add_unpinned, rest, three};
use cairn_compat_tests::eventually;
use cairn_compat_tests::process::Peer;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);
const PINNING: [&str; 3] = ["pin_queued", "pinning", "pinned"];

/// An open event stream: its body and what was read of it but not yet split into lines.
struct Stream {
    body: Incoming,
    buffered: Vec<u8>,
    content_type: String,
}

/// Opens `GET target` on `addr` with `headers`, streaming (never collected).
async fn open(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> anyhow::Result<Stream> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let io = hyper_util::rt::TokioIo::new(tcp);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(conn);
    let mut req = http::Request::get(target).header(http::header::HOST, addr.to_string());
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let rsp = sender.send_request(req.body(Empty::<Bytes>::new())?).await?;
    anyhow::ensure!(rsp.status() == 200, "GET {target}: {}", rsp.status());
    let content_type = rsp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok(Stream {
        body: rsp.into_body(),
        buffered: Vec::new(),
        content_type,
    })
}

impl Stream {
    /// The next chunk of text up to `separator` (a line, or an SSE frame), within `WAIT`.
    async fn next_until(&mut self, separator: &[u8]) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(at) = find(&self.buffered, separator) {
                let chunk: Vec<u8> = self.buffered.drain(..at + separator.len()).collect();
                return Ok(String::from_utf8(chunk[..at].to_vec())?);
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .context("no event in time")?
                .context("the stream ended")??;
            if let Ok(data) = frame.into_data() {
                self.buffered.extend_from_slice(&data);
            }
        }
    }

    /// The next ndjson value (keepalive blank lines skipped).
    async fn next_json(&mut self) -> anyhow::Result<Value> {
        loop {
            let line = self.next_until(b"\n").await?;
            if !line.trim().is_empty() {
                return Ok(serde_json::from_str(&line)?);
            }
        }
    }

    /// The next SSE frame's `id:` (if any) and `data:` value (keepalive comments skipped).
    async fn next_sse(&mut self) -> anyhow::Result<(Option<u64>, Value)> {
        loop {
            let frame = self.next_until(b"\n\n").await?;
            let mut id = None;
            let mut data = None;
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = Some(v.parse()?);
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(v)?);
                }
            }
            if let Some(data) = data {
                return Ok((id, data));
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Each peer's statuses of `cid` as the stream tells them, level 0 only.
type Seen = BTreeMap<String, Vec<String>>;

fn note(seen: &mut Seen, event: &Value, cid: &str) {
    if event["cid"] == cid && event["level"] == 0 {
        let peer = event["peer"].as_str().unwrap_or_default().to_owned();
        let status = event["status"].as_str().unwrap_or_default().to_owned();
        seen.entry(peer).or_default().push(status);
    }
}

fn all_pinned(seen: &Seen, peers: &[Peer]) -> bool {
    peers.iter().all(|p| {
        seen.get(&p.peer_id)
            .is_some_and(|s| s.last().is_some_and(|l| l == "pinned"))
    })
}

/// Asserts that every peer went `pin_queued` → `pinning` → `pinned` on `cid`, in that order.
fn assert_pinning_order(seen: &Seen, peers: &[Peer], cid: &str) {
    for peer in peers {
        assert_eq!(
            seen.get(&peer.peer_id).map(Vec::as_slice),
            Some(&PINNING.map(str::to_owned)[..]),
            "{cid} on {}: {seen:?}",
            peer.peer_id
        );
    }
}

/// Pins `cid` through `peer`'s REST API (replication -1: every peer).
async fn pin(peer: &Peer, cid: &str) -> anyhow::Result<()> {
    let answer = rest(peer, "POST", &format!("/pins/{cid}")).await?;
    anyhow::ensure!(answer.status == 200, "pin {cid}: {}", answer.text());
    Ok(())
}

/// Waits until every peer reports `cid` pinned.
async fn pinned_everywhere(peer: &Peer, cid: &str, peers: &[Peer]) -> anyhow::Result<()> {
    eventually(&format!("{cid} pinned everywhere"), WAIT, || async {
        let info = rest(peer, "GET", &format!("/pins/{cid}")).await?.json()?;
        Ok(peers
            .iter()
            .all(|p| info["peer_map"][&p.peer_id]["status"] == "pinned"))
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn one_stream_shows_every_peer_and_resumes_without_loss_or_repeats() -> anyhow::Result<()> {
    let (_dirs, peers) = three(&[])?;
    let a = &peers[0];

    // Every peer's transitions, in each peer's order, on a subscription to one of them.
    let mut stream = open(a.rest, "/pins/events", &[]).await?;
    assert_eq!(stream.content_type, "application/json");
    let first = add_unpinned(a, b"cairn events: first").await?;
    pin(a, &first).await?;
    let mut seen = Seen::new();
    let mut ids = Vec::new();
    while !all_pinned(&seen, &peers) {
        let event = stream.next_json().await?;
        assert_ne!(event["missed"], true, "nothing missed live: {event}");
        ids.push(event["id"].as_u64().context("id")?);
        assert!(
            event["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{event}"
        );
        note(&mut seen, &event, &first);
    }
    assert_pinning_order(&seen, &peers, &first);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");
    let last = *ids.last().context("events")?;

    // Disconnected while another pin happens; back with `since`, nothing is lost or repeated.
    drop(stream);
    let second = add_unpinned(a, b"cairn events: second").await?;
    pin(a, &second).await?;
    pinned_everywhere(a, &second, &peers).await?;
    let mut stream = open(a.rest, &format!("/pins/events?since={last}"), &[]).await?;
    let mut seen = Seen::new();
    let mut again = HashSet::new();
    while !all_pinned(&seen, &peers) {
        let event = stream.next_json().await?;
        assert_ne!(event["missed"], true, "nothing missed after a resume: {event}");
        let id = event["id"].as_u64().context("id")?;
        assert!(id > last, "{id} was read before the disconnect");
        assert!(again.insert(id), "{id} twice");
        assert_ne!(
            event["cid"],
            first.as_str(),
            "the first pin's events are not repeated"
        );
        note(&mut seen, &event, &second);
    }
    assert_pinning_order(&seen, &peers, &second);

    // SSE: every event framed with its id; Last-Event-ID resumes like `since`.
    let last_text = last.to_string();
    let sse = [
        ("accept", "text/event-stream"),
        ("last-event-id", last_text.as_str()),
    ];
    let mut events = open(a.rest, "/pins/events", &sse).await?;
    assert_eq!(events.content_type, "text/event-stream");
    let mut seen = Seen::new();
    while !all_pinned(&seen, &peers) {
        let (id, event) = events.next_sse().await?;
        assert_eq!(
            id,
            event["id"].as_u64(),
            "the id: line is the event's id: {event}"
        );
        assert!(id.is_some_and(|id| id > last), "{event}");
        note(&mut seen, &event, &second);
    }
    assert_pinning_order(&seen, &peers, &second);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_filtered_subscription_sees_only_its_cid() -> anyhow::Result<()> {
    let (_dirs, peers) = three(&[])?;
    let b = &peers[1];
    let wanted = add_unpinned(b, b"cairn events: wanted").await?;
    let other = add_unpinned(b, b"cairn events: other").await?;
    let mut stream = open(b.rest, &format!("/pins/events?cid={wanted}"), &[]).await?;
    pin(b, &other).await?;
    pin(b, &wanted).await?;
    let mut seen = Seen::new();
    while !all_pinned(&seen, &peers) {
        let event = stream.next_json().await?;
        if event["missed"] != true {
            assert_eq!(event["cid"], wanted.as_str(), "{event}");
        }
        note(&mut seen, &event, &wanted);
    }
    assert_pinning_order(&seen, &peers, &wanted);
    let bad = rest(b, "GET", "/pins/events?cid=nope").await?;
    assert_eq!(bad.status, 400, "{}", bad.text());
    Ok(())
}
