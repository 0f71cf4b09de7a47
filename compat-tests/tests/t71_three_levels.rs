//! Three levels of clusters, all real processes: a top cluster of 2 peers whose IPFS daemons
//! are the gateways of 2 middle clusters of 2 peers, whose daemons are the gateways of 4 leaf
//! clusters of 2 peers with embedded nodes (2 + 4 + 8 peers; replication -1 at every level).
//! `jsipfs --api <top gateway> add` of a directory and of a 20 MiB file ends up pinned on
//! every leaf node, every level's status says `pinned` (and `cairn status --depth 3` at the
//! top shows all 14 peers `pinned`), and an unpin at the top is carried down
//! to every leaf node, whose `repo/gc` then frees the blocks.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use cairn_compat_tests::cluster::{ThreeLevels, cairn_cli, daemon_pins, rest};
use cairn_compat_tests::eventually;
use cairn_compat_tests::http::{Call, send};
use cairn_compat_tests::process::{Peer, jsipfs_cli};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(180);

fn jsipfs_add(api: &Peer, path: &Path) -> anyhow::Result<String> {
    let out = Command::new("node")
        .arg(jsipfs_cli()?)
        .args([
            "--api",
            &api.gateway_multiaddr(),
            "add",
            "-r",
            "-Q",
            "--progress=false",
        ])
        .arg(path)
        .env("IPFS_PATH", path.join("no-such-repo"))
        .output()
        .context("running the jsipfs CLI (node)")?;
    anyhow::ensure!(
        out.status.success(),
        "jsipfs add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

async fn pinned_everywhere(peers: &[Peer], c: &str) -> anyhow::Result<bool> {
    for peer in peers {
        let info = rest(peer, "GET", &format!("/pins/{c}")).await?.json()?;
        let all = info["peer_map"]
            .as_object()
            .is_some_and(|m| m.len() == peers.len() && m.values().all(|e| e["status"] == "pinned"));
        if !all {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Every `status` in `info`'s peer map and, depth first, in its peers' child clusters.
fn tree_statuses(info: &Value, out: &mut Vec<(usize, String)>, level: usize) {
    for entry in info["peer_map"].as_object().into_iter().flat_map(|m| m.values()) {
        out.push((level, entry["status"].as_str().unwrap_or_default().to_owned()));
        tree_statuses(&entry["child"], out, level + 1);
    }
}

/// `cairn status --depth 3` at the top shows 2 top peers, 4 middle and 8 leaf peers, all
/// `pinned`, in JSON and as indented text; depth 1 shows the top peers only.
fn assert_full_tree(tree: &ThreeLevels, root: &str) -> anyhow::Result<()> {
    let info = tree.top_status(0, root)?;
    let mut statuses = Vec::new();
    tree_statuses(&info, &mut statuses, 1);
    let levels: Vec<usize> = [1, 2, 3]
        .iter()
        .map(|l| statuses.iter().filter(|(s, _)| s == l).count())
        .collect();
    assert_eq!(levels, [2, 4, 8], "{info:#}");
    assert!(statuses.iter().all(|(_, s)| s == "pinned"), "{info:#}");

    let text = cairn_cli(&tree.top.1[1], &["status", root, "--depth", "3"])?;
    let indented = |n: usize| {
        let prefix = format!("{}> ", "    ".repeat(n));
        text.lines()
            .filter(|l| l.starts_with(&prefix) && l.contains(": PINNED |"))
            .count()
    };
    assert_eq!([indented(1), indented(2), indented(3)], [2, 4, 8], "{text}");
    let flat = cairn_cli(&tree.top.1[1], &["status", root])?;
    assert_eq!(flat.lines().filter(|l| l.contains("PINNED")).count(), 2, "{flat}");
    Ok(())
}

/// Issue 18: a pin named (with metadata) at the top carries its name and metadata into every
/// level's pinset, each connector passing them down with its `pin/add`, and `cairn status`
/// shows the name.
async fn named_at_the_top_is_named_on_every_leaf(
    tree: &ThreeLevels,
    levels: &[&[Peer]],
) -> anyhow::Result<()> {
    let top = &tree.top.1;
    let c = cairn_compat_tests::cluster::add_unpinned(&top[0], b"named at the top of three levels").await?;
    let pinned = rest(
        &top[0],
        "POST",
        &format!("/pins/{c}?name=named-at-top&meta-owner=ops"),
    )
    .await?;
    assert_eq!(pinned.status, 200, "{}", pinned.text());
    eventually("the named pin everywhere", WAIT, || async {
        for peers in levels {
            if !pinned_everywhere(peers, &c).await? {
                return Ok(false);
            }
        }
        Ok(true)
    })
    .await?;
    for peers in levels {
        for peer in *peers {
            let pin = rest(peer, "GET", &format!("/allocations/{c}")).await?.json()?;
            assert_eq!(pin["name"], "named-at-top", "{}: {pin}", peer.peer_id);
            assert_eq!(pin["metadata"]["owner"], "ops", "{}: {pin}", peer.peer_id);
        }
    }
    let text = cairn_cli(&top[1], &["status", &c, "--depth", "3"])?;
    assert!(text.contains(&format!("{c} | named-at-top:")), "{text}");
    assert_eq!(rest(&top[0], "DELETE", &format!("/pins/{c}")).await?.status, 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn content_added_at_the_top_is_pinned_on_every_leaf_and_unpinned_from_all() -> anyhow::Result<()> {
    let tree = ThreeLevels::start()?;
    tree.ready(WAIT).await?;
    let (leaves, middles, top) = (&tree.leaves, &tree.middles, &tree.top.1);

    let scratch = cairn_compat_tests::scratch_dir("three-levels")?;
    let dir = scratch.path().join("site");
    std::fs::create_dir_all(dir.join("sub"))?;
    std::fs::write(dir.join("index.html"), b"<h1>three levels</h1>")?;
    std::fs::write(dir.join("sub").join("data.txt"), b"leaf bound")?;
    let big = scratch.path().join("big.bin");
    std::fs::write(&big, cairn_compat_tests::content::pattern(20 << 20))?;
    let roots = [jsipfs_add(&top[0], &dir)?, jsipfs_add(&top[0], &big)?];

    let levels: Vec<&[Peer]> = std::iter::once(top.as_slice())
        .chain(middles.iter().map(|(_, p)| p.as_slice()))
        .chain(leaves.iter().map(|(_, p)| p.as_slice()))
        .collect();
    for root in &roots {
        eventually(&format!("{root} pinned at every level"), WAIT, || async {
            for peers in &levels {
                if !pinned_everywhere(peers, root).await? {
                    return Ok(false);
                }
            }
            Ok(true)
        })
        .await?;
        for (_, peers) in leaves {
            for leaf in peers {
                assert!(
                    daemon_pins(leaf, root).await?,
                    "leaf {} holds {root}",
                    leaf.peer_id
                );
            }
        }
        assert_full_tree(&tree, root)?;
    }

    named_at_the_top_is_named_on_every_leaf(&tree, &levels).await?;

    for root in &roots {
        assert_eq!(
            rest(&top[1], "DELETE", &format!("/pins/{root}")).await?.status,
            200
        );
    }
    eventually("unpinned on every leaf node", WAIT, || async {
        for (_, peers) in leaves {
            for leaf in peers {
                for root in &roots {
                    if daemon_pins(leaf, root).await? {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    })
    .await?;
    for leaf in &leaves[3].1 {
        let ipfs = leaf.ipfs.context("node")?;
        assert_eq!(send(ipfs, Call::post("/api/v0/repo/gc")).await?.status, 200);
    }
    let ipfs = leaves[3].1[1].ipfs.context("node")?;
    let gone = send(ipfs, Call::post(&format!("/api/v0/block/stat?arg={}", roots[1]))).await?;
    assert_ne!(
        gone.status,
        200,
        "gc freed the 20 MiB file's blocks: {}",
        gone.text()
    );
    Ok(())
}
