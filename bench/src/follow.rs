//! `cairn-bench follow`: what followers cost a cluster. Three voters; their write throughput
//! and CPU per pin with no follower, then with N followers (`CAIRN_BENCH_FOLLOWERS`, default
//! 50) following; the time until each follower has applied 10,000 new pins (p50/p99 over the
//! followers); each follower's memory and CPU per pin.
//!
//! Every daemon's IPFS API is a closed port (content-less, as P6c): the trackers' pin calls
//! fail at once, so what is measured is consensus and following, not pinning.

use std::time::{Duration, Instant};

use anyhow::Context;
use cairn_compat_tests::cluster::{Dirs, raft};
use cairn_compat_tests::follow::{Follower, init, publish};
use cairn_compat_tests::process::Peer;

use crate::cpu::Meter;
use crate::pins;

/// Pins whose arrival on every follower is timed.
const NEW_PINS: u64 = 10_000;

/// Runs the scenario.
pub async fn run() -> anyhow::Result<()> {
    let count: usize = std::env::var("CAIRN_BENCH_FOLLOWERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let down = format!("/ip4/127.0.0.1/tcp/{}", closed.port());
    let env = [("CLUSTER_IPFSHTTP_NODEMULTIADDRESS", down.as_str())];
    println!("FOLLOW 3 voters, then {count} followers, IPFS daemons down (consensus and following only)");
    let dirs = Dirs::init(3)?;
    let first = dirs.start(0, None, &env)?;
    let second = dirs.start(1, Some(&first), &env)?;
    let third = dirs.start(2, Some(&first), &env)?;
    // Peer 0 publishes: the harness gives every peer its secret.
    let voters = [first, second, third];
    let leader = leader_of(&voters).await?;
    let voter_meter = voters.iter().enumerate().fold(Meter::default(), |m, (i, v)| {
        m.watch(&format!("voter{i}"), vec![v.pid()])
    });
    let next = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    write_phase("0 followers", leader, &voter_meter, &next).await?;

    let base = cairn_compat_tests::scratch_dir("follow-bench")?;
    let published = publish(&voters[0], base.path(), &[])?;
    let mut followers = Vec::with_capacity(count);
    for i in 0..count {
        let name = format!("f{i}");
        init(base.path(), &name, &published.to_string_lossy())?;
        followers.push(Follower::run(base.path(), &name, &env)?);
    }
    let applied = applied_of(leader).await?;
    caught_up(&followers, applied, Duration::from_secs(300), Instant::now()).await?;
    write_phase(&format!("{count} followers"), leader, &voter_meter, &next).await?;

    let follower_pids: Vec<u32> = followers.iter().map(Follower::pid).collect();
    let meter = Meter::default()
        .watch("voters", voters.iter().map(Peer::pid).collect())
        .watch("followers", follower_pids.clone());
    let before = meter.read();
    let started = Instant::now();
    pins::pin_count(
        leader.rest,
        64,
        next.load(std::sync::atomic::Ordering::Relaxed),
        NEW_PINS,
    )
    .await?;
    let written = started.elapsed();
    let target = applied_of(leader).await?;
    let mut arrivals = caught_up(&followers, target, Duration::from_secs(600), started).await?;
    let used = meter.read().since(&before);
    arrivals.sort();
    let pick = |q: f64| arrivals[((arrivals.len() - 1) as f64 * q) as usize].as_secs_f64();
    let since_start = |d: Duration| d.as_secs_f64();
    println!(
        "  {NEW_PINS} new pins written in {:.2} s; applied on every follower: p50 {:.2} s, p99 {:.2} s after the first write (last {:.2} s)",
        since_start(written),
        pick(0.5),
        pick(0.99),
        since_start(*arrivals.last().context("no follower")?),
    );
    let rss: Vec<u64> = follower_pids
        .iter()
        .filter_map(|p| crate::status_kib(*p, "VmRSS:").ok())
        .collect();
    println!(
        "  per follower: RSS {:.1} MiB (mean of {}), CPU {:.1} µs per pin; voters {:.1} µs per pin in all",
        rss.iter().sum::<u64>() as f64 / rss.len().max(1) as f64 / 1024.0,
        rss.len(),
        used.of("followers") as f64 / (count as f64 * NEW_PINS as f64),
        used.of("voters") as f64 / NEW_PINS as f64,
    );
    Ok(())
}

/// 64 clients pin through the leader for 5 s; throughput, latency, voters' CPU per pin.
async fn write_phase(
    label: &str,
    leader: &Peer,
    meter: &Meter,
    next: &std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> anyhow::Result<()> {
    let before = meter.read();
    let run = pins::pin_run(
        leader.rest,
        pins::Via::Rest,
        64,
        Duration::from_secs(5),
        next.clone(),
    )
    .await?;
    let used = meter.read().since(&before);
    let total: u64 = (0..3).map(|i| used.of(&format!("voter{i}"))).sum();
    println!(
        "  {label:>13}: {:>6.0} pins/s, p50 {:>6.0} µs, p99 {:>6.0} µs; voters' CPU µs per pin {:>5.0} | {}",
        run.rate,
        run.p50_us,
        run.p99_us,
        total as f64 / run.pins as f64,
        used.per_op(run.pins as f64)
    );
    Ok(())
}

async fn leader_of(voters: &[Peer]) -> anyhow::Result<&Peer> {
    let id = raft(&voters[0]).await?["leader"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    voters.iter().find(|v| v.peer_id == id).context("no leader")
}

async fn applied_of(peer: &Peer) -> anyhow::Result<u64> {
    Ok(raft(peer).await?["last_applied"].as_u64().unwrap_or(0))
}

/// Waits until every follower applied `index`; when each got there, from `started`.
async fn caught_up(
    followers: &[Follower],
    index: u64,
    within: Duration,
    started: Instant,
) -> anyhow::Result<Vec<Duration>> {
    let mut arrived: Vec<Option<Duration>> = vec![None; followers.len()];
    while arrived.iter().any(Option::is_none) {
        anyhow::ensure!(
            started.elapsed() < within,
            "{} followers not at index {index} after {within:?}",
            arrived.iter().filter(|a| a.is_none()).count()
        );
        for (follower, slot) in followers
            .iter()
            .zip(arrived.iter_mut())
            .filter(|(_, s)| s.is_none())
        {
            let applied = follower.progress().await?["applied"].as_u64().unwrap_or(0);
            if applied >= index {
                *slot = Some(started.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(arrived.into_iter().flatten().collect())
}
