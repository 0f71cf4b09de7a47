//! Allocation, monitoring and failover through real `cairn daemon` processes with embedded
//! nodes: rf 2/2 on three peers lands on exactly two (`remote` on the third, seen from any
//! peer), too few peers for rf-min is an error that commits nothing, and a killed allocated
//! peer's pins move to a healthy peer (ping alert, re-allocation, `pinned` there).

use std::time::Duration;

use anyhow::Context;
use cairn_compat_tests::cluster::{
    Dirs, FAST_MONITOR, add_unpinned, allocations, cairn_cli, daemon_pins, rest, sees_metrics,
};
use cairn_compat_tests::eventually;
use cairn_compat_tests::http::{Call, send};
use cairn_compat_tests::process::Peer;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

async fn global(peer: &Peer, c: &str) -> anyhow::Result<Value> {
    let answer = rest(peer, "GET", &format!("/pins/{c}")).await?;
    anyhow::ensure!(answer.status == 200, "{}", answer.text());
    answer.json()
}

/// Whether every allocated peer shows `pinned` and every other peer `remote`.
fn settled(info: &Value) -> bool {
    let allocated = allocations(info);
    let Some(map) = info["peer_map"].as_object() else {
        return false;
    };
    map.iter().all(|(peer, entry)| {
        let want = if allocated.contains(peer) {
            "pinned"
        } else {
            "remote"
        };
        entry["status"] == want
    })
}

async fn cluster_of_three() -> anyhow::Result<(Dirs, Vec<Peer>)> {
    let dirs = Dirs::init(3)?;
    let peers = dirs.start_all_with(&FAST_MONITOR)?;
    for peer in &peers {
        sees_metrics(peer, "freespace", 3, WAIT).await?;
    }
    Ok((dirs, peers))
}

#[tokio::test(flavor = "multi_thread")]
async fn rf_two_on_three_peers_is_pinned_on_two_and_remote_on_the_third() -> anyhow::Result<()> {
    let (_dirs, peers) = cluster_of_three().await?;
    let c = add_unpinned(&peers[0], b"two of three").await?;
    let pinned = rest(
        &peers[1],
        "POST",
        &format!("/pins/{c}?replication-min=2&replication-max=2"),
    )
    .await?;
    assert_eq!(pinned.status, 200, "{}", pinned.text());
    let chosen = allocations(&pinned.json()?);
    assert_eq!(chosen.len(), 2, "{chosen:?}");
    eventually("pinned on two, remote on one", WAIT, || async {
        Ok(settled(&global(&peers[2], &c).await?))
    })
    .await?;
    for peer in &peers {
        let info = global(peer, &c).await?;
        assert_eq!(info["peer_map"].as_object().map(|m| m.len()), Some(3), "{info}");
        assert!(settled(&info), "the same from {}: {info}", peer.peer_id);
        let holds = daemon_pins(peer, &c).await?;
        assert_eq!(holds, chosen.contains(&peer.peer_id), "{} daemon", peer.peer_id);
    }
    let remote = rest(&peers[0], "GET", "/pins?filter=remote").await?.text();
    assert_eq!(remote.lines().count(), 1, "{remote}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn too_few_peers_for_rf_min_is_an_error_and_commits_nothing() -> anyhow::Result<()> {
    let (_dirs, peers) = cluster_of_three().await?;
    let c = add_unpinned(&peers[0], b"four of three").await?;
    let refused = rest(
        &peers[0],
        "POST",
        &format!("/pins/{c}?replication-min=4&replication-max=5"),
    )
    .await?;
    assert_eq!(refused.status, 500);
    let message = refused.json()?["message"].as_str().unwrap_or("").to_owned();
    assert_eq!(
        message,
        "not enough peers to allocate CID. Needed at least: 4. Wanted at most: 5. Available candidates: 3. See logs for more info."
    );
    assert_eq!(
        rest(&peers[0], "GET", &format!("/allocations/{c}")).await?.status,
        404
    );
    let through_gateway = send(
        peers[1].gateway,
        Call::post(&format!(
            "/api/v0/pin/add?arg={c}&replication-min=4&replication-max=4"
        )),
    )
    .await?;
    assert_eq!(through_gateway.status, 500, "{}", through_gateway.text());
    assert!(through_gateway.text().contains("not enough peers to allocate"));
    assert_eq!(
        rest(&peers[2], "GET", &format!("/allocations/{c}")).await?.status,
        404
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_allocated_peer_pins_move_to_a_healthy_one() -> anyhow::Result<()> {
    let (dirs, mut peers) = cluster_of_three().await?;
    let c = add_unpinned(&peers[0], b"failover content").await?;
    let pinned = rest(
        &peers[0],
        "POST",
        &format!("/pins/{c}?replication-min=2&replication-max=2"),
    )
    .await?;
    let chosen = allocations(&pinned.json()?);
    eventually("pinned on two", WAIT, || async {
        Ok(settled(&global(&peers[0], &c).await?))
    })
    .await?;

    // The content lives on peer 0's node: kill another allocated peer.
    let index = (1..3)
        .find(|i| chosen.contains(&peers[*i].peer_id))
        .context("an allocated peer besides peer 0")?;
    let victim = peers.remove(index);
    let victim_id = victim.peer_id.clone();
    victim.kill()?;

    eventually("re-allocated away from the killed peer", WAIT, || async {
        let info = global(&peers[0], &c).await?;
        let now = allocations(&info);
        let live_pinned = peers
            .iter()
            .all(|p| info["peer_map"][&p.peer_id]["status"] == "pinned");
        Ok(now.len() == 2 && !now.contains(&victim_id) && live_pinned)
    })
    .await?;
    for peer in &peers {
        assert!(daemon_pins(peer, &c).await?, "{} holds it", peer.peer_id);
    }
    let info = global(&peers[1], &c).await?;
    let dead = &info["peer_map"][&victim_id];
    assert_eq!(dead["status"], "cluster_error", "{info}");
    eventually(
        "a ping alert for the killed peer on every live peer",
        WAIT,
        || async {
            let mut all = true;
            for peer in &peers {
                let alerts = rest(peer, "GET", "/health/alerts").await?.json()?;
                all &= alerts.as_array().is_some_and(|list| {
                    list.iter()
                        .any(|a| a["peer"] == victim_id.as_str() && a["name"] == "ping")
                });
            }
            Ok(all)
        },
    )
    .await?;
    let alerts = cairn_cli(&peers[0], &["health", "alerts"])?;
    assert!(alerts.contains(&victim_id) && alerts.contains("ping"), "{alerts}");
    let metrics = cairn_cli(&peers[0], &["health", "metrics", "freespace"])?;
    assert!(peers.iter().all(|p| metrics.contains(&p.peer_id)), "{metrics}");

    // The killed peer comes back: not re-added; it drops the pin it no longer holds.
    let back = dirs.start(index, None, &FAST_MONITOR)?;
    eventually("the returning peer follows the shared state", WAIT, || async {
        let info = global(&back, &c).await?;
        Ok(info["peer_map"][&back.peer_id]["status"] == "remote" && !daemon_pins(&back, &c).await?)
    })
    .await?;
    assert!(!allocations(&global(&back, &c).await?).contains(&victim_id));
    Ok(())
}
