//! Issue 13.6: Raft's RPCs never wait behind other peer-to-peer requests. Three real peers
//! hold 100,000 pins (imported on one, sent to the others as a snapshot) and serve a
//! continuous status fan-out of all of them (`GET /pins` asks every peer for its statuses) and
//! block transfers between their nodes, while writes go on; the cluster keeps one leader and
//! one term throughout.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cairn_compat_tests::cluster::{Dirs, cid, put_blocks, raft, rest};
use cairn_compat_tests::http::{Call, send};
use cairn_compat_tests::process::{Peer, run_cairn};

const PINS: u64 = 100_000;

/// Writes `PINS` pins in the export format, from one pin's JSON as a peer lists it.
fn export(template: &str, path: &std::path::Path) -> anyhow::Result<()> {
    let first = cid(0);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for n in 0..PINS {
        writeln!(out, "{}", template.trim().replace(&first, &cid(10_000_000 + n)))?;
    }
    Ok(out.flush()?)
}

async fn count(peer: &Peer) -> anyhow::Result<u64> {
    let listed = rest(peer, "GET", "/allocations").await?;
    Ok(listed.body.iter().filter(|b| **b == b'\n').count() as u64)
}

#[tokio::test(flavor = "multi_thread")]
async fn status_fan_out_and_block_transfers_keep_one_leader_and_one_term() -> anyhow::Result<()> {
    let dirs = Dirs::init(3)?;
    let config = dirs.dirs[0].path().to_string_lossy().into_owned();
    // One pin's JSON as the template of the export, then the import on peer 0.
    let template = {
        let peer = dirs.start(0, None, &[])?;
        anyhow::ensure!(rest(&peer, "POST", &format!("/pins/{}", cid(0))).await?.status == 200);
        let pin = rest(&peer, "GET", &format!("/allocations/{}", cid(0))).await?;
        anyhow::ensure!(peer.stop()? == 0, "clean stop");
        pin.text()
    };
    let file = dirs.dirs[0].path().join("export.ndjson");
    export(&template, &file)?;
    let file = file.to_string_lossy().into_owned();
    let (code, _, err) = run_cairn(&["--config", &config, "state", "import", &file, "--force"], &[])?;
    anyhow::ensure!(code == 0, "state import: {err}");
    let first = dirs.start(0, None, &[])?;
    let peers = vec![
        dirs.start(1, Some(&first), &[])?,
        dirs.start(2, Some(&first), &[])?,
        first,
    ];
    for peer in &peers {
        cairn_compat_tests::eventually("100,000 pins on every peer", Duration::from_secs(300), || async {
            Ok(count(peer).await? == PINS)
        })
        .await?;
    }
    let before = raft(&peers[0]).await?;
    let (term, leader) = (before["term"].clone(), before["leader"].clone());
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for (i, peer) in peers.iter().enumerate().take(2) {
        let (rest_addr, stop) = (peer.rest, stop.clone());
        load.push(tokio::spawn(async move {
            let mut rounds = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let mut call = Call::post("/pins");
                call.method = "GET".into();
                if let Ok(answer) = send(rest_addr, call).await {
                    assert_eq!(answer.status, 200, "status fan-out {i}");
                    rounds += 1;
                }
            }
            rounds
        }));
    }
    let blocks = async {
        let mut moved = 0u32;
        while !stop.load(Ordering::SeqCst) {
            let Ok(cids) = put_blocks(&peers[0], 16).await else {
                continue;
            };
            for c in cids {
                let got = send(
                    peers[1].gateway,
                    Call::post(&format!("/api/v0/block/get?arg={c}")),
                )
                .await;
                if got.is_ok_and(|g| g.status == 200) {
                    moved += 1;
                }
            }
        }
        moved
    };
    let writes_and_samples = async {
        let mut writes = 0u32;
        let mut terms = std::collections::BTreeSet::new();
        let mut leaders = std::collections::BTreeSet::new();
        let until = std::time::Instant::now() + Duration::from_secs(40);
        while std::time::Instant::now() < until {
            let c = cid(20_000_000 + u64::from(writes));
            let pinned = rest(&peers[(writes % 3) as usize], "POST", &format!("/pins/{c}")).await?;
            assert_eq!(pinned.status, 200, "a write under load: {}", pinned.text());
            writes += 1;
            for peer in &peers {
                let status = raft(peer).await?;
                terms.insert(status["term"].to_string());
                leaders.insert(status["leader"].to_string());
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        stop.store(true, Ordering::SeqCst);
        anyhow::Ok((writes, terms, leaders))
    };
    let (moved, sampled) = tokio::join!(blocks, writes_and_samples);
    let (writes, terms_seen, leaders_seen) = sampled?;
    let mut fan_outs = 0;
    for task in load {
        fan_outs += task.await?;
    }
    println!("{fan_outs} status fan-outs of {PINS} pins, {moved} blocks moved, {writes} writes");
    assert!(
        fan_outs >= 2 && moved >= 16,
        "the load ran: {fan_outs} fan-outs, {moved} blocks"
    );
    assert_eq!(
        terms_seen.len(),
        1,
        "terms seen under load: {terms_seen:?} (started at {term})"
    );
    assert_eq!(
        leaders_seen.len(),
        1,
        "leaders seen under load: {leaders_seen:?} (started at {leader})"
    );
    Ok(())
}
