//! Interception safety through real `cairn daemon` processes: no spelling of a pin route
//! reaches the upstream daemon's own pin commands (anchors R12), broken uploads pin nothing,
//! and every `pin/add` answered 200 survives the leader being killed mid-stream.

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use cairn_compat_tests::cluster::{Dirs, cid, listed, raft};
use cairn_compat_tests::content::{Part, form, last_hash};
use cairn_compat_tests::http::{Call, Payload, send};
use cairn_compat_tests::process::{Peer, init_peer};
use cairn_compat_tests::{eventually, fixtures_dir, scratch_dir};

fn call(method: &str, target: &str, headers: &[(&str, &str)]) -> Call {
    let mut call = Call::post(target);
    call.method = method.to_owned();
    for (name, value) in headers {
        call = call.header(name, value);
    }
    call
}

async fn upstream_pins(peer: &Peer) -> anyhow::Result<String> {
    let ipfs = peer.ipfs.context("the peer's IPFS address")?;
    Ok(send(ipfs, Call::post("/api/v0/pin/ls")).await?.text())
}

#[tokio::test(flavor = "multi_thread")]
async fn no_spelling_of_a_pin_route_reaches_the_upstream() -> anyhow::Result<()> {
    let dir = scratch_dir("bypass")?;
    init_peer(dir.path(), "bypass")?;
    let peer = Peer::start(dir.path(), &[])?;
    let text = Bytes::from_static(b"cairn bypass probe");
    let added = send(
        peer.gateway,
        form("/api/v0/add?pin=false", vec![Part::File("p".into(), text)]),
    )
    .await?;
    let c = last_hash(&added.body)?;
    let before = upstream_pins(&peer).await?;
    assert!(
        !before.contains(&c),
        "the probe starts unpinned upstream: {before}"
    );
    let q = format!("arg={c}");
    let attempts: Vec<(Call, u16)> = vec![
        (call("GET", &format!("/api/v0/pin/add?{q}"), &[]), 405),
        (call("PUT", &format!("/api/v0/pin/add?{q}"), &[]), 405),
        (call("POST", &format!("//api/v0/pin/add?{q}"), &[]), 400),
        (call("POST", &format!("/api/v0//pin/add?{q}"), &[]), 400),
        (call("POST", &format!("/api/v0/pin%2Fadd?{q}"), &[]), 400),
        (call("POST", &format!("/api/v0/pin%2fadd?{q}"), &[]), 400),
        (call("POST", &format!("/api/v0/./pin/add?{q}"), &[]), 400),
        (call("POST", &format!("/api/v0/x/../pin/add?{q}"), &[]), 400),
        (call("POST", &format!("/api/v0/pin/%61dd?{q}"), &[]), 400),
        (
            call(
                "POST",
                &format!("/api/v0/pin/add?{q}"),
                &[("origin", "http://evil.example")],
            ),
            403,
        ),
        (
            call(
                "POST",
                &format!("/api/v0/pin/add?{q}"),
                &[("referer", "http://evil.example/x")],
            ),
            403,
        ),
        (
            call(
                "POST",
                &format!("/api/v0/pin/add?{q}"),
                &[("user-agent", "Mozilla/5.0")],
            ),
            403,
        ),
    ];
    for (attempt, status) in attempts {
        let what = format!("{} {}", attempt.method, attempt.target);
        let answer = send(peer.gateway, attempt).await?;
        assert_eq!(answer.status, status, "{what}: {}", answer.text());
        assert!(listed(&peer).await?.is_empty(), "{what} changed the cluster");
        assert_eq!(
            upstream_pins(&peer).await?,
            before,
            "{what} reached the upstream's pins"
        );
    }
    // The valid spellings are served by the cluster; the upstream then pins through the
    // cluster's tracker, never through the request itself.
    for target in [
        format!("/api/v0/pin/add/{c}"),
        format!("/api/v0/pin/add?{q}&arg={c}"),
    ] {
        let answer = send(peer.gateway, Call::post(&target)).await?;
        assert_eq!(answer.status, 200, "{target}: {}", answer.text());
        assert_eq!(listed(&peer).await?, vec![c.clone()]);
    }
    eventually(
        "the tracker pins the cluster pin on the upstream",
        Duration::from_secs(20),
        || async { Ok(upstream_pins(&peer).await?.contains(&c)) },
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_uploads_pin_nothing() -> anyhow::Result<()> {
    let dir = scratch_dir("broken")?;
    init_peer(dir.path(), "broken")?;
    let peer = Peer::start(dir.path(), &[])?;
    let bodies: [(&str, &[u8]); 3] = [
        ("multipart/form-data", b"no boundary at all"),
        (
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\ntruncated",
        ),
        ("text/plain", b"not multipart"),
    ];
    for (kind, body) in bodies {
        let mut add = Call::post("/api/v0/add").header("content-type", kind);
        add.payload = Payload::Bytes(Bytes::from_static(body));
        let answer = send(peer.gateway, add).await?;
        let failed = answer.status >= 400
            || answer
                .trailers
                .iter()
                .any(|(n, v)| n == "x-stream-error" && !v.is_empty());
        assert!(
            failed,
            "{kind}: {} {} {:?}",
            answer.status,
            answer.text(),
            answer.trailers
        );
    }
    let huge = "x".repeat(70 * 1024);
    let answer = send(peer.gateway, Call::post("/api/v0/add").header("x-huge", &huge)).await?;
    assert_eq!(answer.status, 431);
    assert!(listed(&peer).await?.is_empty(), "nothing was pinned");
    let fine = form(
        "/api/v0/add",
        vec![Part::File(
            "f".into(),
            Bytes::from(std::fs::read(fixtures_dir().join("files/f11.txt"))?),
        )],
    );
    assert_eq!(
        send(peer.gateway, fine).await?.status,
        200,
        "the gateway still serves"
    );
    assert_eq!(listed(&peer).await?.len(), 1);
    Ok(())
}

/// 1,000 `pin/add` calls through a follower's gateway while the leader is killed: every call
/// answered 200 is in the pinset afterwards, on the survivors and on the restarted peer.
#[tokio::test(flavor = "multi_thread")]
async fn every_acknowledged_pin_survives_the_leader_being_killed() -> anyhow::Result<()> {
    let dirs = Dirs::init(3)?;
    let mut peers: Vec<Option<Peer>> = dirs.start_all()?.into_iter().map(Some).collect();
    let leader_id = raft(peers[0].as_ref().context("peer")?).await?["leader"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let leader = peers
        .iter()
        .position(|p| p.as_ref().is_some_and(|p| p.peer_id == leader_id))
        .context("leader")?;
    let via = (leader + 1) % 3;
    let gateway = peers[via].as_ref().context("peer")?.gateway;
    let (mut acknowledged, mut refused) = (Vec::new(), std::collections::BTreeMap::new());
    for n in 0..1000u64 {
        if n == 300 {
            peers[leader].take().context("leader")?.kill()?;
        }
        let c = cid(1_000_000 + n);
        match send(gateway, Call::post(&format!("/api/v0/pin/add?arg={c}"))).await {
            Ok(answer) if answer.status == 200 => acknowledged.push(c),
            Ok(answer) => {
                *refused.entry(answer.status).or_insert(0) += 1;
                // A client backs off while the cluster elects a new leader.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => anyhow::bail!("the follower's gateway stopped answering: {e}"),
        }
    }
    assert!(
        acknowledged.len() >= 600,
        "writes continued after the election: {} acknowledged, refused {refused:?}",
        acknowledged.len()
    );
    assert!(
        refused.keys().all(|s| *s == 503),
        "refusals during the election are 503: {refused:?}"
    );
    peers[leader] = Some(dirs.start(leader, None, &[])?);
    acknowledged.sort();
    for (i, peer) in peers.iter().enumerate() {
        let peer = peer.as_ref().context("peer")?;
        eventually(
            &format!("peer {i} holds every acknowledged pin"),
            Duration::from_secs(30),
            || async {
                let have = listed(peer).await?;
                Ok(acknowledged.iter().all(|c| have.binary_search(c).is_ok()))
            },
        )
        .await?;
    }
    Ok(())
}

/// Intercepted answers carry the headers `extract_headers_extra` names, read from the
/// upstream's answer to `extract_headers_path` (here the embedded node's plain-text 404,
/// which sets `X-Content-Type-Options`).
#[tokio::test(flavor = "multi_thread")]
async fn intercepted_answers_mirror_the_upstreams_headers() -> anyhow::Result<()> {
    let dir = scratch_dir("mirror")?;
    init_peer(dir.path(), "mirror")?;
    let env = [
        ("CLUSTER_IPFSPROXY_EXTRACTHEADERSPATH", "/api/v0/no-such-command"),
        ("CLUSTER_IPFSPROXY_EXTRACTHEADERSEXTRA", "X-Content-Type-Options"),
    ];
    let peer = Peer::start(dir.path(), &env)?;
    let answer = send(peer.gateway, Call::post("/api/v0/pin/ls")).await?;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        answer.header("server"),
        Some(concat!("cairn-gateway/", env!("CARGO_PKG_VERSION")))
    );
    let plain_dir = scratch_dir_with_peer("plain")?;
    let plain = Peer::start(plain_dir.path(), &[])?;
    let answer = send(plain.gateway, Call::post("/api/v0/pin/ls")).await?;
    assert_eq!(
        answer.header("x-content-type-options"),
        None,
        "nothing mirrored unless configured"
    );
    Ok(())
}

fn scratch_dir_with_peer(name: &str) -> anyhow::Result<tempfile::TempDir> {
    let dir = scratch_dir(name)?;
    init_peer(dir.path(), name)?;
    Ok(dir)
}
