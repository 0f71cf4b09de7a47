//! cairn-bench: load scenarios that print gateway ÷ direct ratios (shared/reference/anchors.md
//! A.5, P1–P3) and, under `benches/`, criterion micro-benchmarks.
//!
//! Every ratio compares two measurements taken in the same run with the same build,
//! interleaved (gateway, direct, gateway, direct, …) and reduced to the median, because these
//! machines are shared and noisy. Nothing here asserts a threshold; the numbers are reported
//! in docs/performance.md.

pub mod composite;
pub mod cpu;
pub mod failover;
pub mod follow;
pub mod intercept;
pub mod load;
pub mod nginx;
pub mod null_upstream;
pub mod pins;
pub mod tracking;

/// A `/proc/<pid>/status` field in KiB (`VmRSS:`, `VmHWM:`).
pub fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    use anyhow::Context;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("no {field}"))?;
    Ok(line.split_whitespace().nth(1).context("no value")?.parse()?)
}
