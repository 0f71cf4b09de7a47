//! The IPFS connector against real daemons: the embedded node (`cairn node`, kubo's answers)
//! and js-ipfs 0.66.1 (numbers as strings, its own messages), plus a daemon that stalls
//! mid-answer, which the no-progress watchdog must cut off.

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use cairn_compat_tests::process::{JsIpfs, Node};
use cairn_gateway::upstream::Target;
use cairn_peer::ipfs::{IpfsClient, PinKind, PinLabel};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn client(addr: std::net::SocketAddr) -> IpfsClient {
    IpfsClient::new(Target::Tcp {
        host: addr.ip().to_string(),
        port: addr.port(),
    })
}

async fn pins_round_trip(ipfs: &IpfsClient, text: &'static [u8]) -> anyhow::Result<()> {
    let cid = ipfs.block_put(Bytes::from_static(text)).await?;
    ipfs.pin_rm(&cid).await?;
    assert!(
        !ipfs.pins().await?.contains_key(&cid),
        "not pinned after block/put pin=false"
    );
    ipfs.pin_add(
        &cid,
        PinKind::Recursive,
        &PinLabel::default(),
        Duration::from_secs(10),
    )
    .await?;
    assert_eq!(ipfs.pins().await?.get(&cid), Some(&PinKind::Recursive));
    ipfs.pin_rm(&cid).await?;
    ipfs.pin_rm(&cid)
        .await
        .context("a second pin/rm counts as done")?;
    ipfs.pin_add(
        &cid,
        PinKind::Direct,
        &PinLabel::default(),
        Duration::from_secs(10),
    )
    .await?;
    assert_eq!(
        ipfs.pins().await?.get(&cid),
        Some(&PinKind::Direct),
        "direct pins are listed too"
    );
    ipfs.pin_rm(&cid).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_connector_drives_the_embedded_node() -> anyhow::Result<()> {
    let node = Node::start("connector")?;
    let ipfs = client(node.api);
    pins_round_trip(&ipfs, b"cairn connector block").await?;
    let present = ipfs.block_put(Bytes::from_static(b"exists")).await?;
    let absent = cid::Cid::new_v0(*present.hash()).context("v0")?;
    let err = ipfs
        .pin_add(
            &absent,
            PinKind::Recursive,
            &PinLabel::default(),
            Duration::from_secs(10),
        )
        .await;
    let text = format!("{err:?}");
    assert!(
        text.contains("not found locally"),
        "a missing block fails at once: {text}"
    );
    let (id, _) = ipfs.id().await?;
    assert!(id.starts_with("12D3"), "{id}");
    assert_eq!(ipfs.resolve(&format!("/ipfs/{present}")).await?, present);
    let peer = "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";
    let refused = ipfs.swarm_connect(&[peer.to_owned()]).await;
    assert!(refused.is_err(), "the embedded node has no swarm and says so");
    let stat = ipfs.repo_stat(false).await?;
    assert!(stat.num_objects >= 1 && stat.storage_max > 0, "{stat:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_connector_drives_js_ipfs() -> anyhow::Result<()> {
    let daemon = JsIpfs::start("connector")?;
    let ipfs = client(daemon.api);
    pins_round_trip(&ipfs, b"cairn connector block for js-ipfs").await?;
    let block = ipfs.block_put(Bytes::from_static(b"resolve me")).await?;
    assert_eq!(ipfs.resolve(&format!("/ipfs/{block}")).await?, block);
    let stat = ipfs.repo_stat(false).await?;
    assert!(
        stat.repo_size > 0 && stat.storage_max > 0,
        "js-ipfs sends numbers as strings: {stat:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pin_whose_daemon_stops_sending_progress_fails_at_pin_timeout() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stalling = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await?;
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await?;
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        socket.write_all(head.as_bytes()).await?;
        socket.write_all(b"f\r\n{\"Progress\":1}\n\r\n").await?;
        tokio::time::sleep(Duration::from_secs(60)).await;
        anyhow::Ok(())
    });
    let cid = cid::Cid::try_from("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH")?;
    let err = client(addr)
        .pin_add(
            &cid,
            PinKind::Recursive,
            &PinLabel::default(),
            Duration::from_millis(500),
        )
        .await;
    let text = format!("{err:?}");
    assert!(
        text.contains("no progress within 500ms"),
        "the watchdog cut the stalled pin: {text}"
    );
    stalling.abort();
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn after_three_refused_connections_calls_back_off_without_dialling() -> anyhow::Result<()> {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let ipfs = client(closed); // the listener is dropped: connections are refused
    for _ in 0..3 {
        let err = ipfs.id().await.map(drop).unwrap_err().to_string();
        assert!(!err.contains("not contacted"), "{err}");
    }
    let err = ipfs.id().await.map(drop).unwrap_err().to_string();
    assert!(
        err.contains("not contacted: 3 connection failures in a row"),
        "{err}"
    );
    Ok(())
}
