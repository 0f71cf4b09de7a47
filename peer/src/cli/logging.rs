//! Logging for the `cairn` binary: human-readable lines on stderr, filtered by `RUST_LOG`
//! (default `info`), and optionally the gateway's access log appended to `log_file`.

use std::fs::{File, OpenOptions};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::prelude::*;

/// Installs the global subscriber; `access_log` receives `cairn::access` events as well.
pub(crate) fn init(access_log: Option<&Path>) -> anyhow::Result<()> {
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")));
    let file = access_log.map(open_append).transpose()?.map(|file| {
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(Mutex::new(file))
            .with_filter(Targets::new().with_target(cairn_gateway::access_log::TARGET, tracing::Level::INFO))
    });
    tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init()?;
    Ok(())
}

fn open_append(path: &Path) -> anyhow::Result<File> {
    use anyhow::Context;
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open log_file {}", path.display()))
}
