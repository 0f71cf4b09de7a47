//! `cairn daemon`: loads and checks the configuration, starts the peer (`peer::Peer::start`,
//! the composition root), prints the ready line, and stops it on Ctrl-C or SIGTERM.
//!
//! It refuses to start (exit 64) when its group or others may read or write `service.json`
//! (the cluster secret) or `identity.json` (the private key); the message names the file, its
//! mode and the `chmod` to run (`files::check_private`, `Identity::load`).

use std::path::Path;

use anyhow::Context;
use cairn_gateway::config::{ListenAddr, listen_multiaddr};

use super::{CliError, logging, shutdown_signal};
use crate::config::ServiceConfig;
use crate::files;
use crate::identity::Identity;
use crate::peer::{Peer, StartError};

/// Arguments of `cairn daemon`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Join an existing cluster through this peer (`/ip4/…/tcp/…/p2p/<id>`; repeatable).
    #[arg(long, value_name = "MULTIADDR")]
    bootstrap: Vec<String>,
}

/// Loads and validates everything, starts the peer, serves until Ctrl-C or SIGTERM.
pub(super) fn run(dir: &Path, args: Args, log_flags: &logging::Flags) -> Result<(), CliError> {
    files::check_private(&dir.join("service.json"))
        .map_err(|e| CliError::Config(format!("{:#}", anyhow::Error::from(e))))?;
    let config = ServiceConfig::load(dir, |name| std::env::var(name).ok())
        .map_err(|e| CliError::Config(e.to_string()))?;
    let bootstrap = bootstrap_addrs(&args.bootstrap, &config.cluster.peer_addresses)?;
    let identity = Identity::load(&dir.join("identity.json")).map_err(|e| CliError::Config(e.to_string()))?;
    crate::integrity::check(dir)?;
    let files = logging::files::LogFiles::of(dir, &config);
    let _logs = logging::init(log_flags, &files.routed())?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    if config.cluster.follower_mode {
        // ipfs-cluster-service runs a follower from a configuration in follower mode too.
        return runtime.block_on(super::follow::serve(dir, config, identity));
    }
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

fn shown(addrs: &[ListenAddr]) -> String {
    addrs.iter().map(listen_multiaddr).collect::<Vec<_>>().join(",")
}

async fn serve(
    dir: &Path,
    config: ServiceConfig,
    identity: Identity,
    bootstrap: Vec<libp2p::Multiaddr>,
) -> Result<(), CliError> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let peer = Peer::start(dir, &config, &identity, &bootstrap, stop_rx.clone())
        .await
        .map_err(|e| match e {
            StartError::Config(message) => CliError::Config(message),
            other => CliError::Run(other.into()),
        })?;
    let Peer {
        cluster,
        metrics,
        rest,
        gateway,
        pinsvc,
        ipfs,
        embedded,
    } = peer;
    // One machine-readable line for scripts and the test harness (`pinsvc off` when
    // `api.pinsvcapi` is absent).
    let pinsvc_shown = pinsvc
        .as_ref()
        .map_or_else(|| "off".to_owned(), |s| shown(&s.local_addrs()));
    // `metrics off` unless `observations.metrics.enable_stats`.
    let metrics_shown = metrics
        .as_ref()
        .map_or_else(|| "off".to_owned(), |s| shown(&s.local_addrs()));
    let (rest_shown, gateway_shown) = (shown(&rest.local_addrs()), shown(&gateway.local_addrs()));
    let ipfs_shown = cairn_gateway::config::target_multiaddr(&ipfs);
    println!(
        "cairn daemon ready: peer {} cluster {} rest {rest_shown} gateway {gateway_shown} ipfs {ipfs_shown} metrics {metrics_shown} pinsvc {pinsvc_shown}",
        cluster.peer_id,
        cluster.addresses().join(","),
    );
    tracing::info!(
        peer = %cluster.peer_id,
        rest = %rest_shown,
        gateway = %gateway_shown,
        ipfs = %ipfs_shown,
        pinsvc = %pinsvc_shown,
        metrics = %metrics_shown,
        "cairn peer serving"
    );
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let rest_task = tokio::spawn(rest.serve(stopped(stop_rx.clone())));
    let metrics_task = metrics.map(|s| tokio::spawn(s.serve(stopped(stop_rx.clone()))));
    let pinsvc_task = pinsvc.map(|s| tokio::spawn(s.serve(stopped(stop_rx.clone()))));
    let gateway_task = tokio::spawn(gateway.serve(stopped(stop_rx)));
    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = tokio::join!(rest_task, gateway_task);
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    if let Some(task) = pinsvc_task {
        let _ = task.await;
    }
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
