//! `cairn-bench`: runs P1–P3 (shared/reference/anchors.md A.5) and prints gateway ÷ direct
//! ratios measured in this run. Build everything in release first:
//! `cargo build --release -p cairn-peer -p cairn-bench && target/release/cairn-bench`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use cairn_bench::load::{self, median};
use cairn_bench::null_upstream;
use cairn_bench::pins;
use cairn_bench::status_kib;
use cairn_compat_tests::cluster::{Dirs, raft, rest};
use cairn_compat_tests::http::send;
use cairn_compat_tests::process::{Gateway, JsIpfs};

/// Interleaved repetitions per side (gateway, direct, gateway, direct, …).
const ROUNDS: usize = 3;
/// Length of one load run.
const RUN: Duration = Duration::from_secs(3);
const CAT_BYTES: u64 = 256 * 1024 * 1024;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let which: Vec<String> = std::env::args().skip(1).collect();
    let wants = |p: &str| which.is_empty() || which.iter().any(|w| w == p);
    println!(
        "cairn-bench: {ROUNDS} interleaved rounds per side, {RUN:?} per load run, medians; 2 shared cores"
    );
    if wants("p2") {
        p2().await?;
    }
    if wants("p2n") {
        p2n()?;
    }
    if wants("p6") {
        p6(&[]).await?;
    }
    if wants("p6c") {
        // Consensus alone: every peer's IPFS daemon is down, so the trackers' pin calls fail
        // at once (the connector backs off) instead of competing with Raft for the cores.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let down = format!("/ip4/127.0.0.1/tcp/{}", closed.port());
        println!("P6c: as P6 with the peers' IPFS daemons down (consensus without pinning work)");
        p6(&[("CLUSTER_IPFSHTTP_NODEMULTIADDRESS", down.as_str())]).await?;
    }
    if wants("follow") {
        cairn_bench::follow::run().await?;
    }
    if wants("p4") {
        p4().await?;
    }
    if wants("p5") {
        p5().await?;
    }
    if wants("p5m") {
        println!("P5 pin/ls of 1000000 pins through the gateway");
        cairn_bench::intercept::list(1_000_000).await?;
    }
    if wants("p5n") {
        println!("P5n pin/ls name filter over 100000 pins through the gateway");
        cairn_bench::intercept::names(100_000).await?;
    }
    if wants("p7") {
        p7(100_000).await?;
    }
    if wants("p7m") {
        p7(1_000_000).await?;
    }
    if wants("p9") {
        cairn_bench::tracking::ack_to_pinned(1_000).await?;
    }
    if wants("p10") {
        cairn_bench::tracking::tracker_memory(1_000_000).await?;
    }
    if wants("p11") {
        cairn_bench::tracking::status_across(100_000).await?;
    }
    if wants("failover") {
        cairn_bench::failover::run().await?;
    }
    if wants("p12") {
        cairn_bench::composite::three_levels_vs_flat().await?;
    }
    if wants("p1") || wants("p3") {
        let daemon = JsIpfs::start("bench").context("starting js-ipfs")?;
        let gateway = Gateway::start(&daemon.multiaddr(), &[])?;
        if wants("p1") {
            p1(&daemon, &gateway).await?;
        }
        if wants("p3") {
            p3(&daemon, &gateway).await?;
        }
    }
    Ok(())
}

async fn compare(
    gateway: SocketAddr,
    direct: SocketAddr,
    path: &'static str,
    concurrency: usize,
) -> anyhow::Result<()> {
    load::run(gateway, path, concurrency, Duration::from_secs(1)).await?;
    load::run(direct, path, concurrency, Duration::from_secs(1)).await?;
    let (mut g, mut d) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        g.push(load::run(gateway, path, concurrency, RUN).await?);
        d.push(load::run(direct, path, concurrency, RUN).await?);
    }
    let m = |runs: &[load::Run], f: fn(&load::Run) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let (g_rps, d_rps) = (m(&g, |r| r.rps), m(&d, |r| r.rps));
    let (g50, d50, g99, d99) = (
        m(&g, |r| r.p50_us),
        m(&d, |r| r.p50_us),
        m(&g, |r| r.p99_us),
        m(&d, |r| r.p99_us),
    );
    println!(
        "  {path:<16} c={concurrency:<3} req/s gateway {g_rps:>8.0} direct {d_rps:>8.0} ratio {:.2} | p50 µs {g50:>7.0} vs {d50:>7.0} (+{:.0}) | p99 µs {g99:>7.0} vs {d99:>7.0} (+{:.0})",
        g_rps / d_rps,
        g50 - d50,
        g99 - d99
    );
    Ok(())
}

async fn p1(daemon: &JsIpfs, gateway: &Gateway) -> anyhow::Result<()> {
    println!("P1 passthrough against js-ipfs 0.66.1 (gateway ÷ direct)");
    for path in ["/api/v0/version", "/api/v0/id"] {
        for concurrency in [1, 16] {
            compare(gateway.addr, daemon.api, path, concurrency).await?;
        }
    }
    Ok(())
}

async fn p2() -> anyhow::Result<()> {
    let upstream = null_upstream::start()?;
    let gateway = Gateway::start(&format!("/ip4/127.0.0.1/tcp/{}", upstream.port()), &[])?;
    println!("P2 proxy ceiling against a null hyper upstream (gateway ÷ direct)");
    for concurrency in [1, 16] {
        compare(gateway.addr, upstream, "/api/v0/version", concurrency).await?;
    }
    Ok(())
}

/// P2n: the gateway beside nginx's reverse proxy, both in front of one null nginx upstream.
fn p2n() -> anyhow::Result<()> {
    let upstream = cairn_bench::nginx::Nginx::null_upstream()?;
    let gateway = Gateway::start(&format!("/ip4/127.0.0.1/tcp/{}", upstream.port), &[])?;
    cairn_bench::nginx::compare(gateway.pid(), gateway.addr.port(), &upstream)
}

async fn p3(daemon: &JsIpfs, gateway: &Gateway) -> anyhow::Result<()> {
    println!("P3 cat of a 256 MiB object (gateway ÷ direct MB/s), gateway peak RSS");
    let call = cairn_compat_tests::content::upload("/api/v0/add?pin=false&progress=false", CAT_BYTES);
    let added = send(daemon.api, call).await?;
    let cid = added.json()?["Hash"].as_str().context("no Hash")?.to_owned();
    let target = format!("/api/v0/cat?arg={cid}");
    let rss_before = status_kib(gateway.pid(), "VmHWM:")?;
    let (mut g, mut d) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (bytes, secs) = load::stream_read(gateway.addr, &target).await?;
        anyhow::ensure!(bytes == CAT_BYTES, "gateway cat returned {bytes} bytes");
        g.push(bytes as f64 / secs / 1e6);
        let (bytes, secs) = load::stream_read(daemon.api, &target).await?;
        anyhow::ensure!(bytes == CAT_BYTES, "direct cat returned {bytes} bytes");
        d.push(bytes as f64 / secs / 1e6);
    }
    let (gm, dm) = (median(&g), median(&d));
    let rss = status_kib(gateway.pid(), "VmHWM:")?;
    println!(
        "  cat 256 MiB      MB/s gateway {gm:>7.1} direct {dm:>7.1} ratio {:.2}",
        gm / dm
    );
    println!(
        "  gateway peak RSS {:.1} MiB (before the cats: {:.1} MiB)",
        rss as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );
    Ok(())
}

/// P5: interception overheads on a one-peer cluster with the embedded node.
async fn p5() -> anyhow::Result<()> {
    println!("P5 interception on a one-peer cluster (embedded node)");
    let dirs = Dirs::init(1)?;
    let peer = dirs.start(0, None, &[])?;
    cairn_bench::intercept::pin_overhead(&peer).await?;
    cairn_bench::intercept::add_overhead(&peer).await?;
    cairn_bench::intercept::list(100_000).await
}

/// P4: the embedded node: add MB/s ÷ plain sha2-256 MB/s of the same bytes, peak RSS while
/// adding 1 GiB, cat MB/s.
async fn p4() -> anyhow::Result<()> {
    const GIB: u64 = 1 << 30;
    println!("P4 embedded node (cairn node): add 1 GiB, sha2-256 baseline, peak RSS, cat");
    let node = cairn_compat_tests::process::Node::start("bench-node")?;
    let sha = sha256_mb_per_s(GIB);
    let rss_before = status_kib(node.pid(), "VmHWM:")?;
    let started = std::time::Instant::now();
    let added = send(
        node.api,
        cairn_compat_tests::content::upload("/api/v0/add?pin=false", GIB),
    )
    .await?;
    let add = GIB as f64 / started.elapsed().as_secs_f64() / 1e6;
    let cid = cairn_compat_tests::content::last_hash(&added.body)?;
    let peak = status_kib(node.pid(), "VmHWM:")?;
    let (bytes, secs) = load::stream_read(node.api, &format!("/api/v0/cat?arg={cid}")).await?;
    anyhow::ensure!(bytes == GIB, "cat returned {bytes} bytes");
    println!(
        "  add 1 GiB        {add:>7.1} MB/s; sha2-256 alone {sha:>7.1} MB/s; ratio {:.2}",
        add / sha
    );
    println!(
        "  peak RSS while adding {:.1} MiB (before: {:.1} MiB)",
        peak as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );
    println!("  cat 1 GiB        {:>7.1} MB/s", bytes as f64 / secs / 1e6);
    Ok(())
}

/// sha2-256 over `len` bytes in 1 MiB pieces (the importer hashes 256 KiB blocks).
fn sha256_mb_per_s(len: u64) -> f64 {
    use multihash_codetable::{Code, MultihashDigest};
    let piece = cairn_compat_tests::content::pattern(1 << 20);
    let started = std::time::Instant::now();
    for _ in 0..len >> 20 {
        std::hint::black_box(Code::Sha2_256.digest(&piece));
    }
    len as f64 / started.elapsed().as_secs_f64() / 1e6
}

async fn appends(peer: &cairn_compat_tests::process::Peer) -> anyhow::Result<(u64, u64)> {
    let status = raft(peer).await?;
    Ok((
        status["log_appends"].as_u64().unwrap_or(0),
        status["log_entries"].as_u64().unwrap_or(0),
    ))
}

/// P6: pins/s through Raft with 3 peers in 3 processes, fsync on; entries per fsync.
async fn p6(env: &[(&str, &str)]) -> anyhow::Result<()> {
    println!("P6 Raft pin commits/s, 3 cairn daemons on loopback, fsync on (clients send to the leader)");
    let dirs = Dirs::init(3)?;
    let first = dirs.start(0, None, env)?;
    let second = dirs.start(1, Some(&first), env)?;
    let third = dirs.start(2, Some(&first), env)?;
    let peers = [&first, &second, &third];
    let leader_id = raft(&first).await?["leader"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let leader = peers
        .iter()
        .find(|p| p.peer_id == leader_id)
        .context("no leader")?;
    let next = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut meter = cairn_bench::cpu::Meter::default().watch("leader", vec![leader.pid()]);
    for (i, follower) in peers.iter().filter(|p| p.peer_id != leader_id).enumerate() {
        meter = meter.watch(&format!("follower{}", i + 1), vec![follower.pid()]);
    }
    let meter = meter.watch("load", vec![std::process::id()]);
    for clients in [1usize, 16, 64, 256] {
        let (a0, _) = appends(leader).await?;
        let before = meter.read();
        let length = Duration::from_secs(5);
        let run = pins::pin_run(leader.rest, pins::Via::Rest, clients, length, next.clone()).await?;
        let used = meter.read().since(&before);
        let (a1, _) = appends(leader).await?;
        let count = run.pins as f64;
        let per_fsync = count / (a1 - a0).max(1) as f64;
        let cluster = (used.of("leader") + used.of("follower1") + used.of("follower2")) as f64 / count;
        println!(
            "  clients {clients:>3}: {:>7.0} pins/s, p50 {:>6.0} µs, p99 {:>6.0} µs, {per_fsync:>5.1} pins per leader log fsync",
            run.rate, run.p50_us, run.p99_us
        );
        println!(
            "               CPU µs per acknowledged pin: cluster {cluster:>5.0} | {}",
            used.per_op(count)
        );
    }
    Ok(())
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let files = ["state.redb", "raft-log.redb"];
    files
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

/// P7/P8: a one-peer cluster with `pins` pins: listing, memory and disk per pin, restart time.
async fn p7(pins: u64) -> anyhow::Result<()> {
    println!("P7/P8 pinset of {pins} pins on one peer");
    let dirs = Dirs::init(1)?;
    let peer = dirs.start(0, None, &[])?;
    let empty_rss = status_kib(peer.pid(), "VmRSS:")?;
    let started = std::time::Instant::now();
    pins::pin_count(peer.rest, 64, 10_000_000, pins).await?;
    println!(
        "  committed {pins} pins in {:.1} s ({:.0} pins/s, 64 clients)",
        started.elapsed().as_secs_f64(),
        pins as f64 / started.elapsed().as_secs_f64()
    );
    let full_rss = status_kib(peer.pid(), "VmRSS:")?;
    let (bytes, secs, first) = load::stream_read_ttfb(peer.rest, "/allocations").await?;
    let listed_rss = status_kib(peer.pid(), "VmRSS:")?;
    println!(
        "  GET /allocations: first byte {:.1} ms, all {bytes} bytes in {secs:.2} s; RSS {:.1} MiB before, {:.1} MiB after listing",
        first * 1e3,
        full_rss as f64 / 1024.0,
        listed_rss as f64 / 1024.0
    );
    println!(
        "  memory per pin {:.0} B (RSS growth / pins), disk per pin {:.0} B (state + raft log)",
        (full_rss.saturating_sub(empty_rss) * 1024) as f64 / pins as f64,
        dir_bytes(dirs.dirs[0].path()) as f64 / pins as f64
    );
    let _ = rest(&peer, "GET", "/health").await?;
    peer.stop()?;
    let started = std::time::Instant::now();
    let again = dirs.start(0, None, &[])?;
    let ready = started.elapsed();
    let count = rest(&again, "GET", "/allocations").await?.text().lines().count();
    println!(
        "  restart to ready {:.2} s with {count} pins",
        ready.as_secs_f64()
    );
    Ok(())
}
