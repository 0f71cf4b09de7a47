//! Issue 6's benchmarks: time from a pin's acknowledgement to `pinned` on every allocation,
//! the tracker's memory per pin at a million tracked pins, and the status of 100k pins
//! gathered from three peers.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_compat_tests::cluster::{Dirs, cid, put_blocks, rest};
use cairn_compat_tests::process::{Peer, init_peer, run_cairn};
use futures::StreamExt;

use crate::load::{self, median};
use crate::status_kib;

/// `GET /pins?local=true&filter=<status>` on `peer`: the CIDs listed.
async fn local_cids(peer: &Peer, status: &str) -> anyhow::Result<Vec<String>> {
    let text = rest(peer, "GET", &format!("/pins?local=true&filter={status}"))
        .await?
        .text();
    let cids = text.lines().filter_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        v["cid"].as_str().map(str::to_owned)
    });
    Ok(cids.collect())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or(0.0)
}

/// Pins `count` blocks (present on peer 0's node) on a 3-peer cluster, replication -1, 16 at a
/// time, and prints p50/p99 of acknowledgement → `pinned` on all three peers.
pub async fn ack_to_pinned(count: u64) -> anyhow::Result<()> {
    println!("P9 pin add acknowledged → pinned on every allocation, {count} pins, 3 peers, rf -1");
    let dirs = Dirs::init(3)?;
    let peers = dirs.start_all()?;
    let cids = put_blocks(&peers[0], count).await?;
    let acked: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let pins = cids.iter().map(|c| {
        let (peer, acked) = (&peers[0], acked.clone());
        async move {
            let answer = rest(peer, "POST", &format!("/pins/{c}")).await?;
            anyhow::ensure!(answer.status == 200, "{}", answer.text());
            acked
                .lock()
                .map_err(|_| anyhow::anyhow!("lock"))?
                .insert(c.clone(), Instant::now());
            Ok(())
        }
    });
    let pinning = futures::stream::iter(pins)
        .buffer_unordered(16)
        .collect::<Vec<_>>();
    let (done, seen) = tokio::join!(pinning, watch_pinned(&peers, cids.len()));
    done.into_iter().collect::<anyhow::Result<()>>()?;
    let seen = seen?;
    let acked = acked.lock().map_err(|_| anyhow::anyhow!("lock"))?;
    let mut latencies: Vec<f64> = cids
        .iter()
        .filter_map(|c| Some(seen.get(c)?.duration_since(*acked.get(c)?).as_secs_f64() * 1e3))
        .collect();
    latencies.sort_by(f64::total_cmp);
    println!(
        "  ack → pinned on 3 peers: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} pins; polled every 20 ms)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0),
        latencies.len()
    );
    Ok(())
}

/// Polls every peer's pinned list; returns when each CID was first seen pinned on all peers.
async fn watch_pinned(peers: &[Peer], total: usize) -> anyhow::Result<HashMap<String, Instant>> {
    let mut per_cid: HashMap<String, (usize, Instant)> = HashMap::new();
    let mut seen_on: Vec<std::collections::HashSet<String>> = vec![Default::default(); peers.len()];
    let deadline = Instant::now() + Duration::from_secs(600);
    while per_cid.values().filter(|(n, _)| *n == peers.len()).count() < total {
        anyhow::ensure!(Instant::now() < deadline, "not all pinned after 600 s");
        for (i, peer) in peers.iter().enumerate() {
            for c in local_cids(peer, "pinned").await? {
                if seen_on[i].insert(c.clone()) {
                    let entry = per_cid.entry(c).or_insert((0, Instant::now()));
                    *entry = (entry.0 + 1, Instant::now());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(per_cid.into_iter().map(|(c, (_, at))| (c, at)).collect())
}

/// Writes `count` pins as a `state import` file, allocated to `allocation` (empty: everywhere).
fn export_file(path: &std::path::Path, count: u64, allocation: Option<&str>) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let (rf, allocations) = match allocation {
        Some(peer) => (1, serde_json::json!([peer])),
        None => (-1, serde_json::json!([])),
    };
    for n in 0..count {
        let pin = serde_json::json!({
            "replication_factor_min": rf, "replication_factor_max": rf, "name": "", "mode": "recursive",
            "shard_size": 104857600, "user_allocations": null, "expire_at": "0001-01-01T00:00:00Z",
            "metadata": {}, "pin_update": null, "origins": [], "cid": cid(50_000_000 + n), "type": "pin",
            "allocations": allocations, "max_depth": -1, "reference": null,
            "timestamp": "2024-01-01T00:00:00Z"
        });
        serde_json::to_writer(&mut out, &pin)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Starts a one-peer cluster whose imported pinset holds `count` pins allocated as given,
/// waits until its tracker compared them and worked off its queue; returns its RSS in KiB.
async fn settled_rss(count: u64, allocation: Option<&str>) -> anyhow::Result<(u64, f64)> {
    let dir = cairn_compat_tests::scratch_dir("bench-tracker")?;
    init_peer(dir.path(), "bench")?;
    let file = dir.path().join("import.ndjson");
    export_file(&file, count, allocation)?;
    let config = dir.path().to_string_lossy().into_owned();
    let (code, _, err) = run_cairn(
        &[
            "--config",
            &config,
            "state",
            "import",
            "--force",
            &file.to_string_lossy(),
        ],
        &[],
    )?;
    anyhow::ensure!(code == 0, "state import: {err}");
    let started = Instant::now();
    let env = [
        ("CLUSTER_STATELESS_MAXPINQUEUESIZE", "2000000"),
        ("CLUSTER_PINQUEUE_METRICTTL", "2s"),
    ];
    let peer = Peer::start(dir.path(), &env)?;
    let log = dir.path().join("daemon.log");
    while !std::fs::read_to_string(&log)?.contains("compared the pinset") {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    loop {
        let metric = rest(&peer, "GET", "/monitor/metrics/pinqueue").await?.json()?;
        if metric[0]["value"] == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok((status_kib(peer.pid(), "VmRSS:")?, started.elapsed().as_secs_f64()))
}

/// RSS of a peer tracking `count` pins (all allocated to it; content-less, so each ends as a
/// `pin_error` with its message, the largest entry) minus that of a peer whose `count` pins
/// are all allocated elsewhere (nothing tracked), per pin.
pub async fn tracker_memory(count: u64) -> anyhow::Result<()> {
    println!("P10 tracker memory at {count} tracked pins (one peer, embedded node)");
    let (tracked, secs) = settled_rss(count, None).await?;
    let elsewhere = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";
    let (remote, _) = settled_rss(count, Some(elsewhere)).await?;
    println!(
        "  RSS tracking {count}: {:.1} MiB; with none tracked: {:.1} MiB; tracker {:.0} B per pin; {count} pin attempts settled in {secs:.0} s",
        tracked as f64 / 1024.0,
        remote as f64 / 1024.0,
        (tracked.saturating_sub(remote) * 1024) as f64 / count as f64
    );
    Ok(())
}

/// Status of `count` pins (replication -1) gathered from three peers: time and memory.
pub async fn status_across(count: u64) -> anyhow::Result<()> {
    println!("P11 GET /pins for {count} pins across 3 peers (every peer's tracker asked)");
    let dirs = Dirs::init(3)?;
    let peers = dirs.start_all_with(&[("CLUSTER_PINQUEUE_METRICTTL", "2s")])?;
    crate::pins::pin_count(peers[0].rest, 64, 70_000_000, count).await?;
    for peer in &peers {
        loop {
            let metric = rest(peer, "GET", "/monitor/metrics/pinqueue").await?.json()?;
            let all_idle = metric
                .as_array()
                .is_some_and(|m| m.len() == 3 && m.iter().all(|m| m["value"] == "0"));
            if all_idle {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let before = status_kib(peers[1].pid(), "VmRSS:")?;
    let mut runs = Vec::new();
    for _ in 0..3 {
        let (bytes, secs, first) = load::stream_read_ttfb(peers[1].rest, "/pins").await?;
        runs.push((bytes, secs, first));
    }
    let peak = status_kib(peers[1].pid(), "VmHWM:")?;
    let secs = median(&runs.iter().map(|r| r.1).collect::<Vec<_>>());
    let first = median(&runs.iter().map(|r| r.2).collect::<Vec<_>>());
    let (local_bytes, local_secs, _) = load::stream_read_ttfb(peers[1].rest, "/pins?local=true").await?;
    println!(
        "  all peers: {} bytes in {secs:.2} s (first byte {:.0} ms, median of 3); local only: {local_bytes} bytes in {local_secs:.2} s",
        runs[0].0,
        first * 1e3
    );
    println!(
        "  serving peer RSS {:.1} MiB before, peak {:.1} MiB",
        before as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    Ok(())
}
