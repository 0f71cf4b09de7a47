//! The pin tracker through real `cairn daemon` processes with embedded nodes: a cluster pin
//! lands on the IPFS daemon (`pinned`), an unpin leaves it, a pin without content is a
//! `pin_error`, a pin removed behind the cluster's back is found and re-pinned by recover, and
//! on three peers (replication -1) every peer's daemon ends up holding content added on one.

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use cairn_compat_tests::cluster::{Dirs, add_unpinned, cid, daemon_pins, rest};
use cairn_compat_tests::content::{Part, form, last_hash};
use cairn_compat_tests::http::{Call, send};
use cairn_compat_tests::process::{Peer, init_peer};
use cairn_compat_tests::{eventually, scratch_dir};

const WAIT: Duration = Duration::from_secs(30);

async fn status(peer: &Peer, c: &str) -> anyhow::Result<serde_json::Value> {
    let answer = rest(peer, "GET", &format!("/pins/{c}")).await?.json()?;
    Ok(answer["peer_map"][&peer.peer_id].clone())
}

async fn reaches(peer: &Peer, c: &str, want: &str) -> anyhow::Result<()> {
    eventually(&format!("{c} is {want} on {}", peer.peer_id), WAIT, || async {
        Ok(status(peer, c).await?["status"] == want)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_pin_lands_on_the_daemon_and_an_unpin_leaves_it() -> anyhow::Result<()> {
    let dir = scratch_dir("tracker")?;
    init_peer(dir.path(), "tracker")?;
    let peer = Peer::start(dir.path(), &[])?;
    let c = add_unpinned(&peer, b"cairn tracker content").await?;
    assert!(!daemon_pins(&peer, &c).await?);
    assert_eq!(rest(&peer, "POST", &format!("/pins/{c}")).await?.status, 200);
    reaches(&peer, &c, "pinned").await?;
    assert!(daemon_pins(&peer, &c).await?, "the daemon holds the pin");

    // Behind the cluster's back: recover finds it and pins it again.
    let ipfs = peer.ipfs.context("ipfs")?;
    assert_eq!(
        send(ipfs, Call::post(&format!("/api/v0/pin/rm?arg={c}")))
            .await?
            .status,
        200
    );
    let recovered = rest(&peer, "POST", &format!("/pins/{c}/recover")).await?;
    assert_eq!(recovered.status, 200, "{}", recovered.text());
    reaches(&peer, &c, "pinned").await?;
    assert!(daemon_pins(&peer, &c).await?, "recover pinned it again");

    assert_eq!(rest(&peer, "DELETE", &format!("/pins/{c}")).await?.status, 200);
    eventually("the unpin reaches the daemon", WAIT, || async {
        Ok(!daemon_pins(&peer, &c).await?)
    })
    .await?;
    reaches(&peer, &c, "unpinned").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pin_without_content_is_a_pin_error_and_filters_find_it() -> anyhow::Result<()> {
    let dir = scratch_dir("tracker-error")?;
    init_peer(dir.path(), "tracker-error")?;
    let peer = Peer::start(dir.path(), &[])?;
    let nowhere = cid(424_242);
    assert_eq!(
        rest(&peer, "POST", &format!("/pins/{nowhere}")).await?.status,
        200
    );
    reaches(&peer, &nowhere, "pin_error").await?;
    let failed = status(&peer, &nowhere).await?;
    assert!(
        failed["error"]
            .as_str()
            .unwrap_or("")
            .contains("not found locally"),
        "{failed}"
    );
    assert!(failed["attempt_count"].as_u64().unwrap_or(0) >= 1, "{failed}");
    let errors = rest(&peer, "GET", "/pins?filter=error").await?.text();
    assert!(errors.contains(&nowhere), "{errors}");
    let pinned = rest(&peer, "GET", "/pins?filter=pinned").await?.text();
    assert!(!pinned.contains(&nowhere), "{pinned}");
    assert_eq!(rest(&peer, "GET", "/pins?filter=sideways").await?.status, 400);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_peer_daemon_holds_a_pin_added_on_one() -> anyhow::Result<()> {
    let dirs = Dirs::init(3)?;
    let peers = dirs.start_all()?;
    let added = send(
        peers[0].gateway,
        form(
            "/api/v0/add",
            vec![Part::File("s".into(), Bytes::from(vec![9u8; 700_000]))],
        ),
    )
    .await?;
    let c = last_hash(&added.body)?;
    for peer in &peers {
        reaches(peer, &c, "pinned").await?;
        assert!(daemon_pins(peer, &c).await?, "{} holds the content", peer.peer_id);
    }
    Ok(())
}
