//! A closed-loop load generator: `concurrency` keep-alive connections, each sending the same
//! request back to back for a fixed time, recording every latency.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

/// What one load run measured.
#[derive(Debug, Clone)]
pub struct Run {
    /// Completed requests per second.
    pub rps: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
}

/// Sends `POST path` from `concurrency` connections to `addr` for `length`.
pub async fn run(
    addr: SocketAddr,
    path: &'static str,
    concurrency: usize,
    length: Duration,
) -> anyhow::Result<Run> {
    let until = Instant::now() + length;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| tokio::spawn(worker(addr, path, until)))
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    anyhow::ensure!(!latencies.is_empty(), "no request completed");
    latencies.sort_unstable();
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    Ok(Run {
        rps: latencies.len() as f64 / length.as_secs_f64(),
        p50_us: pick(0.5),
        p99_us: pick(0.99),
    })
}

async fn worker(addr: SocketAddr, path: &'static str, until: Instant) -> anyhow::Result<Vec<Duration>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(conn);
    let mut latencies = Vec::new();
    while Instant::now() < until {
        let started = Instant::now();
        let req = http::Request::post(path)
            .header("host", addr.to_string())
            .body(Empty::<Bytes>::new())?;
        let rsp = sender.send_request(req).await?;
        anyhow::ensure!(rsp.status().is_success(), "{path} answered {}", rsp.status());
        rsp.into_body().collect().await?;
        latencies.push(started.elapsed());
    }
    driver.abort();
    Ok(latencies)
}

/// Reads all of `POST target`'s body from `addr`, returning (bytes, seconds).
pub async fn stream_read(addr: SocketAddr, target: &str) -> anyhow::Result<(u64, f64)> {
    let (bytes, secs, _) = read_body(addr, http::Method::POST, target).await?;
    Ok((bytes, secs))
}

/// Reads all of `POST target`'s body: (bytes, seconds, seconds to the first body byte).
pub async fn post_read_ttfb(addr: SocketAddr, target: &str) -> anyhow::Result<(u64, f64, f64)> {
    read_body(addr, http::Method::POST, target).await
}

/// Reads all of `GET target`'s body: (bytes, seconds, seconds to the first body byte).
pub async fn stream_read_ttfb(addr: SocketAddr, target: &str) -> anyhow::Result<(u64, f64, f64)> {
    read_body(addr, http::Method::GET, target).await
}

async fn read_body(addr: SocketAddr, method: http::Method, target: &str) -> anyhow::Result<(u64, f64, f64)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(conn);
    let started = Instant::now();
    let req = http::Request::builder()
        .method(method)
        .uri(target)
        .header("host", addr.to_string())
        .body(Empty::<Bytes>::new())?;
    let mut body = sender.send_request(req).await?.into_body();
    let (mut total, mut first) = (0u64, None);
    while let Some(frame) = body.frame().await {
        let n = frame?.data_ref().map_or(0, |d| d.len() as u64);
        if n > 0 && first.is_none() {
            first = Some(started.elapsed().as_secs_f64());
        }
        total += n;
    }
    driver.abort();
    Ok((total, started.elapsed().as_secs_f64(), first.unwrap_or(0.0)))
}

/// The median of `values` (sorted copy).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}
