//! Logging for the `cairn` binary: human-readable lines on stderr, filtered by `RUST_LOG`
//! (default `info`), and optionally the gateway's access log appended to `log_file`.
//!
//! # Invariants
//! - A request never waits on a log write: lines are appended to a buffer that a writer
//!   thread writes in batches ([`batch`]), still one line per event, none dropped.
//! - Every line logged is written before the process exits normally: [`Guards`] flushes
//!   the writers when it is dropped, which each command's `run` does as it returns.

mod batch;

use std::fs::{File, OpenOptions};
use std::io::IsTerminal;
use std::path::Path;

use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::prelude::*;

/// Keeps the writer threads alive; dropping it writes out what is queued.
#[must_use = "dropping the guards stops the log writers"]
pub(crate) struct Guards(#[allow(dead_code)] Vec<batch::Guard>);

/// Installs the global subscriber; `access_log` receives `cairn::access` events as well.
pub(crate) fn init(access_log: Option<&Path>) -> anyhow::Result<Guards> {
    let (stderr_writer, stderr_guard) = batch::Batched::new("cairn-log", std::io::stderr())?;
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(stderr_writer)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")));
    let mut guards = vec![stderr_guard];
    let file = match access_log.map(open_append).transpose()? {
        Some(file) => {
            let (file_writer, guard) = batch::Batched::new("cairn-access-log", file)?;
            guards.push(guard);
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(file_writer)
                    .with_filter(
                        Targets::new().with_target(cairn_gateway::access_log::TARGET, tracing::Level::INFO),
                    ),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init()?;
    Ok(Guards(guards))
}

fn open_append(path: &Path) -> anyhow::Result<File> {
    use anyhow::Context;
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open log_file {}", path.display()))
}
