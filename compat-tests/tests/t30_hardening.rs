//! The gateway's own HTTP hardening, through a real `cairn gateway` process: hop-by-hop
//! headers, X-Forwarded-For, Host, trailers, full duplex, header and URI limits, the header
//! read timeout, request smuggling, the idle timeout and the connection cap.
//! The upstream is the in-test stub, which records exactly what reaches it.

use std::time::Duration;

use bytes::Bytes;
use cairn_compat_tests::http::{Call, send};
use cairn_compat_tests::process::Gateway;
use cairn_compat_tests::raw::{self, exchange};
use cairn_compat_tests::stub::Stub;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::io::AsyncWriteExt;

const WAIT: Duration = Duration::from_secs(30);

async fn setup(env: &[(&str, &str)]) -> anyhow::Result<(Stub, Gateway)> {
    let stub = Stub::start().await?;
    let gateway = Gateway::start(&stub.multiaddr(), env)?;
    Ok((stub, gateway))
}

#[tokio::test(flavor = "multi_thread")]
async fn hop_by_hop_headers_are_removed_both_ways_and_host_and_forwarded_for_are_right() -> anyhow::Result<()>
{
    let (stub, gateway) = setup(&[]).await?;
    let call = Call::post("/api/v0/version?arg=a&arg=b")
        .header("host", "example.test:1234")
        .header("connection", "keep-alive, x-secret")
        .header("x-secret", "hop")
        .header("keep-alive", "timeout=9")
        .header("proxy-authorization", "Basic eA==")
        .header("x-forwarded-for", "10.1.1.1")
        .header("x-end", "yes");
    let answer = send(gateway.addr, call).await?;
    assert_eq!(answer.status, 200);
    let seen = stub.seen().pop().expect("the stub saw the request");
    assert_eq!(
        seen.target, "/api/v0/version?arg=a&arg=b",
        "path and query unchanged"
    );
    assert_eq!(
        seen.header("host"),
        Some("example.test:1234"),
        "Host kept as the client sent it"
    );
    assert_eq!(seen.header("x-forwarded-for"), Some("10.1.1.1, 127.0.0.1"));
    assert_eq!(seen.header("x-end"), Some("yes"));
    for hop in ["x-secret", "keep-alive", "proxy-authorization", "connection"] {
        assert_eq!(seen.header(hop), None, "{hop} must not reach the upstream");
    }
    assert_eq!(answer.header("x-end-to-end"), Some("passes"));
    for hop in ["x-hop", "keep-alive"] {
        assert_eq!(answer.header(hop), None, "{hop} must not reach the client");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mid_stream_error_reaches_trailer_clients_and_breaks_the_stream_for_others() -> anyhow::Result<()> {
    let (_stub, gateway) = setup(&[]).await?;
    let answer = send(gateway.addr, Call::post("/stream-error")).await?;
    assert_eq!(answer.text(), "{\"Ref\":\"a\"}\n");
    assert_eq!(answer.header("trailer"), Some("X-Stream-Error"));
    assert_eq!(
        answer.trailers,
        vec![("x-stream-error".to_owned(), "boom".to_owned())]
    );

    let request = b"POST /stream-error HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    let plain = exchange(gateway.addr, request, WAIT).await?;
    assert!(plain.text().contains("{\"Ref\":\"a\"}"), "{}", plain.text());
    assert!(plain.closed, "the connection is closed");
    assert!(
        !plain.text().ends_with("0\r\n\r\n"),
        "the chunked stream must not end cleanly: {:?}",
        plain.text()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_answer_streams_while_the_upload_is_still_arriving() -> anyhow::Result<()> {
    let (_stub, gateway) = setup(&[]).await?;
    let stream = tokio::net::TcpStream::connect(gateway.addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|d| (Ok::<_, std::io::Error>(Frame::data(d)), rx))
    });
    let req = http::Request::post("/duplex")
        .header("host", "x")
        .body(StreamBody::new(frames))?;
    let mut body = tokio::time::timeout(WAIT, sender.send_request(req))
        .await??
        .into_body();
    let mut next = async || -> anyhow::Result<Bytes> {
        let frame = tokio::time::timeout(WAIT, body.frame())
            .await?
            .expect("more body")?;
        Ok(frame.into_data().unwrap_or_default())
    };
    assert_eq!(
        next().await?,
        "ready\n",
        "the answer starts before any upload byte was sent"
    );
    for piece in ["one", "two", "three"] {
        tx.send(Bytes::from(piece)).await?;
        assert_eq!(
            next().await?,
            piece,
            "each uploaded piece is echoed before the next is sent"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_or_too_large_headers_answer_431_and_a_long_uri_414() -> anyhow::Result<()> {
    let (stub, gateway) = setup(&[]).await?;
    let many: String = (0..101).map(|i| format!("x-h{i}: v\r\n")).collect();
    let request = format!("POST /api/v0/version HTTP/1.1\r\nHost: x\r\n{many}Content-Length: 0\r\n\r\n");
    assert_eq!(
        exchange(gateway.addr, request.as_bytes(), WAIT).await?.status(),
        Some(431)
    );

    let big = "v".repeat(12_000);
    let request =
        format!("POST /api/v0/version HTTP/1.1\r\nHost: x\r\nx-big: {big}\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        exchange(gateway.addr, request.as_bytes(), WAIT).await?.status(),
        Some(431)
    );

    let uri = format!("/api/v0/version?arg={}", "a".repeat(70_000));
    let env = [("CLUSTER_IPFSPROXY_MAXHEADERBYTES", "1000000")];
    let roomy = Gateway::start(&stub.multiaddr(), &env)?;
    let request = format!("POST {uri} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        exchange(roomy.addr, request.as_bytes(), WAIT).await?.status(),
        Some(414)
    );
    assert!(stub.seen().is_empty(), "no refused request reached the upstream");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_request_head_is_cut_off_at_read_header_timeout() -> anyhow::Result<()> {
    let (stub, gateway) = setup(&[("CLUSTER_IPFSPROXY_READHEADERTIMEOUT", "1s")]).await?;
    let partial = b"POST /api/v0/version HTTP/1.1\r\nHost: x\r\n";
    let answer = exchange(gateway.addr, partial, WAIT).await?;
    assert!(
        answer.closed,
        "the server closes a connection whose head never completes"
    );
    assert!(stub.seen().is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn content_length_with_chunked_cannot_smuggle_a_second_request() -> anyhow::Result<()> {
    let (stub, gateway) = setup(&[]).await?;
    let attack = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nPOST /smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    let answer = exchange(gateway.addr, attack, WAIT).await?;
    assert!(
        answer.closed,
        "the connection is closed after the ambiguous request"
    );
    assert_eq!(answer.text().matches("HTTP/1.1 ").count(), 1, "{}", answer.text());
    let targets: Vec<_> = stub.seen().into_iter().map(|s| s.target).collect();
    assert_eq!(
        targets,
        ["/a"],
        "the upstream saw one request, framed by its chunked encoding"
    );
    for bad in [
        &b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"[..],
        &b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"[..],
    ] {
        assert_eq!(exchange(gateway.addr, bad, WAIT).await?.status(), Some(400));
    }
    assert_eq!(stub.seen().len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_keep_alive_connection_is_closed_at_idle_timeout() -> anyhow::Result<()> {
    let env = [
        ("CLUSTER_IPFSPROXY_IDLETIMEOUT", "1s"),
        ("CLUSTER_IPFSPROXY_READHEADERTIMEOUT", "10m"),
    ];
    let (_stub, gateway) = setup(&env).await?;
    let request = b"POST /api/v0/version HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    let answer = exchange(gateway.addr, request, WAIT).await?;
    assert_eq!(answer.status(), Some(200));
    assert!(
        answer.closed,
        "the idle connection is closed well before the 10m header timeout"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn beyond_max_connections_a_client_waits_until_a_slot_frees() -> anyhow::Result<()> {
    let env = [
        ("CLUSTER_IPFSPROXY_MAXCONNECTIONS", "1"),
        ("CLUSTER_IPFSPROXY_READHEADERTIMEOUT", "10m"),
    ];
    let (_stub, gateway) = setup(&env).await?;
    let holder = tokio::net::TcpStream::connect(gateway.addr).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut waiting = tokio::net::TcpStream::connect(gateway.addr).await?;
    waiting
        .write_all(b"POST /api/v0/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await?;
    let early = raw::read_until_close(&mut waiting, Duration::from_millis(1500)).await?;
    assert!(
        early.bytes.is_empty(),
        "served while the only slot was taken: {}",
        early.text()
    );
    drop(holder);
    let late = raw::read_until_close(&mut waiting, WAIT).await?;
    assert_eq!(late.status(), Some(200), "served once the slot freed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_request_gets_one_access_log_line() -> anyhow::Result<()> {
    let (_stub, gateway) = setup(&[]).await?;
    let answer = send(gateway.addr, Call::post("/api/v0/version")).await?;
    assert_eq!(answer.body, "ok");
    let mut line = String::new();
    cairn_compat_tests::eventually("access log line", WAIT, || {
        line = gateway
            .log()
            .lines()
            .find(|l| l.contains("access"))
            .unwrap_or_default()
            .to_owned();
        std::future::ready(Ok(!line.is_empty()))
    })
    .await?;
    for field in [
        "method=POST",
        "path=/api/v0/version",
        "status=200",
        "bytes=2",
        "duration_ms=",
        "complete=true",
    ] {
        assert!(line.contains(field), "{field} missing from {line:?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_on_a_unix_socket_serves_and_a_unix_upstream_is_dialled() -> anyhow::Result<()> {
    let stub = Stub::start().await?;
    let dir = cairn_compat_tests::scratch_dir("unix")?;
    let socket = dir.path().join("gw.sock");
    let listen = format!("/unix{}", socket.display());
    let mut inner = std::process::Command::new(cairn_compat_tests::process::cairn_bin()?)
        .args([
            "gateway",
            "--upstream",
            &stub.multiaddr(),
            "--listen",
            &listen,
            "--config",
        ])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let ready = cairn_compat_tests::eventually("unix socket bound", WAIT, || {
        std::future::ready(Ok(socket.exists()))
    })
    .await;
    let outer = ready.and_then(|()| Gateway::start(&listen, &[]));
    let answer = match outer {
        Ok(outer) => send(outer.addr, Call::post("/api/v0/version")).await,
        Err(err) => Err(err),
    };
    cairn_compat_tests::process::signal(inner.id(), "TERM")?;
    let status = inner.wait()?;
    assert!(status.success(), "SIGTERM is a clean shutdown: {status}");
    assert_eq!(
        answer?.body, "ok",
        "tcp client → gateway → unix socket → gateway → stub"
    );
    assert_eq!(stub.seen().len(), 1);
    assert!(!socket.exists(), "the socket file is removed on exit");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_body_slower_than_read_timeout_answers_408() -> anyhow::Result<()> {
    let (_stub, gateway) = setup(&[("CLUSTER_IPFSPROXY_READTIMEOUT", "1s")]).await?;
    let slow = b"POST /api/v0/add HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab";
    let answer = exchange(gateway.addr, slow, WAIT).await?;
    assert_eq!(answer.status(), Some(408), "{}", answer.text());
    assert!(answer.text().contains("\"Type\":\"error\""), "{}", answer.text());
    Ok(())
}
