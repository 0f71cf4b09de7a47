//! `cairn-bench failover`: how long writes are unavailable when the leader dies, and whether
//! elections happen without one (issue 13.3).
//!
//! - Unavailability: 3 peers; a client writes back to back through a follower's REST API; the
//!   leader is killed with `kill -9`; the window is from the kill to the first write
//!   acknowledged after it. Ten kills (the killed peer restarts between them); median and max.
//! - Spurious elections: the Raft term on every peer before and after 20 s idle, and 20 s of
//!   64 clients writing; any increase is an election. CPU µs per write (utime + stime of the
//!   three peers, from /proc) is printed beside the write rate.

use std::time::{Duration, Instant};

use cairn_compat_tests::cluster::{Dirs, cid, raft, rest};
use cairn_compat_tests::process::Peer;

const KILLS: usize = 10;

pub use crate::cpu::cpu_us;

async fn leader_of(peers: &[Option<Peer>]) -> anyhow::Result<usize> {
    for peer in peers.iter().flatten() {
        let status = raft(peer).await?;
        if let Some(id) = status["leader"].as_str()
            && let Some(i) = peers
                .iter()
                .position(|p| p.as_ref().is_some_and(|p| p.peer_id == id))
        {
            return Ok(i);
        }
    }
    anyhow::bail!("no leader")
}

async fn wait_settled(peers: &[Option<Peer>]) -> anyhow::Result<()> {
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        let mut views = std::collections::BTreeSet::new();
        for peer in peers.iter().flatten() {
            let s = raft(peer).await?;
            let uniform = s["joint"] == false && s["voters"].as_array().map_or(0, Vec::len) == 3;
            views.insert((s["leader"].to_string(), s["last_applied"].as_u64(), uniform));
        }
        if views.len() == 1 && !views.iter().any(|(l, _, uniform)| l == "null" || !uniform) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the cluster did not settle")
}

/// Runs the scenario and prints its figures.
pub async fn run() -> anyhow::Result<()> {
    let dirs = Dirs::init(3)?;
    let first = dirs.start(0, None, &[])?;
    let mut peers = vec![
        Some(dirs.start(1, Some(&first), &[])?),
        Some(dirs.start(2, Some(&first), &[])?),
    ];
    peers.insert(0, Some(first));
    wait_settled(&peers).await?;
    let mut windows = Vec::new();
    let mut elections = Vec::new();
    let mut n = 0u64;
    for _ in 0..KILLS {
        let leader = leader_of(&peers).await?;
        let follower = (leader + 1) % 3;
        let killed = peers[leader]
            .take()
            .ok_or_else(|| anyhow::anyhow!("leader down"))?;
        let writer = peers[follower]
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("follower down"))?;
        let old = killed.peer_id.clone();
        let killed_at = Instant::now();
        killed.kill()?;
        let elected = async {
            loop {
                let status = raft(writer).await?;
                let now = status["leader"].as_str().unwrap_or("");
                if !now.is_empty() && now != old {
                    return anyhow::Ok(killed_at.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let written = async {
            loop {
                n += 1;
                let answer = rest(writer, "POST", &format!("/pins/{}", cid(900_000 + n))).await?;
                if answer.status == 200 {
                    return anyhow::Ok(killed_at.elapsed());
                }
            }
        };
        let (elected, written) = tokio::join!(elected, written);
        elections.push(elected?);
        windows.push(written?);
        peers[leader] = Some(dirs.start(leader, None, &[])?);
        wait_settled(&peers).await?;
    }
    windows.sort();
    elections.sort();
    println!(
        "failover: kill -9 of the leader → the follower knows a new leader, {KILLS} kills: median {:?}, max {:?}",
        elections[KILLS / 2],
        elections[KILLS - 1]
    );
    println!(
        "failover: kill -9 of the leader → first acknowledged write through a follower, {KILLS} kills: median {:?}, max {:?} (all: {:?})",
        windows[KILLS / 2],
        windows[KILLS - 1],
        windows
    );
    let live: Vec<&Peer> = peers.iter().flatten().collect();
    let terms = |s: Vec<serde_json::Value>| {
        s.iter()
            .map(|v| v["term"].as_u64().unwrap_or(0))
            .max()
            .unwrap_or(0)
    };
    let before = terms(statuses(&live).await?);
    tokio::time::sleep(Duration::from_secs(20)).await;
    let idle = terms(statuses(&live).await?) - before;
    let pids: Vec<u32> = live.iter().map(|p| p.pid()).collect();
    let cpu_before: Vec<u64> = pids.iter().map(|p| cpu_us(*p).unwrap_or(0)).collect();
    let before = terms(statuses(&live).await?);
    let writes = load(&live, 64, Duration::from_secs(20)).await?;
    let busy = terms(statuses(&live).await?) - before;
    let per_peer: Vec<String> = pids
        .iter()
        .zip(&cpu_before)
        .map(|(pid, before)| {
            let used = cpu_us(*pid).unwrap_or(0).saturating_sub(*before);
            format!("{:.0}", used as f64 / writes.max(1) as f64)
        })
        .collect();
    println!(
        "elections without kills: idle 20 s: {idle}; 64 clients writing 20 s: {busy} ({writes} writes, {:.0}/s; CPU µs per write by peer process: [{}])",
        writes as f64 / 20.0,
        per_peer.join(", ")
    );
    Ok(())
}

async fn statuses(peers: &[&Peer]) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut all = Vec::new();
    for peer in peers {
        all.push(raft(peer).await?);
    }
    Ok(all)
}

/// `clients` writers spread over `peers` for `length`; the writes acknowledged.
async fn load(peers: &[&Peer], clients: usize, length: Duration) -> anyhow::Result<u64> {
    let until = Instant::now() + length;
    let writers = (0..clients).map(|c| {
        let peer = peers[c % peers.len()];
        async move {
            let mut done = 0u64;
            let mut n = 0u64;
            while Instant::now() < until {
                n += 1;
                let target = format!("/pins/{}", cid(1_000_000_000 + c as u64 * 1_000_000 + n));
                if rest(peer, "POST", &target).await.is_ok_and(|a| a.status == 200) {
                    done += 1;
                }
            }
            done
        }
    });
    Ok(futures::future::join_all(writers).await.into_iter().sum())
}
