//! Back-off after repeated connection failures: once [`THRESHOLD`] calls in a row could not
//! reach the daemon, calls fail at once (without dialling) for a pause that doubles with each
//! further failure up to [`MAX_PAUSE`]; any answer from the daemon ends it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures in a row before pausing.
pub(super) const THRESHOLD: u32 = 3;
/// The longest pause.
pub(super) const MAX_PAUSE: Duration = Duration::from_secs(30);

/// Shared by every clone of one client.
#[derive(Debug, Default)]
pub(super) struct Backoff {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    until: Option<Instant>,
}

impl Backoff {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fails while a pause is running.
    pub(super) fn check(&self) -> Result<(), String> {
        let state = self.lock();
        match state.until {
            Some(until) if Instant::now() < until => Err(format!(
                "not contacted: {} connection failures in a row, next attempt in {:?}",
                state.failures,
                until - Instant::now()
            )),
            _ => Ok(()),
        }
    }

    /// Counts a failed connection or resets on an answer; passes `outcome` through.
    pub(super) fn observe<T>(&self, outcome: Result<T, String>) -> Result<T, String> {
        let mut state = self.lock();
        match &outcome {
            Ok(_) => *state = State::default(),
            Err(_) => {
                state.failures += 1;
                if state.failures >= THRESHOLD {
                    let doublings = (state.failures - THRESHOLD).min(5);
                    let pause = (Duration::from_secs(1) * 2u32.pow(doublings)).min(MAX_PAUSE);
                    state.until = Some(Instant::now() + pause);
                }
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_failures_pause_calls_and_an_answer_ends_the_pause() {
        let backoff = Backoff::default();
        for _ in 0..THRESHOLD - 1 {
            let _ = backoff.observe::<()>(Err("refused".into()));
            assert!(backoff.check().is_ok());
        }
        let _ = backoff.observe::<()>(Err("refused".into()));
        let err = backoff.check().unwrap_err();
        assert!(err.contains("3 connection failures in a row"), "{err}");
        let _ = backoff.observe(Ok(()));
        assert!(backoff.check().is_ok());
    }
}
