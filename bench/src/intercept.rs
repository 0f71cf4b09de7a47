//! P5: interception costs on a one-peer cluster (embedded node): `pin/add` through the gateway
//! ÷ the same pin through the REST API, `add` through the gateway with the cluster pin ÷ the
//! same add straight to the node, and `pin/ls` of a large pinset through the gateway.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::Context;
use cairn_compat_tests::cluster::{Dirs, rest};
use cairn_compat_tests::content::upload;
use cairn_compat_tests::http::send;
use cairn_compat_tests::process::Peer;

use crate::load::{self, median};
use crate::pins::{self, Via};

const ROUNDS: usize = 3;
const RUN: Duration = Duration::from_secs(3);
const ADD_BYTES: u64 = 256 << 20;

/// Gateway ÷ REST pins/s at 1 and 64 clients.
pub async fn pin_overhead(peer: &Peer) -> anyhow::Result<()> {
    let next = Arc::new(AtomicU64::new(50_000_000));
    for clients in [1usize, 64] {
        let (mut g, mut r) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            g.push(pins::pin_rate_via(peer.gateway, Via::Gateway, clients, RUN, next.clone()).await?);
            r.push(pins::pin_rate_via(peer.rest, Via::Rest, clients, RUN, next.clone()).await?);
        }
        let (gm, rm) = (median(&g), median(&r));
        println!(
            "  pin/add {clients:>2} clients: gateway {gm:>7.0} pins/s, REST {rm:>7.0} pins/s, ratio {:.2}",
            gm / rm
        );
    }
    Ok(())
}

/// Gateway (with cluster pin) ÷ direct node add MB/s of 256 MiB.
pub async fn add_overhead(peer: &Peer) -> anyhow::Result<()> {
    let node = peer.ipfs.context("the peer's embedded node")?;
    let (mut g, mut d) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        g.push(timed_add(peer.gateway).await?);
        d.push(timed_add(node).await?);
    }
    let (gm, dm) = (median(&g), median(&d));
    println!(
        "  add 256 MiB: gateway + cluster pin {gm:>6.1} MB/s, node direct {dm:>6.1} MB/s, ratio {:.2}",
        gm / dm
    );
    Ok(())
}

async fn timed_add(addr: std::net::SocketAddr) -> anyhow::Result<f64> {
    let started = std::time::Instant::now();
    let answer = send(addr, upload("/api/v0/add", ADD_BYTES)).await?;
    anyhow::ensure!(
        answer.status == 200 && answer.text().contains("Hash"),
        "{}",
        answer.text()
    );
    Ok(ADD_BYTES as f64 / started.elapsed().as_secs_f64() / 1e6)
}

/// `pin/ls?stream=true` of `count` pins through the gateway: first byte, total, RSS.
pub async fn list(count: u64) -> anyhow::Result<()> {
    let dirs = Dirs::init(1)?;
    let peer = dirs.start(0, None, &[])?;
    pins::pin_count(peer.rest, 64, 90_000_000, count).await?;
    let rss = |p: &Peer| crate::status_kib(p.pid(), "VmRSS:");
    let before = rss(&peer)?;
    for target in ["/api/v0/pin/ls?stream=true", "/api/v0/pin/ls"] {
        let (bytes, secs, first) = load::post_read_ttfb(peer.gateway, target).await?;
        println!(
            "  {target} of {count} pins through the gateway: first byte {:.1} ms, {bytes} bytes in {secs:.2} s",
            first * 1e3
        );
    }
    println!(
        "  RSS {:.1} MiB before listing, {:.1} MiB after",
        before as f64 / 1024.0,
        rss(&peer)? as f64 / 1024.0
    );
    Ok(())
}

/// `pin/ls?name=` over `count` pins through the gateway (issue 18): the filter scans the
/// pinset as the plain listing does; this prints both, first byte and total, so the cost of a
/// scan without an index is a measured figure.
pub async fn names(count: u64) -> anyhow::Result<()> {
    let dirs = Dirs::init(1)?;
    let peer = dirs.start(0, None, &[])?;
    pins::pin_count(peer.rest, 64, 90_000_000, count).await?;
    for i in 0..10u64 {
        let c = cairn_compat_tests::cluster::cid(80_000_000 + i);
        let answer = rest(&peer, "POST", &format!("/pins/{c}?name=needle-{i}")).await?;
        anyhow::ensure!(answer.status == 200, "{}", answer.text());
    }
    for target in [
        "/api/v0/pin/ls?stream=true",
        "/api/v0/pin/ls?stream=true&names=true",
        "/api/v0/pin/ls?stream=true&name=needle",
        "/api/v0/pin/ls?name=needle",
    ] {
        let (bytes, secs, first) = load::post_read_ttfb(peer.gateway, target).await?;
        println!(
            "  {target} over {} pins: first byte {:.1} ms, {bytes} bytes in {secs:.3} s",
            count + 10,
            first * 1e3
        );
    }
    Ok(())
}
