//! Logs a person can read (docs/operations.md, "Logs"), on real daemons: a clean start of a
//! three-peer cluster prints a screenful of Cairn's own events and nothing of its
//! dependencies' INFO; `--loglevel` (ipfs-cluster's habit) and `RUST_LOG` bring them back;
//! `--log-format json` writes one JSON object per line; the access logs are their own
//! targets, and `api.restapi.http_log_file` / `api.ipfsproxy.log_file` send them to files
//! instead of stderr; a bad `--loglevel` starts nothing.

use std::path::Path;
use std::time::Duration;

use cairn_compat_tests::cluster::{Dirs, rest, three};
use cairn_compat_tests::eventually;
use cairn_compat_tests::http::{Call, send};
use cairn_compat_tests::process::{Peer, run_cairn};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);
/// A terminal's screen: what a clean start may print per peer.
const SCREENFUL: usize = 24;
/// An empty `RUST_LOG` counts as unset: the daemons get the default filter whatever the
/// environment running the tests says.
const DEFAULT_LOGS: [(&str, &str); 1] = [("RUST_LOG", "")];

fn log_of(peer: &Peer) -> String {
    std::fs::read_to_string(peer.dir.join("daemon.log")).unwrap_or_default()
}

/// The `target` of a text log line: the word after the level, without its colon.
fn target(line: &str) -> &str {
    let mut words = line.split_whitespace();
    let level = words.nth(1).unwrap_or_default();
    match level {
        "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR" => {
            words.next().unwrap_or_default().trim_end_matches(':')
        }
        _ => "",
    }
}

fn is_access(target: &str) -> bool {
    target.starts_with("cairn::restapi")
        || target.starts_with("cairn::access")
        || target.starts_with("cairn::pinsvcapi")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_three_peer_start_prints_a_screenful_of_cairns_own_events() -> anyhow::Result<()> {
    let (_dirs, peers) = three(&DEFAULT_LOGS)?;
    eventually(
        "every peer announced its leader and the first saw both joins",
        WAIT,
        || async {
            let first = log_of(&peers[0]);
            let joined = first.matches("peer joined the cluster").count() >= 2;
            let led = first.contains("this peer is the cluster's leader");
            let followers = peers[1..].iter().all(|p| log_of(p).contains("leader elected"));
            // Written just after the ready line the harness waits for, off the calling thread.
            let serving = peers.iter().all(|p| log_of(p).contains("cairn peer serving"));
            Ok(joined && led && followers && serving)
        },
    )
    .await?;
    // The harness asks the REST API while it starts peers: those are access lines.
    rest(&peers[0], "GET", "/id").await?;
    for peer in &peers {
        let log = log_of(peer);
        let start: Vec<&str> = log.lines().filter(|l| !is_access(target(l))).collect();
        assert!(
            start.len() <= SCREENFUL,
            "{}: a clean start printed {} lines:\n{log}",
            peer.peer_id,
            start.len()
        );
        for line in &start {
            let target = target(line);
            assert!(
                target.starts_with("cairn") || line.contains(" WARN ") || line.contains(" ERROR "),
                "a dependency's INFO line on a clean start: {line}"
            );
        }
        assert!(log.contains("cairn peer serving"), "{log}");
        assert!(log.contains(&format!("peer={}", peer.peer_id)), "{log}");
    }
    let first = log_of(&peers[0]);
    for joined in &peers[1..] {
        assert!(
            first.contains(&format!("peer={}", joined.peer_id)) && first.contains("peer joined the cluster"),
            "the leader names each peer that joined: {first}"
        );
    }
    // The access line is written once the answer's body ended, off the request path.
    eventually("the REST access log is on by default", WAIT, || async {
        let log = log_of(&peers[0]);
        Ok(log
            .lines()
            .any(|l| target(l) == "cairn::restapi" && l.contains("path=/id")))
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loglevel_and_rust_log_bring_dependencies_back_and_a_bad_level_starts_nothing() -> anyhow::Result<()>
{
    let dirs = Dirs::init(2)?;
    let peer = Peer::start_with(
        dirs.dirs[0].path(),
        &["--loglevel", "info,raft:info"],
        &DEFAULT_LOGS,
    )?;
    eventually("openraft's INFO lines appear with raft:info", WAIT, || async {
        Ok(log_of(&peer).lines().any(|l| target(l).starts_with("openraft")))
    })
    .await?;
    drop(peer);

    let config = dirs.dirs[1].path().to_string_lossy().into_owned();
    let (code, out, err) = run_cairn(&["--config", &config, "daemon", "--loglevel", "loud"], &[])?;
    assert_eq!(code, 64, "{out}{err}");
    assert!(err.contains("--loglevel") && err.contains("\"loud\""), "{err}");
    let (code, _, err) = run_cairn(
        &["--config", &config, "daemon"],
        &[("RUST_LOG", "cairn=nonsense")],
    )?;
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("RUST_LOG"), "{err}");
    let (code, _, err) = run_cairn(
        &["--config", &config, "daemon", "--loglevel", "nowhere here:debug"],
        &[],
    )?;
    assert_eq!(code, 64, "{err}");
    assert!(
        err.contains("pintracker"),
        "the refusal lists the components: {err}"
    );

    let via_env = Peer::start(dirs.dirs[1].path(), &[("RUST_LOG", "info")])?;
    eventually("RUST_LOG=info shows libp2p's INFO lines", WAIT, || async {
        Ok(log_of(&via_env).lines().any(|l| target(l).starts_with("libp2p")))
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_and_access_logs_in_their_own_files() -> anyhow::Result<()> {
    let dirs = Dirs::init(1)?;
    let env = [
        ("RUST_LOG", ""),
        ("CAIRN_LOG_FORMAT", "json"),
        ("CLUSTER_RESTAPI_HTTPLOGFILE", "rest-access.log"),
        ("CLUSTER_IPFSPROXY_LOGFILE", "gateway-access.log"),
    ];
    let peer = Peer::start(dirs.dirs[0].path(), &env)?;
    rest(&peer, "GET", "/id").await?;
    send(peer.gateway, Call::post("/api/v0/version")).await?;
    let dir = peer.dir.clone();
    eventually("both access lines are written", WAIT, || async {
        Ok(read(&dir, "rest-access.log").contains("/id")
            && read(&dir, "gateway-access.log").contains("/api/v0/version"))
    })
    .await?;
    drop(peer);

    let stderr = read(&dir, "daemon.log");
    let events: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| anyhow::anyhow!("not JSON: {l}: {e}")))
        .collect::<anyhow::Result<_>>()?;
    assert!(!events.is_empty(), "the daemon logged nothing");
    for event in &events {
        for key in ["timestamp", "level", "target", "message"] {
            assert!(event.get(key).is_some(), "{key} missing: {event}");
        }
        let target = event["target"].as_str().unwrap_or_default();
        assert!(
            !is_access(target),
            "an access line routed to a file reached stderr: {event}"
        );
    }
    assert!(
        events.iter().any(|e| e["message"] == "cairn peer serving"),
        "{stderr}"
    );
    for (file, path) in [
        ("rest-access.log", "/id"),
        ("gateway-access.log", "/api/v0/version"),
    ] {
        let lines = read(&dir, file);
        let access: Vec<Value> = lines
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        assert!(
            access.iter().any(|a| a["path"] == path && a["status"] == 200),
            "{file}: {lines}"
        );
    }
    Ok(())
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}
