//! Issue 13.5, 13.7 and 13.8 through real `cairn daemon` processes: a full disk makes writes
//! fail cleanly with 503 and loses nothing acknowledged; a pin over the size limit is refused
//! with 413 and a follower that lagged behind big entries catches up; slow readers of
//! listings do not stop other clients from being served.

use std::collections::BTreeSet;
use std::time::Duration;

use cairn_compat_tests::cluster::{Dirs, cairn_cli, cid, listed, lists_eventually, raft, rest, three};
use cairn_compat_tests::faults::Tmpfs;
use cairn_compat_tests::http::{Call, send};
use cairn_compat_tests::process::{Peer, init_peer, run_cairn, signal};
use cairn_compat_tests::scratch_dir;

const WAIT: Duration = Duration::from_secs(90);

/// Pins `cids` 32 at a time through `peer`'s REST API with a long name; returns the CIDs
/// acknowledged and the first failure (status and message).
async fn pin_until_failure(
    peer: &Peer,
    cids: &[String],
) -> anyhow::Result<(Vec<String>, Option<(u16, String)>)> {
    let name = "n".repeat(3000);
    let mut acknowledged = Vec::new();
    for chunk in cids.chunks(32) {
        let targets: Vec<String> = chunk.iter().map(|c| format!("/pins/{c}?name={name}")).collect();
        let pins = targets.iter().map(|t| rest(peer, "POST", t));
        let answers = futures::future::join_all(pins).await;
        let mut failure = None;
        for (c, answer) in chunk.iter().zip(answers) {
            let answer = answer?;
            if answer.status == 200 {
                acknowledged.push(c.clone());
            } else if failure.is_none() {
                failure = Some((answer.status, answer.text()));
            }
        }
        if failure.is_some() {
            return Ok((acknowledged, failure));
        }
    }
    Ok((acknowledged, None))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_writes_with_503_and_loses_nothing_acknowledged() -> anyhow::Result<()> {
    let scratch = scratch_dir("tmpfs")?;
    let disk = Tmpfs::mount_over(scratch.path(), 48)?;
    let dir = scratch.path().join("peer");
    init_peer(&dir, "full")?;
    let peer = Peer::start(&dir, &[])?;
    let before: Vec<String> = (0..20).map(|n| cid(84_000 + n)).collect();
    let (acked, failure) = pin_until_failure(&peer, &before).await?;
    anyhow::ensure!(
        failure.is_none() && acked.len() == 20,
        "before the disk filled: {failure:?}"
    );
    let filled = disk.fill()?;
    println!("filled the disk with {filled} bytes");
    let more: Vec<String> = (0..20_000).map(|n| cid(85_000 + n)).collect();
    let (acked_more, failure) = pin_until_failure(&peer, &more).await?;
    let (status, message) = failure.ok_or_else(|| anyhow::anyhow!("20,000 pins fit on a full disk"))?;
    println!(
        "{} more pins acknowledged, then {status}: {message}",
        acked_more.len()
    );
    assert_eq!(status, 503, "{message}");
    assert!(message.contains("No space left on device"), "{message}");
    let health = rest(&peer, "GET", "/health").await?;
    assert_eq!(health.status, 503, "{}", health.text());
    assert!(
        health.text().contains("No space left on device"),
        "{}",
        health.text()
    );
    let host = peer.rest_multiaddr();
    let (code, _, err) = run_cairn(&["health", "--host", &host], &[])?;
    assert_ne!(code, 0, "cairn health on an unhealthy peer");
    assert!(err.contains("No space left on device"), "{err}");
    let id = cairn_cli(&peer, &["id"])?;
    assert!(
        id.contains("ERROR") && id.contains("No space left on device"),
        "{id}"
    );
    let refused = rest(&peer, "POST", &format!("/pins/{}", cid(99_999))).await?;
    assert_eq!(
        refused.status,
        503,
        "writes after the failure: {}",
        refused.text()
    );
    // Space comes back; the restarted peer has every acknowledged pin and takes new ones.
    disk.free()?;
    peer.kill()?;
    let peer = Peer::start(&dir, &[])?;
    let on_peer: BTreeSet<String> = listed(&peer).await?.into_iter().collect();
    let lost: Vec<&String> = acked
        .iter()
        .chain(&acked_more)
        .filter(|c| !on_peer.contains(*c))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged pins lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    let again = rest(&peer, "POST", &format!("/pins/{}", cid(99_998))).await?;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(rest(&peer, "GET", "/health").await?.status, 204);
    drop(peer);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_pin_is_refused_and_a_follower_behind_big_entries_catches_up() -> anyhow::Result<()> {
    // Request heads of 128 KiB on the gateway, so that pins of any size can be sent.
    let env = [("CLUSTER_IPFSPROXY_MAXHEADERBYTES", "131072")];
    let (_dirs, peers) = three(&env)?;
    let leader = raft(&peers[0]).await?["leader"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let lagging = peers
        .iter()
        .position(|p| p.peer_id != leader)
        .expect("a follower");
    let writer = &peers[(lagging + 1) % 3];
    let huge = "h".repeat(40 * 1024);
    let refused = send(
        writer.gateway,
        Call::post(&format!("/api/v0/pin/add?arg={}&meta-note={huge}", cid(86_000))),
    )
    .await?;
    assert_eq!(refused.status, 413, "{}", refused.text());
    let kubo = refused.json()?;
    assert_eq!(kubo["Type"], "error");
    assert!(
        kubo["Message"]
            .as_str()
            .unwrap_or("")
            .contains("the limit is 32768 bytes"),
        "{kubo}"
    );
    assert!(listed(writer).await?.is_empty(), "nothing committed");
    // The follower stops; 600 pins of 30 KB each (18 MB, more than a network message holds)
    // are written 40 at a time, so batches are large; then it resumes and must catch up.
    // The bulk is metadata: names are kubo's, at most 255 bytes.
    signal(peers[lagging].pid(), "STOP")?;
    let note = "b".repeat(30_000);
    let cids: Vec<String> = (0..600).map(|n| cid(86_100 + n)).collect();
    for chunk in cids.chunks(40) {
        let pins = chunk.iter().map(|c| {
            send(
                writer.gateway,
                Call::post(&format!("/api/v0/pin/add?arg={c}&meta-note={note}")),
            )
        });
        for answer in futures::future::join_all(pins).await {
            let answer = answer?;
            assert_eq!(answer.status, 200, "{}", answer.text());
        }
    }
    signal(peers[lagging].pid(), "CONT")?;
    lists_eventually(&peers[lagging], &cids, WAIT).await?;
    Ok(())
}

/// A client that asks for `target` and then reads one byte a second with a tiny buffer.
async fn slow_reader(
    rest: std::net::SocketAddr,
    target: &'static str,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(1024)?;
    let mut stream = socket.connect(rest).await?;
    stream
        .write_all(format!("GET {target} HTTP/1.1\r\nHost: {rest}\r\n\r\n").as_bytes())
        .await?;
    Ok(tokio::spawn(async move {
        let mut byte = [0u8; 1];
        while let Ok(1) = stream.read(&mut byte).await {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_slow_readers_do_not_stop_other_clients() -> anyhow::Result<()> {
    let dirs = Dirs::init(1)?;
    let peer = dirs.start(0, None, &[])?;
    let cids: Vec<String> = (0..6000).map(|n| cid(87_000 + n)).collect();
    for chunk in cids.chunks(64) {
        let targets: Vec<String> = chunk
            .iter()
            .map(|c| format!("/pins/{c}?name={}", "s".repeat(200)))
            .collect();
        let pins = targets.iter().map(|t| rest(&peer, "POST", t));
        for answer in futures::future::join_all(pins).await {
            anyhow::ensure!(answer?.status == 200, "setup pin failed");
        }
    }
    let mut readers = Vec::new();
    for n in 0..200 {
        let target = if n % 2 == 0 {
            "/allocations"
        } else {
            "/pins?local=true"
        };
        readers.push(slow_reader(peer.rest, target).await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut slowest = Duration::ZERO;
    for n in 0..50u64 {
        let c = cid(95_000 + n);
        let began = std::time::Instant::now();
        let pinned = rest(&peer, "POST", &format!("/pins/{c}")).await?;
        slowest = slowest.max(began.elapsed());
        assert_eq!(
            pinned.status,
            200,
            "a write beside the slow readers: {}",
            pinned.text()
        );
        let read = rest(&peer, "GET", &format!("/allocations/{c}")).await?;
        assert_eq!(
            read.status,
            200,
            "a read beside the slow readers: {}",
            read.text()
        );
        let ls = send(peer.gateway, Call::post(&format!("/api/v0/pin/ls?arg={c}"))).await?;
        assert_eq!(
            ls.status,
            200,
            "a gateway read beside the slow readers: {}",
            ls.text()
        );
    }
    let all = listed(&peer).await?;
    assert_eq!(all.len(), 6050, "a whole listing beside the slow readers");
    let readers_alive = readers.iter().filter(|r| !r.is_finished()).count();
    println!("{readers_alive} of 200 slow readers still connected; slowest write beside them {slowest:?}");
    assert!(
        readers_alive > 100,
        "the slow readers were not slow: {readers_alive} still reading"
    );
    for reader in readers {
        reader.abort();
    }
    Ok(())
}
