//! Logging for the `cairn` binary: lines for people on stderr (or JSON, one object per line),
//! Cairn's own events at INFO and dependencies at WARN by default ([`levels`]), and each
//! API's access log on its own target, optionally in its own file.
//!
//! Which filter applies: `--loglevel` (ipfs-cluster-service's habit, also `CAIRN_LOGLEVEL`),
//! else `RUST_LOG` (tracing's full syntax), else [`levels::DEFAULT`]. An access target routed
//! to a file (`api.ipfsproxy.log_file`, `api.restapi.http_log_file`,
//! `api.pinsvcapi.http_log_file`) is written there instead of stderr, always at INFO.
//!
//! # Invariants
//! - A request never waits on a log write: lines are appended to a buffer that a writer
//!   thread writes in batches ([`batch`]), still one line per event, none dropped.
//! - Every line logged is written before the process exits normally: [`Guards`] flushes
//!   the writers when it is dropped, which each command's `run` does as it returns.
//! - A bad `--loglevel` or `RUST_LOG` is a configuration error: nothing starts.

mod batch;
pub mod files;
pub mod levels;

use std::fs::{File, OpenOptions};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use tracing_subscriber::filter::{EnvFilter, FilterExt, Targets, filter_fn};
use tracing_subscriber::prelude::*;
use tracing_subscriber::{Layer, Registry};

/// The log flags every command accepts (before or after the subcommand).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Flags {
    /// Log levels, as ipfs-cluster-service's --loglevel: a level for Cairn's own events
    /// (`info`, `debug`, …) and `component:level` pairs (`raft:debug`, `pintracker:debug`,
    /// or any tracing target: `openraft:info`). Default: Cairn at info, dependencies at warn.
    /// Without it, RUST_LOG (tracing's syntax) applies when set.
    #[arg(long, global = true, env = "CAIRN_LOGLEVEL", value_name = "LEVELS")]
    pub loglevel: Option<String>,
    /// Log line format: `text` for people, `json` for log collectors (one object per line).
    #[arg(long, global = true, env = "CAIRN_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: Format,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per event for people (colours on a terminal).
    #[default]
    Text,
    /// One JSON object per event: `timestamp`, `level`, `target`, `message` and the fields.
    Json,
}

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// `--loglevel` does not parse.
    #[error(transparent)]
    Levels(#[from] levels::LevelsError),
    /// `RUST_LOG` does not parse.
    #[error("RUST_LOG: {0}")]
    RustLog(#[source] tracing_subscriber::filter::ParseError),
    /// A log file cannot be opened for appending.
    #[error("cannot open log file {path}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A writer thread could not start.
    #[error("cannot start a log writer")]
    Writer(#[source] std::io::Error),
    /// A subscriber was installed already.
    #[error("logging was set up twice")]
    Installed(#[source] tracing_subscriber::util::TryInitError),
}

/// An access log target and the file its lines go to.
pub struct Routed<'a> {
    /// The `tracing` target (`cairn_gateway::access_log::TARGET`, …).
    pub target: &'static str,
    /// The file, appended to.
    pub file: &'a Path,
}

/// Keeps the writer threads alive; dropping it writes out what is queued.
#[must_use = "dropping the guards stops the log writers"]
pub(crate) struct Guards(#[allow(dead_code)] Vec<batch::Guard>);

type Boxed = Box<dyn Layer<Registry> + Send + Sync>;

/// Installs the global subscriber: stderr, and one file per entry of `routed`.
pub(crate) fn init(flags: &Flags, routed: &[Routed<'_>]) -> Result<Guards, LogError> {
    let filter = filter(flags)?;
    let (stderr_writer, stderr_guard) =
        batch::Batched::new("cairn-log", std::io::stderr()).map_err(LogError::Writer)?;
    let mut guards = vec![stderr_guard];
    let elsewhere: Vec<&'static str> = routed.iter().map(|r| r.target).collect();
    let not_routed = filter_fn(move |meta| !elsewhere.iter().any(|t| meta.target().starts_with(t)));
    let ansi = flags.log_format == Format::Text && std::io::stderr().is_terminal();
    let mut layers: Vec<Boxed> = vec![formatted(
        flags.log_format,
        stderr_writer,
        ansi,
        filter.and(not_routed),
    )];
    for route in routed {
        let file = open_append(route.file)?;
        let (writer, guard) = batch::Batched::new("cairn-access-log", file).map_err(LogError::Writer)?;
        guards.push(guard);
        let only = Targets::new().with_target(route.target, tracing::Level::INFO);
        layers.push(formatted(flags.log_format, writer, false, only));
    }
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(LogError::Installed)?;
    Ok(Guards(guards))
}

/// The filter for stderr: `--loglevel`, else `RUST_LOG`, else the default.
fn filter(flags: &Flags) -> Result<EnvFilter, LogError> {
    let directives = match (&flags.loglevel, std::env::var("RUST_LOG")) {
        (Some(spec), _) => levels::directives(spec)?,
        (None, Ok(rust_log)) if !rust_log.trim().is_empty() => rust_log,
        (None, _) => levels::DEFAULT.to_owned(),
    };
    EnvFilter::try_new(directives).map_err(LogError::RustLog)
}

/// A fmt layer writing `format` to `writer`, behind `filter`.
fn formatted<W, F>(format: Format, writer: W, ansi: bool, filter: F) -> Boxed
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
    F: tracing_subscriber::layer::Filter<Registry> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        Format::Text => layer.with_filter(filter).boxed(),
        Format::Json => layer
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
    }
}

fn open_append(path: &Path) -> Result<File, LogError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| LogError::File {
            path: path.to_owned(),
            source,
        })
}
