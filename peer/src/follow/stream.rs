//! The follower's side: pulls the applied log from one trusted peer at a time into the local
//! [`FollowStore`], takes a snapshot when its index is purged there, and moves to another
//! trusted peer when one fails.
//!
//! # Invariants
//! - Only trusted peers (`cluster.trusted_peers`) are asked; a member or configured address
//!   that is not trusted is never a source (logged once). Whatever the follower applies came
//!   from a trusted peer's applied (committed) log.
//! - It never sends a write: its only calls are `follow`, `follow.snapshot` and `block`.
//! - It resumes from the store's applied index (after a restart, a disconnect, or a switch):
//!   log indexes are Raft's, the same at every trusted peer.
//! - A downloaded snapshot reaches the store only whole and, when the trusted peer recorded
//!   its SHA-256, matching it.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::store::FollowStore;
use crate::consensus::{MemberList, PeerNode};
use crate::pinlog::wire::{ChunkAsk, FollowAsk, FollowReply};
use crate::rpc::{Client, RpcError, Trusted};
use crate::state::StateError;

/// The longest pause between two attempts when every trusted peer fails.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Why following a trusted peer stopped (the follower moves to another).
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The trusted peer could not be asked or failed.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The local store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// Writing the downloaded snapshot failed.
    #[error("writing the downloaded snapshot")]
    Io(#[source] std::io::Error),
    /// The snapshot did not arrive as announced.
    #[error("snapshot from {peer}: {reason}")]
    Snapshot {
        /// The trusted peer.
        peer: String,
        /// What was wrong.
        reason: String,
    },
}

/// How far the follower is, for `info`, its REST API and its metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// The trusted peer it follows now (`None` before the first answer).
    pub source: Option<String>,
    /// Its last applied log index.
    pub applied: u64,
    /// The source's last applied index at its last answer.
    pub cluster_applied: u64,
    /// Snapshots installed since start.
    pub snapshots: u64,
    /// When a trusted peer last answered (Unix seconds).
    pub last_contact: Option<u64>,
    /// The last failure, if the follower is not following now.
    pub last_error: Option<String>,
}

impl Progress {
    /// Log entries the follower lacks of what its source has applied.
    pub fn behind(&self) -> u64 {
        self.cluster_applied.saturating_sub(self.applied)
    }
}

/// The trusted peers the follower may use, with their addresses as last learned; cheap to
/// clone. Also the member list of the follower's block exchange.
#[derive(Clone, Debug)]
pub struct Sources {
    trusted: Trusted,
    known: Arc<Mutex<Vec<PeerNode>>>,
    ignored: Arc<Mutex<HashSet<String>>>,
}

impl Sources {
    /// From `cluster.trusted_peers` and the configured addresses (`cluster.peer_addresses`,
    /// `/…/p2p/<id>`): the trusted ones are sources, the others are logged and ignored.
    pub fn new(trusted_ids: &[String], addresses: &[String]) -> Self {
        let sources = Self {
            trusted: Trusted::new(trusted_ids),
            known: Arc::new(Mutex::new(Vec::new())),
            ignored: Arc::new(Mutex::new(HashSet::new())),
        };
        for id in trusted_ids.iter().filter(|id| id.trim() != "*") {
            sources.learn(PeerNode {
                peer_id: id.trim().to_owned(),
                addrs: Vec::new(),
            });
        }
        for addr in addresses {
            let parsed = addr.parse().ok().and_then(|a| crate::net::split_p2p(&a));
            match parsed {
                Some((peer, _)) => sources.learn(PeerNode {
                    peer_id: peer.to_base58(),
                    addrs: vec![addr.clone()],
                }),
                None => tracing::warn!(addr, "cluster.peer_addresses: no /p2p/<peer id>; ignored"),
            }
        }
        sources
    }

    /// Adds `node`, or its addresses to the one known, when it is trusted; else logs it once.
    pub fn learn(&self, node: PeerNode) {
        let trusted = node.peer_id.parse().is_ok_and(|peer| self.trusted.allows(&peer));
        if !trusted {
            let fresh = lock(&self.ignored).insert(node.peer_id.clone());
            if fresh {
                tracing::info!(
                    peer = %node.peer_id,
                    "not a trusted peer: the follower takes no changes from it (cluster.trusted_peers)"
                );
            }
            return;
        }
        let mut known = lock(&self.known);
        match known.iter_mut().find(|k| k.peer_id == node.peer_id) {
            Some(existing) => {
                for addr in node.addrs {
                    if !existing.addrs.contains(&addr) {
                        existing.addrs.push(addr);
                    }
                }
            }
            None => known.push(node),
        }
    }

    /// The trusted peer ids, for messages ("write through …").
    pub fn ids(&self) -> Vec<String> {
        lock(&self.known).iter().map(|k| k.peer_id.clone()).collect()
    }
}

impl MemberList for Sources {
    fn list(&self) -> Vec<PeerNode> {
        lock(&self.known).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the follower loop uses.
pub struct StreamInputs {
    /// This follower's peer id.
    pub me: String,
    /// The peer RPC.
    pub rpc: Client,
    /// The local store.
    pub store: FollowStore,
    /// Where it may follow from.
    pub sources: Sources,
    /// Where a snapshot is downloaded to before it is installed.
    pub download: PathBuf,
    /// How long one request may take (`consensus.raft.network_timeout`): a long poll waits
    /// half of it.
    pub request_timeout: Duration,
}

/// Starts following; the progress as it moves.
pub fn spawn(inputs: StreamInputs) -> watch::Receiver<Progress> {
    let applied = inputs.store.applied().unwrap_or_default();
    let (progress, watching) = watch::channel(Progress {
        applied,
        ..Progress::default()
    });
    tokio::spawn(Stream { inputs, progress }.run());
    watching
}

struct Stream {
    inputs: StreamInputs,
    progress: watch::Sender<Progress>,
}

impl Stream {
    /// Follows one trusted peer after another; after a whole round of failures it waits
    /// longer each time (up to [`MAX_BACKOFF`]), and starts over once one answers.
    async fn run(self) {
        const FIRST: Duration = Duration::from_millis(200);
        // Followers start at different trusted peers, so that they spread over them.
        let mut next = usize::from(crate::consensus::node_id(&self.inputs.me) as u16);
        let mut backoff = FIRST;
        loop {
            let candidates = self.inputs.sources.list();
            let Some(source) = candidates.get(next % candidates.len().max(1)).cloned() else {
                self.failed("no trusted peer is known (cluster.trusted_peers, cluster.peer_addresses)");
                tokio::time::sleep(MAX_BACKOFF).await;
                continue;
            };
            let mut answered = false;
            match self.follow_from(&source, &mut answered).await {
                Ok(()) => return,
                Err(e) => {
                    let reason = format!("{:#}", anyhow::Error::from(e));
                    tracing::warn!(peer = %source.peer_id, error = %reason, "trusted peer failed; trying another");
                    self.failed(&reason);
                }
            }
            if answered {
                backoff = FIRST;
            }
            next += 1;
            if next % candidates.len() == 0 {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            } else {
                tokio::time::sleep(FIRST).await;
            }
        }
    }

    fn failed(&self, reason: &str) {
        self.progress.send_modify(|p| {
            p.source = None;
            p.last_error = Some(reason.to_owned());
        });
    }

    /// Follows `source` until it fails (or the network stops: `Ok`).
    async fn follow_from(&self, source: &PeerNode, answered: &mut bool) -> Result<(), FollowError> {
        let wait_ms = u64::try_from(self.inputs.request_timeout.as_millis() / 2).unwrap_or(u64::MAX);
        let mut announced = false;
        loop {
            let after = self.inputs.store.applied()?;
            let ask = FollowAsk { after, wait_ms };
            match self.inputs.rpc.follow(source, ask).await {
                Err(RpcError::Net(crate::net::NetError::Stopped)) => return Ok(()),
                Err(e) => return Err(e.into()),
                Ok(FollowReply::Changes {
                    ops,
                    through,
                    applied,
                    members,
                }) => {
                    *answered = true;
                    if !announced {
                        tracing::info!(peer = %source.peer_id, after, "following the cluster through a trusted peer");
                        announced = true;
                    }
                    if through > after {
                        self.apply(ops, through).await?;
                    }
                    members.into_iter().for_each(|m| self.inputs.sources.learn(m));
                    self.progress.send_modify(|p| {
                        p.source = Some(source.peer_id.clone());
                        p.applied = through.max(after);
                        p.cluster_applied = applied;
                        p.last_contact = unix_now();
                        p.last_error = None;
                    });
                }
                Ok(FollowReply::SnapshotNeeded { index }) => {
                    tracing::info!(peer = %source.peer_id, after, index, "the log after this follower's index is purged there: taking its snapshot");
                    self.take_snapshot(source).await?;
                }
            }
        }
    }

    async fn apply(&self, ops: Vec<(u64, crate::state::PinOp)>, through: u64) -> Result<(), FollowError> {
        let store = self.inputs.store.clone();
        tokio::task::spawn_blocking(move || store.apply(&ops, through))
            .await
            .map_err(|e| StateError::Db(e.to_string()))??;
        Ok(())
    }

    /// Downloads `source`'s current snapshot and installs it.
    async fn take_snapshot(&self, source: &PeerNode) -> Result<(), FollowError> {
        let peer = source.peer_id.clone();
        let bad = |reason: String| FollowError::Snapshot {
            peer: peer.clone(),
            reason,
        };
        let path = self.inputs.download.clone();
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).map_err(FollowError::Io)?);
        let (mut hasher, mut ask) = (
            Sha256::new(),
            ChunkAsk {
                snapshot: None,
                offset: 0,
            },
        );
        let (index, sha256) = loop {
            let chunk = self.inputs.rpc.follow_snapshot(source, ask.clone()).await?;
            if ask.snapshot.as_ref().is_some_and(|id| *id != chunk.snapshot) {
                return Err(bad(format!(
                    "asked for {:?}, got {}",
                    ask.snapshot, chunk.snapshot
                )));
            }
            hasher.update(&chunk.data);
            file.write_all(&chunk.data).map_err(FollowError::Io)?;
            let offset = ask.offset + chunk.data.len() as u64;
            if offset >= chunk.total {
                break (chunk.index, chunk.sha256);
            }
            if chunk.data.is_empty() {
                return Err(bad(format!("an empty chunk at {offset} of {}", chunk.total)));
            }
            ask = ChunkAsk {
                snapshot: Some(chunk.snapshot),
                offset,
            };
        };
        file.into_inner()
            .map_err(|e| FollowError::Io(e.into_error()))?
            .sync_all()
            .map_err(FollowError::Io)?;
        let got = format!("{:x}", hasher.finalize());
        if let Some(want) = sha256.filter(|want| *want != got) {
            return Err(bad(format!("SHA-256 {got}, recorded {want}")));
        }
        let store = self.inputs.store.clone();
        let (file_path, cleanup) = (path.clone(), path);
        let pins = tokio::task::spawn_blocking(move || store.install(&file_path, index))
            .await
            .map_err(|e| StateError::Db(e.to_string()))?;
        let _ = std::fs::remove_file(cleanup);
        let pins = pins?;
        tracing::info!(peer = %source.peer_id, index, pins, "installed the pinset snapshot of a trusted peer");
        self.progress.send_modify(|p| {
            p.applied = index;
            p.snapshots += 1;
        });
        Ok(())
    }
}

fn unix_now() -> Option<u64> {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}
