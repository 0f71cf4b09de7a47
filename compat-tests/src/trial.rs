//! Running data-driven cases as individual tests with libtest-mimic.
//!
//! A test binary builds its environment once (daemons, gateways); if that fails, every trial
//! fails with the reason, so a missing daemon shows up as failures with a clear message,
//! never as skipped or passed tests.

use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};

/// A shared tokio runtime for the trials of one test binary.
pub fn runtime() -> Arc<tokio::runtime::Runtime> {
    Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot build a tokio runtime: {e}")),
    )
}

/// Turns an `anyhow` result into a libtest-mimic outcome, with the whole error chain.
pub fn outcome(result: anyhow::Result<()>) -> Result<(), Failed> {
    result.map_err(|e| Failed::from(format!("{e:#}")))
}

/// Runs `trials` (serially when `serial`), returning the process exit code.
pub fn run(trials: Vec<Trial>, serial: bool) -> std::process::ExitCode {
    let mut args = Arguments::from_args();
    if serial {
        args.test_threads = Some(1);
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// Trials named `names` that all fail with `reason` (the environment could not be built).
pub fn all_failing(names: Vec<String>, reason: &anyhow::Error) -> Vec<Trial> {
    let reason = format!("{reason:#}");
    names
        .into_iter()
        .map(|name| {
            let reason = reason.clone();
            Trial::test(name, move || Err(Failed::from(reason)))
        })
        .collect()
}
