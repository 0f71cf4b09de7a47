//! A private network for a [`super::FaultCluster`]: each peer in its own network namespace,
//! joined by veth pairs to a bridge in the test's namespace, so that links between peers can be
//! cut (blackhole routes) and slowed (`tc netem`) while the test still reaches every peer.
//!
//! # Invariants
//! - Only namespaces, links and addresses this module created are touched, and all of them are
//!   removed when the [`Network`] is dropped. Addresses are 10.77.<k>.0/24, `k` unique per test
//!   process and network; nothing is routed anywhere else.
//! - Without the capability (not root, no `ip`), [`Network::create`] fails with a message that
//!   says what is missing; a suite never falls back silently.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A slow, lossy link without `sch_netem`: 512 kbit/s, packets that would wait more than
/// 100 ms dropped.
pub const TBF: &str = "tbf rate 512kbit burst 16kb latency 100ms";

/// The namespaces of one cluster and the bridge between them.
pub struct Network {
    tag: String,
    subnet: u8,
    peers: usize,
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
    /// kernel without `sch_netem` ("Specified qdisc kind is unknown") it uses [`TBF`] instead,
    /// which delays through its queue and drops what overflows it; returns which one it used,
    /// for the history.
    pub fn slow(&self, i: usize, netem: &str) -> anyhow::Result<String> {
        let ns = self.namespace(i);
        let qdisc = |kind: &str| {
            let mut args = vec![
                "netns", "exec", &ns, "tc", "qdisc", "replace", "dev", "eth0", "root",
            ];
            args.extend(kind.split_whitespace());
            ip(&args)
        };
        let wanted = format!("netem {netem}");
        match qdisc(&wanted) {
            Ok(()) => Ok(wanted),
            Err(e) if e.to_string().contains("qdisc kind is unknown") => {
                qdisc(TBF)?;
                Ok(format!("{TBF} (this kernel has no sch_netem)"))
            }
            Err(e) => Err(e),
        }
    }

    /// Removes every peer's `netem`.
    pub fn unslow(&self) -> anyhow::Result<()> {
        for i in 0..self.peers {
            let ns = self.namespace(i);
            let _ = ip(&["netns", "exec", &ns, "tc", "qdisc", "del", "dev", "eth0", "root"]);
        }
        Ok(())
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for i in 0..self.peers {
            let _ = ip(&["netns", "del", &self.namespace(i)]);
        }
        let _ = ip(&["link", "del", &self.bridge()]);
    }
}
