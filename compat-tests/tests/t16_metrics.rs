//! Prometheus metrics (`observations.metrics`) of a real `cairn daemon`: off by default, then
//! on; scraped while pins go in through the REST API and the gateway; every exposition checked
//! by the real `promtool check metrics` (Debian's `prometheus` package, which scripts/test.sh
//! installs); and the counters follow the workload: `ipfscluster_pins` grows by the pins made,
//! the gateway's request counters by the requests sent, Raft's applied index moves, the
//! tracker's and the daemon's pins reach what was pinned.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cairn_compat_tests::cluster::{put_blocks, rest};
use cairn_compat_tests::content::{Part, form, last_hash};
use cairn_compat_tests::eventually;
use cairn_compat_tests::http::{Call, send};
use cairn_compat_tests::process::{Peer, init_peer};
use cairn_compat_tests::scratch_dir;

/// Metrics on, on a free loopback port; every scrape reads fresh values; the tracker compares
/// with the daemon every second (so `ipfscluster_pins_ipfs_pins` follows quickly).
const METRICS_ON: [(&str, &str); 4] = [
    ("CLUSTER_METRICS_ENABLESTATS", "true"),
    ("CLUSTER_METRICS_PROMETHEUSENDPOINT", "/ip4/127.0.0.1/tcp/0"),
    ("CLUSTER_METRICS_REPORTINGINTERVAL", "0s"),
    ("CLUSTER_STATESYNCINTERVAL", "1s"),
];

const SETTLED_WITHIN: Duration = Duration::from_secs(60);

/// One scrape: the Prometheus text and its samples by series (`name{labels}`).
struct Scrape {
    text: String,
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    fn get(&self, series: &str) -> f64 {
        self.samples.get(series).copied().unwrap_or(0.0)
    }
}

async fn scrape(addr: SocketAddr) -> anyhow::Result<Scrape> {
    let mut call = Call::post("/metrics");
    call.method = "GET".into();
    let answer = send(addr, call).await?;
    anyhow::ensure!(
        answer.status == 200,
        "GET /metrics: {} {}",
        answer.status,
        answer.text()
    );
    let kind = answer.header("content-type").unwrap_or_default();
    anyhow::ensure!(
        kind.starts_with("text/plain; version=0.0.4"),
        "content-type {kind}"
    );
    let text = answer.text();
    let samples = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect();
    Ok(Scrape { text, samples })
}

/// `promtool check metrics` over `text`: Prometheus's own parser and linter.
fn promtool_check(text: &str) -> anyhow::Result<()> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!(
                "promtool is required ({e}): install Debian's prometheus package (scripts/test.sh does: apt-get install prometheus)"
            )
        })?;
    child
        .stdin
        .take()
        .ok_or_else(|| anyhow::anyhow!("promtool stdin"))?
        .write_all(text.as_bytes())?;
    let out = child.wait_with_output()?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    anyhow::ensure!(
        out.status.success(),
        "promtool check metrics failed ({}): {said}\n{text}",
        out.status
    );
    Ok(())
}

async fn gateway(peer: &Peer, target: &str) -> anyhow::Result<()> {
    let answer = send(peer.gateway, Call::post(target)).await?;
    anyhow::ensure!(
        answer.status == 200,
        "{target}: {} {}",
        answer.status,
        answer.text()
    );
    Ok(())
}

const INTERCEPTED_OK: &str = "cairn_gateway_requests_total{route=\"intercepted\",code=\"200\"}";
const FORWARDED_OK: &str = "cairn_gateway_requests_total{route=\"forwarded\",code=\"200\"}";

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_off_by_default_then_valid_and_follow_the_workload() -> anyhow::Result<()> {
    let dir = scratch_dir("metrics")?;
    init_peer(dir.path(), "observed")?;
    let generated: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("service.json"))?)?;
    assert_eq!(generated["observations"]["metrics"]["enable_stats"], false);
    let off = Peer::start(dir.path(), &[])?;
    assert_eq!(off.metrics, None, "ipfs-cluster's default: no metrics endpoint");
    assert_eq!(off.stop()?, 0);

    let peer = Peer::start(dir.path(), &METRICS_ON)?;
    let metrics = peer
        .metrics
        .ok_or_else(|| anyhow::anyhow!("the ready line names no metrics address"))?;
    let before = scrape(metrics).await?;
    promtool_check(&before.text)?;
    for family in [
        "ipfscluster_pins",
        "ipfscluster_peers",
        "cairn_raft_term",
        "cairn_raft_leader",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            before.samples.contains_key(family),
            "{family} missing:\n{}",
            before.text
        );
    }
    assert_eq!(
        (before.get("ipfscluster_peers"), before.get("cairn_raft_leader")),
        (1.0, 1.0)
    );

    let blocks = put_blocks(&peer, 3).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let scraper = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                seen.push(scrape(metrics).await?);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            anyhow::Ok(seen)
        }
    });
    // Pins through REST (2) and the gateway (pin/add, add), a forwarded call.
    for cid in &blocks[..2] {
        let pinned = rest(&peer, "POST", &format!("/pins/{cid}")).await?;
        anyhow::ensure!(pinned.status == 200, "{}", pinned.text());
    }
    gateway(&peer, &format!("/api/v0/pin/add?arg={}", blocks[2])).await?;
    let part = vec![Part::File("m".into(), Bytes::from_static(b"metrics workload\n"))];
    let added = send(peer.gateway, form("/api/v0/add", part)).await?;
    anyhow::ensure!(added.status == 200, "add: {}", added.text());
    let added = last_hash(&added.body)?;
    gateway(&peer, "/api/v0/version").await?;
    stop.store(true, Ordering::Relaxed);
    let during = scraper.await??;
    assert!(!during.is_empty());

    let after = scrape(metrics).await?;
    for one in during.iter().chain([&after]) {
        promtool_check(&one.text)?;
    }
    let mut previous = &before;
    for one in during.iter().chain([&after]) {
        for counter in [
            INTERCEPTED_OK,
            FORWARDED_OK,
            "cairn_raft_applied_index",
            "cairn_raft_log_commits_total",
        ] {
            assert!(
                one.get(counter) >= previous.get(counter),
                "{counter} went down between scrapes"
            );
        }
        previous = one;
    }
    assert_eq!(
        after.get("ipfscluster_pins") - before.get("ipfscluster_pins"),
        4.0,
        "{}",
        after.text
    );
    assert!(
        after.get(INTERCEPTED_OK) >= before.get(INTERCEPTED_OK) + 2.0,
        "{}",
        after.text
    );
    assert!(
        after.get(FORWARDED_OK) >= before.get(FORWARDED_OK) + 1.0,
        "{}",
        after.text
    );
    assert!(after.get("cairn_raft_applied_index") >= before.get("cairn_raft_applied_index") + 4.0);
    assert!(after.get("cairn_raft_commit_index") >= before.get("cairn_raft_applied_index") + 4.0);
    let intercepted_count = "cairn_gateway_request_duration_seconds_count{route=\"intercepted\"}";
    assert!(after.get(intercepted_count) >= 2.0, "{}", after.text);
    assert!(
        after.get("cairn_raft_proposal_writes_count") >= 4.0,
        "{}",
        after.text
    );
    assert!(
        after.get("cairn_raft_log_fsync_seconds_count") >= 4.0,
        "{}",
        after.text
    );

    // The tracker pins all four; its statuses and the daemon's pins follow.
    let pinned = "cairn_tracker_pins{status=\"pinned\"}";
    eventually(
        "every pin pinned and listed on the daemon",
        SETTLED_WITHIN,
        || async {
            let now = scrape(metrics).await?;
            Ok(now.get(pinned) == 4.0 && now.get("ipfscluster_pins_ipfs_pins") >= 4.0)
        },
    )
    .await?;
    let settled = scrape(metrics).await?;
    promtool_check(&settled.text)?;
    assert_eq!(
        settled.get("ipfscluster_pins_pin_queued") + settled.get("ipfscluster_pins_pinning"),
        0.0
    );
    assert_eq!(settled.get("ipfscluster_pins_pin_error"), 0.0);
    assert_eq!(
        settled.get("cairn_composite_child_pins"),
        0.0,
        "the embedded node is no child cluster"
    );
    assert!(
        settled.get("ipfscluster_informer_freespace_bytes") > 0.0,
        "{}",
        settled.text
    );
    let status = rest(&peer, "GET", &format!("/pins/{added}")).await?;
    assert_eq!(status.status, 200, "{}", status.text());
    assert_eq!(peer.stop()?, 0);
    Ok(())
}
