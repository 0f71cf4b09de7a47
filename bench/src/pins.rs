//! Pin load against `cairn daemon`: `concurrency` keep-alive connections, each posting a pin
//! of a unique CID back to back for a fixed time, to the REST API (`/pins/<cid>`) or through
//! the gateway (`/api/v0/pin/add?arg=<cid>`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn_compat_tests::cluster::cid;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

/// Which API a pin goes through.
#[derive(Clone, Copy, Debug)]
pub enum Via {
    /// The REST API: `POST /pins/<cid>`.
    Rest,
    /// The gateway: `POST /api/v0/pin/add?arg=<cid>`.
    Gateway,
}

impl Via {
    fn target(self, n: u64) -> String {
        match self {
            Self::Rest => format!("/pins/{}", cid(n)),
            Self::Gateway => format!("/api/v0/pin/add?arg={}", cid(n)),
        }
    }
}

/// Pins `/pins/<cid(n)>` from `concurrency` workers until `length` passes; returns pins/s.
pub async fn pin_rate(
    addr: SocketAddr,
    concurrency: usize,
    length: Duration,
    next: Arc<AtomicU64>,
) -> anyhow::Result<f64> {
    pin_rate_via(addr, Via::Rest, concurrency, length, next).await
}

/// Pins through `via` from `concurrency` workers until `length` passes; returns pins/s.
pub async fn pin_rate_via(
    addr: SocketAddr,
    via: Via,
    concurrency: usize,
    length: Duration,
    next: Arc<AtomicU64>,
) -> anyhow::Result<f64> {
    Ok(pin_run(addr, via, concurrency, length, next).await?.rate)
}

/// What a pin load run measured: acknowledged pins, their rate and latency percentiles.
#[derive(Debug, Clone)]
pub struct PinRun {
    /// Pins acknowledged.
    pub pins: u64,
    /// Pins acknowledged per second.
    pub rate: f64,
    /// Median acknowledgement latency, µs.
    pub p50_us: f64,
    /// 99th percentile acknowledgement latency, µs.
    pub p99_us: f64,
}

/// Pins through `via` from `concurrency` workers until `length` passes, timing each pin.
pub async fn pin_run(
    addr: SocketAddr,
    via: Via,
    concurrency: usize,
    length: Duration,
    next: Arc<AtomicU64>,
) -> anyhow::Result<PinRun> {
    let until = Instant::now() + length;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| tokio::spawn(worker(addr, via, until, next.clone())))
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    anyhow::ensure!(!latencies.is_empty(), "no pin was acknowledged");
    latencies.sort_unstable();
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    Ok(PinRun {
        pins: latencies.len() as u64,
        rate: latencies.len() as f64 / length.as_secs_f64(),
        p50_us: pick(0.5),
        p99_us: pick(0.99),
    })
}

/// Pins exactly `count` CIDs starting at `first`, from `concurrency` workers.
pub async fn pin_count(addr: SocketAddr, concurrency: usize, first: u64, count: u64) -> anyhow::Result<()> {
    let next = Arc::new(AtomicU64::new(first));
    let end = first + count;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let next = next.clone();
            tokio::spawn(async move {
                let mut sender = connect(addr).await?;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= end {
                        return anyhow::Ok(());
                    }
                    post(&mut sender, addr, Via::Rest, n).await?;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok(())
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn post(sender: &mut Sender, addr: SocketAddr, via: Via, n: u64) -> anyhow::Result<()> {
    let req = http::Request::post(via.target(n))
        .header("host", addr.to_string())
        .body(Empty::new())?;
    let rsp = sender.send_request(req).await?;
    let status = rsp.status();
    let body = rsp.into_body().collect().await?.to_bytes();
    anyhow::ensure!(
        status.is_success(),
        "pin {n}: {status} {}",
        String::from_utf8_lossy(&body)
    );
    Ok(())
}

async fn worker(
    addr: SocketAddr,
    via: Via,
    until: Instant,
    next: Arc<AtomicU64>,
) -> anyhow::Result<Vec<Duration>> {
    let mut sender = connect(addr).await?;
    let mut latencies = Vec::new();
    while Instant::now() < until {
        let started = Instant::now();
        post(&mut sender, addr, via, next.fetch_add(1, Ordering::Relaxed)).await?;
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}
