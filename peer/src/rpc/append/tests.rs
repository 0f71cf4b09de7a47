use std::time::Duration;

use openraft::raft::AppendEntriesRequest;
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, Vote};
use tokio::sync::oneshot;

use super::*;
use crate::state::PinOp;

const MEMBER: NodeId = 7;

fn log_id(index: u64) -> LogId<NodeId> {
    LogId::new(CommittedLeaderId::new(1, 0), index)
}

fn vote() -> Vote<NodeId> {
    Vote::new_committed(1, 0)
}

/// An append after `prev` of `count` entries of about `kib` KiB each (batches of unpins).
fn request(prev: u64, count: u64, kib: usize) -> AppendEntriesRequest<TypeConfig> {
    let unpins = kib * 1024 / 136;
    let entries = (prev + 1..=prev + count)
        .map(|index| Entry {
            log_id: log_id(index),
            payload: EntryPayload::Normal(PinOp::Batch(vec![PinOp::Unpin(cid::Cid::default()); unpins])),
        })
        .collect();
    AppendEntriesRequest {
        vote: vote(),
        prev_log_id: Some(log_id(prev)),
        leader_commit: Some(log_id(prev)),
        entries,
    }
}

fn held(last: u64) -> Held {
    Held {
        vote: vote(),
        last: Some(log_id(last)),
    }
}

fn indexes(plan: &Plan) -> Vec<u64> {
    plan.request.entries.iter().map(|e| e.log_id.index).collect()
}

fn success() -> Answer {
    Ok(Ok(AppendEntriesResponse::Success))
}

#[test]
fn what_the_follower_acknowledged_under_the_same_vote_is_not_sent_again() {
    let appends = Appends::default();
    let plan = Plan::new(request(10, 6, 1), Some(held(13)), &appends);
    assert_eq!(plan.request.prev_log_id, Some(log_id(13)));
    assert_eq!(indexes(&plan), [14, 15, 16]);
    assert_eq!(
        plan.read(MEMBER, AppendEntriesResponse::Success).ok(),
        Some(AppendEntriesResponse::Success)
    );
    assert!(
        matches!(
            plan.read(MEMBER, AppendEntriesResponse::Conflict),
            Err(AppendError::Regressed { member: MEMBER })
        ),
        "a conflict after the acknowledged entries is not a conflict at openraft's prev_log_id"
    );

    let other_vote = Held {
        vote: Vote::new_committed(2, 1),
        last: Some(log_id(13)),
    };
    let plan = Plan::new(request(10, 6, 1), Some(other_vote), &appends);
    assert_eq!(
        indexes(&plan),
        [11, 12, 13, 14, 15, 16],
        "another leader's acknowledgement"
    );
    assert_eq!(
        plan.read(MEMBER, AppendEntriesResponse::Conflict).ok(),
        Some(AppendEntriesResponse::Conflict)
    );

    let plan = Plan::new(request(10, 6, 1), Some(held(30)), &appends);
    assert_eq!(indexes(&plan).len(), 6, "an acknowledgement outside the request");
}

#[test]
fn an_append_over_the_budget_is_cut_and_reads_as_a_partial_success() {
    let appends = Appends::default();
    let plan = Plan::new(request(0, 8, 100), None, &appends);
    assert_eq!(indexes(&plan).len(), 8, "800 KiB fit in 1 MiB");
    let plan = Plan::new(request(0, 16, 100), None, &appends);
    assert_eq!(
        indexes(&plan),
        (1..=10).collect::<Vec<_>>(),
        "1.6 MiB: 10 entries fit"
    );
    assert_eq!(
        plan.read(MEMBER, AppendEntriesResponse::Success).ok(),
        Some(AppendEntriesResponse::PartialSuccess(Some(log_id(10))))
    );
    let plan = Plan::new(request(0, 1, 4096), None, &appends);
    assert_eq!(indexes(&plan), [1], "one entry is always sent");
    let heartbeat = Plan::new(request(5, 0, 1), Some(held(5)), &appends);
    assert!(heartbeat.request.entries.is_empty());
    assert_eq!(heartbeat.last_sent(), Some(log_id(5)));
}

#[tokio::test]
async fn an_append_openraft_dropped_is_waited_for_and_halves_the_budget() {
    let mut appends = Appends::default();
    let plan = Plan::new(request(0, 4, 100), None, &appends);
    let (answer, answered) = oneshot::channel::<Answer>();
    let sent = async move { answered.await.unwrap_or_else(|_| success()) };
    let cut_off = tokio::time::timeout(Duration::from_millis(20), appends.send(MEMBER, &plan, sent)).await;
    assert!(cut_off.is_err(), "the append is still on its way");
    assert_eq!(appends.budget(), MAX_APPEND_BYTES);

    let settling = tokio::spawn(async move {
        let held = appends.settle(MEMBER).await;
        (held, appends)
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!settling.is_finished(), "settle waits for the answer");
    let _ = answer.send(success());
    let (held, appends) = settling.await.expect("settled");
    assert_eq!(held, Some(self::held(4)), "what the dropped append delivered");
    assert_eq!(appends.budget(), MAX_APPEND_BYTES / 2);
}

#[tokio::test]
async fn the_budget_never_drops_below_its_floor_and_grows_back_gradually() {
    let mut appends = Appends::default();
    for _ in 0..12 {
        let plan = Plan::new(request(0, 2, 1), None, &appends);
        let never = std::future::pending::<Answer>();
        let _ = tokio::time::timeout(Duration::from_millis(1), appends.send(MEMBER, &plan, never)).await;
        let _ = tokio::time::timeout(Duration::from_millis(1), appends.settle(MEMBER)).await;
    }
    assert_eq!(appends.budget(), MIN_APPEND_BYTES, "never below the floor");
    appends.on_its_way = None;

    let mut rounds = 0;
    while appends.budget() < MAX_APPEND_BYTES {
        let plan = Plan::new(request(0, 64, appends.budget() / 1024 / 8), None, &appends);
        assert!(
            plan.cut.is_some(),
            "64 entries of an eighth of the budget never fit"
        );
        let answer = appends.send(MEMBER, &plan, async { success() }).await;
        assert!(matches!(answer, Ok(Ok(Ok(AppendEntriesResponse::Success)))));
        rounds += 1;
    }
    assert!(rounds > 3, "grows back gradually, took {rounds} rounds");
    assert_eq!(appends.budget(), MAX_APPEND_BYTES, "never above the ceiling");
}

#[tokio::test]
async fn small_or_refused_appends_leave_a_cut_budget_where_it_is() {
    let mut appends = Appends::default();
    appends.budget.shrink();
    for _ in 0..10 {
        let plan = Plan::new(request(0, 2, 1), None, &appends);
        let _ = appends.send(MEMBER, &plan, async { success() }).await;
    }
    assert_eq!(
        appends.budget(),
        MAX_APPEND_BYTES / 2,
        "heartbeats say nothing of big appends"
    );
    for _ in 0..10 {
        let plan = Plan::new(request(0, 64, 64), None, &appends);
        let _ = appends
            .send(MEMBER, &plan, async { Ok(Ok(AppendEntriesResponse::Conflict)) })
            .await;
    }
    assert_eq!(
        appends.budget(),
        MAX_APPEND_BYTES / 2,
        "a conflict is no sign of speed"
    );
}

fn higher() -> Vote<NodeId> {
    Vote::new(2, 3)
}

fn refused() -> Answer {
    Ok(Ok(AppendEntriesResponse::HigherVote(higher())))
}

/// Sends an append that openraft drops, then answers it with `answer`.
async fn dropped_then_answered(appends: &mut Appends, answer: Answer) {
    let plan = Plan::new(request(0, 4, 1), None, appends);
    let (answering, answered) = oneshot::channel::<Answer>();
    let sent = async move { answered.await.unwrap_or_else(|_| success()) };
    let cut_off = tokio::time::timeout(Duration::from_millis(20), appends.send(MEMBER, &plan, sent)).await;
    assert!(cut_off.is_err(), "the append is still on its way");
    assert_eq!(appends.higher_vote_than(&vote()), None, "nothing answered yet");
    let _ = answering.send(answer);
}

#[tokio::test]
async fn a_higher_vote_in_an_append_openraft_dropped_is_reported_once() {
    let mut appends = Appends::default();
    dropped_then_answered(&mut appends, refused()).await;
    assert_eq!(appends.settle(MEMBER).await, None, "a refusal holds nothing");
    assert_eq!(appends.higher_vote_than(&vote()), Some(higher()));
    assert_eq!(appends.higher_vote_than(&vote()), None, "reported once");

    dropped_then_answered(&mut appends, refused()).await;
    appends.settle(MEMBER).await;
    assert_eq!(
        appends.higher_vote_than(&higher()),
        None,
        "not reported to a leader whose vote is as high"
    );
}

#[tokio::test]
async fn a_higher_vote_in_a_heartbeat_openraft_dropped_reaches_the_next_call() {
    let mut appends = Appends::default();
    let (answer, answered) = oneshot::channel::<Answer>();
    let sent = async move { answered.await.unwrap_or_else(|_| success()) };
    let cut_off = tokio::time::timeout(Duration::from_millis(20), appends.heartbeat(MEMBER, sent)).await;
    assert!(cut_off.is_err(), "the heartbeat is still on its way");
    let _ = answer.send(refused());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(appends.higher_vote_than(&vote()), Some(higher()));

    let answer = appends.heartbeat(MEMBER, async { success() }).await;
    assert!(matches!(answer, Ok(Ok(Ok(AppendEntriesResponse::Success)))));
    assert_eq!(
        appends.higher_vote_than(&vote()),
        None,
        "an answered heartbeat leaves nothing"
    );
}
