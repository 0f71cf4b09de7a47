//! The REST client every client command shares, and its options (ipfs-cluster-ctl's global
//! flags): `--host` (default `/ip4/127.0.0.1/tcp/9094`), `--enc text|json`, `--basic-auth`,
//! `--https`, `--no-check-certificate`, `--timeout`, `--debug`, each with a `CLUSTER_*`
//! environment variable. They are global: accepted before or after the subcommand.
//!
//! # Invariants
//! - `--timeout` bounds each REST call (connect, answer and body); 0 is no limit.
//! - `--debug` writes every request and each raw answer to stderr, never credentials.
//! - A failure names the address tried and the flag (and variable) that sets what to change.

use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use cairn_gateway::upstream::{Connector, Target};
use cairn_gateway::{Body, boxed};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::CliError;

/// The REST API ipfs-cluster-ctl talks to when no `--host` is given.
pub const DEFAULT_HOST: &str = "/ip4/127.0.0.1/tcp/9094";

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoding {
    /// Readable text.
    #[default]
    Text,
    /// The REST API's JSON.
    Json,
}

/// Options every client command shares (global: before or after the subcommand).
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Client options (before or after the subcommand)")]
pub struct Global {
    /// The peer's REST API as a multiaddr.
    #[arg(long, short = 'l', global = true, env = "CLUSTER_HOST", default_value = DEFAULT_HOST, value_name = "MULTIADDR")]
    pub(super) host: String,
    /// Output encoding.
    #[arg(
        long,
        alias = "encoding",
        global = true,
        env = "CLUSTER_ENC",
        value_enum,
        default_value_t
    )]
    pub(super) enc: Encoding,
    /// Basic auth for the REST API, `user:password` (ipfs-cluster-ctl's flag).
    #[arg(
        long,
        global = true,
        env = "CLUSTER_CREDENTIALS",
        value_name = "USER:PASSWORD",
        hide_env_values = true
    )]
    pub(super) basic_auth: Option<String>,
    /// Talk to the REST API over HTTPS.
    #[arg(long, global = true, env = "CLUSTER_HTTPS", value_parser = clap::builder::BoolishValueParser::new())]
    pub(super) https: bool,
    /// With --https: do not check the API's certificate (self-signed setups).
    #[arg(long, global = true, env = "CLUSTER_NO_CHECK_CERTIFICATE", value_parser = clap::builder::BoolishValueParser::new())]
    pub(super) no_check_certificate: bool,
    /// How long each REST call may take: a Go duration (`30s`, `1m30s`) or seconds; 0 = no limit.
    #[arg(long, short = 't', global = true, env = "CLUSTER_TIMEOUT", default_value = "0", value_parser = parse_duration, value_name = "DURATION")]
    pub(super) timeout: Duration,
    /// Print each request and the raw answers to stderr.
    #[arg(long, short = 'd', global = true, env = "CLUSTER_DEBUG", value_parser = clap::builder::BoolishValueParser::new())]
    pub(super) debug: bool,
}

/// A Go duration (`1m30s`) or a number of seconds (`30`, `2.5`), as ipfs-cluster-ctl's
/// `--timeout` and `--wait-timeout` read.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    if let Ok(seconds) = text.trim().parse::<f64>() {
        return Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("{text:?} is not a duration in seconds"));
    }
    cairn_gateway::duration::parse(text).map_err(|e| e.to_string())
}

/// A client of one peer's REST API, as the global options say.
pub(super) struct Rest {
    client: Client<Connector, Body>,
    authority: String,
    host: String,
    https: bool,
    credentials: Option<http::HeaderValue>,
    timeout: Option<Duration>,
    debug: bool,
}

impl Rest {
    pub(super) fn new(global: &Global) -> anyhow::Result<Self> {
        let host = global.host.as_str();
        let target =
            Target::from_multiaddr(host).with_context(|| format!("--host {host} (or CLUSTER_HOST)"))?;
        let authority = target.authority();
        let https = global.https || cairn_gateway::upstream::multiaddr_wants_tls(host);
        let tls = https
            .then(|| {
                cairn_gateway::tls::ClientTls {
                    ca_file: None,
                    insecure: global.no_check_certificate,
                }
                .config()
            })
            .transpose()?;
        let connector = Connector::new(target, Some(Duration::from_secs(5))).with_tls(tls);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let credentials = global.basic_auth.as_deref().map(basic_header).transpose()?;
        Ok(Self {
            client,
            authority,
            host: host.to_owned(),
            https,
            credentials,
            timeout: Some(global.timeout).filter(|t| !t.is_zero()),
            debug: global.debug,
        })
    }

    /// Whether `--debug` asked for the requests and answers on stderr.
    pub(super) fn debug(&self) -> bool {
        self.debug
    }

    /// `method path` without a body; the answer's JSON values (one, or an ndjson stream).
    pub(super) async fn call(&self, method: http::Method, path: &str) -> anyhow::Result<Vec<Value>> {
        let exchange = async {
            let rsp = self
                .send(method, path, None, boxed(Empty::<Bytes>::new()))
                .await?;
            let body = rsp
                .into_body()
                .collect()
                .await
                .context("reading the answer")?
                .to_bytes();
            if self.debug {
                eprintln!("{}", String::from_utf8_lossy(&body).trim_end());
            }
            let values = serde_json::Deserializer::from_slice(&body)
                .into_iter::<Value>()
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("the answer of {path} is not JSON"))?;
            Ok(values)
        };
        self.bounded(path, exchange).await
    }

    /// `exchange` within `--timeout`, if one is set.
    pub(super) async fn bounded<T>(
        &self,
        path: &str,
        exchange: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        match self.timeout {
            None => exchange.await,
            Some(limit) => tokio::time::timeout(limit, exchange).await.map_err(|_| {
                anyhow::anyhow!(
                    "the REST API at {} did not answer {path} within {} (--timeout or CLUSTER_TIMEOUT; 0 = no limit)",
                    self.host,
                    cairn_gateway::duration::format(limit)
                )
            })?,
        }
    }

    /// Sends `method path` with `body`; the answer once its head arrived with a success
    /// status (an error status is read and returned as the API's message).
    pub(super) async fn send(
        &self,
        method: http::Method,
        path: &str,
        content_type: Option<&str>,
        body: Body,
    ) -> anyhow::Result<http::Response<Incoming>> {
        let uri = format!("http://{}{path}", self.authority);
        if self.debug {
            let scheme = if self.https { "https" } else { "http" };
            eprintln!("cairn: > {method} {scheme}://{}{path}", self.authority);
        }
        // `TE: trailers`: a streamed answer's late failure (`X-Stream-Error`) reaches us only so.
        let mut req = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::TE, "trailers");
        if let Some(kind) = content_type {
            req = req.header(http::header::CONTENT_TYPE, kind);
        }
        if let Some(credentials) = &self.credentials {
            req = req.header(http::header::AUTHORIZATION, credentials.clone());
        }
        let rsp = self
            .client
            .request(req.body(body)?)
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = rsp.status();
        if self.debug {
            eprintln!("cairn: < {} {:?}", status.as_u16(), rsp.headers());
        }
        if status == http::StatusCode::UNAUTHORIZED {
            bail!("{}", self.unauthorized());
        }
        if status.is_success() {
            return Ok(rsp);
        }
        let body = rsp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if self.debug {
            eprintln!("{}", String::from_utf8_lossy(&body).trim_end());
        }
        let message = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_owned());
        bail!("{message} ({})", status.as_u16())
    }

    fn unreachable(&self, e: hyper_util::client::legacy::Error) -> anyhow::Error {
        let hint = match self.https {
            true => {
                "is it up, and is its certificate trusted (--no-check-certificate for a self-signed one)?"
            }
            false => "is it up, and does it speak plain HTTP (--https if it serves TLS)?",
        };
        let set_by = match self.host == DEFAULT_HOST {
            true => "the default; another peer with --host or CLUSTER_HOST",
            false => "set by --host or CLUSTER_HOST",
        };
        anyhow::Error::new(e).context(format!(
            "cannot reach the peer's REST API at {} ({}, {set_by}): {hint}",
            self.host, self.authority
        ))
    }

    fn unauthorized(&self) -> String {
        match self.credentials {
            None => format!(
                "the REST API at {} requires authentication: pass --basic-auth user:password (or set CLUSTER_CREDENTIALS) (401)",
                self.host
            ),
            Some(_) => format!(
                "the REST API at {} refused the credentials of --basic-auth / CLUSTER_CREDENTIALS (401)",
                self.host
            ),
        }
    }
}

/// `user:password` as a basic `Authorization` header.
fn basic_header(pair: &str) -> anyhow::Result<http::HeaderValue> {
    use base64::Engine;
    if !pair.contains(':') {
        bail!("--basic-auth (or CLUSTER_CREDENTIALS) must read user:password");
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    let mut value = http::HeaderValue::from_str(&format!("Basic {encoded}"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Prints each value: its JSON as the API wrote it, or `text` of it.
pub(super) fn print(values: &[Value], enc: Encoding, text: impl Fn(&Value) -> String) {
    for value in values {
        match enc {
            Encoding::Json => println!("{value}"),
            Encoding::Text => println!("{}", text(value)),
        }
    }
}

/// Runs a client command on a one-thread runtime.
pub(super) fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(
    future: F,
) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("runtime")?;
    Ok(runtime.block_on(future)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_go_durations_or_seconds() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1").is_err());
    }

    #[test]
    fn basic_auth_needs_a_colon() {
        assert!(basic_header("alice").is_err());
        let value = basic_header("alice:pw").expect("header");
        assert!(value.is_sensitive());
        assert_eq!(value.to_str().ok(), Some("Basic YWxpY2U6cHc="));
    }
}
