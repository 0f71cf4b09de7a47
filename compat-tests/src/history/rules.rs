//! The rules that judge a history: [`check`] and [`read_your_writes_misses`], under the model
//! and invariants of the [parent module](super).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::{Kind, Op, Outcome};

/// How many examples of each violation [`Report`]'s `Display` shows.
const EXAMPLES: usize = 10;

/// The verdict of [`check`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Ops in the history (all kinds).
    pub ops: usize,
    /// Writes that are `Ok`.
    pub acknowledged: usize,
    /// Writes that are indeterminate (`Info`, or never completed).
    pub indeterminate: usize,
    /// CIDs absent from some peer's final pinset that must be present, sorted.
    pub lost: Vec<String>,
    /// CIDs present in some peer's final pinset that must be absent, sorted.
    pub phantom: Vec<String>,
    /// CIDs present in some peers' final pinsets and absent from others', sorted.
    pub divergent: Vec<String>,
    /// Ids of linearizable reads that saw a state already overwritten, sorted.
    pub stale: Vec<u64>,
}

impl Report {
    /// Whether no violation was found.
    pub fn is_ok(&self) -> bool {
        self.lost.is_empty() && self.phantom.is_empty() && self.divergent.is_empty() && self.stale.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ops={} acknowledged={} indeterminate={} LOST={} PHANTOM={} DIVERGENT={} STALE={}",
            self.ops,
            self.acknowledged,
            self.indeterminate,
            self.lost.len(),
            self.phantom.len(),
            self.divergent.len(),
            self.stale.len()
        )?;
        examples(f, "LOST", &self.lost)?;
        examples(f, "PHANTOM", &self.phantom)?;
        examples(f, "DIVERGENT", &self.divergent)?;
        examples(f, "STALE op", &self.stale)
    }
}

fn examples<T: fmt::Display>(f: &mut fmt::Formatter<'_>, label: &str, items: &[T]) -> fmt::Result {
    for item in items.iter().take(EXAMPLES) {
        write!(f, "\n  {label} {item}")?;
    }
    match items.len().checked_sub(EXAMPLES) {
        Some(more) if more > 0 => write!(f, "\n  {label} … and {more} more"),
        _ => Ok(()),
    }
}

/// Judges a history and the peers' final pinsets (`(peer name, pinset)`; the names are only
/// labels). With no finals, only STALE is judged. Per CID, with the [model](super#model):
///
/// - **DIVERGENT**: present in some final pinsets and absent from others. LOST and PHANTOM
///   then judge every peer's pinset separately: a CID is LOST if absent from *any* pinset,
///   PHANTOM if present in *any*, so a divergent CID is usually reported twice.
/// - **LOST** (absent from a final pinset): some `Add` is `Ok`, and no `Rm` can have taken
///   effect after all `Ok` adds: there is no `Info` `Rm` (it may land at any time), and no
///   `Ok` `Rm` completed at or after the latest invocation of an `Ok` `Add`.
/// - **PHANTOM** (present in a final pinset): no `Add` can have taken effect after all `Ok`
///   removals: there is no `Info` `Add`, and no `Ok` `Add` completed at or after the latest
///   invocation of an `Ok` `Rm` (with no `Ok` `Rm`: no `Ok` `Add` at all). So a CID that no
///   `Add` but a failed one was ever sent for is PHANTOM.
/// - **STALE** (an `Ok` linearizable read that reports `present`): let `before` be the latest
///   invocation among `Ok` writes of the opposite state that completed strictly before the
///   read was invoked (they precede the read in any order). The read is stale if no write of
///   the state it saw, invoked at or before the read completed, can land after `before`: an
///   `Info` one always can, an `Ok` one if it completed at or after `before`. When no such
///   opposite write exists, a read of absent is fine (the initial state) and a read of
///   present is stale unless some `Add` was invoked at or before the read completed.
///
/// Reads never constrain final states, `Fail` writes are ignored, and reads that are not
/// `Ok` or saw nothing are not judged.
pub fn check(ops: &[Op], finals: &[(String, BTreeSet<String>)]) -> Report {
    let mut groups = by_cid(ops);
    let mut on: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, pinset) in finals {
        for cid in pinset {
            *on.entry(cid.as_str()).or_default() += 1;
            groups.entry(cid.as_str()).or_default();
        }
    }
    let writes = ops.iter().filter(|op| op.is_write());
    let mut report = Report {
        ops: ops.len(),
        acknowledged: writes.clone().filter(|op| op.effective() == Outcome::Ok).count(),
        indeterminate: writes.filter(|op| op.effective() == Outcome::Info).count(),
        ..Report::default()
    };
    for (cid, group) in &groups {
        let register = Register::new(group.writes.iter().copied());
        let reads = group.reads.iter().filter_map(|op| Seen::of(op));
        report.stale.extend(
            reads
                .filter(|read| read.linearizable && stale(&register, read))
                .map(|r| r.id),
        );
        if !finals.is_empty() {
            let on = on.get(cid).copied().unwrap_or(0);
            judge_final(&mut report, cid, &register, on > 0, on == finals.len());
        }
    }
    report.stale.sort_unstable();
    report
}

/// Reads (of any kind) that missed their own session's writes: an `Ok` read by client `C`
/// through peer `P` that saw absent, although an `Ok` `Add` of the CID by `C` through `P`
/// completed strictly before the read was invoked, and no `Rm` of it can have landed in
/// between: none is `Info` and invoked at or before the read completed, none is `Ok`,
/// invoked at or before the read completed and completed at or after the latest invocation
/// of those adds. And the inverse for present after an own `Rm`. Other clients' writes excuse
/// a miss too (they may land in between), so every miss is found only when each CID is written by
/// one client. Returns the reads' ids, sorted.
pub fn read_your_writes_misses(ops: &[Op]) -> Vec<u64> {
    let mut misses = vec![];
    for group in by_cid(ops).values() {
        let all = Register::new(group.writes.iter().copied());
        let mut sessions: BTreeMap<(usize, usize), Vec<&Op>> = BTreeMap::new();
        for op in &group.writes {
            sessions.entry((op.client, op.peer)).or_default().push(op);
        }
        let sessions: BTreeMap<_, _> = sessions
            .into_iter()
            .map(|(session, ops)| (session, Register::new(ops)))
            .collect();
        for read in group.reads.iter().filter_map(|op| Seen::of(op)) {
            let own = sessions.get(&(read.client, read.peer));
            if own.is_some_and(|own| missed(own, &all, &read)) {
                misses.push(read.id);
            }
        }
    }
    misses.sort_unstable();
    misses
}

/// The ops on one CID.
#[derive(Default)]
struct Group<'a> {
    writes: Vec<&'a Op>,
    reads: Vec<&'a Op>,
}

fn by_cid(ops: &[Op]) -> BTreeMap<&str, Group<'_>> {
    let mut groups: BTreeMap<&str, Group<'_>> = BTreeMap::new();
    for op in ops {
        let group = groups.entry(op.cid.as_str()).or_default();
        if op.is_write() {
            group.writes.push(op)
        } else {
            group.reads.push(op)
        }
    }
    groups
}

/// Adds LOST, PHANTOM and DIVERGENT verdicts for `cid`, present in some or every final pinset.
fn judge_final(report: &mut Report, cid: &str, register: &Register, somewhere: bool, everywhere: bool) {
    if somewhere && !everywhere {
        report.divergent.push(cid.to_owned());
    }
    if !everywhere && register.must_be_present() {
        report.lost.push(cid.to_owned());
    }
    if somewhere && register.must_be_absent() {
        report.phantom.push(cid.to_owned());
    }
}

/// Whether a linearizable read saw a state that real time rules out (see [`check`]).
fn stale(register: &Register, read: &Seen) -> bool {
    let before = register
        .of(!read.present)
        .latest_invoked_completed_before(read.invoked);
    if before.is_none() && !read.present {
        return false;
    }
    !register.of(read.present).could_land(before, read.completed)
}

/// Whether a read missed a write of its own session (see [`read_your_writes_misses`]).
fn missed(own: &Register, all: &Register, read: &Seen) -> bool {
    let before = own
        .of(!read.present)
        .latest_invoked_completed_before(read.invoked);
    before.is_some_and(|before| !all.of(read.present).could_land(Some(before), read.completed))
}

/// An `Ok` read that saw something.
struct Seen {
    id: u64,
    client: usize,
    peer: usize,
    linearizable: bool,
    invoked: Duration,
    completed: Duration,
    present: bool,
}

impl Seen {
    fn of(op: &Op) -> Option<Self> {
        let Kind::Read { linearizable } = op.kind else {
            return None;
        };
        if op.effective() != Outcome::Ok {
            return None;
        }
        Some(Self {
            id: op.id,
            client: op.client,
            peer: op.peer,
            linearizable,
            invoked: op.invoked,
            completed: op.completed?,
            present: op.present?,
        })
    }
}

/// The writes to one CID, by kind.
struct Register {
    adds: Writes,
    rms: Writes,
}

impl Register {
    fn new<'a>(writes: impl IntoIterator<Item = &'a Op>) -> Self {
        let (adds, rms): (Vec<&Op>, Vec<&Op>) = writes.into_iter().partition(|op| op.kind == Kind::Add);
        Self {
            adds: Writes::new(adds),
            rms: Writes::new(rms),
        }
    }

    /// The writes that make the CID present (adds) or absent (removals).
    fn of(&self, present: bool) -> &Writes {
        if present { &self.adds } else { &self.rms }
    }

    /// LOST's rule: an `Ok` add exists and no removal can land after every `Ok` add.
    fn must_be_present(&self) -> bool {
        let last_add = self.adds.latest_invoked();
        last_add.is_some_and(|at| !self.rms.could_land(Some(at), Duration::MAX))
    }

    /// PHANTOM's rule: no add can land after every `Ok` removal (or at all, with none).
    fn must_be_absent(&self) -> bool {
        !self.adds.could_land(self.rms.latest_invoked(), Duration::MAX)
    }
}

/// The non-failed writes of one kind to one CID, indexed for the rules' questions.
#[derive(Default)]
struct Writes {
    /// `Ok` writes as (completed, latest invocation of those completed so far), by completion.
    by_completed: Vec<(Duration, Duration)>,
    /// `Ok` writes as (invoked, latest completion of those invoked so far), by invocation.
    by_invoked: Vec<(Duration, Duration)>,
    /// The earliest invocation of an indeterminate write.
    first_info: Option<Duration>,
}

impl Writes {
    fn new(ops: Vec<&Op>) -> Self {
        let mut writes = Self::default();
        for op in ops {
            match (op.effective(), op.completed) {
                (Outcome::Ok, Some(done)) => {
                    writes.by_completed.push((done, op.invoked));
                    writes.by_invoked.push((op.invoked, done));
                }
                (Outcome::Info, _) => {
                    writes.first_info = Some(writes.first_info.map_or(op.invoked, |t| t.min(op.invoked)));
                }
                _ => {}
            }
        }
        sort_with_running_max(&mut writes.by_completed);
        sort_with_running_max(&mut writes.by_invoked);
        writes
    }

    /// The latest invocation of an `Ok` write.
    fn latest_invoked(&self) -> Option<Duration> {
        self.by_completed.last().map(|&(_, invoked)| invoked)
    }

    /// The latest invocation of an `Ok` write that completed strictly before `t`.
    fn latest_invoked_completed_before(&self, t: Duration) -> Option<Duration> {
        let n = self.by_completed.partition_point(|&(done, _)| done < t);
        let last = n.checked_sub(1).and_then(|i| self.by_completed.get(i));
        last.map(|&(_, invoked)| invoked)
    }

    /// Whether one of these writes, invoked at or before `until`, can take effect after a
    /// write invoked at `after` (anywhere, when `None`): an `Info` one always can, an `Ok` one
    /// if it completed at or after `after`.
    fn could_land(&self, after: Option<Duration>, until: Duration) -> bool {
        if self.first_info.is_some_and(|invoked| invoked <= until) {
            return true;
        }
        let n = self.by_invoked.partition_point(|&(invoked, _)| invoked <= until);
        let last = n.checked_sub(1).and_then(|i| self.by_invoked.get(i));
        last.is_some_and(|&(_, done)| after.is_none_or(|after| done >= after))
    }
}

/// Sorts by the first element and replaces each second element by the running maximum.
fn sort_with_running_max(pairs: &mut [(Duration, Duration)]) {
    pairs.sort_unstable();
    let mut max = Duration::ZERO;
    for pair in pairs {
        max = max.max(pair.1);
        pair.1 = max;
    }
}
