//! The snapshot directory: snapshot files, `current.json` naming the latest, and the
//! temporary files of snapshots being built or received.
//!
//! # Invariants
//! - A snapshot file is published atomically: written completely to a `*.tmp` file, fsync'd,
//!   renamed to `<id>.snap`; then `current.json` (written the same way) names it with its
//!   meta, size and SHA-256; then the directory is fsync'd, and only then is the previous
//!   snapshot removed. A crash at any point leaves `current.json` naming a complete file.
//! - Leftovers of a crash (`*.tmp`, snapshot files `current.json` does not name) are removed
//!   when the directory is opened.
//! - [`check`] finds a `current.json` that cannot be read, or a snapshot missing or not matching
//!   its recorded size and SHA-256.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use openraft::SnapshotMeta;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{NodeId, PeerNode, StorageError, any_error};

const CURRENT: &str = "current.json";

type Meta = SnapshotMeta<NodeId, PeerNode>;

pub(super) fn snap_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::from(openraft::StorageIOError::write_snapshot(None, any_error(e)))
}

/// A snapshot file's size and SHA-256 (hex).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Digest {
    pub(super) bytes: u64,
    pub(super) sha256: String,
}

/// What `current.json` records about the latest snapshot.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Current {
    pub(super) meta: Meta,
    pub(super) file: String,
    /// Absent in snapshots published before it was recorded.
    #[serde(default)]
    pub(super) digest: Option<Digest>,
}

/// The directory; clones share the counter and the list of files being received.
#[derive(Clone, Debug)]
pub(super) struct SnapshotDir {
    path: PathBuf,
    counter: Arc<AtomicU64>,
    receiving: Arc<Mutex<Vec<PathBuf>>>,
}

impl SnapshotDir {
    /// Creates `path` if needed and removes what a crash left there.
    pub(super) fn open(path: &Path) -> Result<Self, StorageError> {
        crate::files::create_private_dir(path).map_err(snap_err)?;
        let dir = Self {
            path: path.to_path_buf(),
            counter: Arc::new(AtomicU64::new(0)),
            receiving: Arc::default(),
        };
        dir.remove_leftovers()?;
        Ok(dir)
    }

    fn remove_leftovers(&self) -> Result<(), StorageError> {
        let current = self.current()?.map(|c| c.file);
        for entry in std::fs::read_dir(&self.path).map_err(snap_err)? {
            let entry = entry.map_err(snap_err)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale =
                name.ends_with(".tmp") || (name.ends_with(".snap") && current.as_ref() != Some(&name));
            if stale {
                tracing::info!(file = %entry.path().display(), "removing a snapshot file left by a crash");
                std::fs::remove_file(entry.path()).map_err(snap_err)?;
            }
        }
        Ok(())
    }

    /// A number unique within this process (temporary names, snapshot ids).
    pub(super) fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::SeqCst)
    }

    /// The path of the file `name` in the directory.
    pub(super) fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// A fresh temporary path.
    pub(super) fn temp_file(&self) -> PathBuf {
        self.path
            .join(format!("incoming-{}-{}.tmp", std::process::id(), self.next()))
    }

    /// What `current.json` says, if there is one.
    pub(super) fn current(&self) -> Result<Option<Current>, StorageError> {
        read_current(&self.path).map_err(|(_, reason)| snap_err(reason))
    }

    /// Makes `file` (complete and synced, with `digest`) the current snapshot described by `meta`.
    pub(super) fn publish(&self, meta: &Meta, file: &Path, digest: Digest) -> Result<(), StorageError> {
        let name = format!("{}.snap", meta.snapshot_id);
        std::fs::rename(file, self.path.join(&name)).map_err(snap_err)?;
        let previous = self.current()?;
        let record = Current {
            meta: meta.clone(),
            file: name.clone(),
            digest: Some(digest),
        };
        let bytes = serde_json::to_vec(&record).map_err(snap_err)?;
        let temp = self.path.join("current.json.tmp");
        write_synced(&temp, &bytes)?;
        std::fs::rename(&temp, self.path.join(CURRENT)).map_err(snap_err)?;
        sync_dir(&self.path)?;
        if let Some(old) = previous.filter(|old| old.file != name) {
            let _ = std::fs::remove_file(self.path.join(old.file));
        }
        Ok(())
    }

    /// Remembers `path` as a file a snapshot is being received into.
    pub(super) fn receiving(&self, path: PathBuf) {
        if let Ok(mut receiving) = self.receiving.lock() {
            receiving.push(path);
        }
    }

    /// The path of a received snapshot file; other files still listed as receiving belong to
    /// abandoned transfers and are removed. `None` when `file` is not one of them (openraft
    /// may install any snapshot file).
    pub(super) fn received_path(&self, file: &std::fs::File) -> Result<Option<PathBuf>, StorageError> {
        use std::os::unix::fs::MetadataExt;
        let inode = file.metadata().map_err(snap_err)?.ino();
        let paths = match self.receiving.lock() {
            Ok(mut receiving) => std::mem::take(&mut *receiving),
            Err(_) => Vec::new(),
        };
        let mut found = None;
        for path in paths {
            match std::fs::metadata(&path) {
                Ok(m) if m.ino() == inode && found.is_none() => found = Some(path),
                _ => drop(std::fs::remove_file(&path)),
            }
        }
        Ok(found)
    }

    /// A synced copy of `file` in a new temporary file.
    pub(super) fn copy_to_temp(&self, file: &std::fs::File) -> Result<PathBuf, StorageError> {
        let temp = self.temp_file();
        let mut copy = std::fs::File::create(&temp).map_err(snap_err)?;
        let mut source = file;
        std::io::Seek::rewind(&mut source).map_err(snap_err)?;
        std::io::copy(&mut source, &mut copy).map_err(snap_err)?;
        copy.sync_all().map_err(snap_err)?;
        Ok(temp)
    }
}

/// The latest published snapshot, as it is served to a follower (`pinlog::source`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// Its id (`<index>-<n>`).
    pub id: String,
    /// The log index it is at (0: nothing applied).
    pub index: u64,
    /// The file.
    pub path: PathBuf,
    /// Its SHA-256 (hex), when recorded.
    pub sha256: Option<String>,
}

/// What `current.json` in `dir` names, if anything; the file at fault and why when it does
/// not parse.
pub fn published(dir: &Path) -> Result<Option<Published>, (PathBuf, String)> {
    Ok(read_current(dir)?.map(|current| Published {
        id: current.meta.snapshot_id,
        index: current.meta.last_log_id.map_or(0, |l| l.index),
        path: dir.join(&current.file),
        sha256: current.digest.map(|d| d.sha256),
    }))
}

fn read_current(dir: &Path) -> Result<Option<Current>, (PathBuf, String)> {
    let path = dir.join(CURRENT);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| (path, format!("it does not parse: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err((path, e.to_string())),
    }
}

/// Checks that `current.json` in `dir` parses and names a snapshot of the recorded size and
/// SHA-256; the file at fault and why when not.
pub(super) fn check(dir: &Path) -> Result<(), (PathBuf, String)> {
    let Some(current) = read_current(dir)? else {
        return Ok(());
    };
    let path = dir.join(&current.file);
    let file = std::fs::File::open(&path).map_err(|e| {
        (
            path.clone(),
            format!("current.json names it but it cannot be opened: {e}"),
        )
    })?;
    let Some(want) = current.digest else {
        return Ok(());
    };
    let mut reader = Hashing::new(std::io::BufReader::new(file));
    std::io::copy(&mut reader, &mut std::io::sink()).map_err(|e| (path.clone(), e.to_string()))?;
    let got = reader.digest();
    if got != want {
        return Err((
            path,
            format!(
                "it holds {} bytes with SHA-256 {}, but current.json recorded {} bytes with SHA-256 {}",
                got.bytes, got.sha256, want.bytes, want.sha256
            ),
        ));
    }
    Ok(())
}

/// fsync of a directory, so that the renames in it survive a crash.
fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(snap_err)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let mut file = std::fs::File::create(path).map_err(snap_err)?;
    file.write_all(bytes).map_err(snap_err)?;
    file.sync_all().map_err(snap_err)
}

/// Counts and hashes the bytes that pass through a reader or writer.
pub(super) struct Hashing<T> {
    inner: T,
    hasher: Sha256,
    bytes: u64,
}

impl<T> Hashing<T> {
    pub(super) fn new(inner: T) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The size and SHA-256 of what passed so far.
    pub(super) fn digest(&self) -> Digest {
        let sha = self.hasher.clone().finalize();
        Digest {
            bytes: self.bytes,
            sha256: sha.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    pub(super) fn into_inner(self) -> T {
        self.inner
    }

    fn count(&mut self, data: &[u8]) {
        self.hasher.update(data);
        self.bytes += data.len() as u64;
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count(&buf[..n]);
        Ok(n)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
