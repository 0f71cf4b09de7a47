//! Helpers for tests of followers (`cairn follow`): publishing a cluster's follower
//! configuration, `init` and `run` of a follower as a real process, its `GET /follow`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::http::{Call, Exchange, send};
use crate::process::{Peer, cairn_bin, run_cairn};

/// Environment that puts a follower's REST API, gateway and swarm on free 127.0.0.1 ports
/// (by default the APIs are unix sockets in its folder).
pub const FOLLOWER_PORTS: [(&str, &str); 3] = [
    ("CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS", "/ip4/127.0.0.1/tcp/0"),
    ("CLUSTER_IPFSPROXY_LISTENMULTIADDRESS", "/ip4/127.0.0.1/tcp/0"),
    ("CLUSTER_LISTENMULTIADDRESS", "/ip4/127.0.0.1/tcp/0"),
];

/// `cairn follow-config` on `peer`, written to `<dir>/follow.json`; its path.
pub fn publish(peer: &Peer, dir: &Path, args: &[&str]) -> anyhow::Result<PathBuf> {
    let config = peer.dir.to_string_lossy().into_owned();
    let host = peer.rest_multiaddr();
    let mut all = vec!["--config", &config, "--host", &host, "follow-config"];
    all.extend_from_slice(args);
    let (code, out, err) = run_cairn(&all, &[])?;
    anyhow::ensure!(code == 0, "cairn follow-config failed ({code}): {out}{err}");
    let path = dir.join("follow.json");
    std::fs::write(&path, out)?;
    Ok(path)
}

/// `cairn follow --path BASE ARGS…` with `env`: (exit code, stdout, stderr).
pub fn follow_cli(base: &Path, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<(i32, String, String)> {
    let base = base.to_string_lossy().into_owned();
    let mut all = vec!["follow", "--path", &base];
    all.extend_from_slice(args);
    run_cairn(&all, env)
}

/// `cairn follow --path BASE NAME init SOURCE`; its output.
pub fn init(base: &Path, name: &str, source: &str) -> anyhow::Result<String> {
    let (code, out, err) = follow_cli(base, &[name, "init", source, "--peername", name], &[])?;
    anyhow::ensure!(code == 0, "cairn follow init failed ({code}): {out}{err}");
    Ok(out)
}

/// A running `cairn follow NAME run`.
pub struct Follower {
    child: Child,
    /// Its peer id.
    pub peer_id: String,
    /// Its REST API (TCP with [`FOLLOWER_PORTS`]).
    pub rest: SocketAddr,
    /// Its gateway.
    pub gateway: SocketAddr,
    /// Its folder.
    pub dir: PathBuf,
}

impl Follower {
    /// Runs the follower `name` under `base` with [`FOLLOWER_PORTS`] and `env`.
    pub fn run(base: &Path, name: &str, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let dir = base.join(name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("follow.log"))?;
        let mut child = Command::new(cairn_bin()?)
            .args(["follow", "--path"])
            .arg(base)
            .args([name, "run"])
            .envs(FOLLOWER_PORTS)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let field = |name: &str| {
            let mut words = line.strip_prefix("cairn follow ready: ")?.split_whitespace();
            words.find(|w| *w == name)?;
            words.next().map(str::to_owned)
        };
        let tcp = |text: Option<String>| -> Option<SocketAddr> {
            let text = text?;
            let mut parts = text.split('/').skip(1);
            let (_, ip, _, port) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
            format!("{ip}:{port}").parse().ok()
        };
        let parsed = (field("peer"), tcp(field("rest")), tcp(field("gateway")));
        let (Some(peer_id), Some(rest), Some(gateway)) = parsed else {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!(
                "cairn follow run did not start: {line:?}\n{}",
                std::fs::read_to_string(dir.join("follow.log")).unwrap_or_default()
            );
        };
        Ok(Self {
            child,
            peer_id,
            rest,
            gateway,
            dir,
        })
    }

    /// `METHOD target` on its REST API.
    pub async fn rest(&self, method: &str, target: &str) -> anyhow::Result<Exchange> {
        let mut call = Call::post(target);
        call.method = method.to_owned();
        send(self.rest, call).await
    }

    /// Its `GET /follow`.
    pub async fn progress(&self) -> anyhow::Result<serde_json::Value> {
        self.rest("GET", "/follow").await?.json()
    }

    /// The CIDs its `/allocations` lists, sorted.
    pub async fn listed(&self) -> anyhow::Result<Vec<String>> {
        crate::cluster::allocated_cids(&self.rest("GET", "/allocations").await?)
    }

    /// Polls until it lists exactly `want` (sorted), or fails with what it lists after `within`.
    pub async fn lists_eventually(&self, want: &[String], within: Duration) -> anyhow::Result<()> {
        let mut want = want.to_vec();
        want.sort();
        let until = Instant::now() + within;
        loop {
            let got = self.listed().await?;
            if got == want {
                return Ok(());
            }
            if Instant::now() > until {
                let progress = self.progress().await.unwrap_or_default();
                anyhow::bail!(
                    "the follower lists {} pins, the cluster {} ({progress})",
                    got.len(),
                    want.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("follow.log")).unwrap_or_default()
    }

    /// SIGKILL.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM and a clean exit; the exit code.
    pub fn stop(mut self) -> anyhow::Result<i32> {
        crate::process::signal(self.child.id(), "TERM")?;
        Ok(self.child.wait()?.code().unwrap_or(-1))
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
