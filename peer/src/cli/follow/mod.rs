//! `cairn follow`: ipfs-cluster-follow's commands. `cairn follow` lists the configured
//! clusters; `cairn follow NAME init SOURCE` writes a follower's folder from a cluster's
//! published configuration; `run` runs it; `info` shows it; `list` shows the pins it follows.
//! `cairn follow-config` (on a cluster peer, `publish`) prints the configuration to publish.
//!
//! Folders: one per followed cluster under `--path` (default `$CAIRN_FOLLOW_PATH` or
//! `~/.cairn-follow`, as ipfs-cluster-follow's `~/.ipfs-cluster-follow`), each holding
//! `service.json`, `identity.json`, `source`, the store and the API sockets.
//!
//! # Invariants
//! - A cluster name is one path segment of letters, digits, `.`, `_` or `-`: it never
//!   reaches outside `--path`.
//! - `init` never overwrites a follower's folder; `run` refuses a configuration that is not
//!   a follower's (`cluster.follower_mode`).

mod fetch;
mod init;
pub mod publish;
mod run;
mod show;

use std::path::{Path, PathBuf};

use super::{CliError, logging};

pub use run::serve;

/// Arguments of `cairn follow`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder holding one sub-folder per followed cluster (default: $CAIRN_FOLLOW_PATH or
    /// ~/.cairn-follow).
    #[arg(long, env = "CAIRN_FOLLOW_PATH", value_name = "DIR")]
    path: Option<PathBuf>,
    /// The followed cluster's name (its folder under --path); without it, the configured
    /// clusters are listed.
    name: Option<String>,
    /// What to do with it (default: info).
    #[command(subcommand)]
    command: Option<FollowCommand>,
}

/// `cairn follow NAME <command>`.
#[derive(Debug, clap::Subcommand)]
pub enum FollowCommand {
    /// Fetch a cluster's published configuration and write this follower's folder with a new
    /// identity.
    Init(init::Args),
    /// Run the follower (its embedded IPFS node unless the configuration names a daemon)
    /// until Ctrl-C.
    Run,
    /// Show the follower's folder, source, peer id, trusted peers and how far behind it is.
    Info,
    /// List the followed pins and their status here (from the store when stopped).
    List,
}

/// Runs `cairn follow`.
pub fn run(args: Args, log_flags: &logging::Flags) -> Result<(), CliError> {
    let base = base_dir(args.path);
    let Some(name) = args.name else {
        return show::clusters(&base);
    };
    check_name(&name)?;
    let dir = base.join(&name);
    match args.command {
        Some(FollowCommand::Init(init)) => init::run(&dir, &name, init),
        Some(FollowCommand::Run) => run::run(&dir, &name, log_flags),
        Some(FollowCommand::Info) | None => show::info(&dir, &name),
        Some(FollowCommand::List) => show::list(&dir, &name),
    }
}

fn base_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".cairn-follow")
    })
}

/// `name` must be one path segment of letters, digits, `.`, `_`, `-` (not `.` or `..`).
fn check_name(name: &str) -> Result<(), CliError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name == "." || name == ".." || !name.chars().all(allowed) {
        return Err(CliError::Config(format!(
            "{name:?} is not a cluster name: use letters, digits, '.', '_' or '-'"
        )));
    }
    Ok(())
}

/// The file a running follower records its REST API's address in (removed when it stops).
const REST_ADDRESS: &str = "rest-address";

/// Whether `dir` holds a follower configuration.
fn configured(dir: &Path) -> bool {
    dir.join("service.json").is_file()
}

/// The error for a follower folder that is missing.
fn not_configured(dir: &Path, name: &str) -> CliError {
    CliError::Config(format!(
        "no follower configuration for {name:?} in {}: run `cairn follow {name} init <source>` first",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_name_is_one_safe_path_segment() {
        for good in ["c1", "my.cluster", "a_b-c"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "é"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
