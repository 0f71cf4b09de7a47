//! A Jepsen-style history of operations on a pinset, and the checker that judges it.
//!
//! The pinset is a set of CIDs; each CID is an independent register, present or absent, and
//! absent before the history begins. A client calls [`History::invoke`] before it sends an
//! operation and [`History::complete`] when the answer arrives; a nemesis records its actions
//! (kill, pause, heal, …) with [`History::event`]. [`check`] judges the operations together
//! with the peers' final pinsets; [`read_your_writes_misses`] judges reads per session.
//!
//! # Owns
//! - the recording: [`History`], [`Op`], [`Event`], and its JSON-lines form
//!   ([`History::write_jsonl`]) for keeping a failing history;
//! - the rules ([`check`], [`read_your_writes_misses`]) and their [`Report`], in `rules.rs`.
//!
//! # Model
//! An op occupies the interval `[invoked, completed]`, both measured on one monotonic clock
//! from the history's creation. A write (`Add`, `Rm`) that is `Ok` took effect at one instant
//! inside its interval; one that is `Fail` never took effect; one that is `Info` (timeout,
//! lost connection, 5xx, or never completed) took effect at some instant at or after its
//! invocation, or never. Touching intervals count as concurrent: a tie is never a violation.
//!
//! # Invariants
//! - Op ids are assigned in invoke order from 0 and equal the op's index in [`History::ops`];
//!   `invoked` never decreases with the id.
//! - An op without `completed` is indeterminate whatever its `outcome` says
//!   ([`Op::effective`]).
//! - The lock is never held across an await (nothing here is async) nor across I/O.
//! - The checks are sound: they never flag a history that some order of the writes' effects,
//!   as the model allows, explains. They are not complete: each CID is judged alone, and only
//!   the constraints stated on [`check`] are used.
//! - Checking is O(n log n) in the number of ops: ops are grouped by CID, and each group's
//!   writes are sorted once with running maxima so every question is a binary search.

use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

mod rules;
#[cfg(test)]
mod tests;

pub use rules::{Report, check, read_your_writes_misses};

/// What an operation does to its CID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Pin the CID.
    Add,
    /// Unpin the CID.
    Rm,
    /// Ask whether the CID is pinned.
    Read {
        /// Whether the read promises real-time order (answered through the consensus
        /// leader); only such reads are judged STALE by [`check`].
        linearizable: bool,
    },
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Acknowledged: a write took effect within its interval; a read saw `present`.
    Ok,
    /// Definitely not applied (a 4xx answer).
    Fail,
    /// Indeterminate (timeout, lost connection, 5xx): may take effect at any time at or
    /// after invocation, or never.
    Info,
}

/// One recorded operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Op {
    /// Position in invoke order.
    pub id: u64,
    /// The client (session) that sent it.
    pub client: usize,
    /// The peer it was sent to.
    pub peer: usize,
    /// What it does.
    pub kind: Kind,
    /// The CID it is about.
    pub cid: String,
    /// When it was invoked, from the history's creation (microseconds in JSON).
    #[serde(rename = "invoked_us", serialize_with = "micros")]
    pub invoked: Duration,
    /// When its answer arrived; `None` if it never did (then it counts as `Info`).
    #[serde(rename = "completed_us", serialize_with = "opt_micros")]
    pub completed: Option<Duration>,
    /// How it ended.
    pub outcome: Outcome,
    /// For a read, whether it saw the CID pinned.
    pub present: Option<bool>,
}

impl Op {
    /// The outcome the checks use: `Info` when the op never completed, else `outcome`.
    pub fn effective(&self) -> Outcome {
        match self.completed {
            Some(_) => self.outcome,
            None => Outcome::Info,
        }
    }

    fn is_write(&self) -> bool {
        matches!(self.kind, Kind::Add | Kind::Rm)
    }
}

/// A nemesis action (kill, pause, heal, …) and when it happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// When, from the history's creation (microseconds in JSON).
    #[serde(rename = "at_us", serialize_with = "micros")]
    pub at: Duration,
    /// What happened.
    pub text: String,
}

/// An invoked operation awaiting [`History::complete`]; dropped, it stays indeterminate.
#[must_use = "an op never completed counts as indeterminate"]
#[derive(Debug)]
pub struct Pending {
    id: u64,
}

impl Pending {
    /// The id of the op.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// A shared, append-only record of operations and events; clones record into the same one.
#[derive(Debug, Clone)]
pub struct History {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    start: Instant,
    log: Mutex<Log>,
}

#[derive(Debug, Default)]
struct Log {
    ops: Vec<Op>,
    events: Vec<Event>,
}

impl Default for History {
    fn default() -> Self {
        Self::new()
    }
}

impl History {
    /// An empty history; its clock starts now.
    pub fn new() -> Self {
        let shared = Shared {
            start: Instant::now(),
            log: Mutex::new(Log::default()),
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Records that `client` is sending `kind` on `cid` to `peer`, now.
    pub fn invoke(&self, client: usize, peer: usize, kind: Kind, cid: impl Into<String>) -> Pending {
        let cid = cid.into();
        let mut log = self.log();
        // Timed under the lock, so ids and invocation times are in the same order.
        let invoked = self.now();
        let id = log.ops.len() as u64;
        let outcome = Outcome::Info;
        log.ops.push(Op {
            id,
            client,
            peer,
            kind,
            cid,
            invoked,
            completed: None,
            outcome,
            present: None,
        });
        Pending { id }
    }

    /// Records that the op of `pending` ended now with `outcome`; `present` is what a read saw.
    /// A `pending` from another history is ignored.
    pub fn complete(&self, pending: Pending, outcome: Outcome, present: Option<bool>) {
        let completed = self.now();
        let mut log = self.log();
        if let Some(op) = usize::try_from(pending.id).ok().and_then(|i| log.ops.get_mut(i)) {
            op.completed = Some(completed);
            op.outcome = outcome;
            op.present = present;
        }
    }

    /// Records a nemesis event, now.
    pub fn event(&self, text: impl Into<String>) {
        let event = Event {
            at: self.now(),
            text: text.into(),
        };
        self.log().events.push(event);
    }

    /// A snapshot of the ops, in id order.
    pub fn ops(&self) -> Vec<Op> {
        self.log().ops.clone()
    }

    /// A snapshot of the events, in time order.
    pub fn events(&self) -> Vec<Event> {
        self.log().events.clone()
    }

    /// Writes the history to `path` as JSON lines: first `{"type":"seed","seed":…}`, then
    /// every op (`"type":"op"`, at its invocation) and event (`"type":"event"`) in time order.
    pub fn write_jsonl(&self, path: &Path, seed: u64) -> anyhow::Result<()> {
        let (ops, events) = {
            let log = self.log();
            (log.ops.clone(), log.events.clone())
        };
        let mut lines: Vec<(Duration, Line<'_>)> = ops.iter().map(|op| (op.invoked, Line::Op(op))).collect();
        lines.extend(events.iter().map(|event| (event.at, Line::Event(event))));
        lines.sort_by_key(|(at, _)| *at);
        let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        write_line(&mut out, &Line::Seed { seed })?;
        for (_, line) in &lines {
            write_line(&mut out, line)?;
        }
        out.flush().with_context(|| format!("writing {}", path.display()))
    }

    fn now(&self) -> Duration {
        self.shared.start.elapsed()
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        self.shared.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One line of the JSON-lines form.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line<'a> {
    Seed { seed: u64 },
    Op(&'a Op),
    Event(&'a Event),
}

fn write_line(out: &mut impl std::io::Write, line: &Line<'_>) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")?;
    Ok(())
}

fn micros<S: serde::Serializer>(at: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u128(at.as_micros())
}

fn opt_micros<S: serde::Serializer>(at: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => s.serialize_some(&at.as_micros()),
        None => s.serialize_none(),
    }
}
