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

use cairn_kubo::fuzz::Tally;
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestCaseError};

/// Inputs per property in an ordinary `cargo test`.
pub(super) const CI_CASES: u32 = 256;

/// Inputs per target when `CAIRN_FUZZ_CASES` is not set (an ordinary `cargo test`).
const DEFAULT_FUZZ_CASES: u32 = 256;

/// The proptest configuration of the CI properties.
fn ci_config() -> Config {
    Config::with_cases(CI_CASES)
}

/// Runs `check` over `CAIRN_FUZZ_CASES` inputs of `strategy` (see `cairn_kubo::fuzz`).
fn long_run<S: Strategy>(target: &str, strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    cairn_kubo::fuzz::long_run(target, DEFAULT_FUZZ_CASES, strategy, check);
}
