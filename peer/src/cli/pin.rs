//! `cairn id`, `cairn peers ls|rm`, `cairn pin add|update|rm|ls`, through a peer's REST API,
//! in ipfs-cluster-ctl's words and text layout (`--enc json` prints the API's JSON).
//!
//! `pin add` and `pin update` show the pin's status afterwards, as ipfs-cluster-ctl does: with
//! `--wait` once it is pinned where it must be (`wait::until_pinned`), else a second after the
//! pin; `--no-status` prints the pin as the API stored it instead.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::CliError;
use super::client::{Global, Rest, block_on, print};
use crate::api::{PeerInfo, Pin, PinMode};

/// How long an unbounded `--wait-timeout` (0) is: longer than any wait.
pub(super) const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `cairn pin …`.
#[derive(Debug, clap::Subcommand)]
pub enum PinCommand {
    /// Pin a CID in the cluster, then show its status.
    Add {
        /// The CID.
        cid: String,
        /// How the pin is made.
        #[command(flatten)]
        options: PinFlags,
        /// Replication factor (both minimum and maximum); -1 = every peer.
        #[arg(long, short = 'r', allow_hyphen_values = true)]
        replication: Option<i32>,
        /// Minimum replication factor.
        #[arg(long, visible_alias = "rmin", allow_hyphen_values = true)]
        replication_min: Option<i32>,
        /// Maximum replication factor.
        #[arg(long, visible_alias = "rmax", allow_hyphen_values = true)]
        replication_max: Option<i32>,
        /// Peers to allocate it to first (comma-separated peer ids).
        #[arg(long, visible_alias = "allocs", value_delimiter = ',', value_name = "PEERS")]
        allocations: Vec<String>,
        /// Recursive (the DAG below) or direct (the block alone).
        #[arg(long, value_enum, default_value_t = ModeFlag::Recursive)]
        mode: ModeFlag,
        /// A metadata entry, `key=value` (repeatable).
        #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
        metadata: Vec<(String, String)>,
        /// What is shown afterwards.
        #[command(flatten)]
        after: After,
    },
    /// Pin TO with the options and allocations of the existing pin FROM (which stays pinned;
    /// `pin rm` it afterwards).
    Update {
        /// The existing pin.
        from: String,
        /// The new CID.
        to: String,
        /// Name and expiry.
        #[command(flatten)]
        options: PinFlags,
        /// What is shown afterwards.
        #[command(flatten)]
        after: After,
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

/// `--name` and `--expire-in`, common to `pin add` and `pin update`.
#[derive(Debug, clap::Args)]
pub struct PinFlags {
    /// A name for the pin.
    #[arg(long, short = 'n')]
    pub(super) name: Option<String>,
    /// Unpin automatically after this long (a Go duration, at least 1s: `72h`).
    #[arg(long, value_name = "DURATION")]
    pub(super) expire_in: Option<String>,
}

/// What `pin add` and `pin update` show afterwards.
#[derive(Debug, clap::Args)]
pub struct After {
    /// Wait until the pin is pinned on its allocations (its replication-min of them).
    #[arg(long, short = 'w')]
    wait: bool,
    /// How long --wait waits: a Go duration or seconds; 0 = no limit.
    #[arg(long, visible_alias = "wt", default_value = "0", value_parser = super::client::parse_duration, value_name = "DURATION")]
    wait_timeout: Duration,
    /// Print the pin as stored instead of its status.
    #[arg(long, visible_alias = "ns")]
    no_status: bool,
}

/// `--mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeFlag {
    /// The DAG below the CID.
    Recursive,
    /// The block alone.
    Direct,
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

/// `key=value` of `--metadata`.
pub(super) fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?} is not key=value")),
    }
}

/// ipfs-cluster-ctl's line for a pin.
pub(super) fn pin_line(pin: &Value) -> String {
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

/// The REST query of `pin add`.
fn add_query(command: &PinCommand) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    let PinCommand::Add {
        options,
        replication,
        replication_min,
        replication_max,
        allocations,
        mode,
        metadata,
        ..
    } = command
    else {
        return String::new();
    };
    flags_query(options, &mut q);
    for (key, value) in [
        ("replication", replication),
        ("replication-min", replication_min),
        ("replication-max", replication_max),
    ] {
        if let Some(value) = value {
            q.append_pair(key, &value.to_string());
        }
    }
    if !allocations.is_empty() {
        q.append_pair("user-allocations", &allocations.join(","));
    }
    if *mode == ModeFlag::Direct {
        q.append_pair("mode", "direct");
    }
    for (key, value) in metadata {
        q.append_pair(&format!("meta-{key}"), value);
    }
    q.finish()
}

pub(super) fn flags_query(flags: &PinFlags, q: &mut form_urlencoded::Serializer<'_, String>) {
    if let Some(name) = &flags.name {
        q.append_pair("name", name);
    }
    if let Some(expire) = &flags.expire_in {
        q.append_pair("expire-in", expire);
    }
}

/// The method and path of a `pin` command.
fn request(command: &PinCommand) -> (http::Method, String) {
    match command {
        PinCommand::Add { cid, .. } => (http::Method::POST, format!("/pins/{cid}?{}", add_query(command))),
        PinCommand::Update {
            from, to, options, ..
        } => {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("pin-update", from);
            flags_query(options, &mut q);
            (http::Method::POST, format!("/pins/{to}?{}", q.finish()))
        }
        PinCommand::Rm { cid } => (http::Method::DELETE, format!("/pins/{cid}")),
        PinCommand::Ls { cid: Some(cid) } => (http::Method::GET, format!("/allocations/{cid}")),
        PinCommand::Ls { cid: None } => (http::Method::GET, "/allocations".to_owned()),
    }
}

/// ipfs-cluster-ctl's `handlePinResponseFormatFlags`: the status after a pin (or the pin).
pub(super) async fn after_pin(
    rest: &Rest,
    global: &Global,
    pin: &Value,
    after: &After,
) -> anyhow::Result<()> {
    let cid = pin["cid"].as_str().unwrap_or_default().to_owned();
    let waited = match after.wait {
        true => {
            let limit = Some(after.wait_timeout)
                .filter(|t| !t.is_zero())
                .unwrap_or(FOREVER);
            Some(super::wait::until_pinned(rest, &cid, limit).await?)
        }
        false => None,
    };
    if after.no_status {
        print(std::slice::from_ref(pin), global.enc, pin_line);
        return Ok(());
    }
    let status = match waited {
        Some(info) => serde_json::to_value(info)?,
        None => {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let values = rest.call(http::Method::GET, &format!("/pins/{cid}")).await?;
            values.into_iter().next().unwrap_or_default()
        }
    };
    print(&[status], global.enc, super::status::status_text);
    Ok(())
}

/// `cairn pin add|update|rm|ls`.
pub(super) fn pin(global: &Global, command: &PinCommand) -> Result<(), CliError> {
    block_on(async {
        let rest = Rest::new(global)?;
        let (method, path) = request(command);
        let values = rest.call(method, &path).await?;
        match command {
            PinCommand::Add { after, .. } | PinCommand::Update { after, .. } => {
                let pin = values.into_iter().next().unwrap_or_default();
                after_pin(&rest, global, &pin, after).await
            }
            PinCommand::Rm { .. } | PinCommand::Ls { .. } => {
                print(&values, global.enc, pin_line);
                Ok(())
            }
        }
    })
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

/// `cairn peers ls|rm`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parsed(args: &[&str]) -> PinCommand {
        let cli = super::super::Cli::try_parse_from(args).expect("parses");
        match cli.command {
            super::super::Command::Pin { command } => command,
            other => panic!("not a pin command: {other:?}"),
        }
    }

    #[test]
    fn pin_add_flags_become_ipfs_cluster_query_parameters() {
        let command = parsed(&[
            "cairn",
            "pin",
            "add",
            "QmX",
            "-n",
            "a b",
            "--rmin",
            "1",
            "--replication-max",
            "-1",
            "--allocs",
            "p1,p2",
            "--mode",
            "direct",
            "--metadata",
            "k=v",
            "--metadata",
            "x=1=2",
            "--expire-in",
            "72h",
            "--no-status",
        ]);
        let (method, path) = request(&command);
        assert_eq!(method, http::Method::POST);
        assert_eq!(
            path,
            "/pins/QmX?name=a+b&expire-in=72h&replication-min=1&replication-max=-1&user-allocations=p1%2Cp2&mode=direct&meta-k=v&meta-x=1%3D2"
        );
        let PinCommand::Add { after, .. } = command else {
            panic!("add");
        };
        assert!(after.no_status && !after.wait);
    }

    #[test]
    fn pin_update_posts_the_new_cid_with_pin_update() {
        let command = parsed(&[
            "cairn", "pin", "update", "QmOld", "QmNew", "--name", "v2", "--wait", "--wt", "30s",
        ]);
        assert_eq!(request(&command).1, "/pins/QmNew?pin-update=QmOld&name=v2");
        let PinCommand::Update { after, .. } = command else {
            panic!("update");
        };
        assert!(after.wait);
        assert_eq!(after.wait_timeout, Duration::from_secs(30));
    }

    #[test]
    fn metadata_must_be_key_value() {
        assert!(key_value("novalue").is_err());
        assert!(key_value("=v").is_err());
        assert_eq!(key_value("k="), Ok(("k".into(), String::new())));
    }
}
