//! Failover across levels, all real processes. Three levels as in t71 (a top cluster of 2
//! peers over 2 middle clusters of 2 peers over 4 leaf clusters), with two changes the
//! failures need: the leaf clusters replicate 2 copies (so a leaf cluster has something to
//! re-allocate), and the second leaf cluster under each middle cluster has 3 peers (a Raft
//! cluster of 2 loses its quorum when one dies and could not commit the re-allocation).
//! 2 + 4 + 10 peers.
//!
//! A pin made at the top with replication 1 lands under one top peer `a` (middle cluster `a`,
//! leaf clusters `2a` and `2a + 1`). Then:
//! - kill -9 a leaf peer of leaf cluster `2a + 1` that holds it: only that leaf cluster
//!   re-allocates; the top keeps its allocation and its `status --depth 3` returns to every
//!   allocation pinned down to the leaves;
//! - kill -9 middle cluster `a`'s first peer, the gateway top peer `a` uses as its IPFS daemon:
//!   top peer `a` stops pinging, the top cluster re-allocates the pin to the other top peer
//!   (over the other middle cluster), and the top's status converges to every allocation
//!   pinned down to the leaves.
//!
//! The embedded nodes have no bitswap, so the bytes are put under both middle clusters first
//! (`add` with `pin=false` through each top peer's gateway), standing in for the IPFS network
//! that would serve them to kubo nodes.

use std::time::Duration;

use anyhow::Context;
use cairn_compat_tests::cluster::{ThreeLevels, add_unpinned, allocations, daemon_pins, rest};
use cairn_compat_tests::eventually;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(180);

const LEAF_REPLICATION: [(&str, &str); 2] = [
    ("CLUSTER_REPLICATIONFACTORMIN", "2"),
    ("CLUSTER_REPLICATIONFACTORMAX", "2"),
];

/// Whether every allocated peer of `info` is `pinned` and, above the leaves (`levels` > 1), has
/// a child cluster where the same holds.
fn landed(info: &Value, levels: usize) -> bool {
    let chosen = allocations(info);
    let Some(peers) = info["peer_map"].as_object() else {
        return false;
    };
    let allocated: Vec<&Value> = peers
        .iter()
        .filter(|(id, _)| chosen.is_empty() || chosen.contains(id))
        .map(|(_, entry)| entry)
        .collect();
    !allocated.is_empty()
        && allocated
            .iter()
            .all(|e| e["status"] == "pinned" && (levels == 1 || landed(&e["child"], levels - 1)))
}

/// Waits until the top's `status --depth 3` (asked at top peer `at`) shows `c` landed.
async fn converges(tree: &ThreeLevels, at: usize, c: &str, what: &str) -> anyhow::Result<Value> {
    // A status call that fails while peers die is retried, not fatal.
    let waited = eventually(what, WAIT, || async {
        Ok(tree.top_status(at, c).is_ok_and(|info| landed(&info, 3)))
    })
    .await;
    let info = tree.top_status(at, c)?;
    waited.with_context(|| format!("{info:#}"))?;
    Ok(info)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_leaf_peer_is_repaired_below_and_a_dead_middle_gateway_above() -> anyhow::Result<()> {
    let mut tree = ThreeLevels::start_with([2, 3, 2, 3], &LEAF_REPLICATION)?;
    tree.ready(WAIT).await?;
    let top = &tree.top.1;
    let c = add_unpinned(&top[0], b"content that survives failures at two levels").await?;
    assert_eq!(
        add_unpinned(&top[1], b"content that survives failures at two levels").await?,
        c
    );
    let placed = rest(
        &top[1],
        "POST",
        &format!("/pins/{c}?replication-min=1&replication-max=1"),
    )
    .await?;
    assert_eq!(placed.status, 200, "{}", placed.text());
    let info = converges(&tree, 1, &c, "landed under one top peer").await?;
    let chosen = allocations(&info);
    let a = top
        .iter()
        .position(|p| chosen == [p.peer_id.clone()])
        .context("one top allocation")?;
    let other = top[1 - a].peer_id.clone();

    // A leaf peer that holds it in leaf cluster 2a + 1 (3 peers) dies; not the first one,
    // whose gateway middle peer 1 uses.
    let leaf = &tree.leaves[2 * a + 1].1;
    let held_by = allocations(&rest(&leaf[0], "GET", &format!("/pins/{c}")).await?.json()?);
    let index = (1..3)
        .find(|i| held_by.contains(&leaf[*i].peer_id))
        .with_context(|| format!("an allocated leaf peer besides the first: {held_by:?}"))?;
    let victim = tree.leaves[2 * a + 1].1.remove(index);
    let victim_id = victim.peer_id.clone();
    victim.kill()?;
    let info = converges(&tree, 1 - a, &c, "re-allocated inside the leaf cluster").await?;
    assert_eq!(allocations(&info), chosen, "the top kept its allocation");
    let leaf = &tree.leaves[2 * a + 1].1;
    let now = allocations(&rest(&leaf[0], "GET", &format!("/pins/{c}")).await?.json()?);
    assert!(!now.contains(&victim_id), "{now:?}");
    for peer in leaf.iter().filter(|p| now.contains(&p.peer_id)) {
        assert!(daemon_pins(peer, &c).await?, "leaf {} holds it", peer.peer_id);
    }

    // The gateway top peer a uses as its IPFS daemon dies: the top moves the pin to the other.
    tree.middles[a].1.remove(0).kill()?;
    let info = converges(&tree, 1 - a, &c, "re-allocated to the other middle cluster").await?;
    assert_eq!(allocations(&info), [other], "{info:#}");

    for (_, peers) in &tree.leaves[2 * (1 - a)..2 * (1 - a) + 2] {
        let held = futures::future::join_all(peers.iter().map(|p| daemon_pins(p, &c))).await;
        let count = held.into_iter().filter(|h| matches!(h, Ok(true))).count();
        assert_eq!(
            count, 2,
            "2 nodes of each leaf cluster under the other middle cluster hold it"
        );
    }
    Ok(())
}
