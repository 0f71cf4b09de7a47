//! A tiny in-process HTTP upstream for staging faults a real daemon cannot be made to show on
//! demand: a mid-stream error in the `X-Stream-Error` trailer, an answer that starts before
//! the upload ends, and a record of exactly which requests and headers arrived.
//! Everything users meet is still tested against real js-ipfs; this stub only stages faults.
//!
//! Routes: `/stream-error` (one ndjson line, then trailer `X-Stream-Error: boom`),
//! `/duplex` (answers `ready\n` at once, then echoes each uploaded chunk), anything else
//! (200 `ok`, body read whole).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;

type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, Infallible>;

/// A request as the stub received it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::http::header_in(&self.headers, name)
    }
}

/// A running stub upstream; stops when dropped.
pub struct Stub {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Stub {
    /// Starts the stub on a free 127.0.0.1 port.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(accept(listener, seen.clone()));
        Ok(Self { addr, seen, task })
    }

    /// The stub as a multiaddr.
    pub fn multiaddr(&self) -> String {
        format!("/ip4/127.0.0.1/tcp/{}", self.addr.port())
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: tokio::net::TcpListener, seen: Arc<Mutex<Vec<Seen>>>) {
    while let Ok((stream, _)) = listener.accept().await {
        let seen = seen.clone();
        let service = hyper::service::service_fn(move |req| answer(req, seen.clone()));
        tokio::spawn(
            hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service),
        );
    }
}

fn record(req: &hyper::Request<Incoming>, seen: &Mutex<Vec<Seen>>) {
    let headers = crate::http::lines(req.headers());
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    if let Ok(mut seen) = seen.lock() {
        seen.push(Seen {
            method: req.method().to_string(),
            target,
            headers,
        });
    }
}

async fn answer(
    req: hyper::Request<Incoming>,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> Result<hyper::Response<Body>, Infallible> {
    record(&req, &seen);
    let rsp = match req.uri().path() {
        "/stream-error" => stream_error(),
        "/duplex" => duplex(req.into_body()),
        _ => {
            let _ = req.into_body().collect().await;
            hyper::Response::builder()
                .header("keep-alive", "timeout=5")
                .header("connection", "keep-alive, x-hop")
                .header("x-hop", "must not pass")
                .header("x-end-to-end", "passes")
                .body(full("ok"))
        }
    };
    Ok(rsp.unwrap_or_else(|_| hyper::Response::new(full("stub error"))))
}

fn full(text: &'static str) -> Body {
    http_body_util::Full::new(Bytes::from_static(text.as_bytes())).boxed_unsync()
}

fn stream_error() -> http::Result<hyper::Response<Body>> {
    let mut trailers = http::HeaderMap::new();
    trailers.insert("x-stream-error", http::HeaderValue::from_static("boom"));
    let frames = vec![
        Ok(Frame::data(Bytes::from_static(b"{\"Ref\":\"a\"}\n"))),
        Ok(Frame::trailers(trailers)),
    ];
    hyper::Response::builder()
        .header("trailer", "X-Stream-Error")
        .header("x-chunked-output", "1")
        .body(StreamBody::new(futures::stream::iter(frames)).boxed_unsync())
}

/// Answers `ready\n` before reading anything, then echoes each uploaded chunk.
fn duplex(mut upload: Incoming) -> http::Result<hyper::Response<Body>> {
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        let _ = tx.send(Bytes::from_static(b"ready\n")).await;
        while let Some(Ok(frame)) = upload.frame().await {
            if let Ok(data) = frame.into_data()
                && tx.send(data).await.is_err()
            {
                return;
            }
        }
    });
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|d| (Ok(Frame::data(d)), rx))
    });
    hyper::Response::builder().body(StreamBody::new(frames).boxed_unsync())
}
