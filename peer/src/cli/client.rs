//! Client commands that talk to a running peer's REST API (`--host`, default
//! `/ip4/127.0.0.1/tcp/9094`): `id`, `peers ls`, `pin add|rm|ls`. `--enc json` prints the API's
//! JSON as it came; text output is one readable line per item.

use anyhow::{Context, bail};
use bytes::Bytes;
use cairn_gateway::upstream::{Connector, Target};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::Value;

use super::CliError;
use crate::api::{PeerInfo, Pin, PinMode};

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum Encoding {
    /// Readable text.
    #[default]
    Text,
    /// The REST API's JSON.
    Json,
}

/// Options every client command shares.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// The peer's REST API as a multiaddr.
    #[arg(
        long,
        global = true,
        default_value = "/ip4/127.0.0.1/tcp/9094",
        value_name = "MULTIADDR"
    )]
    pub(super) host: String,
    /// Output encoding.
    #[arg(long, global = true, value_enum, default_value_t)]
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
    #[arg(long, global = true)]
    pub(super) https: bool,
    /// With --https: do not check the API's certificate (self-signed setups).
    #[arg(long, global = true)]
    pub(super) no_check_certificate: bool,
}

/// `cairn pin …`.
#[derive(Debug, clap::Subcommand)]
pub enum PinCommand {
    /// Pin a CID in the cluster.
    Add {
        /// The CID.
        cid: String,
        /// A name for the pin.
        #[arg(long)]
        name: Option<String>,
        /// Both replication factors.
        #[arg(long, short = 'r')]
        replication: Option<i32>,
        /// Minimum replication factor.
        #[arg(long)]
        replication_min: Option<i32>,
        /// Maximum replication factor.
        #[arg(long)]
        replication_max: Option<i32>,
    },
    /// Remove a pin from the cluster.
    Rm {
        /// The CID.
        cid: String,
    },
    /// List the pinset, or one pin.
    Ls {
        /// Only this CID.
        cid: Option<String>,
    },
}

/// `cairn peers …`.
#[derive(Debug, clap::Subcommand)]
pub enum PeersCommand {
    /// List the cluster's peers.
    Ls,
    /// Remove a peer from the cluster.
    Rm {
        /// The peer id.
        peer: String,
    },
}

pub(super) struct Rest {
    client: Client<Connector, Empty<Bytes>>,
    authority: String,
    host: String,
    https: bool,
    credentials: Option<http::HeaderValue>,
}

impl Rest {
    pub(super) fn new(global: &Global) -> anyhow::Result<Self> {
        let host = global.host.as_str();
        let target = Target::from_multiaddr(host).context("--host")?;
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
        let connector = Connector::new(target, Some(std::time::Duration::from_secs(5))).with_tls(tls);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let credentials = global.basic_auth.as_deref().map(basic_header).transpose()?;
        Ok(Self {
            client,
            authority,
            host: host.to_owned(),
            https,
            credentials,
        })
    }

    pub(super) async fn call(&self, method: http::Method, path: &str) -> anyhow::Result<Vec<Value>> {
        let uri = format!("http://{}{path}", self.authority);
        let mut req = http::Request::builder().method(method).uri(uri);
        if let Some(credentials) = &self.credentials {
            req = req.header(http::header::AUTHORIZATION, credentials.clone());
        }
        let rsp = self.client.request(req.body(Empty::new())?).await.map_err(|e| {
            let hint = match self.https {
                true => {
                    "is it up, and is its certificate trusted (--no-check-certificate for a self-signed one)?"
                }
                false => "is it up, and does it speak plain HTTP (--https if it serves TLS)?",
            };
            anyhow::anyhow!(
                "cannot reach the peer's REST API at {} (--host): {hint}",
                self.host
            )
            .context(e)
        })?;
        let status = rsp.status();
        if status == http::StatusCode::UNAUTHORIZED {
            bail!("{}", self.unauthorized());
        }
        let body = rsp.into_body().collect().await?.to_bytes();
        let values = serde_json::Deserializer::from_slice(&body)
            .into_iter::<Value>()
            .collect::<Result<Vec<_>, _>>()?;
        if !status.is_success() {
            let message = values
                .first()
                .and_then(|v| v["message"].as_str())
                .unwrap_or("")
                .to_owned();
            bail!("{message} ({})", status.as_u16());
        }
        Ok(values)
    }
}

impl Rest {
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
        bail!("--basic-auth must read user:password");
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    let mut value = http::HeaderValue::from_str(&format!("Basic {encoded}"))?;
    value.set_sensitive(true);
    Ok(value)
}

pub(super) fn print(values: &[Value], enc: Encoding, text: impl Fn(&Value) -> String) {
    for value in values {
        match enc {
            Encoding::Json => println!("{value}"),
            Encoding::Text => println!("{}", text(value)),
        }
    }
}

/// ipfs-cluster-ctl's line for a pin.
fn pin_line(pin: &Value) -> String {
    let pin = match Pin::deserialize(pin) {
        Ok(pin) => pin,
        Err(e) => return format!("a pin that does not read as a pin ({e}): {pin}"),
    };
    let (min, max) = (
        pin.options.replication_factor_min,
        pin.options.replication_factor_max,
    );
    let factor = if min == max {
        min.to_string()
    } else {
        format!("{min}--{max}")
    };
    let allocations = match &pin.allocations {
        // Go's `%s` of a []peer.ID, as ipfs-cluster-ctl prints it.
        a if !a.is_empty() => format!("[{}]", a.join(" ")),
        _ => "[everywhere]".to_owned(),
    };
    let mode = match pin.options.mode {
        PinMode::Direct => "Direct",
        PinMode::Recursive => "Recursive",
    };
    format!(
        "{} | {} | PIN | Repl. Factor: {factor} | Allocations: {allocations} | {mode} | Added: {}",
        pin.cid, pin.options.name, pin.timestamp
    )
}

/// Reads `value` as a `PeerInfo` and writes it with `text`, or says why it does not read.
fn peer_text(value: &Value, text: impl Fn(&PeerInfo) -> String) -> String {
    match PeerInfo::deserialize(value) {
        Ok(peer) => text(&peer),
        Err(e) => format!("a peer that does not read as an ID ({e}): {value}"),
    }
}

fn query(name: &Option<String>, r: Option<i32>, min: Option<i32>, max: Option<i32>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(name) = name {
        q.append_pair("name", name);
    }
    for (key, value) in [
        ("replication", r),
        ("replication-min", min),
        ("replication-max", max),
    ] {
        if let Some(value) = value {
            q.append_pair(key, &value.to_string());
        }
    }
    q.finish()
}

pub(super) fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(
    future: F,
) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("runtime")?;
    Ok(runtime.block_on(future)?)
}

/// `cairn id`.
pub(super) fn id(global: &Global) -> Result<(), CliError> {
    block_on(async {
        let values = Rest::new(global)?.call(http::Method::GET, "/id").await?;
        print(&values, global.enc, |v| {
            peer_text(v, |peer| {
                let others = peer
                    .cluster_peers
                    .as_ref()
                    .map_or(0, |p| p.len().saturating_sub(1));
                let error = match peer.error.as_str() {
                    "" => String::new(),
                    error => format!(" | ERROR: {error}"),
                };
                let name = peer.peername.as_deref().unwrap_or("");
                format!("{} | {name} | Sees {others} other peers{error}", peer.id)
            })
        });
        Ok(())
    })
}

/// `cairn peers ls`.
pub(super) fn peers(global: &Global, command: &PeersCommand) -> Result<(), CliError> {
    if let PeersCommand::Rm { peer } = command {
        return block_on(async {
            Rest::new(global)?
                .call(http::Method::DELETE, &format!("/peers/{peer}"))
                .await?;
            println!("removed {peer}");
            Ok(())
        });
    }
    block_on(async {
        let values = Rest::new(global)?.call(http::Method::GET, "/peers").await?;
        print(&values, global.enc, |v| {
            peer_text(v, |peer| {
                format!("{} | {}", peer.id, peer.peername.as_deref().unwrap_or(""))
            })
        });
        Ok(())
    })
}

/// `cairn pin add|rm|ls`.
pub(super) fn pin(global: &Global, command: &PinCommand) -> Result<(), CliError> {
    block_on(async {
        let rest = Rest::new(global)?;
        let (method, path) = match command {
            PinCommand::Add {
                cid,
                name,
                replication,
                replication_min,
                replication_max,
            } => {
                let q = query(name, *replication, *replication_min, *replication_max);
                (http::Method::POST, format!("/pins/{cid}?{q}"))
            }
            PinCommand::Rm { cid } => (http::Method::DELETE, format!("/pins/{cid}")),
            PinCommand::Ls { cid: Some(cid) } => (http::Method::GET, format!("/allocations/{cid}")),
            PinCommand::Ls { cid: None } => (http::Method::GET, "/allocations".to_owned()),
        };
        let values = rest.call(method, &path).await?;
        print(&values, global.enc, pin_line);
        Ok(())
    })
}
