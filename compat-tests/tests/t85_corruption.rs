//! Issue 14.4: damage is detected. A peer's data directory is damaged in one way at a time —
//! a truncated or bit-flipped redb file (pinset, Raft log, blockstore), a missing or damaged
//! snapshot, an unreadable `current.json`, `identity.json` or `service.json` — and the peer
//! must refuse to start: exit non-zero, name the file, and say how to get out; never start
//! with an empty or partial pinset. The undamaged copy starts and lists every pin.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_compat_tests::cluster::{Dirs, cid, listed, put_blocks, rest};
use cairn_compat_tests::process::{LOCAL_PORTS, Peer, cairn_bin};
use cairn_compat_tests::scratch_dir;

const PINS: u64 = 40;
const MARKER: &str = "cairn block 3";

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Runs `cairn daemon` on `dir`; `Err` if it started (ready line), else its exit code and
/// standard error.
fn refuses(dir: &Path) -> anyhow::Result<(i32, String)> {
    let mut child = Command::new(cairn_bin()?)
        .arg("--config")
        .arg(dir)
        .arg("daemon")
        .envs(LOCAL_PORTS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        if let Some(status) = child.try_wait()? {
            let out = child.wait_with_output()?;
            return Ok((
                status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output()?;
    anyhow::bail!(
        "the daemon started on a damaged directory: {}",
        String::from_utf8_lossy(&out.stdout)
    )
}

/// Flips one bit in every copy of `needle` in the file (redb keeps older copies of a page
/// until they are reused; flipping only one could hit a page no longer in use).
fn flip_at(path: &Path, needle: &[u8]) -> anyhow::Result<()> {
    let mut bytes = std::fs::read(path)?;
    let found: Vec<usize> = (0..bytes.len().saturating_sub(needle.len()))
        .filter(|&i| &bytes[i..i + needle.len()] == needle)
        .collect();
    anyhow::ensure!(
        !found.is_empty(),
        "{} does not hold {:?}",
        path.display(),
        String::from_utf8_lossy(needle)
    );
    for at in found {
        bytes[at + needle.len() / 2] ^= 0x20;
    }
    Ok(std::fs::write(path, bytes)?)
}

fn truncate(path: &Path) -> anyhow::Result<()> {
    let len = std::fs::metadata(path)?.len();
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    Ok(file.set_len(len / 2)?)
}

fn snapshot_file(dir: &Path) -> anyhow::Result<PathBuf> {
    let current: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("snapshots/current.json"))?)?;
    Ok(dir
        .join("snapshots")
        .join(current["file"].as_str().unwrap_or_default()))
}

type Damage = fn(&Path) -> anyhow::Result<()>;

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_data_directory_is_refused_with_the_file_and_the_way_out() -> anyhow::Result<()> {
    let dirs = Dirs::init(1)?;
    let env = [
        ("CLUSTER_RAFT_SNAPSHOTTHRESHOLD", "10"),
        ("CLUSTER_RAFT_TRAILINGLOGS", "5"),
    ];
    let peer = dirs.start(0, None, &env)?;
    let cids: Vec<String> = (0..PINS).map(|n| cid(89_000 + n)).collect();
    for c in &cids {
        anyhow::ensure!(rest(&peer, "POST", &format!("/pins/{c}")).await?.status == 200);
    }
    put_blocks(&peer, 8).await?;
    anyhow::ensure!(peer.stop()? == 0, "clean stop");
    let original = dirs.dirs[0].path();
    let first_cid = cids[0].clone();
    let cases: Vec<(&str, &str, Damage)> = vec![
        ("state.redb truncated", "state.redb", |d| {
            truncate(&d.join("state.redb"))
        }),
        ("raft-log.redb truncated", "raft-log.redb", |d| {
            truncate(&d.join("raft-log.redb"))
        }),
        ("state.redb with a flipped bit in a pin", "state.redb", |d| {
            flip_at(&d.join("state.redb"), cid(89_000).as_bytes())
        }),
        (
            "raft-log.redb with a flipped bit in an entry",
            "raft-log.redb",
            |d| flip_at(&d.join("raft-log.redb"), cid(89_039).as_bytes()),
        ),
        ("blocks.redb with a flipped bit in a block", "blocks.redb", |d| {
            flip_at(&d.join("ipfs/blocks.redb"), MARKER.as_bytes())
        }),
        ("the snapshot missing", ".snap", |d| {
            Ok(std::fs::remove_file(snapshot_file(d)?)?)
        }),
        ("the snapshot with a flipped bit", ".snap", |d| {
            flip_at(&snapshot_file(d)?, cid(89_005).as_bytes())
        }),
        ("current.json unreadable", "current.json", |d| {
            Ok(std::fs::write(d.join("snapshots/current.json"), b"{\"meta\":")?)
        }),
        ("identity.json unreadable", "identity.json", |d| {
            Ok(std::fs::write(d.join("identity.json"), b"garbage")?)
        }),
        ("service.json unreadable", "service.json", |d| {
            Ok(std::fs::write(d.join("service.json"), b"{")?)
        }),
    ];
    let scratch = scratch_dir("damage")?;
    for (n, (what, file, damage)) in cases.iter().enumerate() {
        let dir = scratch.path().join(format!("case-{n}"));
        copy_dir(original, &dir)?;
        damage(&dir)?;
        let (code, err) = refuses(&dir).map_err(|e| e.context(what.to_string()))?;
        assert_ne!(code, 0, "{what}: exit code");
        assert!(
            err.contains(file),
            "{what}: the message does not name {file}: {err}"
        );
        let configs = file.ends_with(".json") && !file.starts_with("current");
        if !configs {
            assert!(
                err.contains("cairn state import") && err.contains("--bootstrap"),
                "{what}: no way out in: {err}"
            );
        }
        println!("{what}: exit {code}: {}", err.lines().last().unwrap_or_default());
    }
    // The undamaged directory starts and lists every pin: the checks have no false alarm.
    let dir = scratch.path().join("intact");
    copy_dir(original, &dir)?;
    let peer = Peer::start(&dir, &[])?;
    let listed = listed(&peer).await?;
    assert_eq!(listed.len() as u64, PINS, "every pin after a clean restart");
    assert!(listed.contains(&first_cid));
    Ok(())
}
