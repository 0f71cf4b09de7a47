//! The tracker against a real js-ipfs upstream and at scale: a stopped upstream turns the
//! peer's pins into `pin_error`, and `cairn recover` brings them back once it runs again; a pin
//! removed behind the cluster's back shows as `unexpectedly_unpinned` after `cairn sync` and is
//! fixed by `cairn recover`; 10,000 pins with replication -1 on three peers all reach `pinned`
//! with the configured number of pins in flight at most and bounded memory.

use std::time::Duration;

use bytes::Bytes;
use cairn_compat_tests::cluster::{Dirs, cairn_cli, put_blocks, rest};
use cairn_compat_tests::content::{Part, form, last_hash};
use cairn_compat_tests::eventually;
use cairn_compat_tests::http::{Call, send};
use cairn_compat_tests::process::{JsIpfs, Peer, init_peer, signal};
use cairn_compat_tests::scratch_dir;

const WAIT: Duration = Duration::from_secs(60);

async fn status_on(peer: &Peer, c: &str) -> anyhow::Result<String> {
    let info = rest(peer, "GET", &format!("/pins/{c}")).await?.json()?;
    Ok(info["peer_map"][&peer.peer_id]["status"]
        .as_str()
        .unwrap_or("")
        .to_owned())
}

async fn reaches(peer: &Peer, c: &str, want: &str) -> anyhow::Result<()> {
    eventually(&format!("{c} is {want}"), WAIT, || async {
        Ok(status_on(peer, c).await? == want)
    })
    .await
}

async fn add_to(daemon: &JsIpfs, text: &'static [u8]) -> anyhow::Result<String> {
    let part = vec![Part::File("f".into(), Bytes::from_static(text))];
    let added = send(daemon.api, form("/api/v0/add?pin=false", part)).await?;
    last_hash(&added.body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_js_ipfs_upstream_gives_pin_errors_and_recover_brings_pins_back() -> anyhow::Result<()> {
    let daemon = JsIpfs::start("recover")?;
    let dir = scratch_dir("recover")?;
    init_peer(dir.path(), "recover")?;
    let upstream = daemon.multiaddr();
    let env = [
        ("CLUSTER_IPFSHTTP_NODEMULTIADDRESS", upstream.as_str()),
        ("CLUSTER_IPFSHTTP_IPFSREQUESTTIMEOUT", "2s"),
        ("CLUSTER_IPFSHTTP_PINTIMEOUT", "3s"),
    ];
    let peer = Peer::start(dir.path(), &env)?;
    let (a, b) = (
        add_to(&daemon, b"first on js-ipfs").await?,
        add_to(&daemon, b"second").await?,
    );
    assert_eq!(rest(&peer, "POST", &format!("/pins/{a}")).await?.status, 200);
    reaches(&peer, &a, "pinned").await?;

    signal(daemon.pid(), "STOP")?;
    assert_eq!(rest(&peer, "POST", &format!("/pins/{b}")).await?.status, 200);
    reaches(&peer, &b, "pin_error").await?;
    reaches(&peer, &a, "pin_error").await?;
    let errors = cairn_cli(&peer, &["status", "--filter", "error"])?;
    assert!(
        errors.contains(&a) && errors.contains(&b) && errors.contains("PIN_ERROR"),
        "{errors}"
    );

    signal(daemon.pid(), "CONT")?;
    let recovered = cairn_cli(&peer, &["recover"])?;
    assert!(recovered.contains(&b), "{recovered}");
    reaches(&peer, &a, "pinned").await?;
    reaches(&peer, &b, "pinned").await?;
    let listed = send(daemon.api, Call::post(&format!("/api/v0/pin/ls?arg={b}"))).await?;
    assert_eq!(listed.status, 200, "js-ipfs holds the pin: {}", listed.text());

    // Behind the cluster's back.
    let removed = send(daemon.api, Call::post(&format!("/api/v0/pin/rm?arg={a}"))).await?;
    assert_eq!(removed.status, 200, "{}", removed.text());
    let synced = cairn_cli(&peer, &["sync"])?;
    assert!(synced.contains("UNEXPECTEDLY_UNPINNED"), "{synced}");
    let one = cairn_cli(&peer, &["recover", &a])?;
    assert!(one.contains(&a), "{one}");
    reaches(&peer, &a, "pinned").await?;
    let shown = cairn_cli(&peer, &["status", &a])?;
    assert!(shown.contains("PINNED") && shown.contains("recover"), "{shown}");
    Ok(())
}

/// The peer process's resident memory, in MiB.
fn rss_mib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    Ok(kib / 1024)
}

/// How many of `peer`'s own pins have `status` (one consistent snapshot of its tracker).
async fn local_count(peer: &Peer, status: &str) -> anyhow::Result<usize> {
    let answer = rest(peer, "GET", &format!("/pins?local=true&filter={status}")).await?;
    Ok(answer.text().lines().count())
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_everywhere_pins_reach_pinned_on_three_peers_within_the_concurrency()
-> anyhow::Result<()> {
    use futures::StreamExt;
    const PINS: u64 = 10_000;
    const CONCURRENCY: usize = 4;
    const RSS_LIMIT_MIB: u64 = 384;
    let dirs = Dirs::init(3)?;
    let peers = dirs.start_all_with(&[("CLUSTER_STATELESS_CONCURRENTPINS", "4")])?;
    let cids = put_blocks(&peers[0], PINS).await?;
    let pins = cids.iter().enumerate().map(|(i, c)| {
        let peer = &peers[i % 3];
        async move {
            let answer = rest(peer, "POST", &format!("/pins/{c}")).await?;
            anyhow::ensure!(answer.status == 200, "{}", answer.text());
            Ok(())
        }
    });
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(pins).buffer_unordered(64).collect().await;
    results.into_iter().collect::<anyhow::Result<()>>()?;

    let (mut most_in_flight, mut most_rss) = (0, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    loop {
        let mut done = true;
        for peer in &peers {
            most_in_flight = most_in_flight.max(local_count(peer, "pinning").await?);
            most_rss = most_rss.max(rss_mib(peer.pid())?);
            done &= local_count(peer, "pinned").await? == PINS as usize;
        }
        if done {
            break;
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "not all pinned after 600 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        most_in_flight <= CONCURRENCY,
        "{most_in_flight} pins in flight at once"
    );
    assert!(most_rss < RSS_LIMIT_MIB, "a peer used {most_rss} MiB");
    eprintln!("10k pins: at most {most_in_flight} in flight, peak RSS {most_rss} MiB");
    Ok(())
}
