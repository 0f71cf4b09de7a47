//! The `cairn` command line: argument parsing, config loading, logging, signals.
//!
//! The peer's own commands (`init`, `daemon`, `gateway`, `node`, `state`) and the client
//! commands of ipfs-cluster-ctl (`id`, `add`, `pin`, `status`, `recover`, `sync`, `health`,
//! `peers`), whose global flags (`client::Global`) go before or after the subcommand;
//! `completion` and `man` are generated from these definitions (docs/cli.md).
//!
//! # Invariants
//! - Configuration is read and validated before anything binds; a bad value exits with
//!   code 64 (`EX_USAGE`) and a message naming the key.
//! - Ctrl-C and SIGTERM shut down gracefully.
//!
//! # Not here
//! What a command does once configured belongs to the library modules it calls.

mod add;
pub mod client;
pub mod daemon;
mod docs;
pub mod follow;
pub mod gateway;
mod graph;
pub mod init;
pub mod ipfs;
pub mod logging;
mod multipart;
pub mod pin;
pub mod state;
pub mod status;
#[cfg(test)]
mod tests;
mod wait;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for configuration errors (`EX_USAGE` from sysexits.h).
pub const EXIT_CONFIG: u8 = 64;
/// Exit status when a file of the data directory is damaged (sysexits' `EX_DATAERR`).
pub const EXIT_DAMAGED: u8 = 65;

/// Cairn: an IPFS-API-compatible gateway in front of composite IPFS clusters.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about)]
pub struct Cli {
    /// Configuration directory holding service.json (default: $CAIRN_PATH or ~/.cairn).
    #[arg(long, global = true, env = "CAIRN_PATH", value_name = "DIR")]
    pub config: Option<PathBuf>,
    /// The client commands' REST API address, encoding, credentials, timeout and debug output
    /// (ipfs-cluster-ctl's global flags), before or after the subcommand.
    #[command(flatten)]
    pub global: client::Global,
    /// The daemons' log levels and format (`--loglevel`, `--log-format`).
    #[command(flatten)]
    pub logging: logging::Flags,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The `cairn` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write service.json and identity.json into the config directory.
    Init(init::Args),
    /// Run a cluster peer: consensus, the REST API and the gateway.
    Daemon(daemon::Args),
    /// Run the IPFS-API gateway alone in front of an upstream IPFS daemon.
    Gateway(gateway::Args),
    /// Run the embedded IPFS node (cairn-node) alone, serving kubo's RPC API.
    Node(ipfs::Args),
    /// Show the peer's identity (through its REST API).
    Id,
    /// Add files or directories to the peer's IPFS daemon and pin them in the cluster.
    Add(add::Args),
    /// Pin, update, unpin and list pins in the cluster (through a peer's REST API).
    Pin {
        /// What to do.
        #[command(subcommand)]
        command: pin::PinCommand,
    },
    /// Where pins stand on every peer (through a peer's REST API).
    Status {
        /// CID, filter, local.
        #[command(flatten)]
        args: status::StatusArgs,
    },
    /// Retry failed pins now on every peer, then show their status.
    Recover {
        /// CID, filter, local.
        #[command(flatten)]
        args: status::StatusArgs,
    },
    /// Compare every peer's pins with its IPFS daemon now, then show the status.
    Sync {
        /// Filter, local.
        #[command(flatten)]
        args: status::StatusArgs,
    },
    /// Peer health: without a subcommand, whether the peer can serve (its consensus and store
    /// work; exits non-zero with the reason when not); alerts, metrics and the peer graph.
    Health {
        /// What to show.
        #[command(subcommand)]
        command: Option<status::HealthCommand>,
    },
    /// Export, import or clean this peer's local state (with the daemon stopped).
    State {
        /// What to do.
        #[command(subcommand)]
        command: state::StateCommand,
    },
    /// List or remove the cluster's peers (through a peer's REST API).
    Peers {
        /// What to do.
        #[command(subcommand)]
        command: pin::PeersCommand,
    },
    /// Follow a cluster's pinset read-only (ipfs-cluster-follow): list, init, run, info, list.
    Follow(follow::Args),
    /// Print the configuration followers of this cluster need, to publish (on a cluster peer).
    FollowConfig(follow::publish::Args),
    /// Print a shell completion script: `source <(cairn completion bash)`.
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into a directory.
    Man {
        /// Write cairn.1 and cairn-<command>.1 here instead of printing cairn.1.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Why a command could not run: a bad configuration (exit 64) or a failure while running (1).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The configuration is invalid; nothing was started.
    #[error("config error: {0}")]
    Config(String),
    /// A file of the data directory is damaged; nothing was started (see `integrity`).
    #[error(transparent)]
    Damaged(#[from] crate::integrity::Damaged),
    /// The command failed while running.
    #[error(transparent)]
    Run(#[from] anyhow::Error),
}

impl From<logging::LogError> for CliError {
    fn from(e: logging::LogError) -> Self {
        match e {
            logging::LogError::Levels(_) | logging::LogError::RustLog(_) => Self::Config(e.to_string()),
            other => Self::Run(other.into()),
        }
    }
}

/// Entry point of the `cairn` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Config(msg)) => {
            eprintln!("cairn: config error: {msg}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(CliError::Damaged(err)) => {
            eprintln!("cairn: {err}");
            ExitCode::from(EXIT_DAMAGED)
        }
        Err(CliError::Run(err)) => {
            eprintln!("cairn: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let dir = config_dir(cli.config);
    let global = &cli.global;
    match cli.command {
        Command::Init(args) => init::run(&dir, args),
        Command::Daemon(args) => daemon::run(&dir, args, &cli.logging),
        Command::Gateway(args) => gateway::run(&dir, args, &cli.logging),
        Command::Node(args) => ipfs::run(&dir, args, &cli.logging),
        Command::Id => pin::id(global),
        Command::Add(args) => add::run(global, &args),
        Command::Pin { command } => pin::pin(global, &command),
        Command::Peers { command } => pin::peers(global, &command),
        Command::State { command } => state::run(&dir, command),
        Command::Status { args } => status::status(global, &args),
        Command::Recover { args } => status::recover(global, &args),
        Command::Sync { args } => status::sync(global, &args),
        Command::Health { command } => status::health(global, &command),
        Command::Follow(args) => follow::run(args, &cli.logging),
        Command::FollowConfig(args) => follow::publish::run(&dir, global, &args),
        Command::Completion { shell } => docs::completion(shell),
        Command::Man { dir } => docs::man(dir.as_deref()),
    }
}

fn config_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".cairn")
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(err) => {
            tracing::warn!(error = %err, "cannot watch SIGTERM; only Ctrl-C stops cairn");
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
