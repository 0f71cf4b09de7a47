//! Issue 7's benchmark: time from `add` of a 20 MiB file at the top of three levels of clusters
//! (2 + 4 + 8 peers, replication -1 everywhere) to `pinned` on every leaf peer, against the same
//! add into one flat cluster of 8 peers; and each process's memory in the 3-level set-up.

use std::time::{Duration, Instant};

use cairn_compat_tests::cluster::{ThreeLevels, cluster_over, rest};
use cairn_compat_tests::process::Peer;

use crate::status_kib;

const SIZE: u64 = 20 << 20;

async fn all_pinned(peers: &[Peer], c: &str) -> anyhow::Result<bool> {
    for peer in peers {
        let info = rest(peer, "GET", &format!("/pins/{c}")).await?.json()?;
        let mine = &info["peer_map"][&peer.peer_id]["status"];
        if mine != "pinned" {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Adds 20 MiB through `entry`'s gateway; seconds until every peer of `leaves` has it pinned.
async fn add_until_pinned(entry: &Peer, leaves: &[&Peer], salt: u8) -> anyhow::Result<f64> {
    let mut data = cairn_compat_tests::content::pattern(SIZE as usize);
    data[0] = salt;
    let part = vec![cairn_compat_tests::content::Part::File(
        "big".into(),
        bytes::Bytes::from(data),
    )];
    let started = Instant::now();
    let added = cairn_compat_tests::http::send(
        entry.gateway,
        cairn_compat_tests::content::form("/api/v0/add", part),
    )
    .await?;
    let c = cairn_compat_tests::content::last_hash(&added.body)?;
    let deadline = started + Duration::from_secs(600);
    loop {
        let mut done = true;
        for leaf in leaves {
            done &= all_pinned(std::slice::from_ref(*leaf), &c).await?;
        }
        if done {
            return Ok(started.elapsed().as_secs_f64());
        }
        anyhow::ensure!(Instant::now() < deadline, "not pinned on every leaf after 600 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn rss_mib(peers: &[&Peer]) -> anyhow::Result<(f64, f64)> {
    let values: Vec<f64> = peers
        .iter()
        .map(|p| Ok(status_kib(p.pid(), "VmRSS:")? as f64 / 1024.0))
        .collect::<anyhow::Result<_>>()?;
    let max = values.iter().copied().fold(0.0, f64::max);
    Ok((values.iter().sum::<f64>() / values.len().max(1) as f64, max))
}

/// Runs both set-ups, one after the other, and prints the ratio.
pub async fn three_levels_vs_flat() -> anyhow::Result<()> {
    println!(
        "P12 add 20 MiB at the top → pinned on all 8 leaf peers: 3 levels (2+4+8) vs one flat cluster of 8"
    );
    let flat_secs = {
        let (_dirs, flat) = cluster_over(8, |_| None)?;
        let leaves: Vec<&Peer> = flat.iter().collect();
        add_until_pinned(&flat[0], &leaves, 1).await?
    };
    let tree = ThreeLevels::start()?;
    tree.ready(std::time::Duration::from_secs(180)).await?;
    let top = &tree.top.1;
    let leaf_peers = tree.leaf_peers();
    let composite_secs = add_until_pinned(&top[0], &leaf_peers, 2).await?;
    println!(
        "  flat {flat_secs:.2} s, three levels {composite_secs:.2} s: ratio {:.2} (3 levels ÷ flat)",
        composite_secs / flat_secs
    );
    let middle_peers: Vec<&Peer> = tree.middles.iter().flat_map(|(_, p)| p.iter()).collect();
    for (name, peers) in [
        ("top", top.iter().collect::<Vec<_>>()),
        ("middle", middle_peers),
        ("leaf", leaf_peers),
    ] {
        let (mean, max) = rss_mib(&peers)?;
        println!(
            "  RSS {name:<6} peers: mean {mean:.1} MiB, max {max:.1} MiB ({} processes)",
            peers.len()
        );
    }
    Ok(())
}
