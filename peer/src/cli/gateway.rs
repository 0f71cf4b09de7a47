//! `cairn gateway`: the gateway alone in front of an upstream daemon.
//!
//! Config sources, in order: defaults, the `api.ipfsproxy` section of `<config>/service.json`
//! (when the file exists), `CLUSTER_IPFSPROXY_*` environment variables, then these flags.

use std::path::Path;

use anyhow::Context;
use cairn_gateway::config::{self, ListenAddr, ProxyConfig};
use cairn_gateway::upstream::Target;

use super::{CliError, logging, shutdown_signal};

/// Arguments of `cairn gateway`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Upstream IPFS daemon API as a multiaddr (overrides node_multiaddress),
    /// e.g. /ip4/127.0.0.1/tcp/5001 or /unix/path/to/api.sock.
    #[arg(long, value_name = "MULTIADDR")]
    upstream: Option<String>,
    /// Address to listen on (repeatable; overrides listen_multiaddress), e.g. /ip4/127.0.0.1/tcp/9095.
    #[arg(long, value_name = "MULTIADDR")]
    listen: Vec<String>,
}

/// Loads and validates the configuration, then serves until Ctrl-C or SIGTERM.
pub(super) fn run(dir: &Path, args: Args, log_flags: &logging::Flags) -> Result<(), CliError> {
    let config = load(dir, args).map_err(|e| CliError::Config(format!("{e:#}")))?;
    let log_file = config.log_file.as_ref().map(|p| dir.join(p));
    let routed: Vec<logging::Routed<'_>> = (log_file.as_deref())
        .map(|file| logging::Routed {
            target: cairn_gateway::access_log::TARGET,
            file,
        })
        .into_iter()
        .collect();
    let _logs = logging::init(log_flags, &routed)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(config))
}

fn load(dir: &Path, args: Args) -> anyhow::Result<ProxyConfig> {
    let mut config = ProxyConfig::from_json(read_section(dir)?.as_ref())?;
    config.apply_env(|name| std::env::var(name).ok())?;
    if let Some(upstream) = args.upstream {
        config.node = Target::from_multiaddr(&upstream).context("--upstream")?;
    }
    if !args.listen.is_empty() {
        config.listen = args
            .listen
            .iter()
            .map(|a| config::listen_addr(a))
            .collect::<Result<Vec<ListenAddr>, _>>()
            .map_err(anyhow::Error::msg)
            .context("--listen")?;
    }
    config.validate()?;
    Ok(config)
}

fn read_section(dir: &Path) -> anyhow::Result<Option<serde_json::Value>> {
    let path = dir.join("service.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
    Ok(json
        .get_mut("api")
        .and_then(|api| api.get_mut("ipfsproxy"))
        .map(serde_json::Value::take))
}

async fn serve(config: ProxyConfig) -> Result<(), CliError> {
    let server = cairn_gateway::Server::bind(config.clone())
        .await
        .map_err(|e| CliError::Run(e.into()))?;
    for addr in server.local_addrs() {
        // One machine-readable line per listener, for scripts and the test harness.
        println!(
            "cairn gateway listening on {} upstream {}",
            config::listen_multiaddr(&addr),
            config::target_multiaddr(&config.node)
        );
        tracing::info!(
            listen = %config::listen_multiaddr(&addr),
            upstream = %config::target_multiaddr(&config.node),
            "cairn gateway serving"
        );
    }
    server.serve(shutdown_signal()).await;
    Ok(())
}
