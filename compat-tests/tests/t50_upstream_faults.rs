//! The gateway when its upstream fails: a real js-ipfs daemon stopped with SIGSTOP, an
//! upstream that is not there, and a client that leaves in the middle of a 50 MiB `cat`.

use std::time::Duration;

use cairn_compat_tests::content;
use cairn_compat_tests::http::{Call, send};
use cairn_compat_tests::process::{Gateway, JsIpfs, free_port, signal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(60);
const FIFTY_MIB: u64 = 50 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_upstream_answers_502_with_a_kubo_error() -> anyhow::Result<()> {
    let closed = free_port()?;
    let gateway = Gateway::start(&format!("/ip4/127.0.0.1/tcp/{closed}"), &[])?;
    let answer = send(gateway.addr, Call::post("/api/v0/version")).await?;
    assert_eq!(answer.status, 502);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let error = answer.json()?;
    assert_eq!(error["Type"], "error");
    assert_eq!(error["Code"], 0);
    let message = error["Message"].as_str().unwrap_or_default();
    assert!(
        message.contains("unreachable") && message.contains(&closed.to_string()),
        "{message}"
    );
    assert!(
        answer.body.ends_with(b"}\n"),
        "kubo ends error bodies with a newline"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_upstream_answers_504_at_the_configured_time_then_recovers() -> anyhow::Result<()> {
    let daemon = JsIpfs::start("t50-sigstop")?;
    let env = [("CLUSTER_IPFSPROXY_UPSTREAMHEADERTIMEOUT", "2s")];
    let gateway = Gateway::start(&daemon.multiaddr(), &env)?;
    assert_eq!(
        send(gateway.addr, Call::post("/api/v0/version")).await?.status,
        200
    );

    signal(daemon.pid(), "STOP")?;
    let started = std::time::Instant::now();
    let answer = tokio::time::timeout(WAIT, send(gateway.addr, Call::post("/api/v0/id"))).await;
    signal(daemon.pid(), "CONT")?;
    let answer = answer.map_err(|_| anyhow::anyhow!("the gateway hung on a stopped upstream"))??;
    assert_eq!(answer.status, 504, "{}", answer.text());
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "504 came before the configured 2s"
    );
    let message = answer.json()?["Message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("no response headers within 2s"), "{message}");

    let again = send(gateway.addr, Call::post("/api/v0/version")).await?;
    assert_eq!(again.status, 200, "the gateway recovers once the daemon resumes");
    Ok(())
}

/// Established TCP connections whose remote port is `port` (the gateway's side of its
/// upstream connections) and whose local port is `port` (the daemon's side).
fn connections_to(port: u16) -> anyhow::Result<(usize, usize)> {
    let (mut outbound, mut inbound) = (0, 0);
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table)?.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let port_of = |col: &str| {
                col.rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
            };
            if cols.len() > 3 && cols[3] == "01" {
                outbound += usize::from(port_of(cols[2]) == Some(port));
                inbound += usize::from(port_of(cols[1]) == Some(port));
            }
        }
    }
    Ok((outbound, inbound))
}

fn open_fds(pid: u32) -> anyhow::Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_leaving_mid_stream_cancels_the_upstream_request_and_leaks_nothing() -> anyhow::Result<()> {
    let daemon = JsIpfs::start("t50-disconnect")?;
    let added = send(daemon.api, content::upload("/api/v0/add?pin=false", FIFTY_MIB)).await?;
    let cid = added.json()?["Hash"].as_str().unwrap_or_default().to_owned();
    let gateway = Gateway::start(&daemon.multiaddr(), &[])?;
    let port = daemon.api.port();
    let fds_before = open_fds(gateway.pid())?;
    assert_eq!(
        connections_to(port)?.0,
        0,
        "no upstream connection before the request"
    );

    let mut client = tokio::net::TcpStream::connect(gateway.addr).await?;
    let request = format!("POST /api/v0/cat?arg={cid} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    client.write_all(request.as_bytes()).await?;
    let mut got = vec![0u8; 1 << 20];
    tokio::time::timeout(WAIT, client.read_exact(&mut got)).await??;
    assert!(
        connections_to(port)?.0 >= 1,
        "the cat is being streamed over an upstream connection"
    );
    drop(client);

    cairn_compat_tests::eventually("upstream connection closed on both ends", WAIT, || async move {
        Ok(connections_to(port)? == (0, 0))
    })
    .await?;
    let pid = gateway.pid();
    cairn_compat_tests::eventually("gateway back to its file descriptors", WAIT, || async move {
        Ok(open_fds(pid)? <= fds_before)
    })
    .await?;
    let after = send(gateway.addr, Call::post("/api/v0/version")).await?;
    assert_eq!(after.status, 200, "the gateway still serves");
    Ok(())
}
