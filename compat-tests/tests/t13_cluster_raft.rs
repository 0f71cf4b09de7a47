//! Multi-peer clusters as separate `cairn daemon` processes over the private libp2p network:
//! one shared pinset, leader failover, crash recovery, snapshot catch-up, secret isolation and
//! membership changes.

use std::time::Duration;

use cairn_compat_tests::cluster::{Dirs, cid, lists_eventually, raft, rest};
use cairn_compat_tests::process::Peer;

const WAIT: Duration = Duration::from_secs(60);

async fn pin(peer: &Peer, cid: &str) -> anyhow::Result<()> {
    let answer = rest(peer, "POST", &format!("/pins/{cid}")).await?;
    anyhow::ensure!(
        answer.status == 200,
        "pin {cid} via {}: {} {}",
        peer.peer_id,
        answer.status,
        answer.text()
    );
    Ok(())
}

/// Retries a pin while the cluster elects a leader (failover), up to `WAIT`.
async fn pin_retrying(peer: &Peer, cid: &str) -> anyhow::Result<()> {
    let until = std::time::Instant::now() + WAIT;
    loop {
        match pin(peer, cid).await {
            Ok(()) => return Ok(()),
            Err(e) if std::time::Instant::now() > until => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

async fn three(dirs: &Dirs, env: &[(&str, &str)]) -> anyhow::Result<Vec<Peer>> {
    let first = dirs.start(0, None, env)?;
    let second = dirs.start(1, Some(&first), env)?;
    let third = dirs.start(2, Some(&first), env)?;
    Ok(vec![first, second, third])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pin_sent_to_any_peer_reaches_every_peer() -> anyhow::Result<()> {
    let dirs = Dirs::init(3)?;
    let peers = three(&dirs, &[]).await?;
    let members = raft(&peers[0]).await?["members"].as_array().map(Vec::len);
    assert_eq!(members, Some(3), "three voters");
    let cids: Vec<String> = (0..3).map(cid).collect();
    for (peer, cid) in peers.iter().zip(&cids) {
        pin(peer, cid).await?;
    }
    for peer in &peers {
        lists_eventually(peer, &cids, WAIT).await?;
    }
    let removed = rest(&peers[2], "DELETE", &format!("/pins/{}", cids[0])).await?;
    assert_eq!(removed.status, 200, "{}", removed.text());
    for peer in &peers {
        lists_eventually(peer, &cids[1..], WAIT).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_leader_elects_another_and_the_killed_peer_catches_up() -> anyhow::Result<()> {
    let dirs = Dirs::init(3)?;
    let mut peers = three(&dirs, &[]).await?;
    pin(&peers[1], &cid(100)).await?;
    let leader = raft(&peers[0]).await?["leader"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let index = peers
        .iter()
        .position(|p| p.peer_id == leader)
        .expect("the leader is one of the three");
    let killed = peers.remove(index);
    let killed_dir = killed.dir.clone();
    killed.kill()?;

    let during: Vec<String> = (101..111).map(cid).collect();
    for c in &during {
        pin_retrying(&peers[0], c).await?;
    }
    let new_leader = raft(&peers[1]).await?["leader"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !new_leader.is_empty() && new_leader != leader,
        "a new leader was elected"
    );

    let index = dirs
        .dirs
        .iter()
        .position(|d| d.path() == killed_dir)
        .expect("dir");
    let back = dirs.start(index, None, &[])?;
    let mut all = during.clone();
    all.push(cid(100));
    lists_eventually(&back, &all, WAIT).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn after_killing_every_peer_every_acknowledged_pin_is_still_there() -> anyhow::Result<()> {
    let dirs = Dirs::init(3)?;
    let peers = three(&dirs, &[]).await?;
    let cids: Vec<String> = (200..230).map(cid).collect();
    for (i, c) in cids.iter().enumerate() {
        pin(&peers[i % 3], c).await?;
    }
    for peer in peers {
        peer.kill()?;
    }
    let restarted: Vec<Peer> = (0..3)
        .map(|i| dirs.start(i, None, &[]))
        .collect::<anyhow::Result<_>>()?;
    for peer in &restarted {
        lists_eventually(peer, &cids, WAIT).await?;
    }
    pin_retrying(&restarted[2], &cid(231)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_joining_late_catches_up_through_a_snapshot() -> anyhow::Result<()> {
    let env = [
        ("CLUSTER_RAFT_SNAPSHOTTHRESHOLD", "20"),
        ("CLUSTER_RAFT_TRAILINGLOGS", "10"),
    ];
    let dirs = Dirs::init(4)?;
    let first = dirs.start(0, None, &env)?;
    let second = dirs.start(1, Some(&first), &env)?;
    let third = dirs.start(2, Some(&first), &env)?;
    let cids: Vec<String> = (0..10_000).map(|n| cid(1_000_000 + n)).collect();
    let writers = [&first, &second, &third];
    for chunk in cids.chunks(64) {
        let pending = chunk.iter().enumerate().map(|(i, c)| pin(writers[i % 3], c));
        futures::future::try_join_all(pending).await?;
    }
    assert!(
        std::fs::read_dir(dirs.dirs[0].path().join("snapshots"))?.count() > 0,
        "the leader built a snapshot"
    );
    let late = dirs.start(3, Some(&second), &env)?;
    lists_eventually(&late, &cids, WAIT).await?;
    let log = std::fs::read_to_string(dirs.dirs[3].path().join("daemon.log"))?;
    assert!(
        log.contains("install") && log.contains("snapshot"),
        "the late peer installed a snapshot"
    );
    lists_eventually(&third, &cids, WAIT).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_with_another_secret_cannot_join() -> anyhow::Result<()> {
    let dirs = Dirs::init(2)?;
    let first = dirs.start(0, None, &[])?;
    let stranger = Peer::start_with(dirs.dirs[1].path(), &["--bootstrap", &first.cluster], &[]);
    let err = match stranger {
        Ok(_) => anyhow::bail!("a peer with another secret joined"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("cannot join the cluster"), "{err}");
    let members = raft(&first).await?["members"].as_array().map(Vec::len);
    assert_eq!(members, Some(1), "membership unchanged");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn peers_rm_removes_a_member_and_the_rest_keep_working() -> anyhow::Result<()> {
    let dirs = Dirs::init(3)?;
    let peers = three(&dirs, &[]).await?;
    let gone = rest(&peers[0], "DELETE", &format!("/peers/{}", peers[2].peer_id)).await?;
    assert_eq!(gone.status, 204, "{}", gone.text());
    let members = raft(&peers[1]).await?["members"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(members.len(), 2);
    assert!(
        !members
            .iter()
            .any(|m| m.as_str() == Some(peers[2].peer_id.as_str()))
    );
    pin(&peers[1], &cid(300)).await?;
    lists_eventually(&peers[0], &[cid(300)], WAIT).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn leave_on_shutdown_removes_the_peer_when_it_stops_cleanly() -> anyhow::Result<()> {
    let dirs = Dirs::init(3)?;
    let first = dirs.start(0, None, &[])?;
    let second = dirs.start(1, Some(&first), &[])?;
    let leaving = dirs.start(2, Some(&first), &[("CLUSTER_LEAVEONSHUTDOWN", "true")])?;
    assert_eq!(raft(&first).await?["members"].as_array().map(Vec::len), Some(3));
    let gone = leaving.peer_id.clone();
    assert_eq!(leaving.stop()?, 0);
    let members = raft(&second).await?["members"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(members.len(), 2, "{members:?}");
    assert!(!members.iter().any(|m| m.as_str() == Some(gone.as_str())));
    pin(&second, &cid(400)).await?;
    lists_eventually(&first, &[cid(400)], WAIT).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_static_init_peerset_forms_one_cluster_without_bootstrap() -> anyhow::Result<()> {
    let dirs = Dirs::init(3)?;
    let ids = (0..3)
        .map(|i| dirs.peer_id(i))
        .collect::<anyhow::Result<Vec<_>>>()?
        .join(",");
    let addrs = (0..3)
        .map(|i| dirs.swarm_addr(i))
        .collect::<anyhow::Result<Vec<_>>>()?
        .join(",");
    let env = [
        ("CLUSTER_RAFT_INITPEERSET", ids.as_str()),
        ("CLUSTER_PEERADDRESSES", addrs.as_str()),
    ];
    let peers: Vec<Peer> = (0..3)
        .map(|i| dirs.start(i, None, &env))
        .collect::<anyhow::Result<_>>()?;
    pin_retrying(&peers[2], &cid(500)).await?;
    for peer in &peers {
        lists_eventually(peer, &[cid(500)], WAIT).await?;
        assert_eq!(raft(peer).await?["members"].as_array().map(Vec::len), Some(3));
    }
    Ok(())
}
