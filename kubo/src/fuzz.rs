//! The long-run fuzz driver of Cairn's property tests (feature `fuzz`, for dev-dependencies):
//! the gateway's and the node's readers of kubo requests run the same strategies and checks
//! as their `proptest!`s over as many inputs as asked.
//!
//! `CAIRN_FUZZ_CASES` sets the inputs per target (a short default in `cargo test`),
//! `CAIRN_FUZZ_SEED` fixes the seed, `CAIRN_FUZZ_SECONDS` caps each target's time. Each run
//! prints how many inputs it checked to stderr (uncaptured, so it shows without
//! `--nocapture`) and fails with proptest's minimal input.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::{any, prop, prop_oneof};
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

/// kubo's reading of a bool option's text: `Some(value)`, or `None` where it answers 400
/// (go-ipfs-cmds lowercases, then `strconv.ParseBool`; present without a value is true).
pub fn kubo_bool(text: &str) -> Option<bool> {
    match text.to_lowercase().as_str() {
        "" | "1" | "t" | "true" => Some(true),
        "0" | "f" | "false" => Some(false),
        _ => None,
    }
}

/// Texts near kubo's bool spellings: every case mix, padding, other words, and anything.
pub fn bool_text() -> impl Strategy<Value = String> {
    let words = vec![
        "true", "false", "t", "f", "1", "0", "", "yes", "no", "on", "2", "truee", " true", "tru",
    ];
    prop_oneof![
        4 => (prop::sample::select(words), any::<u64>()).prop_map(|(w, mask)| {
            w.chars()
                .enumerate()
                .map(|(i, c)| if (mask >> (i % 64)) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect()
        }),
        1 => any::<String>(),
    ]
}

/// Runs `check` over `CAIRN_FUZZ_CASES` (else `default_cases`) inputs of `strategy`.
pub fn long_run<S: Strategy>(
    target: &str,
    default_cases: u32,
    strategy: S,
    check: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let cases = env_number("CAIRN_FUZZ_CASES").map_or(default_cases, |n| n.min(u64::from(u32::MAX)) as u32);
    let rng_seed = env_number("CAIRN_FUZZ_SEED").map_or(RngSeed::Random, RngSeed::Fixed);
    let budget = env_number("CAIRN_FUZZ_SECONDS").map(Duration::from_secs);
    // Strategies filter some inputs out; proptest's default of 65,536 rejects per run ends a
    // million-input run early ("Too many local rejects" after 376,353 uploads).
    let config = Config {
        cases,
        rng_seed,
        failure_persistence: None,
        max_local_rejects: cases.saturating_mul(4),
        max_global_rejects: cases.saturating_mul(4),
        ..Config::default()
    };
    let ran = AtomicU64::new(0);
    let started = Instant::now();
    let result = TestRunner::new(config).run(&strategy, |value| {
        // A time budget ends the run early by skipping the remaining inputs unchecked.
        if budget.is_some_and(|b| started.elapsed() > b) {
            return Ok(());
        }
        ran.fetch_add(1, Ordering::Relaxed);
        check(value)
    });
    let elapsed = started.elapsed();
    let _ = writeln!(
        std::io::stderr(),
        "{target}: {} inputs checked in {elapsed:.1?} ({cases} cases asked), {}",
        ran.load(Ordering::Relaxed),
        if result.is_ok() { "no failures" } else { "FAILED" }
    );
    if let Err(failure) = result {
        panic!("{target}: {failure}");
    }
}

/// How often each kind of outcome came up in a long run, so a run shows it reached them all.
#[derive(Debug)]
pub struct Tally {
    labels: &'static [&'static str],
    counts: Vec<AtomicU64>,
}

impl Tally {
    /// A tally of outcomes named `labels`.
    pub fn new(labels: &'static [&'static str]) -> Self {
        Self {
            labels,
            counts: labels.iter().map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Counts one outcome of kind `slot` (an index into the labels).
    pub fn count(&self, slot: usize) {
        if let Some(count) = self.counts.get(slot) {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Prints the counts to stderr.
    pub fn report(&self, target: &str) {
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
