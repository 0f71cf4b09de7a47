//! The `cairn` client with ipfs-cluster-ctl's habits, against a real one-peer cluster: global
//! flags before or after the subcommand and their `CLUSTER_*` variables, errors that say what
//! to change, `cairn add` of a file and a directory (the roots pinned, ipfs-cluster-ctl's
//! lines), `--wait`, `pin update`, `health graph` as Graphviz accepts it, completion and man
//! pages, and the progress bar as a person sees it in a terminal (tmux).

use std::time::Duration;

use cairn_compat_tests::cluster::{add_unpinned, daemon_pins, listed, rest};
use cairn_compat_tests::process::{Peer, free_port, init_peer, run_cairn};
use cairn_compat_tests::{eventually, scratch_dir};

/// Runs `cairn` with `args`; its stdout, or an error with its stderr.
fn ok(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<String> {
    let (code, out, err) = run_cairn(args, env)?;
    anyhow::ensure!(code == 0, "cairn {args:?} exited {code}: {err}");
    Ok(out)
}

fn one_peer(name: &str) -> anyhow::Result<(tempfile::TempDir, Peer)> {
    let dir = scratch_dir("ctl")?;
    init_peer(dir.path(), name)?;
    let peer = Peer::start(dir.path(), &[])?;
    Ok((dir, peer))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_flags_work_before_and_after_the_subcommand_and_from_the_environment() -> anyhow::Result<()> {
    let (_dir, peer) = one_peer("flags")?;
    let host = peer.rest_multiaddr();
    let cid = add_unpinned(&peer, b"global flags\n").await?;

    tracing_phase("--host before the subcommand pins; after it and from CLUSTER_HOST lists");
    let pinned = ok(
        &["--host", &host, "pin", "add", &cid, "--no-status", "-n", "g"],
        &[],
    )?;
    assert!(pinned.starts_with(&format!("{cid} | g | PIN |")), "{pinned}");
    let before = ok(&["--host", &host, "pin", "ls"], &[])?;
    let after = ok(&["pin", "ls", "--host", &host], &[])?;
    let from_env = ok(&["pin", "ls"], &[("CLUSTER_HOST", &host)])?;
    assert_eq!(before, after);
    assert_eq!(before, from_env);
    assert!(before.contains(&cid), "{before}");
    let json = ok(&["--enc", "json", "pin", "ls"], &[("CLUSTER_HOST", &host)])?;
    let from_env = ok(&["pin", "ls", "--host", &host], &[("CLUSTER_ENC", "json")])?;
    assert_eq!(json, from_env);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(json.trim())?["cid"],
        cid.as_str()
    );

    tracing_phase("--debug shows the request and the raw answer on stderr");
    let (code, out, err) = run_cairn(&["pin", "ls", "-d", "--host", &host], &[])?;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, before, "stdout is unchanged");
    assert!(
        err.contains("> GET http://") && err.contains("/allocations"),
        "{err}"
    );
    assert!(err.contains("\"cid\""), "the raw answer: {err}");

    tracing_phase("errors name what was tried and what sets it");
    let nobody = format!("/ip4/127.0.0.1/tcp/{}", free_port()?);
    let (code, _, err) = run_cairn(&["pin", "ls", "--host", &nobody], &[])?;
    assert_eq!(code, 1);
    assert!(
        err.contains(&nobody) && err.contains("--host or CLUSTER_HOST"),
        "{err}"
    );
    // Accepted by the kernel's backlog, never answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0")?;
    let silent = format!("/ip4/127.0.0.1/tcp/{}", silent.local_addr()?.port());
    let (code, _, err) = run_cairn(&["pin", "ls", "--host", &silent, "--timeout", "1s"], &[])?;
    assert_eq!(code, 1);
    assert!(err.contains("--timeout or CLUSTER_TIMEOUT"), "{err}");
    assert_eq!(
        ok(
            &["pin", "ls"],
            &[("CLUSTER_HOST", &host), ("CLUSTER_TIMEOUT", "30s")]
        )?,
        before
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_pins_the_roots_of_a_file_and_a_directory_and_prints_ctls_lines() -> anyhow::Result<()> {
    let (_dir, peer) = one_peer("adder")?;
    let host = peer.rest_multiaddr();
    let files = scratch_dir("ctl-files")?;
    let file = files.path().join("hello.txt");
    std::fs::write(&file, b"hello from cairn add\n")?;
    let tree = files.path().join("site");
    std::fs::create_dir_all(tree.join("css"))?;
    std::fs::write(tree.join("index.html"), b"<h1>hi</h1>\n")?;
    std::fs::write(tree.join("css/main.css"), b"h1 { color: red }\n")?;
    std::fs::write(tree.join(".secret"), b"left out\n")?;
    let (file, tree) = (
        file.to_string_lossy().into_owned(),
        tree.to_string_lossy().into_owned(),
    );

    tracing_phase("a file: `added <cid> <name>`, its CID pinned in the cluster and on the daemon");
    let out = ok(&["add", &file, "--host", &host, "--name", "greeting"], &[])?;
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        (words.len(), words[0], words[2]),
        (3, "added", "hello.txt"),
        "{out}"
    );
    let file_cid = words[1].to_owned();
    let pin = rest(&peer, "GET", &format!("/allocations/{file_cid}"))
        .await?
        .json()?;
    assert_eq!(pin["name"], "greeting");
    eventually("the daemon holds the file's pin", Duration::from_secs(20), || {
        daemon_pins(&peer, &file_cid)
    })
    .await?;

    tracing_phase("a directory needs -r; with it every entry is shown and only the root is pinned");
    let (code, _, err) = run_cairn(&["add", &tree, "--host", &host], &[])?;
    assert_ne!(code, 0);
    assert!(err.contains("-r"), "{err}");
    let out = ok(&["--host", &host, "add", "-r", &tree], &[])?;
    let mut names: Vec<&str> = out.lines().filter_map(|l| l.split(' ').nth(2)).collect();
    assert_eq!(names.last(), Some(&"site"), "the root comes last: {out}");
    names.sort();
    assert_eq!(
        names,
        ["site", "site/css", "site/css/main.css", "site/index.html"],
        "no hidden entries: {out}"
    );
    assert!(out.lines().all(|l| l.starts_with("added ")), "{out}");
    let root = out
        .lines()
        .last()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_default()
        .to_owned();
    let mut want = vec![file_cid.clone(), root.clone()];
    want.sort();
    assert_eq!(listed(&peer).await?, want, "the roots only");

    tracing_phase("-Q -w prints the wrapping directory alone; --enc json the API's lines; --wait waits");
    let wrapped = ok(&["add", "-Q", "-w", &file, "--host", &host], &[])?;
    let wrapped = wrapped.trim().to_owned();
    assert!(!wrapped.contains(' ') && wrapped != file_cid, "{wrapped}");
    assert!(listed(&peer).await?.contains(&wrapped));
    let json = ok(
        &["add", "-r", &tree, "--enc", "json", "--host", &host, "--hidden"],
        &[],
    )?;
    let lines: Vec<serde_json::Value> = json.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    assert!(
        lines.iter().any(|l| l["name"] == "site/.secret"),
        "--hidden: {json}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["cid"].is_string() && l["name"].is_string()),
        "{json}"
    );
    std::fs::write(files.path().join("late.txt"), b"waited for\n")?;
    let late = files.path().join("late.txt").to_string_lossy().into_owned();
    let cid = ok(
        &[
            "add",
            "-q",
            &late,
            "--wait",
            "--wait-timeout",
            "60s",
            "--host",
            &host,
        ],
        &[],
    )?;
    let status = rest(&peer, "GET", &format!("/pins/{}", cid.trim()))
        .await?
        .json()?;
    assert_eq!(status["peer_map"][&peer.peer_id]["status"], "pinned", "{status}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_add_waits_and_pin_update_takes_the_old_pins_options() -> anyhow::Result<()> {
    let (_dir, peer) = one_peer("updater")?;
    let host = peer.rest_multiaddr();
    let old = add_unpinned(&peer, b"version 1\n").await?;
    let new = add_unpinned(&peer, b"version 2\n").await?;

    tracing_phase("pin add --wait returns once pinned, showing the status");
    let args = [
        "pin",
        "add",
        &old,
        "--wait",
        "--wt",
        "60",
        "-n",
        "site",
        "--metadata",
        "env=prod",
        "--expire-in",
        "24h",
    ];
    let out = ok(&[&args[..], &["--host", &host]].concat(), &[])?;
    assert!(out.starts_with(&format!("{old} | site:")), "{out}");
    assert!(out.contains(": PINNED |"), "{out}");

    tracing_phase("pin update pins the new CID with the old one's options; the old stays");
    let out = ok(
        &["pin", "update", &old, &new, "--no-status", "--host", &host],
        &[],
    )?;
    assert!(out.starts_with(&format!("{new} | site | PIN |")), "{out}");
    let pin = rest(&peer, "GET", &format!("/allocations/{new}")).await?.json()?;
    assert_eq!(pin["pin_update"], old.as_str());
    assert_eq!(pin["metadata"]["env"], "prod");
    assert_ne!(pin["expire_at"], "0001-01-01T00:00:00Z");
    assert!(listed(&peer).await?.contains(&old));
    let renamed = ok(
        &[
            "pin", "update", &old, &new, "--name", "site-v2", "--wait", "--host", &host,
        ],
        &[],
    )?;
    assert!(
        renamed.starts_with(&format!("{new} | site-v2:")) && renamed.contains("PINNED"),
        "{renamed}"
    );

    tracing_phase("updating from a CID the cluster does not pin says so");
    let stranger = add_unpinned(&peer, b"never pinned\n").await?;
    let (code, _, err) = run_cairn(&["pin", "update", &stranger, &new, "--host", &host], &[])?;
    assert_eq!(code, 1);
    assert!(err.contains("pin is not part of the pinset (404)"), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_graph_is_valid_dot_and_completion_and_man_are_generated() -> anyhow::Result<()> {
    let (_dir, peer) = one_peer("grapher")?;
    let host = peer.rest_multiaddr();
    let dot = ok(&["health", "graph", "--host", &host], &[])?;
    assert!(dot.starts_with("digraph cluster {"), "{dot}");
    assert!(dot.contains("  C0 -> I0\n"), "the peer and its daemon: {dot}");
    assert!(dot.contains("grapher"), "labelled with the peer's name: {dot}");
    let svg = render_svg(&dot)?;
    assert!(svg.contains("<svg") && svg.contains("grapher"), "{svg}");
    let json = ok(&["health", "graph", "--enc", "json", "--host", &host], &[])?;
    let graph: serde_json::Value = serde_json::from_str(json.trim())?;
    assert_eq!(graph["cluster_id"], peer.peer_id.as_str());

    let bash = ok(&["completion", "bash"], &[])?;
    assert!(
        bash.contains("_cairn()") && bash.contains("complete -F _cairn"),
        "{bash}"
    );
    for shell in ["zsh", "fish"] {
        assert!(ok(&["completion", shell], &[])?.contains("cairn"), "{shell}");
    }
    let man = ok(&["man"], &[])?;
    assert!(man.contains(".TH cairn 1"), "{man}");
    let pages = scratch_dir("ctl-man")?;
    let written = ok(&["man", "--dir", &pages.path().to_string_lossy()], &[])?;
    assert!(
        written.contains("cairn-pin-update.1") && pages.path().join("cairn-add.1").exists(),
        "{written}"
    );
    Ok(())
}

/// `dot -Tsvg` of `dot` (Debian's graphviz, installed by scripts/test.sh).
fn render_svg(dot: &str) -> anyhow::Result<String> {
    use std::io::Write;
    let mut child = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!("graphviz's `dot` is needed (scripts/test.sh installs Debian's graphviz): {e}")
        })?;
    child
        .stdin
        .take()
        .ok_or_else(|| anyhow::anyhow!("dot's stdin"))?
        .write_all(dot.as_bytes())?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "dot refused the graph: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

/// Marks a phase of a test in its output.
fn tracing_phase(what: &str) {
    eprintln!("-- {what}");
}

#[path = "t17_ctl_habits/progress.rs"]
mod progress;
