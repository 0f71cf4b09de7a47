//! `cairn add`'s progress bar as a person sees it: the command runs in a real terminal
//! (a detached tmux session, 120×20), the screen is read while it uploads, and the byte count
//! must grow and end at 100 %.

use std::process::Command;
use std::time::{Duration, Instant};

use super::{ok, one_peer};

/// 128 MiB of bytes (long enough to upload that the bar, drawn 20 times a second, shows counts
/// between 0 and the end) that do not repeat in any block.
fn big_file(path: &std::path::Path) -> anyhow::Result<()> {
    let mut bytes = Vec::with_capacity(128 << 20);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while bytes.len() < 128 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    Ok(std::fs::write(path, bytes)?)
}

/// `tmux -L <socket> args…`, on a server of this test's own.
fn tmux(socket: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("tmux")
        .arg("-L")
        .arg(socket)
        .args(args)
        .output()
        .map_err(|e| anyhow::anyhow!("tmux is needed (scripts/test.sh installs Debian's tmux): {e}"))?;
    anyhow::ensure!(
        out.status.success(),
        "tmux {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The sent byte counts the bar shows on `screen` (`12.50 MiB/128.00 MiB`), in bytes.
fn sent(screen: &str) -> Option<f64> {
    let line = screen
        .lines()
        .find(|l| l.contains("/128.00 MiB") || l.contains("/128 MiB"))?;
    let before = line.split('/').next()?;
    let mut words = before.split_whitespace().rev();
    let unit = words.next()?;
    let number: f64 = words.next()?.parse().ok()?;
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        _ => return None,
    };
    Some(number * scale)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_progress_bar_advances_and_ends_at_100_percent_in_a_terminal() -> anyhow::Result<()> {
    let (_dir, peer) = one_peer("progress")?;
    let host = peer.rest_multiaddr();
    let files = cairn_compat_tests::scratch_dir("ctl-big")?;
    let file = files.path().join("big.bin");
    big_file(&file)?;
    let cairn = cairn_compat_tests::process::cairn_bin()?;
    let done = files.path().join("done");
    let socket = format!("cairn-t17-{}", std::process::id());
    let script = format!(
        "{} add {} --host {host} > {}; sleep 30",
        cairn.display(),
        file.display(),
        done.display()
    );
    tmux(
        &socket,
        &["new-session", "-d", "-s", "add", "-x", "120", "-y", "20", &script],
    )?;
    let mut seen: Vec<f64> = Vec::new();
    let mut last = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let finished = loop {
        last = tmux(&socket, &["capture-pane", "-p", "-t", "add"]).unwrap_or(last);
        if let Some(bytes) = sent(&last)
            && seen.last() != Some(&bytes)
        {
            seen.push(bytes);
        }
        let added = std::fs::read_to_string(&done).unwrap_or_default();
        if added.starts_with("added ") {
            break Some(added);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let screen = tmux(&socket, &["capture-pane", "-p", "-t", "add"]).unwrap_or(last);
    let _ = tmux(&socket, &["kill-server"]);
    let added = finished.ok_or_else(|| anyhow::anyhow!("cairn add did not finish; screen:\n{screen}"))?;
    eprintln!("byte counts seen: {seen:?}\nlast screen:\n{screen}");
    assert!(
        seen.len() >= 3,
        "the bar showed a count between 0 and the end: {seen:?}\n{screen}"
    );
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "counts only grow: {seen:?}");
    assert!(
        screen.contains("100%") && screen.contains("128.00 MiB/128.00 MiB"),
        "{screen}"
    );
    assert!(added.contains("big.bin"), "{added}");
    let cid = added.split_whitespace().nth(1).unwrap_or_default();
    assert!(ok(&["pin", "ls", cid, "--host", &host], &[])?.contains(cid));
    Ok(())
}
