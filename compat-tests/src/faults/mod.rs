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

pub mod linkem;
pub mod netns;
pub mod suite;
mod tmpfs;
pub mod witness;
pub mod workload;

pub use tmpfs::Tmpfs;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::cluster::{Dirs, listed, raft};
use crate::history::History;
use crate::process::{Peer, signal};

/// Clients running against a cluster until [`Clients::stop`].
pub struct Clients {
    stop: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Clients {
    /// Starts `count` clients of the default [`workload::Mix`] with `seed`.
    pub fn start(cluster: &FaultCluster, history: &History, count: usize, seed: u64) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let task = tokio::spawn(workload::run(
            cluster.live(),
            history.clone(),
            count,
            usize::MAX,
            workload::Mix::default(),
            seed,
            stop.clone(),
        ));
        Self { stop, task }
    }

    /// Stops them and waits until each finished its operation in flight.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(self.task.await?)
    }
}

/// Settles `cluster`, reads every member's pinset and checks `history` against it; a failing
/// history is kept beside peer 0's directory with `seed`, and the error says where.
pub async fn judge(
    cluster: &FaultCluster,
    history: &History,
    seed: u64,
) -> anyhow::Result<crate::history::Report> {
    cluster.settle(Duration::from_secs(120)).await?;
    let finals = cluster.finals().await?;
    let report = crate::history::check(&history.ops(), &finals);
    if !report.is_ok() {
        let kept = cluster.dirs.dirs[0].path().join("failing-history.jsonl");
        history.write_jsonl(&kept, seed)?;
        anyhow::bail!("{report}\nhistory kept in {} (seed {seed})", kept.display());
    }
    anyhow::ensure!(
        report.acknowledged > 100,
        "too few acknowledged writes to judge: {report}"
    );
    Ok(report)
}

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
    /// Whether peer `i` is meant to be a member now (a removed spare is not).
    members: Vec<bool>,
    env: Vec<(String, String)>,
    live: Live,
    history: History,
    /// The private network, when the peers run in namespaces.
    pub net: Option<netns::Network>,
    /// The tmpfs holding peer 0's directory, when the suite fills a disk.
    disk: Option<Tmpfs>,
}

/// How to start a [`FaultCluster`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Layout {
    /// Voters started at once.
    pub peers: usize,
    /// Peers prepared but not started (membership changes add them).
    pub spares: usize,
    /// Each peer in its own network namespace (partitions, netem).
    pub isolated: bool,
    /// Peer 0's directory on a tmpfs of this many MiB (a disk that can be filled).
    pub disk_mib: Option<u32>,
}

/// A peer's `/raft`, or `None` if it does not answer within 3 s (paused, cut off).
async fn raft_of(peer: &Peer) -> Option<serde_json::Value> {
    match tokio::time::timeout(Duration::from_secs(3), raft(peer)).await {
        Ok(Ok(status)) => Some(status),
        _ => None,
    }
}

fn addrs(peer: &Peer) -> Addrs {
    Addrs {
        rest: peer.rest,
        gateway: peer.gateway,
    }
}

impl FaultCluster {
    /// Starts `n` peers on loopback with `env` (the first initialises, the others join
    /// through it) and waits until all are voters.
    pub async fn start(n: usize, env: &[(&str, &str)], history: History) -> anyhow::Result<Self> {
        let layout = Layout {
            peers: n,
            ..Layout::default()
        };
        Self::start_with(layout, env, history).await
    }

    /// Starts a cluster as `layout` says.
    pub async fn start_with(layout: Layout, env: &[(&str, &str)], history: History) -> anyhow::Result<Self> {
        let total = layout.peers + layout.spares;
        let dirs = Dirs::init(total)?;
        let net = if layout.isolated {
            Some(netns::Network::create(total)?)
        } else {
            None
        };
        let disk = match layout.disk_mib {
            Some(mib) => Some(Tmpfs::mount_over(dirs.dirs[0].path(), mib)?),
            None => None,
        };
        let mut cluster = Self {
            dirs,
            peers: (0..total).map(|_| None).collect(),
            paused: vec![false; total],
            members: (0..total).map(|i| i < layout.peers).collect(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            live: Arc::new(RwLock::new(vec![None; total])),
            history,
            net,
            disk,
        };
        for i in 0..layout.peers {
            cluster.launch(i, i > 0, &[])?;
        }
        cluster.settle(Duration::from_secs(120)).await?;
        Ok(cluster)
    }

    /// Starts peer `i` (joining through peer 0 when `join`).
    fn launch(&mut self, i: usize, join: bool, extra: &[(&str, &str)]) -> anyhow::Result<()> {
        let mut env: Vec<(String, String)> = self.env.clone();
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let peer = match &self.net {
            None => {
                let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let via = if join { self.peers[0].as_ref() } else { None };
                self.dirs.start(i, via, &env)?
            }
            Some(net) => {
                let addr = net.addr(i);
                env.push(("CLUSTER_SECRET".into(), self.dirs.secret.clone()));
                for (key, port) in [
                    ("CLUSTER_LISTENMULTIADDRESS", 9096),
                    ("CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS", 9094),
                    ("CLUSTER_IPFSPROXY_LISTENMULTIADDRESS", 9095),
                ] {
                    env.push((key.into(), format!("/ip4/{addr}/tcp/{port}")));
                }
                let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let bootstrap = match self.peers[0].as_ref().filter(|_| join) {
                    Some(first) => vec!["--bootstrap".to_owned(), first.cluster.clone()],
                    None => vec![],
                };
                let args: Vec<&str> = bootstrap.iter().map(String::as_str).collect();
                Peer::start_in(Some(&net.namespace(i)), self.dirs.dirs[i].path(), &args, &env)?
            }
        };
        self.set_live(i, Some(addrs(&peer)));
        self.peers[i] = Some(peer);
        Ok(())
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
        self.launch(i, false, extra)
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
            let Some(status) = raft_of(peer).await else {
                continue;
            };
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
            if let Some(status) = raft_of(peer).await {
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
            for (i, peer) in self.peers.iter().enumerate() {
                if !self.members[i] {
                    continue;
                }
                let Some(peer) = peer else {
                    all = false;
                    break;
                };
                match raft_of(peer).await {
                    Some(s) if !s["leader"].is_null() && s["joint"] == false => {
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
            if !self.members[i] {
                continue;
            }
            let peer = peer.as_ref().ok_or_else(|| anyhow::anyhow!("p{i} is down"))?;
            finals.push((format!("p{i}"), listed(peer).await?.into_iter().collect()));
        }
        Ok(finals)
    }

    /// The members' applied index once settled (the highest any of them reports).
    pub async fn applied(&self) -> u64 {
        let mut highest = 0;
        for peer in self.peers.iter().flatten() {
            if let Some(status) = raft_of(peer).await {
                highest = highest.max(status["last_applied"].as_u64().unwrap_or(0));
            }
        }
        highest
    }

    /// `kill -9` of every peer, e.g. to restart them all.
    pub fn kill_all(&mut self) -> anyhow::Result<()> {
        for i in 0..self.peers.len() {
            self.kill(i)?;
        }
        Ok(())
    }

    /// Whether peer `i` is meant to be a member.
    pub fn is_member(&self, i: usize) -> bool {
        self.members[i]
    }

    /// The members' indexes.
    pub fn member_indexes(&self) -> Vec<usize> {
        (0..self.peers.len()).filter(|i| self.members[*i]).collect()
    }

    /// Starts spare peer `i`, which joins the cluster through peer 0 (a membership change).
    pub fn add_member(&mut self, i: usize) -> anyhow::Result<()> {
        self.history.event(format!("add p{i}"));
        // A peer removed earlier joins again as a new one: its old Raft state goes.
        let dir = self.dirs.dirs[i].path();
        for file in ["raft-log.redb", "state.redb"] {
            let _ = std::fs::remove_file(dir.join(file));
        }
        let _ = std::fs::remove_dir_all(dir.join("snapshots"));
        self.members[i] = true;
        self.launch(i, true, &[])
    }

    /// Removes peer `i` from the membership (through `via`'s REST API) and stops it.
    pub async fn remove_member(&mut self, i: usize, via: usize) -> anyhow::Result<()> {
        self.history.event(format!("remove p{i}"));
        let id = self.dirs.peer_id(i)?;
        let via = self.peers[via]
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("p{via} is down"))?;
        let answer = crate::cluster::rest(via, "DELETE", &format!("/peers/{id}")).await?;
        anyhow::ensure!(
            answer.status == 204,
            "removing p{i}: {} {}",
            answer.status,
            answer.text()
        );
        self.members[i] = false;
        self.kill(i)
    }

    /// Fills peer 0's disk (the layout must have given it one).
    pub fn fill_disk(&self) -> anyhow::Result<()> {
        let disk = self
            .disk
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no tmpfs in this layout"))?;
        self.history.event("fill the disk of p0");
        disk.fill().map(drop)
    }

    /// Frees peer 0's disk.
    pub fn free_disk(&self) -> anyhow::Result<()> {
        let disk = self
            .disk
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no tmpfs in this layout"))?;
        self.history.event("free the disk of p0");
        disk.free()
    }

    /// The private network (the layout must have been isolated).
    pub fn network(&self) -> anyhow::Result<&netns::Network> {
        self.net
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the peers do not run in namespaces"))
    }

    /// Records `what` and cuts the links between `a` and `b`.
    pub fn partition(&self, a: &[usize], b: &[usize], what: &str) -> anyhow::Result<()> {
        self.history.event(format!("partition {what}: {a:?} | {b:?}"));
        self.network()?.cut(a, b)
    }

    /// Restores every link and removes every netem.
    pub fn heal(&self) -> anyhow::Result<()> {
        if let Some(net) = &self.net {
            self.history.event("heal");
            net.heal()?;
            net.unslow()?;
        }
        Ok(())
    }

    /// Slows every member's link with `netem`.
    pub fn slow_all(&self, netem: &str) -> anyhow::Result<()> {
        for i in self.member_indexes() {
            let used = self.network()?.slow(i, netem)?;
            self.history.event(format!("slow link p{i}: {used}"));
        }
        Ok(())
    }

    /// Whether peer `i` is up (not killed); a paused peer is up.
    pub fn is_up(&self, i: usize) -> bool {
        self.peers[i].is_some()
    }

    /// Whether peer `i` is paused.
    pub fn is_paused(&self, i: usize) -> bool {
        self.paused[i]
    }
}
