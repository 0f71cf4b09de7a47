//! Slow and lossy links on a kernel without `sch_netem`: the userspace emulator
//! `compat-tests/py/linkem.py`, one TUN device per peer namespace, through which the links
//! being slowed are routed.
//!
//! The emulator applies netem's `delay D [J]` (uniform jitter, so packets reorder as with
//! netem) and `loss P%` to IPv4 packets, each direction of a link on its own. A slowed link
//! is a host route (metric [`METRIC`]) to the other peer through the namespace's TUN device;
//! a partition's blackhole route (metric 0) wins over it, and stopping the emulator removes
//! its devices and with them every route through them.
//!
//! # Invariants
//! - The emulator forwards only to the addresses of this network's peers; anything else it
//!   reads is dropped.
//! - One setting at a time: slowing a link with another setting while the emulator runs is an
//!   error (unslow first), never a silent change.

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

/// The metric of a slowed link's route: above a blackhole's (0), below nothing else.
pub const METRIC: &str = "10";

/// netem's delay, jitter and loss, as the emulator takes them.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    delay: Duration,
    jitter: Duration,
    /// Probability, 0 to 1.
    loss: f64,
}

fn duration(text: &str) -> anyhow::Result<Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len()));
    let value: f64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("netem: `{text}` is not a duration"))?;
    let seconds = match unit {
        "s" => value,
        "ms" => value / 1e3,
        "us" => value / 1e6,
        _ => anyhow::bail!("netem: `{text}`: the unit must be s, ms or us"),
    };
    Ok(Duration::from_secs_f64(seconds))
}

impl Setting {
    /// Reads netem arguments such as `delay 75ms 50ms loss 20%`.
    pub fn parse(netem: &str) -> anyhow::Result<Self> {
        let mut setting = Self {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
        };
        let mut words = netem.split_whitespace().peekable();
        while let Some(word) = words.next() {
            match word {
                "delay" => {
                    let delay = words
                        .next()
                        .ok_or_else(|| anyhow::anyhow!("netem: delay needs a time"))?;
                    setting.delay = duration(delay)?;
                    if let Some(jitter) = words.next_if(|w| w.starts_with(|c: char| c.is_ascii_digit())) {
                        setting.jitter = duration(jitter)?;
                    }
                }
                "loss" => {
                    let loss = words
                        .next()
                        .ok_or_else(|| anyhow::anyhow!("netem: loss needs a percentage"))?;
                    let percent: f64 = loss
                        .trim_end_matches('%')
                        .parse()
                        .map_err(|_| anyhow::anyhow!("netem: `{loss}` is not a percentage"))?;
                    anyhow::ensure!(
                        (0.0..=100.0).contains(&percent),
                        "netem: loss {loss} out of 0–100%"
                    );
                    setting.loss = percent / 100.0;
                }
                other => {
                    anyhow::bail!("netem: the userspace emulator takes delay, jitter and loss; not `{other}`")
                }
            }
        }
        Ok(setting)
    }

    fn args(&self) -> Vec<String> {
        vec![
            format!("--delay-ms={}", self.delay.as_secs_f64() * 1e3),
            format!("--jitter-ms={}", self.jitter.as_secs_f64() * 1e3),
            format!("--loss={}", self.loss),
        ]
    }
}

/// A running emulator and its TUN devices (named, per peer, by [`Emulator::device`]).
pub struct Emulator {
    child: Child,
    stdin: Option<ChildStdin>,
    setting: Setting,
    devices: Vec<String>,
}

impl Emulator {
    /// Starts the emulator with a device for each of `addrs` (peer `i` behind device `i`).
    pub fn start(tag: &str, addrs: &[Ipv4Addr], setting: Setting, seed: u64) -> anyhow::Result<Self> {
        let script = crate::repo_root().join("compat-tests/py/linkem.py");
        let devices: Vec<String> = (0..addrs.len()).map(|i| format!("ct{tag}t{i}")).collect();
        let mut child = Command::new("python3")
            .arg(&script)
            .args(setting.args())
            .arg(format!("--seed={seed}"))
            .args(devices.iter().zip(addrs).map(|(d, a)| format!("{d}={a}")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot run python3 {} ({e})", script.display()))?;
        let stdin = child.stdin.take();
        let mut ready = String::new();
        if let Some(stdout) = child.stdout.take() {
            BufReader::new(stdout).read_line(&mut ready)?;
        }
        if ready.trim() != "ready" {
            let out = child.wait_with_output()?;
            anyhow::bail!(
                "the link emulator did not start (it needs root and /dev/net/tun): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(Self {
            child,
            stdin,
            setting,
            devices,
        })
    }

    /// The setting it applies.
    pub fn setting(&self) -> &Setting {
        &self.setting
    }

    /// Peer `i`'s device.
    pub fn device(&self, i: usize) -> &str {
        &self.devices[i]
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // Closing its stdin stops it; its devices vanish with its file descriptors.
        drop(self.stdin.take());
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netem_arguments_read_as_netem_reads_them() {
        let s = Setting::parse("delay 75ms 50ms loss 20%").expect("parse");
        assert_eq!(s.delay, Duration::from_millis(75));
        assert_eq!(s.jitter, Duration::from_millis(50));
        assert!((s.loss - 0.2).abs() < 1e-9);
        let s = Setting::parse("loss 1.5% delay 1s").expect("parse");
        assert_eq!((s.delay, s.jitter), (Duration::from_secs(1), Duration::ZERO));
        assert!(
            Setting::parse("delay 75ms 50ms 25%").is_err(),
            "correlation is not emulated"
        );
        assert!(Setting::parse("rate 1mbit").is_err());
        assert!(Setting::parse("loss 120%").is_err());
        assert!(Setting::parse("delay fast").is_err());
    }
}
