//! Real processes for tests: js-ipfs 0.66.1 as the upstream daemon and the `cairn` binary.
//!
//! Each process gets its own scratch directory and a free 127.0.0.1 port, and is killed when
//! its handle is dropped, so a failing test never leaves a daemon behind.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::{repo_root, scratch_dir};

/// How long js-ipfs may take to init and start (it needs about 10 s on 2 cores).
const JSIPFS_READY: Duration = Duration::from_secs(90);

/// A free TCP port on 127.0.0.1 for a process to bind later (bound then released). It is taken
/// below the kernel's ephemeral range, where no other process's `:0` listener can be given it
/// in the meantime (a peer's fixed swarm port was once taken so by another peer's gateway), and
/// never twice in this test process (test binaries run one after another). Where the ephemeral
/// range starts at 11,000 or lower it is any free port the kernel gives.
pub fn free_port() -> anyhow::Result<u16> {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let (low, high) = (10_000, ephemeral_start());
    if high <= low + 1_000 {
        return Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port());
    }
    for _ in 0..1_000 {
        let port = low + u16::try_from(random() % u64::from(high - low))?;
        let mut given = GIVEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return Ok(port);
        }
    }
    bail!("no free port between {low} and {high}")
}

/// The first port the kernel hands out to `:0` listeners (32768 unless configured).
fn ephemeral_start() -> u16 {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let first = range.split_whitespace().next().and_then(|p| p.parse().ok());
    first.unwrap_or(32_768)
}

fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// The jsipfs CLI script of the installed js-ipfs, or how to install it.
pub fn jsipfs_cli() -> anyhow::Result<PathBuf> {
    let cli = repo_root().join("compat-tests/js/node_modules/ipfs/src/cli.js");
    if !cli.exists() {
        bail!(
            "js-ipfs 0.66.1 is not installed ({} is missing): run scripts/test.sh, which runs \
             `npm install` in compat-tests/js from the committed lock file",
            cli.display()
        );
    }
    Ok(cli)
}

/// A running js-ipfs daemon, offline, with its API on 127.0.0.1.
pub struct JsIpfs {
    child: Child,
    /// The RPC API address.
    pub api: SocketAddr,
    dir: tempfile::TempDir,
}

impl JsIpfs {
    /// Initialises a fresh repo (test profile, empty) and starts the daemon offline.
    pub fn start(name: &str) -> anyhow::Result<Self> {
        let cli = jsipfs_cli()?;
        let dir = scratch_dir(&format!("jsipfs-{name}"))?;
        let repo = dir.path().join("repo");
        let status = Command::new("node")
            .arg(&cli)
            .args(["init", "--profile", "test", "--emptyRepo"])
            .env("IPFS_PATH", &repo)
            .stdout(Stdio::null())
            .status()
            .context("running `node` (is Node.js installed?)")?;
        if !status.success() {
            bail!("jsipfs init failed: {status}");
        }
        let port = free_port()?;
        configure_offline(&repo.join("config"), port)?;
        let log = dir.path().join("daemon.log");
        let child = Command::new("node")
            .arg(&cli)
            .args(["daemon", "--offline", "--enable-preload=false"])
            .env("IPFS_PATH", &repo)
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(dir.path().join("daemon.err"))?)
            .spawn()?;
        let mut daemon = Self {
            child,
            api: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        };
        daemon.wait_ready(&log)?;
        Ok(daemon)
    }

    fn wait_ready(&mut self, log: &Path) -> anyhow::Result<()> {
        let until = Instant::now() + JSIPFS_READY;
        while Instant::now() < until {
            if std::fs::read_to_string(log)
                .unwrap_or_default()
                .contains("Daemon is ready")
            {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "js-ipfs exited ({status}) before it was ready:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!("js-ipfs not ready after {JSIPFS_READY:?}")
    }

    /// The API as a multiaddr, e.g. `/ip4/127.0.0.1/tcp/45001`.
    pub fn multiaddr(&self) -> String {
        format!("/ip4/127.0.0.1/tcp/{}", self.api.port())
    }

    /// The daemon's process id (for SIGSTOP / SIGCONT).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The repo directory (its `IPFS_PATH`).
    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }
}

/// The edits shared/realpeers/setup-jsipfs.sh makes: API on `port`, no gateway, no swarm, no RPC.
fn configure_offline(path: &Path, port: u16) -> anyhow::Result<()> {
    let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    config["Addresses"]["API"] = format!("/ip4/127.0.0.1/tcp/{port}").into();
    config["Addresses"]["Gateway"] = serde_json::json!([]);
    config["Addresses"]["RPC"] = "".into();
    config["Addresses"]["Swarm"] = serde_json::json!([]);
    std::fs::write(path, serde_json::to_vec_pretty(&config)?)?;
    Ok(())
}

impl Drop for JsIpfs {
    fn drop(&mut self) {
        let _ = signal(self.child.id(), "CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `kill -<sig>` to `pid`.
pub fn signal(pid: u32, sig: &str) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()?;
    if !status.success() {
        bail!("kill -{sig} {pid} failed");
    }
    Ok(())
}

/// The `cairn` binary built next to this test executable.
pub fn cairn_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // Tests live in target/<profile>/deps/, benchmark binaries in target/<profile>/.
    let dirs = [exe.parent(), exe.parent().and_then(Path::parent)];
    let found = dirs
        .into_iter()
        .flatten()
        .map(|d| d.join("cairn"))
        .find(|b| b.exists());
    let bin = found.unwrap_or_else(|| exe.with_file_name("cairn"));
    if !bin.exists() {
        bail!(
            "the cairn binary is not built ({} is missing): run `cargo build -p cairn-peer` (scripts/test.sh builds it with the tests)",
            bin.display()
        );
    }
    Ok(bin)
}

/// A running `cairn gateway` process.
pub struct Gateway {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Gateway {
    /// Starts `cairn gateway` on a free port in front of `upstream`, with extra environment.
    pub fn start(upstream: &str, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let dir = scratch_dir("gateway")?;
        let config = dir.path().to_string_lossy().into_owned();
        let args = [
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--upstream",
            upstream,
            "--config",
            &config,
        ];
        Self::start_in(dir, &args, env)
    }

    /// Starts `cairn gateway ARGS` with `env` (config, upstream and listen from wherever they say).
    pub fn start_with_args(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_in(scratch_dir("gateway")?, args, env)
    }

    fn start_in(dir: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut child = Command::new(cairn_bin()?)
            .arg("gateway")
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("gateway.log"))?)
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first)?;
        let addr = parse_listen_line(&first).with_context(|| {
            let log = std::fs::read_to_string(dir.path().join("gateway.log")).unwrap_or_default();
            format!("cairn gateway did not start: {first:?}\n{log}")
        })?;
        Ok(Self { child, addr, dir })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The gateway's stderr log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("gateway.log")).unwrap_or_default()
    }

    /// The gateway as an `--api` multiaddr.
    pub fn multiaddr(&self) -> String {
        format!("/ip4/127.0.0.1/tcp/{}", self.addr.port())
    }
}

fn parse_listen_line(line: &str) -> Option<SocketAddr> {
    tcp_addr(
        line.strip_prefix("cairn gateway listening on ")?
            .split_whitespace()
            .next()?,
    )
}

/// `/ip4/<ip>/tcp/<port>` as a socket address (what `cairn` prints for its listeners).
fn tcp_addr(text: &str) -> Option<SocketAddr> {
    match cairn_gateway::config::listen_addr(text).ok()? {
        cairn_gateway::config::ListenAddr::Tcp(addr) => Some(addr),
        cairn_gateway::config::ListenAddr::Unix(_) => None,
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `cairn node` process: the embedded IPFS node alone, on a free port.
pub struct Node {
    child: Child,
    /// Its RPC API.
    pub api: SocketAddr,
    /// Its config directory (the block store is under `ipfs/`).
    pub dir: tempfile::TempDir,
}

impl Node {
    /// Starts `cairn node` in a fresh directory.
    pub fn start(name: &str) -> anyhow::Result<Self> {
        let dir = scratch_dir(name)?;
        let mut child = Command::new(cairn_bin()?)
            .arg("--config")
            .arg(dir.path())
            .args(["node", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("node.log"))?)
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first)?;
        let api = first
            .strip_prefix("cairn node ready: api ")
            .and_then(|a| a.trim().parse().ok());
        let Some(api) = api else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.path().join("node.log")).unwrap_or_default();
            anyhow::bail!("cairn node did not start: {first:?}\n{log}");
        };
        Ok(Self { child, api, dir })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The API as an `--api` multiaddr.
    pub fn multiaddr(&self) -> String {
        format!("/ip4/127.0.0.1/tcp/{}", self.api.port())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cairn` with `args` and `env` to completion: (exit code, stdout, stderr).
pub fn run_cairn(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<(i32, String, String)> {
    let out = Command::new(cairn_bin()?)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok((
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    ))
}

/// A `cairn daemon` process over its own config directory.
pub struct Peer {
    child: Child,
    /// The peer's id.
    pub peer_id: String,
    /// Its cluster swarm address (`…/p2p/<id>`), for `--bootstrap`.
    pub cluster: String,
    /// Its REST API.
    pub rest: SocketAddr,
    /// Its gateway.
    pub gateway: SocketAddr,
    /// Its IPFS daemon's API (the embedded node's, or the configured daemon's).
    pub ipfs: Option<SocketAddr>,
    /// Its pinning service API (`None` when `api.pinsvcapi` is off).
    pub pinsvc: Option<SocketAddr>,
    /// Its config directory (`cairn init` output).
    pub dir: PathBuf,
    /// Its `/metrics` endpoint (`metrics off`, unless `observations.metrics.enable_stats`:
    /// `None`).
    pub metrics: Option<SocketAddr>,
}

/// Environment that puts every listener of a peer on a free 127.0.0.1 port.
pub const LOCAL_PORTS: [(&str, &str); 4] = [
    ("CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS", "/ip4/127.0.0.1/tcp/0"),
    ("CLUSTER_PINSVCAPI_HTTPLISTENMULTIADDRESS", "/ip4/127.0.0.1/tcp/0"),
    ("CLUSTER_IPFSPROXY_LISTENMULTIADDRESS", "/ip4/127.0.0.1/tcp/0"),
    ("CLUSTER_LISTENMULTIADDRESS", "/ip4/127.0.0.1/tcp/0"),
];

/// Runs `cairn init` into `dir`.
pub fn init_peer(dir: &Path, name: &str) -> anyhow::Result<()> {
    let config = dir.to_string_lossy().into_owned();
    let (code, out, err) = run_cairn(&["--config", &config, "init", "--peername", name], &[])?;
    anyhow::ensure!(code == 0, "cairn init failed ({code}): {out}{err}");
    Ok(())
}

impl Peer {
    /// Starts `cairn daemon` on `dir` with its listeners on free ports plus `env`.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_with(dir, &[], env)
    }

    /// Starts `cairn daemon ARGS` (e.g. `--bootstrap <addr>`) on `dir`.
    pub fn start_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_in(None, dir, args, env)
    }

    /// [`Peer::start_with`] inside the network namespace `netns` (`ip netns exec`, which
    /// execs the daemon: its pid is the daemon's).
    pub fn start_in(
        netns: Option<&str>,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("daemon.log"))?;
        let mut command = match netns {
            Some(ns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", ns]).arg(cairn_bin()?);
                command
            }
            None => Command::new(cairn_bin()?),
        };
        let mut child = command
            .arg("--config")
            .arg(dir)
            .arg("daemon")
            .args(args)
            .envs(LOCAL_PORTS)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let ready = parse_ready(&line).with_context(|| {
            format!(
                "cairn daemon did not start: {line:?}\n{}",
                std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default()
            )
        });
        let (peer_id, cluster, rest, gateway, ipfs, pinsvc) = match ready {
            Ok(ready) => ready,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        let metrics = ready_field(&line, "metrics").and_then(tcp_addr);
        Ok(Self {
            child,
            peer_id,
            cluster,
            rest,
            gateway,
            ipfs,
            pinsvc,
            dir: dir.to_path_buf(),
            metrics,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits for a clean exit; returns the exit code.
    pub fn stop(mut self) -> anyhow::Result<i32> {
        signal(self.child.id(), "TERM")?;
        Ok(self.child.wait()?.code().unwrap_or(-1))
    }

    /// SIGKILL: the process dies without any shutdown work.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// The REST API as a `--host` multiaddr.
    pub fn rest_multiaddr(&self) -> String {
        format!("/ip4/{}/tcp/{}", self.rest.ip(), self.rest.port())
    }

    /// The gateway as a multiaddr (what a parent cluster's `node_multiaddress` names).
    pub fn gateway_multiaddr(&self) -> String {
        format!("/ip4/{}/tcp/{}", self.gateway.ip(), self.gateway.port())
    }
}

/// What a daemon's ready line says: peer id, cluster address, REST, gateway, IPFS API, and the
/// pinning service API (`pinsvc off`, or absent from older binaries: `None`).
type Ready = (
    String,
    String,
    SocketAddr,
    SocketAddr,
    Option<SocketAddr>,
    Option<SocketAddr>,
);

/// The word after `name` on a ready line (`metrics <addr>`), for fields not every peer has.
fn ready_field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let mut words = line.strip_prefix("cairn daemon ready: ")?.split_whitespace();
    words.find(|w| *w == name)?;
    words.next()
}

fn parse_ready(line: &str) -> Option<Ready> {
    let words: Vec<&str> = line
        .strip_prefix("cairn daemon ready: ")?
        .split_whitespace()
        .collect();
    let field = |name: &str| {
        words
            .iter()
            .position(|w| *w == name)
            .and_then(|i| words.get(i + 1))
            .copied()
    };
    let addr = tcp_addr;
    let cluster = field("cluster")?.split(',').next()?.to_owned();
    Some((
        field("peer")?.to_owned(),
        cluster,
        addr(field("rest")?)?,
        addr(field("gateway")?)?,
        field("ipfs").and_then(addr),
        field("pinsvc").and_then(addr),
    ))
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
