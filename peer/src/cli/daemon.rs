//! `cairn daemon`: a cluster peer: Raft over the redb stores, the REST API and the gateway.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use cairn_gateway::config::{ListenAddr, ProxyConfig, listen_addr, listen_multiaddr};
use cairn_node::BlockSource;

use super::{CliError, ipfs, logging, shutdown_signal};
use crate::cluster::Cluster;
use crate::config::ServiceConfig;
use crate::identity::Identity;

/// Arguments of `cairn daemon`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Join an existing cluster through this peer (`/ip4/…/tcp/…/p2p/<id>`; repeatable).
    #[arg(long, value_name = "MULTIADDR")]
    bootstrap: Vec<String>,
}

/// Loads and validates everything, starts the peer, serves until Ctrl-C or SIGTERM.
pub(super) fn run(dir: &Path, args: Args) -> Result<(), CliError> {
    let config = ServiceConfig::load(dir, |name| std::env::var(name).ok())
        .map_err(|e| CliError::Config(e.to_string()))?;
    let bootstrap = bootstrap_addrs(&args.bootstrap, &config.cluster.peer_addresses)?;
    let identity = Identity::load(&dir.join("identity.json")).map_err(|e| CliError::Config(e.to_string()))?;
    crate::integrity::check(dir)?;
    let log_file = config.ipfsproxy.log_file.as_ref().map(|p| dir.join(p));
    logging::init(log_file.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(dir, config, identity, bootstrap))
}

/// `--bootstrap` flags, else `cluster.peer_addresses`; each must end in `/p2p/<peer id>`.
fn bootstrap_addrs(flags: &[String], configured: &[String]) -> Result<Vec<libp2p::Multiaddr>, CliError> {
    let (source, addrs) = if flags.is_empty() {
        ("cluster.peer_addresses", configured)
    } else {
        ("--bootstrap", flags)
    };
    addrs
        .iter()
        .map(|text| {
            let addr: libp2p::Multiaddr = text
                .parse()
                .map_err(|e| CliError::Config(format!("{source}: {text}: {e}")))?;
            crate::net::split_p2p(&addr)
                .ok_or_else(|| CliError::Config(format!("{source}: {text}: must end in /p2p/<peer id>")))?;
            Ok(addr)
        })
        .collect()
}

fn rest_server_config(config: &ServiceConfig) -> Result<ProxyConfig, CliError> {
    let listen = listen_addr(&config.restapi.http_listen_multiaddress).map_err(CliError::Config)?;
    Ok(ProxyConfig {
        listen: vec![listen],
        ..ProxyConfig::default()
    })
}

fn shown(addrs: &[ListenAddr]) -> String {
    addrs.iter().map(listen_multiaddr).collect::<Vec<_>>().join(",")
}

async fn serve(
    dir: &Path,
    config: ServiceConfig,
    identity: Identity,
    bootstrap: Vec<libp2p::Multiaddr>,
) -> Result<(), CliError> {
    let rest_config = rest_server_config(&config)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let source = crate::cluster::PeerBlocks::default();
    let (ipfs, embedded) = match config.ipfshttp.upstream().map_err(CliError::Config)? {
        Some(target) => (target, None),
        None => {
            let repo = dir.join(ipfs::NODE_DIR);
            let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            let from_peers: Arc<dyn BlockSource> = Arc::new(source.clone());
            let origins = ipfs::gateway_origins(&config.ipfsproxy);
            let identity = ipfs::identity_of(&identity);
            let node =
                ipfs::start(&repo, local, identity, Some(from_peers), origins, stop_rx.clone()).await?;
            (ipfs::target_of(node.addr), Some(node))
        }
    };
    let mut gateway_config = config.ipfsproxy.clone();
    gateway_config.node = ipfs.clone();
    let cluster = Cluster::start(dir, &config, &identity, &bootstrap)
        .await
        .context("starting the cluster peer")?;
    if let Some(node) = &embedded {
        cluster.serve_blocks(node.blocks.clone());
        source.attach(cluster.clone());
    }
    let rest = cairn_gateway::Server::bind_with(&rest_config, crate::rest::stack(cluster.clone()))
        .await
        .context("binding the REST API")?;
    let timeouts = crate::ipfs::Timeouts::from_config(&config.ipfshttp);
    let daemon = crate::ipfs::IpfsClient::new(ipfs.clone()).with_timeouts(timeouts);
    cluster.use_ipfs(daemon.clone());
    cluster.start_tracker(
        daemon.clone(),
        crate::tracker::TrackerConfig::from_config(&config),
    );
    let monitoring = crate::monitor::informers::Settings::from_config(&config);
    cluster.start_monitoring(daemon, monitoring).await;
    let intercepting: Arc<dyn cairn_gateway::intercept::Cluster> = Arc::new(cluster.clone());
    let stack = cairn_gateway::stack::build_with(&gateway_config, Some(intercepting));
    let gateway = cairn_gateway::Server::bind_with(&gateway_config, stack)
        .await
        .context("binding the gateway")?;
    // One machine-readable line for scripts and the test harness.
    println!(
        "cairn daemon ready: peer {} cluster {} rest {} gateway {} ipfs {}",
        cluster.peer_id,
        cluster.addresses().join(","),
        shown(&rest.local_addrs()),
        shown(&gateway.local_addrs()),
        cairn_gateway::config::target_multiaddr(&ipfs)
    );
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let rest_task = tokio::spawn(rest.serve(stopped(stop_rx.clone())));
    let gateway_task = tokio::spawn(gateway.serve(stopped(stop_rx)));
    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = tokio::join!(rest_task, gateway_task);
    if let Some(node) = embedded {
        let _ = node.task.await;
    }
    if config.cluster.leave_on_shutdown {
        match cluster.remove_member(&cluster.peer_id).await {
            Ok(()) => tracing::info!("left the cluster"),
            Err(e) => tracing::warn!(error = %e, "could not leave the cluster"),
        }
    }
    cluster.shutdown().await;
    match super::state::backup(dir, cluster.pins()) {
        Ok(path) => tracing::info!(path = %path.display(), "pinset backup written"),
        Err(e) => tracing::warn!(error = %e, "could not write the pinset backup"),
    }
    Ok(())
}
