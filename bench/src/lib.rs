//! cairn-bench: load scenarios that print gateway ÷ direct ratios (shared/reference/anchors.md
//! A.5, P1–P3) and, under `benches/`, criterion micro-benchmarks.
//!
//! Every ratio compares two measurements taken in the same run with the same build,
//! interleaved (gateway, direct, gateway, direct, …) and reduced to the median, because these
//! machines are shared and noisy. Nothing here asserts a threshold; the numbers are reported
//! in docs/performance.md.

pub mod load;
pub mod null_upstream;
pub mod pins;
