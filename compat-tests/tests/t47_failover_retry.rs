//! A failover that finds too few peers tries again later, through real `cairn daemon`
//! processes. Three peers: `s` and `v` over embedded nodes, `t` over a separate `cairn node`
//! process that the test stops (SIGSTOP) and resumes. A pin of replication 2 is allocated to
//! `v` and `s`. With `t`'s daemon stopped (`t` stops pinging, its metrics lapse) `v` is killed:
//! `s` is the one to act but has no peer to move the pin to, so the pin keeps its allocations.
//! When `t`'s daemon runs again nothing new is applied to the shared state, yet `s` tries the
//! stuck pin again and moves `v`'s allocation to `t`, which pins it.
//!
//! The block is chosen so that `s` is the XOR-closest live peer to it both before and after
//! `t` comes back (docs/architecture.md, failover), and `s` is the Raft leader (killing `v`
//! starts no election, which would apply an entry): the retry is `s`'s own.

use std::time::Duration;

use anyhow::Context;
use cairn_compat_tests::cluster::{
    Dirs, FAST_MONITOR, allocations, cid, daemon_pins, raft, rest, sees_metrics, usable_metrics,
};
use cairn_compat_tests::content::{Part, form};
use cairn_compat_tests::eventually;
use cairn_compat_tests::http::send;
use cairn_compat_tests::process::{Node, Peer, signal};

const WAIT: Duration = Duration::from_secs(120);

/// The raw block whose CID is `cid(n)`: the 8 bytes of `n`.
async fn put_block(api: std::net::SocketAddr, n: u64) -> anyhow::Result<()> {
    let data = bytes::Bytes::copy_from_slice(&n.to_be_bytes());
    let call = form(
        "/api/v0/block/put?cid-codec=raw",
        vec![Part::File("b".into(), data)],
    );
    let answer = send(api, call).await?;
    anyhow::ensure!(answer.status == 200, "{}", answer.text());
    anyhow::ensure!(answer.json()?["Key"] == cid(n).as_str(), "{}", answer.text());
    Ok(())
}

/// The peer among `peers` whose id hash is XOR-closest to `c`'s hash (the one that acts).
fn closest<'a>(c: &str, peers: &[&'a Peer]) -> anyhow::Result<&'a Peer> {
    use multihash_codetable::{Code, MultihashDigest};
    let digest = |b: &[u8]| Code::Sha2_256.digest(b).digest().to_vec();
    let target = digest(&c.parse::<cid::Cid>()?.to_bytes());
    let distance = |p: &&&Peer| -> Vec<u8> {
        let id = digest(p.peer_id.as_bytes());
        id.iter().zip(&target).map(|(a, b)| a ^ b).collect()
    };
    peers.iter().min_by_key(distance).copied().context("no peers")
}

async fn allocated(peer: &Peer, c: &str) -> anyhow::Result<Vec<String>> {
    let mut now = allocations(&rest(peer, "GET", &format!("/pins/{c}")).await?.json()?);
    now.sort();
    Ok(now)
}

/// `cairn node` for `t`, then three peers at test speed (`s` first: it founds the cluster and
/// leads Raft), each seeing every peer's metrics.
async fn start(node: &Node) -> anyhow::Result<(Dirs, [Peer; 3])> {
    let dirs = Dirs::init(3)?;
    let first = dirs.start(0, None, &FAST_MONITOR)?;
    let second = dirs.start(1, Some(&first), &FAST_MONITOR)?;
    let upstream = node.multiaddr();
    let mut env = FAST_MONITOR.to_vec();
    env.push(("CLUSTER_IPFSHTTP_NODEMULTIADDRESS", &upstream));
    let third = dirs.start(2, Some(&first), &env)?;
    for peer in [&first, &second, &third] {
        sees_metrics(peer, "freespace", 3, WAIT).await?;
    }
    Ok((dirs, [first, second, third]))
}

/// A block `n` whose CID is XOR-closest to `s` among the three peers, put on every daemon.
async fn block_closest_to(s: &Peer, v: &Peer, t: &Peer) -> anyhow::Result<String> {
    let n = (0..64)
        .find(|n| closest(&cid(*n), &[s, v, t]).is_ok_and(|p| p.peer_id == s.peer_id))
        .context("a block closer to s than to the others")?;
    for peer in [s, v, t] {
        put_block(peer.ipfs.context("an IPFS address")?, n).await?;
    }
    Ok(cid(n))
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failover_without_candidates_is_tried_again_when_a_peer_comes_back() -> anyhow::Result<()> {
    let node = Node::start("retry-node")?;
    let (_dirs, [s, v, t]) = start(&node).await?;
    let c = block_closest_to(&s, &v, &t).await?;
    let users = format!("{},{}", s.peer_id, v.peer_id);
    let target = format!("/pins/{c}?replication-min=2&replication-max=2&user-allocations={users}");
    let pinned = rest(&s, "POST", &target).await?;
    assert_eq!(pinned.status, 200, "{}", pinned.text());
    let before = sorted(vec![s.peer_id.clone(), v.peer_id.clone()]);
    assert_eq!(allocated(&s, &c).await?, before);
    eventually("pinned on s and v", WAIT, || async {
        Ok(daemon_pins(&s, &c).await? && daemon_pins(&v, &c).await?)
    })
    .await?;

    // t's daemon stops; v dies. s leads, so no election applies an entry that would rescan.
    signal(node.pid(), "STOP")?;
    eventually("t's metrics lapse at s", WAIT, || async {
        Ok(usable_metrics(&s, "freespace").await? == 2)
    })
    .await?;
    let leading = raft(&s).await?;
    assert_eq!(leading["leader"], s.peer_id.as_str(), "{leading}");
    let (v_id, log) = (v.peer_id.clone(), s.dir.join("daemon.log"));
    v.kill()?;
    eventually("s finds no peer for v's pin", WAIT, || async {
        let text = std::fs::read_to_string(&log)?;
        Ok(text.lines().any(|l| l.contains(&v_id) && l.contains("stuck=1")))
    })
    .await?;
    assert_eq!(
        allocated(&s, &c).await?,
        before,
        "nothing moved without candidates"
    );
    let stuck_at = raft(&s).await?;

    // t's daemon runs again: nothing is applied, s's retry moves v's allocation to t.
    signal(node.pid(), "CONT")?;
    let after = sorted(vec![s.peer_id.clone(), t.peer_id.clone()]);
    eventually("v's allocation moved to t", WAIT, || async {
        Ok(allocated(&s, &c).await? == after)
    })
    .await?;
    let moved_at = raft(&s).await?;
    assert_eq!(moved_at["term"], stuck_at["term"], "no election: {moved_at}");
    let one_more = stuck_at["last_applied"].as_u64().map(|a| a + 1);
    assert_eq!(
        moved_at["last_applied"].as_u64(),
        one_more,
        "only the move was applied"
    );
    eventually("t's daemon pins it", WAIT, || daemon_pins(&t, &c)).await?;
    assert!(daemon_pins(&s, &c).await?, "s still holds it");
    Ok(())
}
