//! Followers (`cairn follow`, docs/follow.md) with real processes: three voters publish their
//! follower configuration with `cairn follow-config`, a follower is initialised from it and
//! run; it holds exactly the voters' pinset, pins replication -1 content on its embedded node
//! (fetched from the trusted peers), refuses writes on its REST API and its gateway, resumes
//! after a SIGKILL, moves on when its trusted peer dies, takes a snapshot when it fell behind
//! the purged log, and never changes its pinset given a wrong secret or an untrusted source.

use std::time::Duration;

use cairn_compat_tests::cluster::{Dirs, add_unpinned, cid, listed, rest, three};
use cairn_compat_tests::follow::{Follower, follow_cli, init, publish};
use cairn_compat_tests::http::{Call, send};
use cairn_compat_tests::process::Peer;
use cairn_compat_tests::scratch_dir;

const WAIT: Duration = Duration::from_secs(60);

/// Pins `cids` through `peer`'s REST API.
async fn pin_all(peer: &Peer, cids: &[String]) -> anyhow::Result<()> {
    for cid in cids {
        let answer = rest(peer, "POST", &format!("/pins/{cid}")).await?;
        anyhow::ensure!(answer.status == 200, "pin {cid}: {}", answer.text());
    }
    Ok(())
}

/// Runs `check` until it succeeds; its last error after `within`.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let until = std::time::Instant::now() + within;
    loop {
        match check().await {
            Ok(()) => return Ok(()),
            Err(e) if std::time::Instant::now() > until => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Waits until `follower`'s IPFS node holds `cid` (its status there is `pinned`).
async fn pinned_on(follower: &Follower, cid: &str) -> anyhow::Result<()> {
    eventually(WAIT, || async {
        let info = follower.rest("GET", &format!("/pins/{cid}")).await?.json()?;
        let status = info["peer_map"][&follower.peer_id]["status"].clone();
        anyhow::ensure!(status == "pinned", "{info}");
        Ok(())
    })
    .await
}

fn cids(range: std::ops::Range<u64>) -> Vec<String> {
    range.map(cid).collect()
}

/// A follower of `voters` named `name` under `base`, initialised from what `voters[0]`
/// publishes; its `init` output.
fn follower_of(voters: &[Peer], base: &std::path::Path, name: &str) -> anyhow::Result<String> {
    let published = publish(&voters[0], base, &[])?;
    init(base, name, &published.to_string_lossy())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_holds_the_pinset_pins_content_and_refuses_writes() -> anyhow::Result<()> {
    let (_dirs, voters) = three(&[])?;
    let content = add_unpinned(&voters[0], b"followed content").await?;
    let mut want = cids(0..20);
    want.push(content.clone());
    pin_all(&voters[1], &want).await?;

    let base = scratch_dir("follow")?;
    let said = follower_of(&voters, base.path(), "c1")?;
    assert!(said.contains("next: cairn follow c1 run"), "{said}");
    for voter in &voters {
        assert!(
            said.contains(&voter.peer_id),
            "init names every trusted peer: {said}"
        );
    }
    let follower = Follower::run(base.path(), "c1", &[])?;
    want.sort();
    follower.lists_eventually(&want, WAIT).await?;

    // Later pins and unpins arrive too.
    let later = cids(100..110);
    pin_all(&voters[2], &later).await?;
    let unpinned = rest(&voters[0], "DELETE", &format!("/pins/{}", cid(0))).await?;
    assert_eq!(unpinned.status, 200, "{}", unpinned.text());
    let mut now = listed(&voters[0]).await?;
    now.sort();
    follower.lists_eventually(&now, WAIT).await?;

    // Replication -1 content is pinned on the follower's embedded node.
    pinned_on(&follower, &content).await?;

    // Writes are refused, naming the trusted peers; nothing changes.
    let fresh = cid(999);
    for (method, target) in [
        ("POST", format!("/pins/{fresh}")),
        ("DELETE", format!("/pins/{}", now[0])),
    ] {
        let answer = follower.rest(method, &target).await?;
        assert_eq!(answer.status, 403, "{method} {target}: {}", answer.text());
        let message = answer.json()?["message"].as_str().unwrap_or_default().to_owned();
        assert!(
            message.contains("follower") && message.contains(&voters[0].peer_id),
            "{message}"
        );
    }
    let pinned = send(
        follower.gateway,
        Call::post(&format!("/api/v0/pin/add?arg={fresh}")),
    )
    .await?;
    assert_eq!(pinned.status, 500, "{}", pinned.text());
    let error = pinned.json()?;
    assert_eq!(error["Type"], "error", "kubo's error shape: {error}");
    assert!(
        error["Message"].as_str().unwrap_or_default().contains("follower"),
        "{error}"
    );
    let ls = send(follower.gateway, Call::post("/api/v0/pin/ls?type=recursive")).await?;
    assert_eq!(ls.status, 200, "{}", ls.text());
    let keys = ls.json()?["Keys"]
        .as_object()
        .map(|k| k.len())
        .unwrap_or_default();
    assert_eq!(keys, now.len(), "the follower's gateway lists the followed pins");
    assert_eq!(follower.listed().await?, now, "a refused write changed nothing");
    assert_eq!(listed(&voters[0]).await?, now, "nor on the cluster");

    // info, list and the cluster list, as ipfs-cluster-follow shows them.
    let env = cairn_compat_tests::follow::FOLLOWER_PORTS;
    let (code, info, err) = follow_cli(base.path(), &["c1", "info"], &env)?;
    assert_eq!(code, 0, "{err}");
    let progress = follower.progress().await?;
    assert!(info.contains("Cluster peer information: running"), "{info}");
    assert!(info.contains(&follower.peer_id), "{info}");
    assert!(info.contains("Applied log index:"), "{info}");
    assert_eq!(progress["behind"], 0, "{progress}");
    let (code, list, err) = follow_cli(base.path(), &["c1", "list"], &env)?;
    assert_eq!(code, 0, "{err}");
    assert_eq!(list.lines().count(), now.len(), "{list}");
    assert!(list.contains(&format!("{content} | PINNED")), "{list}");
    let (code, clusters, _) = follow_cli(base.path(), &[], &env)?;
    assert_eq!(code, 0);
    assert!(clusters.contains("c1 (running)"), "{clusters}");

    // Stopped, `list` reads the store.
    assert_eq!(follower.stop()?, 0);
    let (code, list, err) = follow_cli(base.path(), &["c1", "list"], &env)?;
    assert_eq!(code, 0, "{err}");
    assert_eq!(list.lines().count(), now.len(), "{list}");
    assert!(list.contains("(follower not running)"), "{list}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_resumes_after_a_kill_and_moves_on_when_its_source_dies() -> anyhow::Result<()> {
    let (_dirs, mut voters) = three(&[])?;
    pin_all(&voters[0], &cids(0..30)).await?;
    let base = scratch_dir("follow")?;
    follower_of(&voters, base.path(), "c2")?;
    let follower = Follower::run(base.path(), "c2", &[])?;
    follower.lists_eventually(&cids(0..30), WAIT).await?;

    // Killed while pins keep coming; restarted, it converges to the exact pinset.
    let writer = voters[1].rest;
    let writes = tokio::spawn(async move {
        for n in 30..90 {
            let mut call = Call::post(&format!("/pins/{}", cid(n)));
            call.method = "POST".into();
            send(writer, call).await?;
        }
        anyhow::Ok(())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    follower.kill()?;
    writes.await??;
    let follower = Follower::run(base.path(), "c2", &[])?;
    follower
        .lists_eventually(&listed(&voters[0]).await?, WAIT)
        .await?;

    // The trusted peer it follows dies; writes go on through the others; it follows them.
    let source = follower.progress().await?["source"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let dead = voters
        .iter()
        .position(|v| v.peer_id == source)
        .ok_or_else(|| anyhow::anyhow!("follows {source:?}, not a voter"))?;
    voters.remove(dead).kill()?;
    eventually(WAIT, || async { pin_all(&voters[0], &cids(200..240)).await }).await?;
    follower
        .lists_eventually(&listed(&voters[0]).await?, WAIT)
        .await?;
    let now = follower.progress().await?;
    assert_ne!(now["source"], source.as_str(), "{now}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_the_purged_log_takes_a_snapshot() -> anyhow::Result<()> {
    let small_log = [
        ("CLUSTER_RAFT_SNAPSHOTTHRESHOLD", "20"),
        ("CLUSTER_RAFT_TRAILINGLOGS", "5"),
    ];
    let (_dirs, voters) = three(&small_log)?;
    pin_all(&voters[0], &cids(0..5)).await?;
    let base = scratch_dir("follow")?;
    follower_of(&voters, base.path(), "c3")?;
    let follower = Follower::run(base.path(), "c3", &[])?;
    follower.lists_eventually(&cids(0..5), WAIT).await?;
    assert_eq!(follower.progress().await?["snapshots"], 0);
    assert_eq!(follower.stop()?, 0);

    // Far more than the trailing log while it is stopped: its index is purged everywhere.
    pin_all(&voters[1], &cids(5..150)).await?;
    let follower = Follower::run(base.path(), "c3", &[])?;
    follower.lists_eventually(&cids(0..150), WAIT).await?;
    let progress = follower.progress().await?;
    assert!(progress["snapshots"].as_u64() >= Some(1), "{progress}");
    assert!(
        follower.log().contains("installed the pinset snapshot"),
        "{}",
        follower.log()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_or_an_untrusted_source_never_changes_the_pinset() -> anyhow::Result<()> {
    let (_dirs, voters) = three(&[])?;
    pin_all(&voters[0], &cids(0..10)).await?;
    let base = scratch_dir("follow")?;
    let published = publish(&voters[0], base.path(), &[])?;
    let text = std::fs::read_to_string(&published)?;
    let mut config: serde_json::Value = serde_json::from_str(&text)?;

    // Another secret: no trusted peer can be reached.
    config["cluster"]["secret"] = "ab".repeat(32).into();
    let wrong_secret = base.path().join("wrong-secret.json");
    std::fs::write(&wrong_secret, config.to_string())?;
    init(base.path(), "secret", &wrong_secret.to_string_lossy())?;

    // The right secret, but trusting a peer that is not in the cluster: the voters' addresses
    // are there, and ignored.
    let outsider = Dirs::init(1)?.peer_id(0)?;
    let mut config: serde_json::Value = serde_json::from_str(&text)?;
    config["cluster"]["trusted_peers"] = serde_json::json!([outsider]);
    let untrusted = base.path().join("untrusted.json");
    std::fs::write(&untrusted, config.to_string())?;
    init(base.path(), "untrusted", &untrusted.to_string_lossy())?;

    let secret = Follower::run(base.path(), "secret", &[])?;
    let stranger = Follower::run(base.path(), "untrusted", &[])?;
    eventually(WAIT, || async {
        let progress = secret.progress().await?;
        anyhow::ensure!(progress["last_error"].is_string(), "{progress}");
        Ok(())
    })
    .await?;
    pin_all(&voters[0], &cids(10..20)).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    for follower in [&secret, &stranger] {
        assert_eq!(
            follower.listed().await?,
            Vec::<String>::new(),
            "{}",
            follower.log()
        );
        assert_eq!(follower.progress().await?["applied"], 0);
    }
    assert!(
        stranger.log().contains("not a trusted peer"),
        "the untrusted voters are named in the log: {}",
        stranger.log()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_a_parent_cluster_holds_the_parents_pins() -> anyhow::Result<()> {
    use cairn_compat_tests::cluster::cluster_over;
    let (_a, child_a) = cluster_over(1, |_| None)?;
    let (_b, child_b) = cluster_over(1, |_| None)?;
    let children = [child_a[0].gateway_multiaddr(), child_b[0].gateway_multiaddr()];
    let (_p, parent) = cluster_over(2, |i| Some(children[i].clone()))?;
    let content = add_unpinned(&parent[0], b"a parent's followed content").await?;
    let mut want = cids(0..5);
    want.push(content.clone());
    pin_all(&parent[0], &want).await?;

    let base = scratch_dir("follow")?;
    follower_of(&parent, base.path(), "parent")?;
    let follower = Follower::run(base.path(), "parent", &[])?;
    want.sort();
    follower.lists_eventually(&want, WAIT).await?;
    for child in [&child_a[0], &child_b[0]] {
        let held = listed(child).await?;
        assert!(
            held.contains(&content),
            "the children hold the parent's pins: {held:?}"
        );
    }
    pinned_on(&follower, &content).await?;
    Ok(())
}
