//! `cairn follow NAME run` (and `cairn daemon` on a follower configuration): starts the
//! follower (`follow::Follower::start`, its composition root), prints the ready line, serves
//! until Ctrl-C or SIGTERM, then makes its store durable.

use std::path::Path;

use anyhow::Context;
use cairn_gateway::config::listen_multiaddr;

use super::{CliError, configured, logging, not_configured};
use crate::cli::shutdown_signal;
use crate::config::ServiceConfig;
use crate::files;
use crate::follow::Follower;
use crate::identity::Identity;
use crate::peer::StartError;

/// Loads and checks the follower in `dir`, runs it until Ctrl-C or SIGTERM.
pub(super) fn run(dir: &Path, name: &str, log_flags: &logging::Flags) -> Result<(), CliError> {
    if !configured(dir) {
        return Err(not_configured(dir, name));
    }
    files::check_private(&dir.join("service.json"))
        .map_err(|e| CliError::Config(format!("{:#}", anyhow::Error::from(e))))?;
    let config = ServiceConfig::load(dir, |key| std::env::var(key).ok())
        .map_err(|e| CliError::Config(e.to_string()))?;
    if !config.cluster.follower_mode {
        return Err(CliError::Config(format!(
            "{}: cluster.follower_mode is false: this is a cluster peer's configuration; run it with `cairn --config {} daemon`",
            dir.join("service.json").display(),
            dir.display()
        )));
    }
    let identity = Identity::load(&dir.join("identity.json")).map_err(|e| CliError::Config(e.to_string()))?;
    let files = logging::files::LogFiles::of(dir, &config);
    let _logs = logging::init(log_flags, &files.routed())?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(dir, config, identity))
}

/// Starts the follower in `dir` and serves until Ctrl-C or SIGTERM.
pub async fn serve(dir: &Path, config: ServiceConfig, identity: Identity) -> Result<(), CliError> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let follower = Follower::start(dir, &config, &identity, stop_rx.clone())
        .await
        .map_err(|e| match e {
            StartError::Config(message) => CliError::Config(message),
            other => CliError::Run(other.into()),
        })?;
    let Follower {
        local,
        rest,
        gateway,
        ipfs,
        embedded,
    } = follower;
    let shown = |addrs: &[cairn_gateway::config::ListenAddr]| {
        addrs.iter().map(listen_multiaddr).collect::<Vec<_>>().join(",")
    };
    let (rest_shown, gateway_shown) = (shown(&rest.local_addrs()), shown(&gateway.local_addrs()));
    let ipfs_shown = cairn_gateway::config::target_multiaddr(&ipfs);
    // One machine-readable line for scripts and the test harness.
    println!(
        "cairn follow ready: peer {} trusted {} rest {rest_shown} gateway {gateway_shown} ipfs {ipfs_shown}",
        local.peer_id,
        local.sources.ids().join(","),
    );
    tracing::info!(peer = %local.peer_id, rest = %rest_shown, gateway = %gateway_shown, "cairn follower serving");
    // Where `info` and `list` find the running follower, whatever the environment said.
    let address_file = dir.join(super::REST_ADDRESS);
    if let Err(e) = crate::files::write_private(&address_file, rest_shown.as_bytes()) {
        tracing::warn!(error = %e, "could not record the REST address for `cairn follow info`");
    }
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let rest_task = tokio::spawn(rest.serve(stopped(stop_rx.clone())));
    let gateway_task = tokio::spawn(gateway.serve(stopped(stop_rx)));
    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = tokio::join!(rest_task, gateway_task);
    let _ = std::fs::remove_file(address_file);
    if let Some(node) = embedded {
        let _ = node.task.await;
    }
    if let Err(e) = local.pins.flush() {
        tracing::warn!(error = %e, "could not flush the follower's store");
    }
    Ok(())
}
