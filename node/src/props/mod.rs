//! Property tests and long-run fuzz drivers of what the node reads from outside: multipart
//! `add` uploads ([`add`]) and DAG-PB / UnixFS blocks ([`dag`]).
//!
//! # What they own
//! - `add`: any upload body (boundaries, headers, filenames with `..`, nested and empty
//!   directories, empty parts) imports or ends in kubo's error, never panics or hangs, names
//!   nothing outside the add; a well-formed upload reads back byte for byte.
//! - `dag`: any bytes stored as a DAG-PB block (or a DAG of such blocks) can be walked
//!   (`links`, pins, gc), resolved and `cat` without a panic or a hang; gc keeps what a pin
//!   reaches.
//! - kubo's option booleans are cairn-kubo's, and checked there (`cairn_kubo::args`).
//!
//! # How they run
//! Each `proptest!` runs a short budget in `cargo test`. Each target also has a
//! `fuzz_<target>` driver over the same strategies and checks, which runs a short budget in
//! `cargo test` and as many inputs as asked in a long run:
//! `CAIRN_FUZZ_CASES=100000 cargo test --release -p cairn-node fuzz_`
//! (`CAIRN_FUZZ_SEED` fixes the seed, `CAIRN_FUZZ_SECONDS` caps each target's time). Each
//! prints how many inputs it checked, and what they came to, to stderr.
//!
//! A panic anywhere in the node while a property runs (the server's tasks included, where
//! tokio would otherwise swallow it) fails the property: [`Harness`] counts them.

mod add;
mod dag;
mod upload;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::Duration;

use cairn_kubo::fuzz::Tally;
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestCaseError};

/// Inputs per property in an ordinary `cargo test` (each one is a real add or DAG walk).
const CI_CASES: u32 = 64;
/// Inputs per target when `CAIRN_FUZZ_CASES` is not set (an ordinary `cargo test`).
const DEFAULT_FUZZ_CASES: u32 = 32;
/// Longest one input may take before it counts as a hang.
const CASE_TIMEOUT: Duration = Duration::from_secs(20);
/// Prefix of the names of the harness runtimes' threads (the panic counter's filter).
const THREAD_NAME: &str = "cairn-props-";

fn ci_config() -> Config {
    Config::with_cases(CI_CASES)
}

/// A runtime for one target's async work, and the panics seen on its threads.
struct Harness {
    runtime: tokio::runtime::Runtime,
    panics: Arc<AtomicU64>,
}

/// The panic counters by thread name, for the panic hook.
static COUNTERS: Mutex<Vec<(String, Arc<AtomicU64>)>> = Mutex::new(Vec::new());

impl Harness {
    /// The harness of `target`, made on first use (its threads are `cairn-props-<target>`).
    fn get(slot: &'static OnceLock<Harness>, target: &str) -> &'static Harness {
        slot.get_or_init(|| {
            count_panics();
            let name = format!("{THREAD_NAME}{target}");
            let panics = Arc::new(AtomicU64::new(0));
            COUNTERS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((name.clone(), panics.clone()));
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name(name)
                .enable_all()
                .build()
                .expect("runtime");
            Harness { runtime, panics }
        })
    }

    /// Runs one input's check: fails it on a timeout or on a panic inside the node.
    fn run<T, F>(&self, case: F) -> Result<T, TestCaseError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, TestCaseError>> + Send + 'static,
    {
        let before = self.panics.load(Ordering::SeqCst);
        let outcome = self.runtime.block_on(async {
            match tokio::time::timeout(CASE_TIMEOUT, tokio::spawn(case)).await {
                Err(_) => Err(TestCaseError::fail(format!(
                    "hang: no answer in {CASE_TIMEOUT:?}"
                ))),
                Ok(Err(join)) => Err(TestCaseError::fail(format!("the check panicked: {join}"))),
                Ok(Ok(result)) => result,
            }
        });
        let panics = self.panics.load(Ordering::SeqCst) - before;
        if panics > 0 {
            return Err(TestCaseError::fail(format!("{panics} panic(s) inside the node")));
        }
        outcome
    }
}

/// Counts panics on the harnesses' threads (and still prints them).
fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(name) = std::thread::current()
                .name()
                .filter(|n| n.starts_with(THREAD_NAME))
            {
                let counters = COUNTERS.lock().unwrap_or_else(|e| e.into_inner());
                for (_, count) in counters.iter().filter(|(n, _)| n == name) {
                    count.fetch_add(1, Ordering::SeqCst);
                }
            }
            previous(info);
        }));
    });
}

/// Runs `check` over `CAIRN_FUZZ_CASES` inputs of `strategy` (see `cairn_kubo::fuzz`).
fn long_run<S: Strategy>(target: &str, strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    cairn_kubo::fuzz::long_run(target, DEFAULT_FUZZ_CASES, strategy, check);
}
