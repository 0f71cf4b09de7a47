//! A one-connection HTTP/1 client that records an exchange exactly: status, every header in
//! order, the whole body and any trailers. It always sends `TE: trailers`, as a client that
//! wants kubo's `X-Stream-Error` must.

use std::net::SocketAddr;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;

type BoxBody = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

/// What a request sends as its body.
pub enum Payload {
    /// No body.
    Empty,
    /// A body known up front.
    Bytes(Bytes),
    /// A body produced piece by piece (sent chunked, never held whole).
    Stream(Box<dyn Iterator<Item = Bytes> + Send>),
}

/// One request.
pub struct Call {
    /// HTTP method.
    pub method: String,
    /// Path and query, e.g. `/api/v0/version?arg=x`.
    pub target: String,
    /// Header lines to send, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub payload: Payload,
}

impl Call {
    /// A POST with no body.
    pub fn post(target: &str) -> Self {
        Self {
            method: "POST".into(),
            target: target.into(),
            headers: vec![],
            payload: Payload::Empty,
        }
    }

    /// Adds a header line.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// One recorded answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// Status code.
    pub status: u16,
    /// Header lines, names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Bytes,
    /// Trailer lines, names lower-cased.
    pub trailers: Vec<(String, String)>,
}

impl Exchange {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as one JSON value.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| format!("body is not JSON: {}", self.text()))
    }
}

/// The first value of header `name` (lower-case) among recorded header lines.
pub fn header_in<'a>(lines: &'a [(String, String)], name: &str) -> Option<&'a str> {
    lines.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// Header lines as recorded: names lower-cased, values lossily decoded, in order.
pub fn lines(map: &http::HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn body_of(payload: Payload) -> BoxBody {
    match payload {
        Payload::Empty => http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed_unsync(),
        Payload::Bytes(bytes) => http_body_util::Full::new(bytes)
            .map_err(|never| match never {})
            .boxed_unsync(),
        Payload::Stream(pieces) => {
            let frames = futures::stream::iter(pieces.map(|piece| Ok(Frame::data(piece))));
            StreamBody::new(frames).boxed_unsync()
        }
    }
}

fn build(addr: SocketAddr, call: Call) -> anyhow::Result<http::Request<BoxBody>> {
    let mut req = http::Request::builder()
        .method(call.method.as_str())
        .uri(call.target.as_str());
    let has_host = call.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host"));
    if !has_host {
        req = req.header("host", addr.to_string());
    }
    for (name, value) in &call.headers {
        req = req.header(name.as_str(), value.as_str());
    }
    Ok(req.header("te", "trailers").body(body_of(call.payload))?)
}

/// Sends `call` on a fresh connection to `addr` and records the whole answer.
pub async fn send(addr: SocketAddr, call: Call) -> anyhow::Result<Exchange> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    send_on(stream, addr, call).await
}

/// [`send`] over TLS, trusting the PEM certificate `ca` (a test's self-signed one).
pub async fn send_tls(addr: SocketAddr, ca: &std::path::Path, call: Call) -> anyhow::Result<Exchange> {
    let tls = cairn_gateway::tls::ClientTls {
        ca_file: Some(ca.to_owned()),
        insecure: false,
    };
    let connector = tokio_rustls::TlsConnector::from(tls.config()?);
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    let name = cairn_gateway::tls::server_name(&addr.ip().to_string())?;
    let stream = connector.connect(name, tcp).await.context("TLS handshake")?;
    send_on(stream, addr, call).await
}

async fn send_on<I>(stream: I, addr: SocketAddr, call: Call) -> anyhow::Result<Exchange>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(conn);
    let rsp = sender.send_request(build(addr, call)?).await?;
    let (head, body) = rsp.into_parts();
    let collected = body.collect().await.context("reading the response body")?;
    let trailers = collected.trailers().map(lines).unwrap_or_default();
    driver.abort();
    Ok(Exchange {
        status: head.status.as_u16(),
        headers: lines(&head.headers),
        body: collected.to_bytes(),
        trailers,
    })
}

/// A self-signed certificate for 127.0.0.1 and localhost written into `dir`: (cert, key).
pub fn self_signed(dir: &std::path::Path) -> anyhow::Result<(std::path::PathBuf, std::path::PathBuf)> {
    let pair = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, pair.cert.pem())?;
    std::fs::write(&key, pair.key_pair.serialize_pem())?;
    Ok((cert, key))
}
