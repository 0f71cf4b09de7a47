//! A one-peer cluster through real processes: `cairn init`, `cairn daemon`, the REST API in
//! ipfs-cluster's shapes, the `cairn pin` client, and durability of acknowledged pins across
//! a clean restart and across kill -9.

use cairn_compat_tests::cluster::{listed, rest};
use cairn_compat_tests::corpus::Vars;
use cairn_compat_tests::process::{Peer, init_peer, run_cairn};
use cairn_compat_tests::scratch_dir;

fn cids() -> anyhow::Result<(String, String)> {
    let vars = Vars::with_oracle_cids()?;
    Ok((vars.fill("{{cid:f11.txt}}")?, vars.fill("{{cid:dir}}")?))
}

#[tokio::test(flavor = "multi_thread")]
async fn pins_are_committed_listed_and_survive_restart_and_kill_9() -> anyhow::Result<()> {
    let (hello, dir_cid) = cids()?;
    let dir = scratch_dir("peer")?;
    init_peer(dir.path(), "solo")?;
    let peer = Peer::start(dir.path(), &[])?;

    let pinned = rest(&peer, "POST", &format!("/pins/{hello}?name=hello&meta-k=v")).await?;
    assert_eq!(pinned.status, 200, "{}", pinned.text());
    assert!(
        pinned
            .text()
            .starts_with("{\"replication_factor_min\":-1,\"replication_factor_max\":-1,\"name\":\"hello\""),
        "{}",
        pinned.text()
    );
    assert!(pinned.body.ends_with(b"}\n"));
    assert_eq!(
        rest(&peer, "POST", &format!("/pins/{dir_cid}")).await?.status,
        200
    );
    let mut want = vec![hello.clone(), dir_cid.clone()];
    want.sort();
    let got = listed(&peer).await?;
    assert_eq!(got, want);
    let one = rest(&peer, "GET", &format!("/allocations/{hello}"))
        .await?
        .json()?;
    assert_eq!(
        (one["name"].as_str(), one["metadata"]["k"].as_str()),
        (Some("hello"), Some("v"))
    );

    assert_eq!(peer.stop()?, 0, "SIGTERM is a clean shutdown");
    let peer = Peer::start(dir.path(), &[])?;
    let got = listed(&peer).await?;
    assert_eq!(got, want, "pins survive a clean restart");

    assert_eq!(
        rest(&peer, "DELETE", &format!("/pins/{hello}")).await?.status,
        200
    );
    peer.kill()?;
    let peer = Peer::start(dir.path(), &[])?;
    assert_eq!(
        listed(&peer).await?,
        vec![dir_cid],
        "an acknowledged unpin survives kill -9"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_requests_get_ipfs_cluster_errors_and_change_nothing() -> anyhow::Result<()> {
    let (hello, _) = cids()?;
    let dir = scratch_dir("peer")?;
    init_peer(dir.path(), "strict")?;
    let peer = Peer::start(dir.path(), &[])?;
    let cases = [
        ("POST", "/pins/notacid".to_owned(), 400, "error decoding Cid"),
        (
            "POST",
            format!("/pins/{hello}?replication-min=3&replication-max=2"),
            400,
            "cluster.replication_factor_min is larger than max",
        ),
        (
            "POST",
            format!("/pins/{hello}?replication-min=-1&replication-max=2"),
            400,
            "must be -1 when one of them is",
        ),
        ("POST", format!("/pins/{hello}?expire-in=5ms"), 400, "expire-in"),
        (
            "DELETE",
            format!("/pins/{hello}"),
            404,
            "pin is not part of the pinset",
        ),
        ("GET", "/no/such/route".to_owned(), 404, "not found"),
    ];
    for (method, target, status, message) in cases {
        let answer = rest(&peer, method, &target).await?;
        assert_eq!(answer.status, status, "{method} {target}: {}", answer.text());
        let error = answer.json()?;
        assert_eq!(error["code"], status);
        assert!(
            error["message"].as_str().unwrap_or("").contains(message),
            "{method} {target}: {}",
            answer.text()
        );
    }
    assert!(listed(&peer).await?.is_empty(), "nothing was committed");
    assert_eq!(rest(&peer, "GET", "/health").await?.status, 204);
    let id = rest(&peer, "GET", "/id").await?.json()?;
    assert_eq!(id["id"].as_str(), Some(peer.peer_id.as_str()));
    assert_eq!(id["peername"], "strict");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_client_pins_lists_and_unpins() -> anyhow::Result<()> {
    let (hello, _) = cids()?;
    let dir = scratch_dir("peer")?;
    init_peer(dir.path(), "cli")?;
    let peer = Peer::start(dir.path(), &[])?;
    let host = peer.rest_multiaddr();
    let cairn = |args: &[&str]| run_cairn(&[args, &["--host", &host]].concat(), &[]);

    let (code, out, err) = cairn(&[
        "pin",
        "add",
        &hello,
        "--name",
        "greeting",
        "--replication",
        "1",
        "--no-status",
    ])?;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!("{hello} | greeting | PIN | Repl. Factor: 1 |")),
        "{out}"
    );
    let (_, out, _) = cairn(&["pin", "ls", "--enc", "json"])?;
    let pin: serde_json::Value = serde_json::from_str(out.trim())?;
    assert_eq!(pin["cid"].as_str(), Some(hello.as_str()));
    assert!(
        out.starts_with("{\"replication_factor_min\":1,"),
        "json keeps the API's order: {out}"
    );
    let (code, out, _) = cairn(&["id"])?;
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("{} | cli | Sees 0 other peers", peer.peer_id)),
        "{out}"
    );
    assert_eq!(cairn(&["pin", "rm", &hello])?.0, 0);
    let (code, _, err) = cairn(&["pin", "rm", &hello])?;
    assert_eq!(code, 1);
    assert!(err.contains("pin is not part of the pinset (404)"), "{err}");
    Ok(())
}

#[test]
fn init_refuses_to_overwrite_and_daemon_refuses_bad_config() -> anyhow::Result<()> {
    let dir = scratch_dir("peer")?;
    let config = dir.path().to_string_lossy().into_owned();
    let (code, _, err) = run_cairn(&["--config", &config, "daemon"], &[])?;
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("run `cairn init` first"), "{err}");

    init_peer(dir.path(), "a")?;
    let identity = std::fs::read_to_string(dir.path().join("identity.json"))?;
    let (code, _, err) = run_cairn(&["--config", &config, "init"], &[])?;
    assert_eq!(code, 64);
    assert!(err.contains("exists; use --force"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("identity.json"))?,
        identity,
        "nothing overwritten"
    );
    assert_eq!(run_cairn(&["--config", &config, "init", "--force"], &[])?.0, 0);
    assert_ne!(
        std::fs::read_to_string(dir.path().join("identity.json"))?,
        identity
    );

    let (code, _, err) = run_cairn(&["--config", &config, "daemon"], &[("CLUSTER_SECRET", "nothex")])?;
    assert_eq!(code, 64);
    assert!(err.contains("cluster.secret"), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn state_export_import_clean_and_the_shutdown_backup() -> anyhow::Result<()> {
    let (hello, dir_cid) = cids()?;
    let dir = scratch_dir("peer")?;
    let config = dir.path().to_string_lossy().into_owned();
    init_peer(dir.path(), "state")?;
    let peer = Peer::start(dir.path(), &[])?;
    for cid in [&hello, &dir_cid] {
        assert_eq!(
            rest(&peer, "POST", &format!("/pins/{cid}?name=n")).await?.status,
            200
        );
    }
    let (code, _, err) = run_cairn(&["--config", &config, "state", "export"], &[])?;
    assert_ne!(code, 0, "export needs the daemon stopped");
    assert!(err.contains("stop it first"), "{err}");
    assert_eq!(peer.stop()?, 0);

    let backups: Vec<_> = std::fs::read_dir(dir.path().join("backups"))?.collect();
    assert_eq!(backups.len(), 1, "a clean stop writes one backup");
    let (code, exported, _) = run_cairn(&["--config", &config, "state", "export"], &[])?;
    assert_eq!(code, 0);
    assert_eq!(exported.lines().count(), 2);
    let file = dir.path().join("export.ndjson");
    std::fs::write(&file, &exported)?;

    let (code, _, err) = run_cairn(&["--config", &config, "state", "clean"], &[])?;
    assert_eq!(code, 64, "clean needs --force: {err}");
    assert_eq!(
        run_cairn(&["--config", &config, "state", "clean", "--force"], &[])?.0,
        0
    );
    let peer = Peer::start(dir.path(), &[])?;
    assert!(listed(&peer).await?.is_empty(), "clean leaves no pins");
    assert_eq!(peer.stop()?, 0);

    let path = file.to_string_lossy().into_owned();
    assert_eq!(
        run_cairn(&["--config", &config, "state", "import", &path, "--force"], &[])?.0,
        0
    );
    let peer = Peer::start(dir.path(), &[])?;
    let mut want = vec![hello.clone(), dir_cid];
    want.sort();
    let got = listed(&peer).await?;
    assert_eq!(got, want, "import restores the exported pinset");
    assert_eq!(
        rest(&peer, "DELETE", &format!("/pins/{hello}")).await?.status,
        200,
        "the imported state is live in Raft"
    );
    Ok(())
}
