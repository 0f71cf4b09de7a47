//! Composite clusters: a parent cluster whose peers use a child cluster's gateway as their IPFS
//! daemon. The child holds the parent's `pin/add?progress=true` until the pin really landed on
//! its nodes; a child that cannot satisfy its rf-min fails the parent's pin, and the parent's
//! recover succeeds once the child has enough peers. The parent's status with `depth=2` shows
//! the child's peers under the parent peer.

use std::time::Duration;

use bytes::Bytes;
use cairn_compat_tests::cluster::{Dirs, FAST_MONITOR, cairn_cli, daemon_pins, rest, sees_metrics};
use cairn_compat_tests::content::{Part, form, last_hash};
use cairn_compat_tests::eventually;
use cairn_compat_tests::http::{Call, send};
use cairn_compat_tests::process::{Peer, signal};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

async fn status_map(peer: &Peer, c: &str) -> anyhow::Result<Value> {
    let answer = rest(peer, "GET", &format!("/pins/{c}")).await?;
    anyhow::ensure!(answer.status == 200, "{}", answer.text());
    Ok(answer.json()?["peer_map"].clone())
}

async fn all_pinned(peer: &Peer, c: &str) -> anyhow::Result<bool> {
    let map = status_map(peer, c).await?;
    Ok(map
        .as_object()
        .is_some_and(|m| !m.is_empty() && m.values().all(|e| e["status"] == "pinned")))
}

/// `depth=2` at the parent shows the child's peers under the parent peer (REST, one pin and
/// every pin); the child's own peers, over plain nodes, show no child; bad depths are refused
/// by REST and by the child gateway's `cairn/status`.
async fn nested_status_shows_the_child(parent: &Peer, child: &[Peer], c: &str) -> anyhow::Result<()> {
    let one = rest(parent, "GET", &format!("/pins/{c}?depth=2")).await?.json()?;
    let below = &one["peer_map"][&parent.peer_id]["child"];
    assert_eq!(below["cid"], c, "{one:#}");
    let peers = below["peer_map"].as_object().cloned().unwrap_or_default();
    assert_eq!(peers.len(), 2, "{one:#}");
    for peer in child {
        assert_eq!(peers[&peer.peer_id]["status"], "pinned", "{one:#}");
        assert!(peers[&peer.peer_id].get("child").is_none(), "{one:#}");
    }
    let every = rest(parent, "GET", "/pins?depth=2").await?;
    let text = every.text();
    let line = text.lines().find(|l| l.contains(c));
    let line: Value = serde_json::from_str(line.ok_or_else(|| anyhow::anyhow!("{c} not in {text}"))?)?;
    assert_eq!(
        line["peer_map"][&parent.peer_id]["child"]["peer_map"]
            .as_object()
            .map(|m| m.len()),
        Some(2)
    );

    let flat = rest(&child[0], "GET", &format!("/pins/{c}?depth=2"))
        .await?
        .json()?;
    let entries = flat["peer_map"].as_object().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2, "{flat:#}");
    assert!(
        entries
            .values()
            .all(|e| e.get("child").is_none() && e.get("child_error").is_none()),
        "{flat:#}"
    );

    assert_eq!(
        rest(parent, "GET", &format!("/pins/{c}?depth=0")).await?.status,
        400
    );
    let bad = send(
        child[0].gateway,
        Call::post(&format!("/api/v0/cairn/status?arg={c}&depth=x")),
    )
    .await?;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(
        bad.text()
            .contains("Could not convert value \"x\" to type \"uint\""),
        "{}",
        bad.text()
    );
    // A child that does not answer costs only its part: the parent peer's own status arrives,
    // with why its child is missing.
    signal(child[0].pid(), "STOP")?;
    let stalled = rest(parent, "GET", &format!("/pins/{c}?depth=2")).await;
    signal(child[0].pid(), "CONT")?;
    let stalled = stalled?.json()?;
    let entry = &stalled["peer_map"][&parent.peer_id];
    assert_eq!(entry["status"], "pinned", "{stalled:#}");
    let why = entry["child_error"].as_str().unwrap_or_default();
    assert!(why.contains("within"), "a timeout: {stalled:#}");

    let slow = format!("/api/v0/cairn/status?arg={c}&timeout=soon");
    assert_eq!(send(child[0].gateway, Call::post(&slow)).await?.status, 400);
    let direct = send(
        child[0].gateway,
        Call::post(&format!("/api/v0/cairn/status?arg={c}")),
    )
    .await?;
    assert_eq!(direct.status, 200, "{}", direct.text());
    assert_eq!(direct.json()?["cid"], c, "{}", direct.text());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parent_pin_is_held_until_it_landed_on_the_child_nodes() -> anyhow::Result<()> {
    let child_dirs = Dirs::init(2)?;
    let child = child_dirs.start_all_with(&FAST_MONITOR)?;
    let upstream = child[0].gateway_multiaddr();
    let parent_dirs = Dirs::init(1)?;
    let env = [("CLUSTER_IPFSHTTP_NODEMULTIADDRESS", upstream.as_str())];
    let parent = parent_dirs.start(0, None, &env)?;

    // Added through the parent's gateway: stored by the child's node, pinned by both clusters.
    let part = vec![Part::File(
        "composite.bin".into(),
        Bytes::from(vec![7u8; 600_000]),
    )];
    let added = send(parent.gateway, form("/api/v0/add", part)).await?;
    assert_eq!(added.status, 200, "{}", added.text());
    let c = last_hash(&added.body)?;
    eventually("pinned at the parent", WAIT, || async {
        all_pinned(&parent, &c).await
    })
    .await?;
    assert!(
        all_pinned(&child[1], &c).await?,
        "pinned on every child peer when the parent says so"
    );
    nested_status_shows_the_child(&parent, &child, &c).await?;
    for peer in &child {
        assert!(daemon_pins(peer, &c).await?, "{} node holds it", peer.peer_id);
    }

    // The child holds a parent's progress call until the pin landed, and says who it is.
    let put = form(
        "/api/v0/block/put?cid-codec=raw&pin=false",
        vec![Part::File("b".into(), Bytes::from_static(b"held until landed"))],
    );
    let block = send(child[0].ipfs.ok_or_else(|| anyhow::anyhow!("node"))?, put).await?;
    let b = block.json()?["Key"].as_str().unwrap_or_default().to_owned();
    let held = send(
        child[1].gateway,
        Call::post(&format!("/api/v0/pin/add?arg={b}&progress=true")),
    )
    .await?;
    assert_eq!(held.status, 200, "{}", held.text());
    assert!(
        held.header("server")
            .unwrap_or_default()
            .starts_with("cairn-gateway/")
    );
    let last = held.text().lines().last().unwrap_or_default().to_owned();
    anyhow::ensure!(
        !last.is_empty(),
        "held answer: {:?} trailers {:?}",
        held.text(),
        held.trailers
    );
    assert_eq!(
        serde_json::from_str::<Value>(&last)?["Pins"][0],
        b.as_str(),
        "{}",
        held.text()
    );
    assert!(
        all_pinned(&child[0], &b).await?,
        "answered only once pinned everywhere"
    );

    // Unpinned at the parent: gone from the child's pinset and its nodes.
    assert_eq!(rest(&parent, "DELETE", &format!("/pins/{c}")).await?.status, 200);
    eventually("unpinned down to the child nodes", WAIT, || async {
        let in_child = rest(&child[0], "GET", &format!("/allocations/{c}")).await?.status == 200;
        Ok(!in_child && !daemon_pins(&child[0], &c).await? && !daemon_pins(&child[1], &c).await?)
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_child_without_enough_peers_fails_the_parent_pin_until_it_grows() -> anyhow::Result<()> {
    let rf = [
        ("CLUSTER_REPLICATIONFACTORMIN", "2"),
        ("CLUSTER_REPLICATIONFACTORMAX", "2"),
    ];
    let child_env: Vec<(&str, &str)> = FAST_MONITOR.iter().chain(rf.iter()).copied().collect();
    let child_dirs = Dirs::init(2)?;
    let first = child_dirs.start(0, None, &child_env)?;
    let upstream = first.gateway_multiaddr();
    let parent_dirs = Dirs::init(1)?;
    let parent = parent_dirs.start(
        0,
        None,
        &[("CLUSTER_IPFSHTTP_NODEMULTIADDRESS", upstream.as_str())],
    )?;
    let put = form(
        "/api/v0/block/put?cid-codec=raw&pin=false",
        vec![Part::File(
            "b".into(),
            Bytes::from_static(b"needs two child peers"),
        )],
    );
    let block = send(first.ipfs.ok_or_else(|| anyhow::anyhow!("node"))?, put).await?;
    let c = block.json()?["Key"].as_str().unwrap_or_default().to_owned();

    assert_eq!(rest(&parent, "POST", &format!("/pins/{c}")).await?.status, 200);
    eventually("pin_error at the parent", WAIT, || async {
        Ok(status_map(&parent, &c).await?[&parent.peer_id]["status"] == "pin_error")
    })
    .await?;
    let error = status_map(&parent, &c).await?[&parent.peer_id]["error"].clone();
    assert!(
        error
            .as_str()
            .unwrap_or("")
            .contains("not enough peers to allocate"),
        "{error}"
    );

    let second = child_dirs.start(1, Some(&first), &child_env)?;
    for metric in ["freespace", "tag:group"] {
        sees_metrics(&first, metric, 2, WAIT).await?;
    }
    let recovered = cairn_cli(&parent, &["recover", &c])?;
    assert!(recovered.contains(&c), "{recovered}");
    let waited = eventually("pinned at the parent after recover", WAIT, || async {
        all_pinned(&parent, &c).await
    })
    .await;
    if let Err(e) = waited {
        let (up, down) = (status_map(&parent, &c).await?, status_map(&first, &c).await?);
        anyhow::bail!("{e}\nparent: {up}\nchild: {down}");
    }
    assert!(all_pinned(&second, &c).await?);
    assert!(
        daemon_pins(&second, &c).await?,
        "the new child peer's node holds it"
    );
    Ok(())
}

/// Issue 17: auth and TLS at every level. The child's gateway serves HTTPS and wants a kubo
/// bearer token; the parent's connector and gateway present it over TLS (trusting the
/// child's self-signed certificate); both REST APIs want basic auth; the parent's gateway
/// wants its own token. A file added through the parent lands on both clusters, and a call
/// without the child's token is refused by the child.
#[tokio::test(flavor = "multi_thread")]
async fn composite_clusters_work_with_auth_and_tls_at_every_level() -> anyhow::Result<()> {
    use cairn_compat_tests::http::{self_signed, send_tls};
    let certs = cairn_compat_tests::scratch_dir("certs")?;
    let (cert, key) = self_signed(certs.path())?;
    let (cert, key_text, cert_text) = (
        cert.clone(),
        key.display().to_string(),
        cert.display().to_string(),
    );
    let child_auth = r#"{"parent": {"AuthSecret": "bearer:child-token", "AllowedPaths": ["/api/v0"]}}"#;
    let mut child_env: Vec<(&str, &str)> = FAST_MONITOR.to_vec();
    child_env.extend([
        ("CLUSTER_IPFSPROXY_AUTHORIZATIONS", child_auth),
        ("CLUSTER_IPFSPROXY_SSLCERTFILE", cert_text.as_str()),
        ("CLUSTER_IPFSPROXY_SSLKEYFILE", key_text.as_str()),
        ("CLUSTER_RESTAPI_BASICAUTHCREDENTIALS", "admin:child-pw"),
    ]);
    let child_dirs = Dirs::init(2)?;
    let child = child_dirs.start_all_with(&child_env)?;
    let upstream = format!("{}/https", child[0].gateway_multiaddr());
    let parent_auth = r#"{"app": {"AuthSecret": "bearer:parent-token", "AllowedPaths": ["/api/v0"]}}"#;
    let parent_env = [
        ("CLUSTER_IPFSHTTP_NODEMULTIADDRESS", upstream.as_str()),
        ("CLUSTER_IPFSHTTP_NODEAUTHSECRET", "bearer:child-token"),
        ("CLUSTER_IPFSHTTP_NODECAFILE", cert_text.as_str()),
        ("CLUSTER_IPFSPROXY_AUTHORIZATIONS", parent_auth),
        ("CLUSTER_RESTAPI_BASICAUTHCREDENTIALS", "admin:parent-pw"),
    ];
    let parent = Dirs::init(1)?.start(0, None, &parent_env)?;

    let part = || vec![Part::File("secure.bin".into(), Bytes::from(vec![9u8; 300_000]))];
    let refused = send(parent.gateway, form("/api/v0/add", part())).await?;
    assert_eq!(refused.status, 403, "{}", refused.text());
    let added = send(
        parent.gateway,
        form("/api/v0/add", part()).header("authorization", "Bearer parent-token"),
    )
    .await?;
    assert_eq!(added.status, 200, "{}", added.text());
    let c = last_hash(&added.body)?;

    let basic = |pair: &str| {
        use base64::Engine;
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    };
    let pinned_on = |peer: &Peer, credentials: String| {
        let target = format!("/pins/{c}");
        let addr = peer.rest;
        async move {
            let mut call = Call::post(&target).header("authorization", &credentials);
            call.method = "GET".into();
            let answer = send(addr, call).await?;
            anyhow::ensure!(answer.status == 200, "{} {}", answer.status, answer.text());
            let map = answer.json()?["peer_map"].clone();
            Ok(map
                .as_object()
                .is_some_and(|m| !m.is_empty() && m.values().all(|e| e["status"] == "pinned")))
        }
    };
    eventually("pinned at the parent", WAIT, || {
        pinned_on(&parent, basic("admin:parent-pw"))
    })
    .await?;
    for peer in &child {
        assert!(
            pinned_on(peer, basic("admin:child-pw")).await?,
            "pinned on child {}",
            peer.peer_id
        );
        assert!(daemon_pins(peer, &c).await?, "{} node holds it", peer.peer_id);
    }
    let unauthenticated = send(parent.rest, Call::post(&format!("/pins/{c}"))).await?;
    assert_eq!(unauthenticated.status, 401);
    let direct = send_tls(child[0].gateway, &cert, Call::post("/api/v0/pin/ls")).await?;
    assert_eq!(
        direct.status,
        403,
        "the child's gateway wants its token: {}",
        direct.text()
    );
    Ok(())
}
