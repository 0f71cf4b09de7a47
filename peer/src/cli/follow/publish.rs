//! `cairn follow-config`, run on a cluster peer: prints the configuration its followers need
//! (the cluster secret, the trusted peers and their addresses, the replication defaults) as
//! JSON, to publish over HTTP, as a file or with `ipfs add` for `cairn follow NAME init`.
//!
//! The secret comes from this peer's `service.json`; the members and their addresses from
//! its REST API (`GET /id`, the global client flags), so the published peers are the
//! cluster's as it runs now.

use std::path::Path;

use serde_json::{Value, json};

use super::CliError;
use crate::cli::client::{Global, Rest, block_on};
use crate::config::ServiceConfig;

/// Arguments of `cairn follow-config`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A peer followers may take the pinset from (repeatable; default: every current member).
    #[arg(long = "trusted", value_name = "PEER_ID")]
    trusted: Vec<String>,
}

/// Prints the follower configuration of the cluster the peer in `dir` belongs to.
pub fn run(dir: &Path, global: &Global, args: &Args) -> Result<(), CliError> {
    let config = ServiceConfig::load(dir, |key| std::env::var(key).ok())
        .map_err(|e| CliError::Config(e.to_string()))?;
    block_on(async {
        let id = Rest::new(global)?.call(http::Method::GET, "/id").await?;
        let id = id.into_iter().next().unwrap_or_default();
        let published = published(&config, &id, &args.trusted);
        println!("{}", serde_json::to_string_pretty(&published)?);
        Ok(())
    })
}

/// The follower configuration from this peer's config and its `/id` answer.
fn published(config: &ServiceConfig, id: &Value, trusted: &[String]) -> Value {
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let members = strings(&id["cluster_peers"]);
    let trusted: Vec<String> = match trusted.is_empty() {
        true => members,
        false => trusted.to_vec(),
    };
    let named = |addr: &String| trusted.iter().any(|peer| addr.ends_with(&format!("/p2p/{peer}")));
    let addresses: Vec<String> = strings(&id["cluster_peers_addresses"])
        .into_iter()
        .filter(named)
        .filter(|addr| !addr.starts_with("/ip4/0.0.0.0/") && !addr.starts_with("/ip6/::/"))
        .collect();
    json!({
        "cluster": {
            "secret": config.cluster.secret,
            "trusted_peers": trusted,
            "peer_addresses": addresses,
            "replication_factor_min": config.cluster.replication_factor_min,
            "replication_factor_max": config.cluster.replication_factor_max,
            "monitor_ping_interval": config.cluster.monitor_ping_interval,
            "state_sync_interval": config.cluster.state_sync_interval,
        },
        "consensus": { "raft": { "network_timeout": config.raft.network_timeout } },
    })
}
