//! Helpers for tests of `cairn daemon` clusters: REST calls, the pinset a peer lists, Raft
//! status, and starting N peers that share one secret.

use std::time::Duration;

use crate::http::{Call, Exchange, send};
use crate::process::{Peer, init_peer};
use crate::scratch_dir;

/// A distinct, valid raw CIDv1 (sha2-256 of `n`) for every `n`.
pub fn cid(n: u64) -> String {
    use multihash_codetable::{Code, MultihashDigest};
    cid::Cid::new_v1(0x55, Code::Sha2_256.digest(&n.to_be_bytes())).to_string()
}

/// Sends `METHOD target` to the peer's REST API.
pub async fn rest(peer: &Peer, method: &str, target: &str) -> anyhow::Result<Exchange> {
    let mut call = Call::post(target);
    call.method = method.to_owned();
    send(peer.rest, call).await
}

/// The CIDs the peer's `/allocations` lists, sorted.
pub async fn listed(peer: &Peer) -> anyhow::Result<Vec<String>> {
    allocated_cids(&rest(peer, "GET", "/allocations").await?)
}

/// The CIDs of a `GET /allocations` answer (204: none), sorted.
pub fn allocated_cids(answer: &Exchange) -> anyhow::Result<Vec<String>> {
    if answer.status == 204 {
        return Ok(vec![]);
    }
    anyhow::ensure!(answer.status == 200, "{}", answer.text());
    let mut cids: Vec<String> = answer
        .text()
        .lines()
        .map(|l| {
            Ok(serde_json::from_str::<serde_json::Value>(l)?["cid"]
                .as_str()
                .unwrap_or("")
                .to_owned())
        })
        .collect::<anyhow::Result<_>>()?;
    cids.sort();
    Ok(cids)
}

/// The peer's `/raft` status.
pub async fn raft(peer: &Peer) -> anyhow::Result<serde_json::Value> {
    rest(peer, "GET", "/raft").await?.json()
}

/// The cluster secret in a config directory's `service.json`.
pub fn secret_of(dir: &std::path::Path) -> anyhow::Result<String> {
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("service.json"))?)?;
    Ok(json["cluster"]["secret"].as_str().unwrap_or_default().to_owned())
}

/// N peers' config directories, the secret they share, and a fixed swarm port each (a
/// restarted peer must be found where the cluster's membership says it is, as with
/// ipfs-cluster's fixed 9096).
pub struct Dirs {
    /// One config directory per peer.
    pub dirs: Vec<tempfile::TempDir>,
    /// The first peer's secret.
    pub secret: String,
    ports: Vec<u16>,
}

impl Dirs {
    /// Runs `cairn init` for `n` peers named p0, p1, ….
    pub fn init(n: usize) -> anyhow::Result<Self> {
        let dirs = (0..n)
            .map(|_| scratch_dir("cluster"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for (i, dir) in dirs.iter().enumerate() {
            init_peer(dir.path(), &format!("p{i}"))?;
        }
        let secret = secret_of(dirs[0].path())?;
        let ports = (0..n)
            .map(|_| crate::process::free_port())
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { dirs, secret, ports })
    }

    /// Peer `i`'s id, from its `identity.json`.
    pub fn peer_id(&self, i: usize) -> anyhow::Result<String> {
        let text = std::fs::read_to_string(self.dirs[i].path().join("identity.json"))?;
        let json: serde_json::Value = serde_json::from_str(&text)?;
        Ok(json["id"].as_str().unwrap_or_default().to_owned())
    }

    /// Peer `i`'s cluster swarm address (`/ip4/127.0.0.1/tcp/<port>/p2p/<id>`), known before it starts.
    pub fn swarm_addr(&self, i: usize) -> anyhow::Result<String> {
        Ok(format!(
            "/ip4/127.0.0.1/tcp/{}/p2p/{}",
            self.ports[i],
            self.peer_id(i)?
        ))
    }

    /// Starts peer `i`: the first initialises the cluster, the others join through `via`.
    pub fn start(&self, i: usize, via: Option<&Peer>, env: &[(&str, &str)]) -> anyhow::Result<Peer> {
        let listen = format!("/ip4/127.0.0.1/tcp/{}", self.ports[i]);
        let mut all: Vec<(&str, &str)> = vec![
            ("CLUSTER_SECRET", &self.secret),
            ("CLUSTER_LISTENMULTIADDRESS", &listen),
        ];
        all.extend_from_slice(env);
        match via {
            Some(via) => Peer::start_with(self.dirs[i].path(), &["--bootstrap", &via.cluster], &all),
            None => Peer::start(self.dirs[i].path(), &all),
        }
    }

    /// Starts every peer: the first initialises the cluster, the others join through it.
    pub fn start_all(&self) -> anyhow::Result<Vec<Peer>> {
        self.start_all_with(&[])
    }

    /// [`Dirs::start_all`] with extra environment for every peer.
    pub fn start_all_with(&self, env: &[(&str, &str)]) -> anyhow::Result<Vec<Peer>> {
        let first = self.start(0, None, env)?;
        let mut joined = Vec::with_capacity(self.dirs.len());
        for i in 1..self.dirs.len() {
            joined.push(self.start(i, Some(&first), env)?);
        }
        joined.insert(0, first);
        Ok(joined)
    }
}

/// Three peers with `env`: the first initialises, the others join through it.
pub fn three(env: &[(&str, &str)]) -> anyhow::Result<(Dirs, Vec<Peer>)> {
    let dirs = Dirs::init(3)?;
    let first = dirs.start(0, None, env)?;
    let second = dirs.start(1, Some(&first), env)?;
    let third = dirs.start(2, Some(&first), env)?;
    Ok((dirs, vec![first, second, third]))
}

/// Polls until `peer` lists exactly `want` (sorted) or `within` passes.
pub async fn lists_eventually(peer: &Peer, want: &[String], within: Duration) -> anyhow::Result<()> {
    let mut want = want.to_vec();
    want.sort();
    let mut last = Vec::new();
    let until = std::time::Instant::now() + within;
    while std::time::Instant::now() < until {
        last = listed(peer).await.unwrap_or_default();
        if last == want {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!(
        "peer {} lists {} pins, want {}",
        peer.peer_id,
        last.len(),
        want.len()
    )
}

/// Monitoring at test speed: ping every 2 s (alive 4 s), checks every second, metrics valid
/// for 4 s. (1 s pings made debug peers on 2 busy cores miss pings and fail over spuriously.)
pub const FAST_MONITOR: [(&str, &str); 5] = [
    ("CLUSTER_MONITORPINGINTERVAL", "2s"),
    ("CLUSTER_PUBSUBMON_CHECKINTERVAL", "1s"),
    ("CLUSTER_DISK_METRICTTL", "4s"),
    ("CLUSTER_TAGS_METRICTTL", "4s"),
    ("CLUSTER_PINQUEUE_METRICTTL", "4s"),
];

/// How many peers' `name` metrics `peer` holds valid and unexpired.
pub async fn usable_metrics(peer: &Peer, name: &str) -> anyhow::Result<usize> {
    let metrics = rest(peer, "GET", &format!("/monitor/metrics/{name}"))
        .await?
        .json()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let usable = |m: &&serde_json::Value| m["valid"] == true && m["expire"].as_i64().unwrap_or(0) > now;
    Ok(metrics
        .as_array()
        .map_or(0, |all| all.iter().filter(usable).count()))
}

/// Waits until `peer` holds a valid, unexpired `name` metric from `count` peers.
pub async fn sees_metrics(peer: &Peer, name: &str, count: usize, within: Duration) -> anyhow::Result<()> {
    crate::eventually(&format!("{count} peers' {name} metrics"), within, || async {
        Ok(usable_metrics(peer, name).await? >= count)
    })
    .await
}

/// Puts `count` distinct small raw blocks (`cairn block {n}`) on `peer`'s IPFS node, 16 at a
/// time; returns their CIDs in order.
pub async fn put_blocks(peer: &Peer, count: u64) -> anyhow::Result<Vec<String>> {
    use futures::StreamExt;
    let ipfs = peer.ipfs.ok_or_else(|| anyhow::anyhow!("no ipfs address"))?;
    let puts = (0..count).map(|n| async move {
        let data = bytes::Bytes::from(format!("cairn block {n}"));
        let part = vec![crate::content::Part::File("b".into(), data)];
        let answer = send(
            ipfs,
            crate::content::form("/api/v0/block/put?cid-codec=raw", part),
        )
        .await?;
        anyhow::ensure!(answer.status == 200, "{}", answer.text());
        Ok(answer.json()?["Key"].as_str().unwrap_or("").to_owned())
    });
    let done: Vec<anyhow::Result<String>> = futures::stream::iter(puts).buffered(16).collect().await;
    done.into_iter().collect()
}

/// Runs the `cairn` client command `args` against `peer`'s REST API; its standard output.
pub fn cairn_cli(peer: &Peer, args: &[&str]) -> anyhow::Result<String> {
    let host = peer.rest_multiaddr();
    let mut all = args.to_vec();
    all.extend(["--host", &host]);
    let (code, out, err) = crate::process::run_cairn(&all, &[])?;
    anyhow::ensure!(code == 0, "cairn {args:?} exited {code}: {err}");
    Ok(out)
}

/// Adds `text` through `peer`'s gateway with `pin=false` (stored on its node, pinned nowhere);
/// its CID.
pub async fn add_unpinned(peer: &Peer, text: &'static [u8]) -> anyhow::Result<String> {
    let part = vec![crate::content::Part::File(
        "t".into(),
        bytes::Bytes::from_static(text),
    )];
    let added = send(peer.gateway, crate::content::form("/api/v0/add?pin=false", part)).await?;
    crate::content::last_hash(&added.body)
}

/// The allocations of a `GlobalPinInfo` or a pin (empty: every peer).
pub fn allocations(info: &serde_json::Value) -> Vec<String> {
    let listed = info["allocations"].as_array().into_iter().flatten();
    listed.filter_map(|a| a.as_str().map(str::to_owned)).collect()
}

/// Whether `peer`'s IPFS daemon lists a pin of `cid` (`pin/ls?arg=`).
pub async fn daemon_pins(peer: &Peer, cid: &str) -> anyhow::Result<bool> {
    let ipfs = peer
        .ipfs
        .ok_or_else(|| anyhow::anyhow!("{} has no IPFS address", peer.peer_id))?;
    let answer = send(ipfs, Call::post(&format!("/api/v0/pin/ls?arg={cid}"))).await?;
    Ok(answer.status == 200)
}

/// A cluster of `n` peers at [`FAST_MONITOR`] speed whose peer `i` uses `upstream(i)` as its
/// IPFS daemon (`None`: its embedded node), e.g. another cluster's gateway.
pub fn cluster_over(
    n: usize,
    upstream: impl Fn(usize) -> Option<String>,
) -> anyhow::Result<(Dirs, Vec<Peer>)> {
    cluster_over_with(n, upstream, &[])
}

/// [`cluster_over`] with more environment (`extra`) for every peer.
pub fn cluster_over_with(
    n: usize,
    upstream: impl Fn(usize) -> Option<String>,
    extra: &[(&str, &str)],
) -> anyhow::Result<(Dirs, Vec<Peer>)> {
    let dirs = Dirs::init(n)?;
    let mut peers: Vec<Peer> = Vec::with_capacity(n);
    for i in 0..n {
        let mut env: Vec<(&str, &str)> = FAST_MONITOR.to_vec();
        env.extend_from_slice(extra);
        let daemon = upstream(i);
        if let Some(addr) = &daemon {
            env.push(("CLUSTER_IPFSHTTP_NODEMULTIADDRESS", addr));
        }
        peers.push(dirs.start(i, peers.first(), &env)?);
    }
    Ok((dirs, peers))
}

/// The trees' monitoring, slower than [`FAST_MONITOR`] where 16 debug processes on 2 shared
/// cores need it: a composite peer's `repo/stat` goes through every gateway below it, so short
/// metrics could lapse (a cluster "not enough peers" for a moment). Metrics live 10 s, and a
/// pin that failed is retried after 30 s instead of 12 minutes.
const TREE_MONITOR: [(&str, &str); 4] = [
    ("CLUSTER_DISK_METRICTTL", "10s"),
    ("CLUSTER_TAGS_METRICTTL", "10s"),
    ("CLUSTER_PINQUEUE_METRICTTL", "10s"),
    ("CLUSTER_PINRECOVERINTERVAL", "30s"),
];

/// Three levels of clusters ([`FAST_MONITOR`] with [`TREE_MONITOR`]): 4 leaf clusters with
/// embedded nodes; 2 middle clusters of 2 peers, peer `i` of middle `m` over leaf `2m + i`'s
/// first gateway; a top cluster of 2 peers, peer `i` over middle `i`'s first gateway.
/// Replication -1 everywhere unless the leaves are given their own.
pub struct ThreeLevels {
    /// The leaf clusters.
    pub leaves: Vec<(Dirs, Vec<Peer>)>,
    /// The middle clusters.
    pub middles: Vec<(Dirs, Vec<Peer>)>,
    /// The top cluster.
    pub top: (Dirs, Vec<Peer>),
}

impl ThreeLevels {
    /// Starts 2 + 4 + 8 peers, leaves first.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with([2; 4], &[])
    }

    /// Starts leaf clusters of `leaf_sizes` peers with `leaf_env`, then the middle and top.
    pub fn start_with(leaf_sizes: [usize; 4], leaf_env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut leaf_env = leaf_env.to_vec();
        leaf_env.extend_from_slice(&TREE_MONITOR);
        let leaves: Vec<(Dirs, Vec<Peer>)> = leaf_sizes
            .iter()
            .map(|n| cluster_over_with(*n, |_| None, &leaf_env))
            .collect::<anyhow::Result<_>>()?;
        let over = |below: &[(Dirs, Vec<Peer>)], i: usize| Some(below[i].1[0].gateway_multiaddr());
        let middles: Vec<(Dirs, Vec<Peer>)> = (0..2)
            .map(|m| cluster_over_with(2, |i| over(&leaves, 2 * m + i), &TREE_MONITOR))
            .collect::<anyhow::Result<_>>()?;
        let top = cluster_over_with(2, |i| over(&middles, i), &TREE_MONITOR)?;
        Ok(Self { leaves, middles, top })
    }

    /// Waits until every peer holds the allocator's metrics (`freespace`, `tag:group`) of
    /// every member of its cluster, as an operator would before pinning into a new tree.
    pub async fn ready(&self, within: Duration) -> anyhow::Result<()> {
        let clusters = self.leaves.iter().chain(&self.middles).chain([&self.top]);
        for (_, peers) in clusters {
            for peer in peers {
                for metric in ["freespace", "tag:group"] {
                    sees_metrics(peer, metric, peers.len(), within).await?;
                }
            }
        }
        Ok(())
    }

    /// `cairn status <cid> --depth 3` at the top peer `i`, as JSON.
    pub fn top_status(&self, i: usize, cid: &str) -> anyhow::Result<serde_json::Value> {
        let out = cairn_cli(&self.top.1[i], &["status", cid, "--depth", "3", "--enc", "json"])?;
        Ok(serde_json::from_str(out.trim())?)
    }

    /// Every leaf peer.
    pub fn leaf_peers(&self) -> Vec<&Peer> {
        self.leaves.iter().flat_map(|(_, p)| p.iter()).collect()
    }
}
