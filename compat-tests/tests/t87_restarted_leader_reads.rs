//! The fault suite's find (seed 8401, kill-all round; STALE): after `kill -9` of every peer,
//! the old leader restarts *as leader* (openraft restores leadership from its persisted
//! vote) with the committed index it finds on disk, which is behind writes it acknowledged
//! before the crash, and its state machine has lost the applies that were not yet durable.
//! A linearizable read served then missed acknowledged pins. Replayed here without the
//! random schedule: acknowledged writes, every peer killed, one follower and then the old
//! leader restarted, and linearizable reads hammering both from the moment they answer. Every read
//! must see every pin (or answer 503 while there is no quorum); `404` is a stale read.
//! And the same crash found local reads of the acknowledging peer missing its pins after a
//! restart until a quorum formed (t82's full disk test, 20 pins "lost" after the restart).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cairn_compat_tests::cluster::{cid, listed, rest};
use cairn_compat_tests::faults::FaultCluster;
use cairn_compat_tests::history::History;
use cairn_compat_tests::http::{Call, send};
use cairn_compat_tests::process::Peer;
use futures::StreamExt;

const ROUNDS: usize = 3;
const PINS: u64 = 250;

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_restarted_by_kill_9_serves_no_stale_linearizable_read() -> anyhow::Result<()> {
    // Snapshots every 10 entries make the state machine durable up to a point past the
    // leader's first entry of its term, and leave the last writes applied but not durable.
    let env = [
        ("CLUSTER_RAFT_SNAPSHOTTHRESHOLD", "10"),
        ("CLUSTER_RAFT_TRAILINGLOGS", "5"),
    ];
    let mut cluster = FaultCluster::start(3, &env, History::new()).await?;
    let mut stale = Vec::new();
    let mut reads = 0;
    for round in 0..ROUNDS {
        let leader = settled_leader(&cluster).await?;
        let cids: Vec<String> = (0..PINS)
            .map(|n| cid(87_000_000 + round as u64 * PINS + n))
            .collect();
        pin_all(peer_of(&cluster, leader)?, &cids).await?;
        let before = cluster.terms().await;
        cluster.kill_all()?;
        let follower = (leader + 1) % 3;
        cluster.restart(leader)?;
        let at_leader = read_all_linearizable(peer_of(&cluster, leader)?.rest, &cids);
        let at_follower = async {
            tokio::time::sleep(Duration::from_millis(700)).await;
            cluster.restart(follower)?;
            read_all_linearizable(peer_of(&cluster, follower)?.rest, &cids).await
        };
        let (at_follower, at_leader) = futures::join!(at_follower, at_leader);
        let (at_follower, at_leader) = (at_follower?, at_leader?);
        for (who, (served, missed)) in [("leader", at_leader), ("follower", at_follower)] {
            println!(
                "round {round}: at the restarted {who}: {served} linearizable reads, {} stale",
                missed.len()
            );
            reads += served;
            stale.extend(missed);
        }
        cluster.restart((leader + 2) % 3)?;
        cluster.settle(Duration::from_secs(120)).await?;
        println!(
            "terms {before:?} -> {:?}; leader now {:?}",
            cluster.terms().await,
            cluster.leader().await
        );
    }
    assert!(
        reads >= 2 * ROUNDS * PINS as usize,
        "too few reads served: {reads}"
    );
    assert!(
        stale.is_empty(),
        "{} linearizable reads missed acknowledged pins, e.g. {:?}",
        stale.len(),
        &stale[..stale.len().min(5)]
    );
    Ok(())
}

/// The same crash, and the peer that acknowledged the pins restarted alone (no quorum): its
/// local pinset has every pin it acknowledged as soon as it answers, because openraft
/// re-applies the committed part of its log at start-up (the committed log id is recorded in
/// the Raft log). Before, the state machine came back as of its last snapshot and the pins
/// applied since were missing until a quorum formed.
#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_peer_alone_lists_every_pin_it_acknowledged() -> anyhow::Result<()> {
    let env = [
        ("CLUSTER_RAFT_SNAPSHOTTHRESHOLD", "10"),
        ("CLUSTER_RAFT_TRAILINGLOGS", "5"),
    ];
    let mut cluster = FaultCluster::start(3, &env, History::new()).await?;
    let leader = settled_leader(&cluster).await?;
    let cids: Vec<String> = (0..PINS).map(|n| cid(87_500_000 + n)).collect();
    pin_all(peer_of(&cluster, leader)?, &cids).await?;
    cluster.kill_all()?;
    cluster.restart(leader)?;
    assert_lists_all(peer_of(&cluster, leader)?, &cids).await
}

/// The acknowledging peer's disk is slow to record the committed log id (a failpoint holds
/// the writer 3 s before it writes one alone), and every peer is killed the moment the last
/// pin is acknowledged. A follower acknowledged the pins once it had applied them; before
/// it waited for its disk to record them as committed, the restarted follower alone did not
/// list them (its log held the entries, not the knowledge that they were committed).
#[tokio::test(flavor = "multi_thread")]
async fn a_peer_killed_right_after_acknowledging_lists_every_pin_when_restarted_alone() -> anyhow::Result<()>
{
    let mut cluster = FaultCluster::start(3, &[], History::new()).await?;
    let leader = settled_leader(&cluster).await?;
    let follower = (leader + 1) % 3;
    cluster.kill(follower)?;
    let slow = [("CAIRN_FAILPOINTS", "log.before_committed_alone=sleep(3000)")];
    cluster.restart_with(follower, &slow)?;
    cluster.settle(Duration::from_secs(120)).await?;
    let cids: Vec<String> = (0..40).map(|n| cid(87_700_000 + n)).collect();
    pin_all(peer_of(&cluster, follower)?, &cids).await?;
    cluster.kill_all()?;
    cluster.restart(follower)?;
    assert_lists_all(peer_of(&cluster, follower)?, &cids).await
}

/// `peer`'s local pinset, as soon as it answers, holds every one of `cids`.
async fn assert_lists_all(peer: &Peer, cids: &[String]) -> anyhow::Result<()> {
    let listed: BTreeSet<String> = listed(peer).await?.into_iter().collect();
    let missing: Vec<&String> = cids.iter().filter(|c| !listed.contains(*c)).collect();
    anyhow::ensure!(
        missing.is_empty(),
        "{} of {} acknowledged pins missing from the restarted peer, e.g. {:?}",
        missing.len(),
        cids.len(),
        missing.first()
    );
    Ok(())
}

fn peer_of(cluster: &FaultCluster, i: usize) -> anyhow::Result<&Peer> {
    cluster.peer(i).ok_or_else(|| anyhow::anyhow!("p{i} is down"))
}

async fn settled_leader(cluster: &FaultCluster) -> anyhow::Result<usize> {
    cluster.settle(Duration::from_secs(120)).await?;
    cluster
        .leader()
        .await
        .ok_or_else(|| anyhow::anyhow!("no leader after settling"))
}

/// Pins every CID through `peer`, 40 at a time; every pin must be acknowledged.
async fn pin_all(peer: &Peer, cids: &[String]) -> anyhow::Result<()> {
    let mut answers = futures::stream::iter(cids.iter().map(|c| async move {
        let target = format!("/pins/{c}");
        rest(peer, "POST", &target).await
    }))
    .buffer_unordered(40);
    while let Some(answer) = answers.next().await {
        let answer = answer?;
        anyhow::ensure!(
            answer.status == 200,
            "a pin before the kill failed: {}",
            answer.text()
        );
    }
    Ok(())
}

/// Reads every CID with `consistency=linearizable` as soon as the REST API at `rest` answers,
/// 50 at a time, retrying 503s (no quorum yet) for up to a minute. Returns how many reads were
/// served and the CIDs a served read did not find.
async fn read_all_linearizable(rest: SocketAddr, cids: &[String]) -> anyhow::Result<(usize, Vec<String>)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut left: BTreeSet<&String> = cids.iter().collect();
    let mut missed = Vec::new();
    let mut served = 0;
    while !left.is_empty() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} CIDs never read within a minute",
            left.len()
        );
        let batch: Vec<&String> = left.iter().copied().collect();
        let mut answers = futures::stream::iter(batch.into_iter().map(|c| async move {
            let mut call = Call::post(&format!("/allocations/{c}?consistency=linearizable"));
            call.method = "GET".into();
            (c, send(rest, call).await)
        }))
        .buffer_unordered(50);
        while let Some((c, answer)) = answers.next().await {
            match answer.map(|a| a.status) {
                Ok(200) => {}
                Ok(404) => missed.push(c.clone()),
                _ => continue,
            }
            served += 1;
            left.remove(c);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((served, missed))
}
