//! Failpoints for the fault suite: named places where a debug build can be told to crash or
//! stall, so that a test reproduces "killed between this write and that one" on purpose.
//!
//! `CAIRN_FAILPOINTS=name=action[;name=action…]`, read once per process. Actions:
//! `abort` (the process dies at once, as with `kill -9`: nothing after the point runs, no
//! destructor, no flush), `abort(n)` (dies the n-th time the point is reached, so a crash
//! lands in the middle of a load), `sleep(ms)` (the calling thread waits).
//!
//! Points: `log.before_commit` (a batch of log entries written into its transaction, not yet
//! committed or fsync'd), `log.after_commit` (durable, not yet reported to Raft, so not yet
//! acknowledged), `log.before_committed_alone` (a committed log id about to be written alone:
//! the ack waiting for it waits too), `apply.before_commit` (applied entries not yet committed), and
//! `snapshot.after_durable`, `snapshot.after_install`.
//!
//! # Invariants
//! - Release builds carry none: [`failpoint!`] expands to nothing without `debug_assertions`
//!   (the test builds are debug builds). The `fail` crate was considered: its switch is a cargo
//!   feature, and `cargo test --workspace` rebuilds the `cairn` binary the compat tests run
//!   without it, so the suite would silently test nothing.
//! - A failpoint never returns an error into the code around it: faults of the disk itself are
//!   injected from outside (a full tmpfs), so the code paths under test are the real ones.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What a failpoint does when reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Die the n-th time the point is reached (1: at once).
    Abort(u64),
    /// Wait this long.
    Sleep(Duration),
}

fn parse(spec: &str) -> HashMap<String, Action> {
    spec.split(';')
        .filter_map(|item| item.split_once('='))
        .filter_map(|(name, action)| {
            let action = match action.trim() {
                "abort" => Action::Abort(1),
                other => match other.strip_prefix("abort(") {
                    Some(n) => Action::Abort(n.strip_suffix(')')?.parse().ok()?),
                    None => {
                        let ms = other.strip_prefix("sleep(")?.strip_suffix(')')?.parse().ok()?;
                        Action::Sleep(Duration::from_millis(ms))
                    }
                },
            };
            Some((name.trim().to_owned(), action))
        })
        .collect()
}

fn configured() -> &'static HashMap<String, (Action, AtomicU64)> {
    static POINTS: OnceLock<HashMap<String, (Action, AtomicU64)>> = OnceLock::new();
    POINTS.get_or_init(|| {
        let spec = std::env::var("CAIRN_FAILPOINTS").unwrap_or_default();
        parse(&spec)
            .into_iter()
            .map(|(name, action)| (name, (action, AtomicU64::new(0))))
            .collect()
    })
}

/// Runs the action configured for `name`, if any.
pub fn reached(name: &str) {
    let Some((action, hits)) = configured().get(name) else {
        return;
    };
    let hit = hits.fetch_add(1, Ordering::SeqCst) + 1;
    match action {
        Action::Abort(n) if hit >= *n => {
            eprintln!("cairn: failpoint {name}: abort at hit {hit}");
            std::process::abort();
        }
        Action::Abort(_) => {}
        Action::Sleep(wait) => std::thread::sleep(*wait),
    }
}

/// Marks a failpoint (see the module docs); nothing in release builds.
#[macro_export]
macro_rules! failpoint {
    ($name:literal) => {
        #[cfg(debug_assertions)]
        $crate::failpoint::reached($name);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_unknown_actions_are_ignored() {
        let points = parse("a=abort; b=sleep(250);c=explode;d;e=abort(40)");
        assert_eq!(points.get("a"), Some(&Action::Abort(1)));
        assert_eq!(points.get("b"), Some(&Action::Sleep(Duration::from_millis(250))));
        assert_eq!(points.get("e"), Some(&Action::Abort(40)));
        assert_eq!(points.len(), 3);
    }
}
