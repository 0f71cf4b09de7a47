//! `cairn-bench p2n`: the gateway beside nginx as a reverse proxy, in front of the same null
//! upstream (an nginx `return 200`), with access logs on in both: nginx's `access_log` to a
//! file, Cairn's default access line on stderr (to a file here). wrk drives each for the same
//! time from one thread; every figure is the median of interleaved rounds (issue 16.4).
//!
//! Printed per concurrency: req/s of each and their ratio, p50/p99 latency (and at one
//! connection the p50 each adds over the upstream alone), and CPU µs per request of every
//! process (the proxy, the upstream, wrk) from /proc.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::cpu::{Meter, Reading, children_of, waited_children_us};
use crate::load::median;

const NGINX: &str = "/usr/sbin/nginx";
const WRK: &str = "/usr/bin/wrk";
const ROUNDS: usize = 3;
const SECONDS: u64 = 3;
const BODY: &str = r#"{"Version":"0.0.0-null","Commit":"","Repo":"0","System":"null","Golang":"none"}"#;

/// An nginx master process (with its workers) on its own prefix directory.
pub struct Nginx {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// nginx answering every request with [`BODY`], no access log: the null upstream.
    pub fn null_upstream() -> anyhow::Result<Self> {
        Self::start(|port| {
            format!(
                "access_log off;\n  server {{ listen 127.0.0.1:{port}; location / {{ default_type application/json; return 200 '{BODY}\\n'; }} }}"
            )
        })
    }

    /// nginx as a reverse proxy to `upstream` over pooled keep-alive connections, logging
    /// every request to a file in the combined format.
    pub fn reverse_proxy(upstream: u16) -> anyhow::Result<Self> {
        Self::start(|port| {
            format!(
                "access_log ACCESS_LOG;\n  upstream null {{ server 127.0.0.1:{upstream}; keepalive 64; }}\n  server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://null; proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}"
            )
        })
    }

    /// The master and its workers.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids = vec![self.child.id()];
        pids.extend(children_of(self.child.id()));
        pids
    }

    fn start(http: impl Fn(u16) -> String) -> anyhow::Result<Self> {
        if !Path::new(NGINX).exists() {
            bail!("nginx is not installed ({NGINX} is missing): apt-get install nginx-light");
        }
        let dir = tempfile::Builder::new().prefix("cairn-nginx").tempdir()?;
        let port = free_port()?;
        let prefix = dir.path().display().to_string();
        let http = http(port).replace("ACCESS_LOG", &format!("{prefix}/access.log"));
        let conf = format!(
            "worker_processes auto;\ndaemon off;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n\
             events {{ worker_connections 1024; }}\nhttp {{\n  client_body_temp_path {prefix}/body;\n  \
             proxy_temp_path {prefix}/proxy;\n  fastcgi_temp_path {prefix}/fastcgi;\n  uwsgi_temp_path {prefix}/uwsgi;\n  \
             scgi_temp_path {prefix}/scgi;\n  {http}\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), conf)?;
        let child = Command::new(NGINX)
            .args(["-p", &prefix, "-c", &format!("{prefix}/nginx.conf")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nginx")?;
        let nginx = Self {
            child,
            port,
            _dir: dir,
        };
        wait_listening(port)?;
        nginx.wait_workers()?;
        Ok(nginx)
    }

    /// Waits for `worker_processes auto` (one per core) workers: the master listens before
    /// it forks them, and a meter built earlier would not charge them.
    fn wait_workers(&self) -> anyhow::Result<()> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let until = Instant::now() + Duration::from_secs(10);
        while children_of(self.child.id()).len() < cores {
            if Instant::now() > until {
                bail!("nginx did not start its {cores} workers");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // The workers are found before the master goes: once it has, they are orphans.
        let workers = children_of(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in workers {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_listening(port: u16) -> anyhow::Result<()> {
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > until {
            bail!("nginx did not listen on 127.0.0.1:{port}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// What one wrk run measured, with the CPU each process spent.
#[derive(Debug, Clone)]
pub struct WrkRun {
    /// Completed requests.
    pub requests: f64,
    /// Requests per second.
    pub rps: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// CPU µs used by each process over the run.
    pub cpu: Reading,
}

/// Runs wrk (one thread, `connections` keep-alive connections, POST) against `port`,
/// reading `meter` around it; wrk's own CPU is charged as `wrk`.
pub fn wrk(port: u16, path: &str, connections: usize, meter: &Meter) -> anyhow::Result<WrkRun> {
    if !Path::new(WRK).exists() {
        bail!("wrk is not installed ({WRK} is missing): apt-get install wrk");
    }
    let script = post_script()?;
    let (before, wrk_before) = (meter.read(), waited_children_us()?);
    let out = Command::new(WRK)
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{SECONDS}s"),
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .context("running wrk")?;
    let cpu = meter
        .read()
        .since(&before)
        .with("wrk", waited_children_us()? - wrk_before);
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    anyhow::ensure!(!text.contains("Non-2xx"), "some answers were not 2xx: {text}");
    parse_wrk(&text, cpu).with_context(|| format!("reading wrk's output: {text}"))
}

fn post_script() -> anyhow::Result<PathBuf> {
    let path = std::env::temp_dir().join("cairn-bench-post.lua");
    std::fs::write(&path, "wrk.method = \"POST\"\n")?;
    Ok(path)
}

fn parse_wrk(text: &str, cpu: Reading) -> Option<WrkRun> {
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))?
        .split_whitespace()
        .next()?
        .parse::<f64>()
        .ok()?;
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))?
        .trim()
        .parse()
        .ok()?;
    let percentile = |p: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(p))
            .and_then(|v| duration_us(v.trim()))
    };
    Some(WrkRun {
        requests,
        rps,
        p50_us: percentile("50%")?,
        p99_us: percentile("99%")?,
        cpu,
    })
}

/// wrk's `123.45us`, `1.20ms`, `2.00s` in µs.
fn duration_us(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(v) = text.strip_suffix("us") {
        (v, 1.0)
    } else if let Some(v) = text.strip_suffix("ms") {
        (v, 1e3)
    } else if let Some(v) = text.strip_suffix('s') {
        (v, 1e6)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

/// Medians of a side's runs: (req/s, p50, p99, CPU µs per request of each named process).
fn summary(runs: &[WrkRun], names: &[&str]) -> (f64, f64, f64, Vec<f64>) {
    let m = |f: &dyn Fn(&WrkRun) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let cpu = names
        .iter()
        .map(|n| m(&|r: &WrkRun| r.cpu.of(n) as f64 / r.requests.max(1.0)))
        .collect();
    (m(&|r| r.rps), m(&|r| r.p50_us), m(&|r| r.p99_us), cpu)
}

/// `p2n`: Cairn's gateway (pid `gateway`, listening on `gateway_port`, in front of
/// `upstream`) beside nginx's reverse proxy in front of the same upstream.
pub fn compare(gateway: u32, gateway_port: u16, upstream: &Nginx) -> anyhow::Result<()> {
    let proxy = Nginx::reverse_proxy(upstream.port)?;
    let path = "/api/v0/version";
    let cairn_meter = Meter::default()
        .watch("cairn", vec![gateway])
        .watch("upstream", upstream.pids());
    let nginx_meter = Meter::default()
        .watch("nginx", proxy.pids())
        .watch("upstream", upstream.pids());
    let direct_meter = Meter::default().watch("upstream", upstream.pids());
    println!(
        "P2n gateway beside nginx as a reverse proxy, null nginx upstream, access logs on, wrk -t1 POST {path}"
    );
    for connections in [1, 16, 64] {
        let (mut cairn, mut nginx, mut direct) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            cairn.push(wrk(gateway_port, path, connections, &cairn_meter)?);
            nginx.push(wrk(proxy.port, path, connections, &nginx_meter)?);
            if connections == 1 {
                direct.push(wrk(upstream.port, path, connections, &direct_meter)?);
            }
        }
        let (c_rps, c50, c99, c_cpu) = summary(&cairn, &["cairn", "upstream", "wrk"]);
        let (n_rps, n50, n99, n_cpu) = summary(&nginx, &["nginx", "upstream", "wrk"]);
        println!(
            "  c={connections:<3} req/s cairn {c_rps:>7.0} nginx {n_rps:>7.0} ratio {:.2} | p50 µs {c50:>6.0} vs {n50:>6.0} | p99 µs {c99:>6.0} vs {n99:>6.0}",
            c_rps / n_rps
        );
        println!(
            "         CPU µs/req: cairn {:.1} (upstream {:.1}, wrk {:.1}) | nginx {:.1} (upstream {:.1}, wrk {:.1}) | proxy ratio {:.2}",
            c_cpu[0],
            c_cpu[1],
            c_cpu[2],
            n_cpu[0],
            n_cpu[1],
            n_cpu[2],
            c_cpu[0] / n_cpu[0]
        );
        if connections == 1 {
            let (_, d50, _, _) = summary(&direct, &[]);
            println!(
                "         p50 added over the upstream alone ({d50:.0} µs): cairn +{:.0} µs, nginx +{:.0} µs",
                c50 - d50,
                n50 - d50
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_reads_as_a_run() {
        let text = "Running 3s test @ http://127.0.0.1:1/\n  1 threads and 16 connections\n  Latency Distribution\n     50%  412.00us\n     75%  1.01ms\n     90%  2.00ms\n     99%    1.50ms\n  51234 requests in 3.00s, 9.1MB read\nRequests/sec:  17078.00\n";
        let run = parse_wrk(text, Reading::default()).expect("parses");
        assert_eq!(run.requests, 51234.0);
        assert_eq!(run.rps, 17078.0);
        assert_eq!(run.p50_us, 412.0);
        assert_eq!(run.p99_us, 1500.0);
        assert_eq!(duration_us("2.00s"), Some(2e6));
    }
}
