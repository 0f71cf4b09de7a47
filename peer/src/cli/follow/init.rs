//! `cairn follow NAME init SOURCE`: fetches the configuration a cluster publishes
//! (`cairn follow-config` on one of its peers) and writes the follower's folder:
//! `service.json` in follower mode (`config::follow`), a new `identity.json`, and `source`
//! (where it came from, for `info`). Files are 0600, the folder 0700.

use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use super::{CliError, configured};
use crate::config::ServiceConfig;
use crate::config::follow::follower_service;
use crate::files;
use crate::identity::Identity;

/// The file recording where the configuration came from.
pub(super) const SOURCE_FILE: &str = "source";

/// Arguments of `cairn follow NAME init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The published configuration: an http(s):// URL, a file path, or /ipfs/<cid> or
    /// /ipns/<name> (read through --ipfs-api).
    source: String,
    /// This follower's name (default: the host name).
    #[arg(long)]
    peername: Option<String>,
    /// The IPFS API that /ipfs/ and /ipns/ sources are read through.
    #[arg(
        long,
        env = "CAIRN_FOLLOW_IPFS_API",
        default_value = "/ip4/127.0.0.1/tcp/5001",
        value_name = "MULTIADDR"
    )]
    ipfs_api: String,
    /// Pin on this IPFS daemon (its API multiaddr) instead of the embedded node.
    #[arg(long, value_name = "MULTIADDR")]
    ipfs_daemon: Option<String>,
    /// Where the follower's IPFS-API gateway listens (default: proxy-socket in its folder).
    #[arg(long, value_name = "MULTIADDR")]
    gateway_listen: Option<String>,
}

/// Writes the follower's folder `dir` for cluster `name`.
pub(super) fn run(dir: &Path, name: &str, args: Args) -> Result<(), CliError> {
    if configured(dir) {
        return Err(CliError::Config(format!(
            "{} exists: cluster {name:?} is already configured (remove {} to start over)",
            dir.join("service.json").display(),
            dir.display()
        )));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("runtime")?;
    let bytes = runtime
        .block_on(super::fetch::fetch(&args.source, &args.ipfs_api))
        .map_err(CliError::Run)?;
    let published: Value = serde_json::from_slice(&bytes)
        .map_err(|e| CliError::Config(format!("the configuration at {} is not JSON: {e}", args.source)))?;
    let peername = args.peername.clone().unwrap_or_else(default_peername);
    let mut service = follower_service(&published, peername, dir)
        .map_err(|e| CliError::Config(format!("the configuration at {}: {e}", args.source)))?;
    if let Some(daemon) = &args.ipfs_daemon {
        service["ipfs_connector"]["ipfshttp"]["node_multiaddress"] = json!(daemon);
        service["api"]["ipfsproxy"]["node_multiaddress"] = json!(daemon);
    }
    if let Some(listen) = &args.gateway_listen {
        service["api"]["ipfsproxy"]["listen_multiaddress"] = json!([listen]);
    }
    write(dir, &service, &args.source)?;
    let me = Identity::generate();
    me.save(&dir.join("identity.json"))
        .context("writing identity.json")?;
    print!(
        "{}",
        summary(dir, name, &service, &args.source, &me.peer_id.to_base58())
    );
    Ok(())
}

/// Writes `service.json` and `source` into `dir` once the configuration loads; nothing is
/// left behind when it does not.
fn write(dir: &Path, service: &Value, source: &str) -> Result<(), CliError> {
    let created = !dir.exists();
    files::create_private_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let text = serde_json::to_string_pretty(service).context("serialising service.json")? + "\n";
    files::write_private(&dir.join("service.json"), text.as_bytes()).context("writing service.json")?;
    if let Err(e) = ServiceConfig::load(dir, |_| None) {
        let _ = std::fs::remove_file(dir.join("service.json"));
        if created {
            let _ = std::fs::remove_dir(dir);
        }
        return Err(CliError::Config(format!("the configuration at {source}: {e}")));
    }
    files::write_private(&dir.join(SOURCE_FILE), format!("{source}\n").as_bytes())
        .context("writing source")?;
    Ok(())
}

fn default_peername() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

fn summary(dir: &Path, name: &str, service: &Value, source: &str, peer_id: &str) -> String {
    let list = |value: &Value| match value {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        Value::String(s) => s.clone(),
        _ => String::new(),
    };
    let ipfs = match service["ipfs_connector"]["ipfshttp"]["node_multiaddress"].as_str() {
        Some(crate::config::EMBEDDED) | None => "the embedded node".to_owned(),
        Some(daemon) => daemon.to_owned(),
    };
    format!(
        "cairn follower of cluster {name:?} initialised in {dir}: peer {peer_id}\n\
         \x20 wrote {service_json} (mode 0600) from {source}: follower mode\n\
         \x20 wrote {identity_json} (mode 0600): this follower's private key\n\
         \x20 trusted peers: {trusted}\n\
         \x20 REST API {rest}; IPFS gateway {gateway}; IPFS: {ipfs}\n\
         next: cairn follow {name} run\n",
        dir = dir.display(),
        service_json = dir.join("service.json").display(),
        identity_json = dir.join("identity.json").display(),
        trusted = list(&service["cluster"]["trusted_peers"]),
        rest = list(&service["api"]["restapi"]["http_listen_multiaddress"]),
        gateway = list(&service["api"]["ipfsproxy"]["listen_multiaddress"]),
    )
}
