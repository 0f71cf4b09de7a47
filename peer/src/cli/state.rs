//! `cairn state export|import|clean`: the local pinset, with the daemon stopped.
//!
//! `export` writes one Pin JSON per line (ipfs-cluster's `state export` format). `import` and
//! `clean` replace this peer's consensus data: they remove the Raft log and snapshots, so the
//! next `cairn daemon` starts a new one-member cluster whose state is the imported pinset
//! (other peers then join it and receive that state as a snapshot). Both need `--force`.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::CliError;
use crate::consensus::state_machine::StateMachine;
use crate::state::{self, PinOp, PinStore};

/// `cairn state …`.
#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// Write the pinset as ndjson (one Pin per line) to stdout or a file.
    Export {
        /// Write here instead of stdout.
        #[arg(long, short)]
        file: Option<PathBuf>,
    },
    /// Replace this peer's state with an export (the daemon must be stopped).
    Import {
        /// The ndjson export to read.
        file: PathBuf,
        /// Confirm that the current state and Raft log are replaced.
        #[arg(long)]
        force: bool,
    },
    /// Remove this peer's pinset and Raft data (the daemon must be stopped).
    Clean {
        /// Confirm.
        #[arg(long)]
        force: bool,
    },
}

fn open(dir: &Path) -> anyhow::Result<std::sync::Arc<redb::Database>> {
    state::open(&dir.join("state.redb")).map_err(|e| {
        anyhow::anyhow!(
            "{e} (is `cairn daemon` running on {}? stop it first)",
            dir.display()
        )
    })
}

/// Runs a `cairn state` command on the config directory `dir`.
pub(super) fn run(dir: &Path, command: StateCommand) -> Result<(), CliError> {
    match command {
        StateCommand::Export { file } => export(dir, file),
        StateCommand::Import { force: false, .. } | StateCommand::Clean { force: false } => Err(
            CliError::Config("this replaces the peer's state and Raft log; confirm with --force".into()),
        ),
        StateCommand::Import { file, .. } => import(dir, &file),
        StateCommand::Clean { .. } => Ok(reset(dir, Vec::new()).map(|_| ())?),
    }
}

fn export(dir: &Path, file: Option<PathBuf>) -> Result<(), CliError> {
    let store = PinStore::new(open(dir)?);
    let count = match file {
        Some(path) => store.export(std::io::BufWriter::new(
            std::fs::File::create(&path).context("creating the export")?,
        )),
        None => store.export(std::io::stdout().lock()),
    }
    .context("exporting")?;
    eprintln!("exported {count} pins");
    Ok(())
}

fn import(dir: &Path, file: &Path) -> Result<(), CliError> {
    let reader =
        BufReader::new(std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?);
    let pins = state::read_export(reader)
        .collect::<Result<Vec<_>, _>>()
        .context("reading the export")?;
    let count = reset(dir, pins)?;
    eprintln!("imported {count} pins; the next `cairn daemon` starts a new cluster with them");
    Ok(())
}

/// Replaces the pinset with `pins` and removes the Raft log and snapshots.
fn reset(dir: &Path, pins: Vec<crate::api::Pin>) -> anyhow::Result<usize> {
    let db = open(dir)?;
    let txn = db.begin_write()?;
    state::clear(&txn)?;
    let mut writer = state::PinsWriter::open(&txn)?;
    for pin in &pins {
        writer.apply(&PinOp::Pin(Box::new(pin.clone())))?;
    }
    drop(writer);
    txn.commit()?;
    StateMachine::forget_raft(&db).map_err(|e| anyhow::anyhow!("{e}"))?;
    remove_if_present(&dir.join("raft-log.redb"))?;
    match std::fs::remove_dir_all(dir.join("snapshots")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    Ok(pins.len())
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// Writes a human-readable backup of the pinset (`backups/pinset-<unix secs>.ndjson`),
/// keeping the newest [`KEEP_BACKUPS`].
pub fn backup(dir: &Path, store: &PinStore) -> anyhow::Result<PathBuf> {
    let folder = dir.join("backups");
    crate::files::create_private_dir(&folder)?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let path = folder.join(format!("pinset-{secs}.ndjson"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    store.export(&mut out)?;
    out.flush()?;
    let mut old: Vec<PathBuf> = std::fs::read_dir(&folder)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    old.sort();
    for stale in old.iter().rev().skip(KEEP_BACKUPS) {
        let _ = std::fs::remove_file(stale);
    }
    Ok(path)
}

/// Backups kept in `backups/`.
pub const KEEP_BACKUPS: usize = 5;
