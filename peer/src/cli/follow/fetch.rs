//! Fetching a published follower configuration: an `http(s)://` URL, `/ipfs/<cid>` or
//! `/ipns/<name>` (read with `cat` through an IPFS API: kubo's, a Cairn gateway or node), or
//! a file path.
//!
//! # Invariants
//! - At most [`MAX_BYTES`] are read; a longer answer is refused, not cut.
//! - Every fetch is bounded by [`TIMEOUT`].

use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use cairn_gateway::upstream::{Connector, Target};
use cairn_gateway::{Body, boxed};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The largest configuration accepted.
pub(super) const MAX_BYTES: usize = 1 << 20;
/// How long a fetch may take.
pub(super) const TIMEOUT: Duration = Duration::from_secs(30);

/// The bytes `source` names; `ipfs_api` is the IPFS API multiaddr `/ipfs` and `/ipns`
/// paths are read through.
pub(super) async fn fetch(source: &str, ipfs_api: &str) -> anyhow::Result<Bytes> {
    let fetched = async {
        if source.starts_with("http://") || source.starts_with("https://") {
            get(source).await
        } else if source.starts_with("/ipfs/") || source.starts_with("/ipns/") {
            cat(source, ipfs_api).await
        } else {
            let bytes = tokio::fs::read(source)
                .await
                .with_context(|| format!("reading {source}"))?;
            if bytes.len() > MAX_BYTES {
                bail!("{source} is larger than {MAX_BYTES} bytes");
            }
            Ok(bytes.into())
        }
    };
    tokio::time::timeout(TIMEOUT, fetched)
        .await
        .with_context(|| format!("{source}: no answer within {TIMEOUT:?}"))?
}

/// `GET url`.
async fn get(url: &str) -> anyhow::Result<Bytes> {
    let uri: http::Uri = url.parse().with_context(|| format!("{url} is not a URL"))?;
    let host = uri
        .host()
        .with_context(|| format!("{url} has no host"))?
        .to_owned();
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tls = https
        .then(|| {
            cairn_gateway::tls::ClientTls {
                ca_file: None,
                insecure: false,
            }
            .config()
        })
        .transpose()?;
    let target = Target::Tcp { host, port };
    request(target, tls, http::Method::GET, uri, url).await
}

/// `POST <ipfs_api>/api/v0/cat?arg=<path>`.
async fn cat(path: &str, ipfs_api: &str) -> anyhow::Result<Bytes> {
    let target = Target::from_multiaddr(ipfs_api).with_context(|| format!("--ipfs-api {ipfs_api}"))?;
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("arg", path)
        .finish();
    let uri: http::Uri = format!("http://{}/api/v0/cat?{query}", target.authority()).parse()?;
    let what = format!("{path} through the IPFS API at {ipfs_api}");
    request(target, None, http::Method::POST, uri, &what).await
}

async fn request(
    target: Target,
    tls: Option<std::sync::Arc<tokio_rustls::rustls::ClientConfig>>,
    method: http::Method,
    uri: http::Uri,
    what: &str,
) -> anyhow::Result<Bytes> {
    let connector = Connector::new(target, Some(Duration::from_secs(10))).with_tls(tls);
    let client: Client<Connector, Body> = Client::builder(TokioExecutor::new()).build(connector);
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .body(boxed(Empty::<Bytes>::new()))?;
    let rsp = client
        .request(req)
        .await
        .with_context(|| format!("fetching {what}"))?;
    let status = rsp.status();
    let body = Limited::new(rsp.into_body(), MAX_BYTES)
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("reading {what}: {e}"))?
        .to_bytes();
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        bail!("fetching {what}: {} {}", status.as_u16(), text.trim());
    }
    Ok(body)
}
