//! Property tests and long-run fuzz drivers of interception's request reading: what the
//! gateway decides from a path ([`route`]), a method and headers ([`guard`]) and a query
//! ([`query`]), each checked against a small model of what kubo would do with the same bytes.
//!
//! # What they own
//! - `route`: a path classified Forward never names an intercepted command after kubo's
//!   normalisation (Go's percent-decoding, `path.Clean`); ambiguous spellings are refused.
//! - `guard`: only POST is served, and only when kubo's CSRF rules would let it through.
//! - `query`: no query string panics; booleans are exactly kubo's spellings; a `block/put`
//!   the gateway forwards is one kubo would not pin.
//!
//! # How they run
//! Each `proptest!` runs [`CI_CASES`] inputs in `cargo test`. Each target also has a
//! `fuzz_<target>` driver over the same strategies and checks, which runs a short budget in
//! `cargo test` and as many inputs as asked in a long run:
//! `CAIRN_FUZZ_CASES=1000000 cargo test --release -p cairn-gateway fuzz_`
//! (`CAIRN_FUZZ_SEED` fixes the seed). Each prints how many inputs it ran to stderr.

mod guard;
mod query;
mod route;

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

/// Inputs per property in an ordinary `cargo test`.
pub(super) const CI_CASES: u32 = 256;

/// Inputs per target when `CAIRN_FUZZ_CASES` is not set (an ordinary `cargo test`).
const DEFAULT_FUZZ_CASES: u32 = 256;

/// The proptest configuration of the CI properties.
fn ci_config() -> Config {
    Config::with_cases(CI_CASES)
}

/// Runs `check` over `CAIRN_FUZZ_CASES` inputs of `strategy`, reports the count on stderr
/// (uncaptured, so it shows without `--nocapture`) and fails with proptest's minimal input.
fn long_run<S: Strategy>(target: &str, strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let cases =
        env_number("CAIRN_FUZZ_CASES").map_or(DEFAULT_FUZZ_CASES, |n| n.min(u64::from(u32::MAX)) as u32);
    let rng_seed = env_number("CAIRN_FUZZ_SEED").map_or(RngSeed::Random, RngSeed::Fixed);
    let config = Config {
        cases,
        rng_seed,
        failure_persistence: None,
        ..Config::default()
    };
    let ran = AtomicU64::new(0);
    let started = Instant::now();
    let result = TestRunner::new(config).run(&strategy, |value| {
        ran.fetch_add(1, Ordering::Relaxed);
        check(value)
    });
    let elapsed = started.elapsed();
    let _ = writeln!(
        std::io::stderr(),
        "{target}: {} inputs in {elapsed:.1?} ({cases} cases asked), {}",
        ran.load(Ordering::Relaxed),
        if result.is_ok() { "no failures" } else { "FAILED" }
    );
    if let Err(failure) = result {
        panic!("{target}: {failure}");
    }
}

/// How often each kind of answer came up in a long run, so a run shows it reached them all.
struct Tally {
    labels: &'static [&'static str],
    counts: Vec<AtomicU64>,
}

impl Tally {
    fn new(labels: &'static [&'static str]) -> Self {
        Self {
            labels,
            counts: labels.iter().map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn count(&self, slot: usize) {
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
    }

    fn report(&self, target: &str) {
        let parts: Vec<String> = self
            .labels
            .iter()
            .zip(&self.counts)
            .map(|(label, count)| format!("{label} {}", count.load(Ordering::Relaxed)))
            .collect();
        let _ = writeln!(std::io::stderr(), "{target}: {}", parts.join(", "));
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().replace('_', "").parse().ok()
}
