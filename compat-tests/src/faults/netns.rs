//! A private network for a [`super::FaultCluster`]: each peer in its own network namespace,
//! joined by veth pairs to a bridge in the test's namespace, so that links between peers can be
//! cut (blackhole routes) and slowed (`tc netem`, or on a kernel without it the userspace
//! emulator of [`super::linkem`]) while the test still reaches every peer.
//!
//! # Invariants
//! - Only namespaces, links and addresses this module created are touched, and all of them are
//!   removed when the [`Network`] is dropped. Addresses are 10.77.<k>.0/24, `k` unique per test
//!   process and network; nothing is routed anywhere else.
//! - Without the capability (not root, no `ip`), [`Network::create`] fails with a message that
//!   says what is missing; a suite never falls back silently.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use super::linkem::{self, Emulator, Setting};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The namespaces of one cluster and the bridge between them.
pub struct Network {
    tag: String,
    subnet: u8,
    peers: usize,
    /// The userspace link emulator, while it slows links.
    emulator: Mutex<Option<Emulator>>,
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    run("ip", args)
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(program).args(args).output().map_err(|e| {
        anyhow::anyhow!("cannot run `{program}` ({e}): the fault suite needs iproute2 and root")
    })?;
    anyhow::ensure!(
        out.status.success(),
        "`{program} {}` failed: {}; the fault suite needs root (network namespaces, tc)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

impl Network {
    /// Creates `peers` namespaces on a new bridge.
    pub fn create(peers: usize) -> anyhow::Result<Self> {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let subnet = ((std::process::id() + n * 37) % 200 + 20) as u8;
        let net = Self {
            tag: format!("{}{n}", std::process::id() % 10_000),
            subnet,
            peers,
            emulator: Mutex::new(None),
        };
        net.build()?;
        Ok(net)
    }

    fn bridge(&self) -> String {
        format!("cb{}", self.tag)
    }

    /// Peer `i`'s namespace.
    pub fn namespace(&self, i: usize) -> String {
        format!("cairn-{}-p{i}", self.tag)
    }

    /// Peer `i`'s address.
    pub fn addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.subnet, 10 + i as u8)
    }

    fn build(&self) -> anyhow::Result<()> {
        let bridge = self.bridge();
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("10.77.{}.1/24", self.subnet),
            "dev",
            &bridge,
        ])?;
        ip(&["link", "set", &bridge, "up"])?;
        for i in 0..self.peers {
            let (ns, outside) = (self.namespace(i), format!("cv{}x{i}", self.tag));
            ip(&["netns", "add", &ns])?;
            ip(&[
                "link", "add", &outside, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ])?;
            ip(&["link", "set", &outside, "master", &bridge, "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", self.addr(i)),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    /// Cuts every link between a peer of `a` and a peer of `b`, both ways.
    pub fn cut(&self, a: &[usize], b: &[usize]) -> anyhow::Result<()> {
        for (&x, &y) in a.iter().flat_map(|x| b.iter().map(move |y| (x, y))) {
            self.route(x, y, "add")?;
            self.route(y, x, "add")?;
        }
        Ok(())
    }

    fn route(&self, from: usize, to: usize, action: &str) -> anyhow::Result<()> {
        let target = format!("{}/32", self.addr(to));
        ip(&["-n", &self.namespace(from), "route", action, "blackhole", &target])
    }

    /// Restores every link between peers.
    pub fn heal(&self) -> anyhow::Result<()> {
        for from in 0..self.peers {
            for to in 0..self.peers {
                if from != to {
                    let _ = self.route(from, to, "del");
                }
            }
        }
        Ok(())
    }

    /// Slows peer `i`'s link with `netem` arguments such as `delay 75ms 50ms loss 20%`. On a
    /// kernel without `sch_netem` ("Specified qdisc kind is unknown") the links between peer
    /// `i` and every other peer go through the userspace emulator instead ([`linkem`]), with
    /// the same delay, jitter and loss; returns which one it used, for the history.
    pub fn slow(&self, i: usize, netem: &str) -> anyhow::Result<String> {
        let ns = self.namespace(i);
        let mut args = vec![
            "netns", "exec", &ns, "tc", "qdisc", "replace", "dev", "eth0", "root", "netem",
        ];
        args.extend(netem.split_whitespace());
        match ip(&args) {
            Ok(()) => Ok(format!("netem {netem}")),
            Err(e) if e.to_string().contains("qdisc kind is unknown") => {
                self.emulate(i, Setting::parse(netem)?)?;
                Ok(format!(
                    "netem {netem} in userspace (compat-tests/py/linkem.py; this kernel has no sch_netem)"
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// Routes every link of peer `i` through the emulator, starting it with `setting`.
    fn emulate(&self, i: usize, setting: Setting) -> anyhow::Result<()> {
        let mut running = self.emulator.lock().unwrap_or_else(|e| e.into_inner());
        if running.is_none() {
            let addrs: Vec<Ipv4Addr> = (0..self.peers).map(|p| self.addr(p)).collect();
            let emulator = Emulator::start(&self.tag, &addrs, setting.clone(), u64::from(self.subnet))?;
            for p in 0..self.peers {
                self.attach(p, emulator.device(p))?;
            }
            *running = Some(emulator);
        }
        let Some(emulator) = running.as_ref() else {
            anyhow::bail!("the link emulator is not running");
        };
        anyhow::ensure!(
            emulator.setting() == &setting,
            "the link emulator runs with {:?}; unslow before slowing with {setting:?}",
            emulator.setting()
        );
        for other in (0..self.peers).filter(|p| *p != i) {
            self.route_through(i, other, emulator.device(i))?;
            self.route_through(other, i, emulator.device(other))?;
        }
        Ok(())
    }

    /// Moves `device` into peer `p`'s namespace and brings it up; replies to packets that
    /// arrive on it are not refused by the reverse-path filter.
    fn attach(&self, p: usize, device: &str) -> anyhow::Result<()> {
        let ns = self.namespace(p);
        ip(&["link", "set", device, "netns", &ns])?;
        ip(&["-n", &ns, "link", "set", device, "up"])?;
        let (all, own) = (
            "net.ipv4.conf.all.rp_filter=0".to_owned(),
            format!("net.ipv4.conf.{device}.rp_filter=0"),
        );
        ip(&["netns", "exec", &ns, "sysctl", "-qw", &all, &own])
    }

    /// Sends peer `from`'s packets to peer `to` through `device`.
    fn route_through(&self, from: usize, to: usize, device: &str) -> anyhow::Result<()> {
        let (target, source) = (format!("{}/32", self.addr(to)), self.addr(from).to_string());
        let ns = self.namespace(from);
        ip(&[
            "-n",
            &ns,
            "route",
            "replace",
            &target,
            "dev",
            device,
            "src",
            &source,
            "metric",
            linkem::METRIC,
        ])
    }

    /// Removes every peer's `netem` and stops the emulator (its routes go with its devices).
    pub fn unslow(&self) -> anyhow::Result<()> {
        drop(self.emulator.lock().unwrap_or_else(|e| e.into_inner()).take());
        for i in 0..self.peers {
            let ns = self.namespace(i);
            let _ = ip(&["netns", "exec", &ns, "tc", "qdisc", "del", "dev", "eth0", "root"]);
        }
        Ok(())
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        drop(self.emulator.lock().unwrap_or_else(|e| e.into_inner()).take());
        for i in 0..self.peers {
            let _ = ip(&["netns", "del", &self.namespace(i)]);
        }
        let _ = ip(&["link", "del", &self.bridge()]);
    }
}
