//! A cluster of real `cairn daemon` processes under faults: peers that can be killed,
//! restarted, paused and resumed while clients run, and the final pinsets the checker
//! (`history`) judges.
//!
//! # Owns
//! - [`FaultCluster`]: the peers, their config directories and environment, and the
//!   addresses clients use now (a restarted peer gets new REST and gateway ports);
//! - the nemesis actions ([`FaultCluster::kill`], [`FaultCluster::restart`],
//!   [`FaultCluster::pause`], [`FaultCluster::resume`]), each recorded in the history;
//! - settling: [`FaultCluster::settle`] waits until every peer agrees on leader and applied
//!   index, and [`FaultCluster::finals`] reads every peer's pinset;
//! - the clients ([`workload`]).
//!
//! # Invariants
//! - Every action that changes a process is recorded as an event before it happens.
//! - A peer that is down has no address: clients that pick it record a failed connection
//!   (`Fail`: nothing was sent).

pub mod workload;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::cluster::{Dirs, listed, raft};
use crate::history::History;
use crate::process::{Peer, signal};

/// Where clients reach a live peer.
#[derive(Clone, Copy, Debug)]
pub struct Addrs {
    /// REST API.
    pub rest: SocketAddr,
    /// IPFS-API gateway.
    pub gateway: SocketAddr,
}

/// The addresses of every peer (`None`: down), shared with the clients.
pub type Live = Arc<RwLock<Vec<Option<Addrs>>>>;

/// Peers under test; see the module docs.
pub struct FaultCluster {
    /// Their config directories.
    pub dirs: Dirs,
    peers: Vec<Option<Peer>>,
    paused: Vec<bool>,
    env: Vec<(String, String)>,
    live: Live,
    history: History,
}

fn addrs(peer: &Peer) -> Addrs {
    Addrs {
        rest: peer.rest,
        gateway: peer.gateway,
    }
}

impl FaultCluster {
    /// Starts `n` peers with `env` (the first initialises, the others join through it) and
    /// waits until all are voters.
    pub async fn start(n: usize, env: &[(&str, &str)], history: History) -> anyhow::Result<Self> {
        let dirs = Dirs::init(n)?;
        let first = dirs.start(0, None, env)?;
        let mut peers = vec![];
        for i in 1..n {
            peers.push(dirs.start(i, Some(&first), env)?);
        }
        peers.insert(0, first);
        let live = Arc::new(RwLock::new(peers.iter().map(|p| Some(addrs(p))).collect()));
        let cluster = Self {
            dirs,
            peers: peers.into_iter().map(Some).collect(),
            paused: vec![false; n],
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            live,
            history,
        };
        cluster.settle(Duration::from_secs(120)).await?;
        Ok(cluster)
    }

    /// The addresses clients use.
    pub fn live(&self) -> Live {
        self.live.clone()
    }

    /// How many peers there are (up or down).
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// Peer `i`, if it is up.
    pub fn peer(&self, i: usize) -> Option<&Peer> {
        self.peers.get(i).and_then(Option::as_ref)
    }

    fn set_live(&self, i: usize, value: Option<Addrs>) {
        if let Ok(mut live) = self.live.write() {
            live[i] = value;
        }
    }

    /// `kill -9` of peer `i` (nothing if it is down).
    pub fn kill(&mut self, i: usize) -> anyhow::Result<()> {
        let Some(peer) = self.peers[i].take() else {
            return Ok(());
        };
        self.history.event(format!("kill -9 p{i}"));
        self.set_live(i, None);
        if self.paused[i] {
            signal(peer.pid(), "CONT")?;
            self.paused[i] = false;
        }
        peer.kill()
    }

    /// Starts peer `i` again on its directory (nothing if it is up); `extra` environment on
    /// top of the cluster's (e.g. failpoints).
    pub fn restart_with(&mut self, i: usize, extra: &[(&str, &str)]) -> anyhow::Result<()> {
        if self.peers[i].is_some() {
            return Ok(());
        }
        self.history.event(format!("restart p{i}"));
        let mut env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        env.extend_from_slice(extra);
        let peer = self.dirs.start(i, None, &env)?;
        self.set_live(i, Some(addrs(&peer)));
        self.peers[i] = Some(peer);
        Ok(())
    }

    /// Starts peer `i` again on its directory.
    pub fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        self.restart_with(i, &[])
    }

    /// SIGSTOP of peer `i`.
    pub fn pause(&mut self, i: usize) -> anyhow::Result<()> {
        if let Some(peer) = &self.peers[i] {
            self.history.event(format!("pause p{i}"));
            signal(peer.pid(), "STOP")?;
            self.paused[i] = true;
        }
        Ok(())
    }

    /// SIGCONT of peer `i`.
    pub fn resume(&mut self, i: usize) -> anyhow::Result<()> {
        if let Some(peer) = &self.peers[i] {
            self.history.event(format!("resume p{i}"));
            signal(peer.pid(), "CONT")?;
            self.paused[i] = false;
        }
        Ok(())
    }

    /// The index of the peer the live peers name as leader, if they agree on one.
    pub async fn leader(&self) -> Option<usize> {
        for (i, peer) in self.peers.iter().enumerate() {
            let Some(peer) = peer.as_ref().filter(|_| !self.paused[i]) else {
                continue;
            };
            let Ok(status) = raft(peer).await else { continue };
            let Some(leader) = status["leader"].as_str() else {
                continue;
            };
            return self
                .peers
                .iter()
                .position(|p| p.as_ref().is_some_and(|p| p.peer_id == leader));
        }
        None
    }

    /// Each live peer's `/raft` term.
    pub async fn terms(&self) -> Vec<u64> {
        let mut terms = vec![];
        for peer in self.peers.iter().flatten() {
            if let Ok(status) = raft(peer).await {
                terms.push(status["term"].as_u64().unwrap_or(0));
            }
        }
        terms
    }

    /// Waits until every peer is up, unpaused, names the same leader and applied the same index.
    pub async fn settle(&self, within: Duration) -> anyhow::Result<()> {
        let mut last = String::new();
        let until = std::time::Instant::now() + within;
        while std::time::Instant::now() < until {
            let mut views = BTreeSet::new();
            let mut all = true;
            for peer in &self.peers {
                let Some(peer) = peer else {
                    all = false;
                    break;
                };
                match raft(peer).await {
                    Ok(s) if !s["leader"].is_null() && s["joint"] == false => {
                        let voters = s["voters"].to_string();
                        views.insert((s["leader"].to_string(), s["last_applied"].as_u64(), voters));
                    }
                    _ => all = false,
                }
            }
            if all && views.len() == 1 && self.paused.iter().all(|p| !p) {
                return Ok(());
            }
            last = format!("{views:?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        anyhow::bail!("the cluster did not settle within {within:?}: {last}")
    }

    /// Every peer's pinset, by name (`p0`, `p1`, …).
    pub async fn finals(&self) -> anyhow::Result<Vec<(String, BTreeSet<String>)>> {
        let mut finals = vec![];
        for (i, peer) in self.peers.iter().enumerate() {
            let peer = peer.as_ref().ok_or_else(|| anyhow::anyhow!("p{i} is down"))?;
            finals.push((format!("p{i}"), listed(peer).await?.into_iter().collect()));
        }
        Ok(finals)
    }

    /// Stops every peer (SIGTERM), e.g. to restart them all.
    pub fn kill_all(&mut self) -> anyhow::Result<()> {
        for i in 0..self.peers.len() {
            self.kill(i)?;
        }
        Ok(())
    }
}
