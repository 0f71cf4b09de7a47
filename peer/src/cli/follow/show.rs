//! `cairn follow` (the configured clusters), `cairn follow NAME info` and `list`: read from
//! the running follower's REST API (its socket in the folder) when it runs, else from the
//! folder and its store.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::init::SOURCE_FILE;
use super::{CliError, configured, not_configured};
use crate::cli::client::{Encoding, Global, Rest, block_on};
use crate::config::ServiceConfig;
use crate::follow::FollowStore;

/// Prints the clusters configured under `base`.
pub(super) fn clusters(base: &Path) -> Result<(), CliError> {
    let mut names: Vec<String> = match std::fs::read_dir(base) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|e| configured(&e.path()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(CliError::Run(anyhow::anyhow!("reading {}: {e}", base.display()))),
    };
    names.sort();
    if names.is_empty() {
        println!(
            "No clusters are followed in {} yet: `cairn follow <name> init <source>` adds one.",
            base.display()
        );
        return Ok(());
    }
    println!("Clusters followed in {}:", base.display());
    block_on(async {
        for name in names {
            let dir = base.join(&name);
            let state = match running(&dir).await {
                Some(_) => "running",
                None => "not running",
            };
            println!("  {name} ({state}) from {}", source(&dir));
        }
        Ok(())
    })
}

/// `cairn follow NAME info`.
pub(super) fn info(dir: &Path, name: &str) -> Result<(), CliError> {
    if !configured(dir) {
        return Err(not_configured(dir, name));
    }
    let config = ServiceConfig::load(dir, |key| std::env::var(key).ok())
        .map_err(|e| CliError::Config(e.to_string()))?;
    let peer_id = identity_id(dir);
    block_on(async {
        let live = running(dir).await;
        println!("Information about the follower of cluster {name:?}:\n");
        println!("Config folder: {}", dir.display());
        println!("Config source: {}", source(dir));
        println!("Cluster peer ID: {peer_id}");
        println!("Cluster peer name: {}", config.cluster.peername);
        println!("Trusted peers: {}", config.cluster.trusted_peers.join(", "));
        println!("REST API: {}", config.restapi.http_listen_multiaddress);
        match live {
            Some(info) => {
                let field = |key: &str| info.get(key).and_then(Value::as_u64).unwrap_or_default();
                println!("Cluster peer information: running");
                match info.get("source").and_then(Value::as_str) {
                    Some(source) => println!("Following through: {source}"),
                    None => println!(
                        "Following through: nobody right now ({})",
                        info.get("last_error")
                            .and_then(Value::as_str)
                            .unwrap_or("starting")
                    ),
                }
                println!(
                    "Applied log index: {} (the cluster's: {}; {} behind)",
                    field("applied"),
                    field("cluster_applied"),
                    field("behind")
                );
                println!("Pins followed: {}", field("pins"));
                println!("Snapshots installed since start: {}", field("snapshots"));
            }
            None => {
                println!("Cluster peer information: not running");
                match stored(dir) {
                    Ok((applied, pins)) => {
                        println!("Applied log index: {applied}");
                        println!("Pins followed: {pins}");
                    }
                    Err(e) => println!("Store: {e}"),
                }
            }
        }
        Ok(())
    })
}

/// `cairn follow NAME list`.
pub(super) fn list(dir: &Path, name: &str) -> Result<(), CliError> {
    if !configured(dir) {
        return Err(not_configured(dir, name));
    }
    block_on(async {
        let rest = rest_of(dir, Duration::from_secs(600));
        if let Some(Ok(infos)) = match &rest {
            Some(rest) => Some(rest.call(http::Method::GET, "/pins").await),
            None => None,
        } {
            for info in infos {
                println!("{}", status_line(&info));
            }
            return Ok(());
        }
        let store = FollowStore::open(&dir.join("state.redb")).map_err(|e| {
            anyhow::anyhow!("{e} (is the follower running? its REST API did not answer either)")
        })?;
        for pin in store.pins().iter()? {
            let pin = pin?;
            println!("{} | {} | (follower not running)", pin.cid, pin.options.name);
        }
        Ok(())
    })
}

/// `CID | STATUS | name` of a follower's `GlobalPinInfo`.
fn status_line(info: &Value) -> String {
    let status = info["peer_map"]
        .as_object()
        .and_then(|peers| peers.values().next())
        .and_then(|short| short["status"].as_str())
        .unwrap_or("unknown")
        .to_uppercase();
    let cid = info["cid"].as_str().unwrap_or_default();
    format!("{cid} | {status} | {}", info["name"].as_str().unwrap_or_default())
}

/// The running follower's `GET /follow`, or `None` when it does not answer.
async fn running(dir: &Path) -> Option<Value> {
    let rest = rest_of(dir, Duration::from_secs(2))?;
    rest.call(http::Method::GET, "/follow")
        .await
        .ok()?
        .into_iter()
        .next()
}

/// A REST client of the follower in `dir`: at the address it recorded when it started, else
/// the configured one.
fn rest_of(dir: &Path, timeout: Duration) -> Option<Rest> {
    let recorded = std::fs::read_to_string(dir.join(super::REST_ADDRESS)).ok();
    let host = match recorded.as_deref().and_then(|r| r.split(',').next()) {
        Some(address) if !address.trim().is_empty() => address.trim().to_owned(),
        _ => {
            ServiceConfig::load(dir, |key| std::env::var(key).ok())
                .ok()?
                .restapi
                .http_listen_multiaddress
        }
    };
    let global = Global {
        host,
        enc: Encoding::Json,
        basic_auth: None,
        https: false,
        no_check_certificate: false,
        timeout,
        debug: false,
    };
    Rest::new(&global).ok()
}

fn source(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(SOURCE_FILE))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "(unknown)".into())
}

fn identity_id(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("identity.json")).unwrap_or_default();
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "(no identity.json)".into())
}

/// The stopped follower's applied index and pin count, from its store.
fn stored(dir: &Path) -> Result<(u64, u64), crate::state::StateError> {
    let store = FollowStore::open(&dir.join("state.redb"))?;
    Ok((store.applied()?, store.pins().len()?))
}
