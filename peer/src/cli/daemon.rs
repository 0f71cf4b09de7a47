//! `cairn daemon`: a cluster peer: Raft over the redb stores, the REST API and the gateway.

use std::path::Path;

use anyhow::Context;
use cairn_gateway::config::{ListenAddr, ProxyConfig, listen_addr, listen_multiaddr};

use super::{CliError, logging, shutdown_signal};
use crate::cluster::Cluster;
use crate::config::ServiceConfig;
use crate::identity::Identity;

/// Arguments of `cairn daemon`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Loads and validates everything, starts the peer, serves until Ctrl-C or SIGTERM.
pub(super) fn run(dir: &Path, _args: Args) -> Result<(), CliError> {
    let config = ServiceConfig::load(dir, |name| std::env::var(name).ok())
        .map_err(|e| CliError::Config(e.to_string()))?;
    let identity = Identity::load(&dir.join("identity.json")).map_err(|e| CliError::Config(e.to_string()))?;
    let log_file = config.ipfsproxy.log_file.as_ref().map(|p| dir.join(p));
    logging::init(log_file.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(dir, config, identity))
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

async fn serve(dir: &Path, config: ServiceConfig, identity: Identity) -> Result<(), CliError> {
    let rest_config = rest_server_config(&config)?;
    let cluster = Cluster::start(dir, &config, &identity)
        .await
        .context("starting the cluster peer")?;
    let rest = cairn_gateway::Server::bind_with(&rest_config, crate::rest::stack(cluster.clone()))
        .await
        .context("binding the REST API")?;
    let gateway = cairn_gateway::Server::bind(config.ipfsproxy.clone())
        .await
        .context("binding the gateway")?;
    // One machine-readable line for scripts and the test harness.
    println!(
        "cairn daemon ready: peer {} rest {} gateway {}",
        cluster.peer_id,
        shown(&rest.local_addrs()),
        shown(&gateway.local_addrs())
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let rest_task = tokio::spawn(rest.serve(stopped(stop_rx.clone())));
    let gateway_task = tokio::spawn(gateway.serve(stopped(stop_rx)));
    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = tokio::join!(rest_task, gateway_task);
    cluster.shutdown().await;
    Ok(())
}
