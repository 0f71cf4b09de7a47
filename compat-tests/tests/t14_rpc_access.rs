//! Peer RPCs authorized per member (docs/security.md), with real `cairn daemon`s: a peer
//! removed with `DELETE /peers/{id}` can neither pin, unpin nor vote; nothing it sends is
//! committed, and the members log each refused call once. `cluster.trusted_peers` lets a
//! non-member write. (A join forged for another peer id needs a libp2p client that is not a
//! `cairn` process: it is tested over a real transport in `rpc::access`'s unit tests.)

use std::path::Path;
use std::time::Duration;

use cairn_compat_tests::cluster::{Dirs, cid, lists_eventually, raft, rest};
use cairn_compat_tests::eventually;
use cairn_compat_tests::process::Peer;

const WAIT: Duration = Duration::from_secs(60);

/// The removed peer's election timeout: it keeps naming its old leader for about 12 s after
/// its removal (openraft waits its lease, then a random timeout, before standing), so that its
/// pin and unpin surely reach the leader as forwarded writes before it starts electing.
const SLOW_ELECTION: (&str, &str) = ("CLUSTER_RAFT_ELECTIONTIMEOUT", "5s");

async fn pin(peer: &Peer, cid: &str) -> anyhow::Result<()> {
    let answer = rest(peer, "POST", &format!("/pins/{cid}")).await?;
    anyhow::ensure!(
        answer.status == 200,
        "pin via {}: {}",
        peer.peer_id,
        answer.text()
    );
    Ok(())
}

fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default()
}

/// The lines of `log` in which the peer refused `call` from `peer`.
fn refusals(log: &str, peer: &str, call: &str) -> usize {
    let call = format!("call={call} ");
    log.lines()
        .filter(|l| l.contains("peer RPC refused") && l.contains(peer) && l.contains(&call))
        .count()
}

/// (leader, term, last applied index) in the peer's `/raft`.
async fn raft_view(peer: &Peer) -> anyhow::Result<(String, u64, u64)> {
    let status = raft(peer).await?;
    Ok((
        status["leader"].as_str().unwrap_or_default().to_owned(),
        status["term"].as_u64().unwrap_or_default(),
        status["last_applied"].as_u64().unwrap_or_default(),
    ))
}

/// Three peers, `c` started with `c_env`; `c` is removed through `a` once `cid(1)` is pinned
/// everywhere.
async fn three_then_remove_c(
    dirs: &Dirs,
    a_env: &[(&str, &str)],
    c_env: &[(&str, &str)],
) -> anyhow::Result<[Peer; 3]> {
    let a = dirs.start(0, None, a_env)?;
    let b = dirs.start(1, Some(&a), &[])?;
    let c = dirs.start(2, Some(&a), c_env)?;
    pin(&a, &cid(1)).await?;
    for peer in [&a, &b, &c] {
        lists_eventually(peer, &[cid(1)], WAIT).await?;
    }
    let gone = rest(&a, "DELETE", &format!("/peers/{}", c.peer_id)).await?;
    anyhow::ensure!(gone.status == 204, "peers rm: {}", gone.text());
    let (leader, ..) = raft_view(&c).await?;
    anyhow::ensure!(
        leader == a.peer_id,
        "the removed peer should still name its old leader for a while, names {leader:?}"
    );
    Ok([a, b, c])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_peer_can_neither_pin_unpin_nor_vote_and_nothing_is_committed() -> anyhow::Result<()> {
    let dirs = Dirs::init(3)?;
    let [a, b, c] = three_then_remove_c(&dirs, &[], &[SLOW_ELECTION]).await?;

    let pinned = rest(&c, "POST", &format!("/pins/{}", cid(2))).await?;
    let unpinned = rest(&c, "DELETE", &format!("/pins/{}", cid(1))).await?;
    for (what, answer) in [("pin", &pinned), ("unpin", &unpinned)] {
        assert_ne!(
            answer.status,
            200,
            "{what} through a removed peer: {}",
            answer.text()
        );
        assert!(
            answer.text().contains("neither a member of this cluster"),
            "{what}: the leader's refusal reaches the client: {} {}",
            answer.status,
            answer.text()
        );
    }

    // Where A and B stand once both applied the removal (B hears of its commit a heartbeat
    // later).
    let until = std::time::Instant::now() + WAIT;
    let before = loop {
        let views = vec![raft_view(&a).await?, raft_view(&b).await?];
        if views[0] == views[1] {
            break views;
        }
        anyhow::ensure!(std::time::Instant::now() < until, "A and B disagree: {views:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let (a_dir, b_dir) = (dirs.dirs[0].path(), dirs.dirs[1].path());
    eventually("A and B refuse the removed peer's votes", WAIT, || async {
        Ok(refusals(&log_of(a_dir), &c.peer_id, "raft.vote") > 0
            && refusals(&log_of(b_dir), &c.peer_id, "raft.vote") > 0)
    })
    .await?;
    // Two more of its election rounds (one every 5 to 6.7 s) are refused too.
    let (_, standing, _) = raft_view(&c).await?;
    eventually("the removed peer stands twice more", WAIT, || async {
        Ok(raft_view(&c).await?.1 >= standing + 2)
    })
    .await?;

    assert_eq!(
        vec![raft_view(&a).await?, raft_view(&b).await?],
        before,
        "leader, term and log of A and B do not move"
    );
    for peer in [&a, &b] {
        lists_eventually(peer, &[cid(1)], Duration::from_secs(1)).await?;
    }
    let log = log_of(a_dir);
    assert_eq!(
        refusals(&log, &c.peer_id, "leader.write"),
        1,
        "pin and unpin, one line"
    );
    assert_eq!(
        refusals(&log, &c.peer_id, "raft.vote"),
        1,
        "every election, one line"
    );
    assert_eq!(refusals(&log_of(b_dir), &c.peer_id, "raft.vote"), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trusted_peer_writes_through_the_leader_though_not_a_member() -> anyhow::Result<()> {
    let dirs = Dirs::init(3)?;
    let c_id = dirs.peer_id(2)?;
    let trusts_c = [("CLUSTER_TRUSTEDPEERS", c_id.as_str())];
    let [a, b, c] = three_then_remove_c(&dirs, &trusts_c, &[SLOW_ELECTION]).await?;
    // A commits it; C itself no longer receives the log, so its own answer may time out
    // waiting to apply the write (that is not what is tested here).
    let _ = rest(&c, "POST", &format!("/pins/{}", cid(3))).await?;
    lists_eventually(&a, &[cid(1), cid(3)], WAIT).await?;
    lists_eventually(&b, &[cid(1), cid(3)], WAIT).await?;
    assert_eq!(
        refusals(&log_of(dirs.dirs[0].path()), &c.peer_id, "leader.write"),
        0
    );
    Ok(())
}
