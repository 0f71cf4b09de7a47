use std::collections::BTreeSet;
use std::time::Duration;

use super::*;

/// Builds synthetic histories with explicit times (milliseconds); ops are on CID `c` by
/// client 0 through peer 0 unless changed through the returned `&mut Op`.
#[derive(Default)]
struct Hist(Vec<Op>);

impl Hist {
    fn push(&mut self, kind: Kind, (invoked, completed): (u64, u64), outcome: Outcome) -> &mut Op {
        let id = self.0.len() as u64;
        self.0.push(Op {
            id,
            client: 0,
            peer: 0,
            kind,
            cid: "c".to_owned(),
            invoked: Duration::from_millis(invoked),
            completed: Some(Duration::from_millis(completed)),
            outcome,
            present: None,
        });
        self.0.last_mut().unwrap()
    }

    fn add(&mut self, span: (u64, u64), outcome: Outcome) -> &mut Op {
        self.push(Kind::Add, span, outcome)
    }

    fn rm(&mut self, span: (u64, u64), outcome: Outcome) -> &mut Op {
        self.push(Kind::Rm, span, outcome)
    }

    fn read(&mut self, linearizable: bool, span: (u64, u64), present: bool) -> &mut Op {
        let op = self.push(Kind::Read { linearizable }, span, Outcome::Ok);
        op.present = Some(present);
        op
    }

    /// Checks against peers whose final pinsets are given.
    fn check(&self, finals: &[&[&str]]) -> Report {
        check(&self.0, &pinsets(finals))
    }
}

fn pinsets(finals: &[&[&str]]) -> Vec<(String, BTreeSet<String>)> {
    let pinset = |cids: &&[&str]| cids.iter().map(|c| (*c).to_owned()).collect();
    finals
        .iter()
        .enumerate()
        .map(|(i, cids)| (format!("peer{i}"), pinset(cids)))
        .collect()
}

/// (LOST, PHANTOM, DIVERGENT, STALE) counts.
fn counts(report: &Report) -> (usize, usize, usize, usize) {
    (
        report.lost.len(),
        report.phantom.len(),
        report.divergent.len(),
        report.stale.len(),
    )
}

const PRESENT: &[&[&str]] = &[&["c"], &["c"], &["c"]];
const ABSENT: &[&[&str]] = &[&[], &[], &[]];

use Outcome::{Fail, Info, Ok as Acked};

#[test]
fn clean_history_has_no_violation() {
    let mut h = Hist::default();
    h.add((0, 10), Acked);
    h.read(true, (20, 30), true);
    h.add((5, 15), Acked).cid = "d".to_owned();
    h.rm((20, 30), Acked).cid = "d".to_owned();
    h.read(true, (40, 50), false).cid = "d".to_owned();
    h.add((60, 70), Fail).cid = "e".to_owned();
    let report = h.check(&[&["c"], &["c"]]);
    let expected = Report {
        ops: 6,
        acknowledged: 3,
        indeterminate: 0,
        ..Report::default()
    };
    assert_eq!(report, expected);
    assert!(report.is_ok());
    assert!(read_your_writes_misses(&h.0).is_empty());
}

#[test]
fn acknowledged_add_then_absent_is_lost() {
    let mut h = Hist::default();
    h.add((0, 10), Acked);
    let report = h.check(ABSENT);
    assert_eq!(counts(&report), (1, 0, 0, 0));
    assert_eq!(report.lost, vec!["c".to_owned()]);
    assert!(!report.is_ok());
}

#[test]
fn acknowledged_add_then_acknowledged_rm_absent_is_fine() {
    let mut h = Hist::default();
    h.add((0, 10), Acked);
    h.rm((20, 30), Acked);
    assert_eq!(counts(&h.check(ABSENT)), (0, 0, 0, 0));
}

#[test]
fn rm_that_completed_before_the_add_does_not_explain_absence() {
    let mut h = Hist::default();
    h.rm((0, 10), Acked);
    h.add((20, 30), Acked);
    assert_eq!(counts(&h.check(ABSENT)), (1, 0, 0, 0));
}

#[test]
fn touching_intervals_count_as_concurrent() {
    let mut h = Hist::default();
    h.rm((0, 10), Acked);
    h.add((10, 20), Acked);
    assert_eq!(counts(&h.check(ABSENT)), (0, 0, 0, 0));
    assert_eq!(counts(&h.check(PRESENT)), (0, 0, 0, 0));

    let mut h = Hist::default();
    h.add((0, 10), Acked);
    h.read(true, (10, 20), false); // began as the add completed
    h.rm((30, 40), Acked);
    h.read(true, (20, 30), false); // completed as the rm began
    h.rm((50, 60), Info).cid = "d".to_owned();
    h.add((0, 10), Acked).cid = "d".to_owned();
    h.read(true, (40, 50), false).cid = "d".to_owned(); // completed as the Info rm began
    assert_eq!(counts(&h.check(&[])), (0, 0, 0, 0));
}

#[test]
fn any_indeterminate_rm_explains_absence() {
    let mut h = Hist::default();
    h.rm((0, 1), Info);
    h.add((20, 30), Acked);
    assert_eq!(counts(&h.check(ABSENT)), (0, 0, 0, 0));
}

#[test]
fn indeterminate_add_absent_is_fine() {
    let mut h = Hist::default();
    h.add((0, 10), Info);
    let report = h.check(ABSENT);
    assert_eq!(counts(&report), (0, 0, 0, 0));
    assert_eq!((report.acknowledged, report.indeterminate), (0, 1));
}

#[test]
fn indeterminate_add_present_is_fine() {
    let mut h = Hist::default();
    h.add((0, 10), Info);
    assert_eq!(counts(&h.check(PRESENT)), (0, 0, 0, 0));
}

#[test]
fn failed_add_present_is_phantom() {
    let mut h = Hist::default();
    h.add((0, 10), Fail);
    let report = h.check(PRESENT);
    assert_eq!(counts(&report), (0, 1, 0, 0));
    assert_eq!(report.phantom, vec!["c".to_owned()]);
}

#[test]
fn never_invoked_cid_present_is_phantom() {
    let mut h = Hist::default();
    h.add((0, 10), Acked);
    let report = h.check(&[&["c", "x"], &["c", "x"]]);
    assert_eq!(counts(&report), (0, 1, 0, 0));
    assert_eq!(report.phantom, vec!["x".to_owned()]);
}

#[test]
fn acknowledged_rm_after_acknowledged_add_present_is_phantom() {
    let mut h = Hist::default();
    h.add((0, 10), Acked);
    h.rm((20, 30), Acked);
    assert_eq!(counts(&h.check(PRESENT)), (0, 1, 0, 0));
}

#[test]
fn any_indeterminate_add_explains_presence_after_rm() {
    let mut h = Hist::default();
    h.add((0, 1), Info);
    h.rm((20, 30), Acked);
    assert_eq!(counts(&h.check(PRESENT)), (0, 0, 0, 0));
}

#[test]
fn concurrent_add_and_rm_allow_either_final_state() {
    let mut h = Hist::default();
    h.add((0, 20), Acked);
    h.rm((10, 30), Acked);
    assert_eq!(counts(&h.check(PRESENT)), (0, 0, 0, 0));
    assert_eq!(counts(&h.check(ABSENT)), (0, 0, 0, 0));
}

#[test]
fn peers_that_differ_are_divergent_and_judged_each() {
    let mut h = Hist::default();
    h.add((0, 10), Info);
    let report = h.check(&[&["c"], &[]]);
    assert_eq!(counts(&report), (0, 0, 1, 0));
    assert_eq!(report.divergent, vec!["c".to_owned()]);

    let mut h = Hist::default();
    h.add((0, 10), Acked);
    // Absent from peer 1 although acknowledged: divergent and lost.
    assert_eq!(counts(&h.check(&[&["c"], &[]])), (1, 0, 1, 0));
}

#[test]
fn no_finals_judge_only_reads() {
    let mut h = Hist::default();
    h.add((0, 10), Acked);
    assert_eq!(counts(&h.check(&[])), (0, 0, 0, 0));
}

#[test]
fn linearizable_read_after_acknowledged_add_seeing_absent_is_stale() {
    let mut h = Hist::default();
    h.add((0, 10), Acked);
    let id = h.read(true, (20, 30), false).id;
    h.read(false, (20, 30), false);
    let report = h.check(PRESENT);
    assert_eq!(counts(&report), (0, 0, 0, 1));
    assert_eq!(report.stale, vec![id]);
}

#[test]
fn linearizable_read_after_acknowledged_rm_seeing_present_is_stale() {
    let mut h = Hist::default();
    h.add((0, 10), Acked);
    h.rm((20, 30), Acked);
    h.read(true, (40, 50), true);
    assert_eq!(counts(&h.check(ABSENT)), (0, 0, 0, 1));
}

#[test]
fn linearizable_read_seeing_a_cid_never_added_is_stale() {
    let mut h = Hist::default();
    h.read(true, (0, 10), true);
    h.add((20, 30), Acked);
    assert_eq!(counts(&h.check(PRESENT)), (0, 0, 0, 1));
}

#[test]
fn concurrent_read_is_not_stale() {
    let mut h = Hist::default();
    h.add((0, 20), Acked);
    h.read(true, (10, 30), false);
    h.read(true, (10, 30), true);
    assert_eq!(counts(&h.check(PRESENT)), (0, 0, 0, 0));
}

#[test]
fn rm_that_may_land_before_the_read_excuses_it() {
    let mut h = Hist::default();
    h.add((0, 10), Acked);
    h.rm((25, 60), Acked);
    h.read(true, (20, 30), false);
    h.rm((1, 2), Info).cid = "d".to_owned();
    h.add((3, 4), Acked).cid = "d".to_owned();
    h.read(true, (20, 30), false).cid = "d".to_owned();
    assert_eq!(counts(&h.check(&[])), (0, 0, 0, 0));
}

#[test]
fn rm_that_completed_before_the_add_does_not_excuse_a_read() {
    let mut h = Hist::default();
    h.rm((0, 5), Acked);
    h.add((10, 20), Acked);
    h.read(true, (30, 40), false);
    assert_eq!(counts(&h.check(&[])), (0, 0, 0, 1));
}

#[test]
fn reads_that_are_not_ok_are_not_judged() {
    let mut h = Hist::default();
    h.add((0, 10), Acked);
    h.read(true, (20, 30), false).outcome = Info;
    h.read(true, (20, 30), false).completed = None;
    h.read(true, (20, 30), false).outcome = Fail;
    assert_eq!(counts(&h.check(&[])), (0, 0, 0, 0));
}

#[test]
fn read_your_writes_misses_are_per_session() {
    let mut h = Hist::default();
    h.add((0, 10), Acked);
    let miss = h.read(false, (20, 30), false).id;
    h.read(false, (20, 30), false).peer = 1; // another peer: no promise
    h.read(false, (20, 30), false).client = 1; // another client: no promise
    h.read(false, (5, 30), false); // concurrent with the add
    assert_eq!(read_your_writes_misses(&h.0), vec![miss]);
    assert!(h.check(&[]).is_ok(), "non-linearizable reads are not stale");
}

#[test]
fn read_your_writes_inverse_and_excuses() {
    let mut h = Hist::default();
    h.add((0, 10), Acked);
    h.rm((20, 30), Acked);
    let miss = h.read(false, (40, 50), true).id;
    h.rm((0, 10), Acked).cid = "d".to_owned();
    h.add((35, 45), Info).cid = "d".to_owned();
    h.read(false, (40, 50), true).cid = "d".to_owned();
    assert_eq!(read_your_writes_misses(&h.0), vec![miss]);

    let mut h = Hist::default();
    h.add((0, 10), Acked);
    h.rm((15, 18), Acked);
    h.read(false, (20, 30), false);
    assert!(read_your_writes_misses(&h.0).is_empty(), "own rm in between");
}

#[test]
fn invoked_never_completed_counts_as_indeterminate() {
    let history = History::new();
    let pending = history.invoke(0, 0, Kind::Add, "c");
    assert_eq!(pending.id(), 0);
    drop(pending);
    let ops = history.ops();
    assert_eq!((ops[0].completed, ops[0].effective()), (None, Info));
    for finals in [ABSENT, PRESENT] {
        let report = check(&ops, &pinsets(finals));
        assert_eq!((report.acknowledged, report.indeterminate), (0, 1));
        assert_eq!(counts(&report), (0, 0, 0, 0));
    }

    let mut h = Hist::default();
    h.add((0, 10), Acked).completed = None; // Ok without an answer is still indeterminate
    let report = h.check(ABSENT);
    assert_eq!((report.indeterminate, counts(&report)), (1, (0, 0, 0, 0)));
}

#[test]
fn history_records_in_invoke_order() {
    let history = History::new();
    let clone = history.clone();
    let add = history.invoke(1, 2, Kind::Add, "c");
    let read = clone.invoke(3, 4, Kind::Read { linearizable: true }, "c");
    history.complete(read, Acked, Some(true));
    history.complete(add, Acked, None);
    let ops = history.ops();
    assert_eq!(ops.iter().map(|op| op.id).collect::<Vec<_>>(), vec![0, 1]);
    assert!(ops[0].invoked <= ops[1].invoked);
    assert!(
        ops.iter()
            .all(|op| op.completed.is_some_and(|done| done >= op.invoked))
    );
    assert_eq!((ops[1].client, ops[1].peer, ops[1].present), (3, 4, Some(true)));
    assert!(check(&ops, &pinsets(PRESENT)).is_ok());
}

#[test]
fn write_jsonl_round_trip() {
    let history = History::new();
    let add = history.invoke(0, 1, Kind::Add, "c");
    std::thread::sleep(Duration::from_millis(1)); // distinct times, so the order below is fixed
    history.event("kill peer 1");
    std::thread::sleep(Duration::from_millis(1));
    history.complete(add, Info, None);
    let _never = history.invoke(0, 1, Kind::Read { linearizable: false }, "c");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    history.write_jsonl(&path, 42).unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], serde_json::json!({"type": "seed", "seed": 42}));
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["seed", "op", "event", "op"]);
    assert_eq!(
        (lines[1]["kind"].as_str(), lines[1]["outcome"].as_str()),
        (Some("add"), Some("info"))
    );
    assert_eq!(
        (lines[1]["cid"].as_str(), lines[1]["peer"].as_u64()),
        (Some("c"), Some(1))
    );
    assert!(lines[1]["completed_us"].as_u64().is_some());
    assert_eq!(lines[2]["text"], "kill peer 1");
    assert_eq!(
        lines[3]["kind"],
        serde_json::json!({"read": {"linearizable": false}})
    );
    assert!(lines[3]["completed_us"].is_null());
    assert!(lines[3]["invoked_us"].as_u64() >= lines[2]["at_us"].as_u64());
}

#[test]
fn report_display_shows_counts_and_at_most_ten_examples() {
    let mut h = Hist::default();
    for i in 0..12 {
        h.add((0, 10), Acked).cid = format!("c{i:02}");
    }
    let report = h.check(&[&[]]);
    let text = report.to_string();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("ops=12 acknowledged=12 indeterminate=0 LOST=12 PHANTOM=0 DIVERGENT=0 STALE=0")
    );
    assert_eq!(lines.next(), Some("  LOST c00"));
    assert_eq!(lines.clone().count(), 10);
    assert_eq!(lines.last(), Some("  LOST … and 2 more"));
}

#[test]
fn large_history_checks() {
    // 100k ops over 1000 CIDs: sequential add, rm, add, linearizable read per CID.
    let mut h = Hist::default();
    for i in 0..25_000u64 {
        let t = i * 10;
        let cid = format!("c{}", i % 1000);
        let phase = (i / 1000) % 2;
        let kind = if phase == 0 { Kind::Add } else { Kind::Rm };
        h.push(kind, (t, t + 5), Acked).cid = cid.clone();
        h.read(true, (t + 6, t + 7), phase == 0).cid = cid.clone();
        h.read(false, (t + 6, t + 7), phase == 0).cid = cid.clone();
        h.read(true, (t + 3, t + 8), phase != 0).cid = cid;
    }
    // 25 phases: the last (24) is even, so every CID ends present.
    let all: Vec<String> = (0..1000).map(|i| format!("c{i}")).collect();
    let finals = vec![("p".to_owned(), all.into_iter().collect())];
    let report = check(&h.0, &finals);
    assert_eq!(report.ops, 100_000);
    assert!(report.is_ok(), "{report}");
    assert!(read_your_writes_misses(&h.0).is_empty());
}
