//! The status component over fakes: members, trackers, other peers and a child cluster in
//! memory, a real pinset in a temporary directory. Time is paused, so budgets run out at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_gateway::intercept::Landing;
use cid::Cid;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};

use super::*;
use crate::api::{Pin, PinOptions};
use crate::consensus::MemberList;
use crate::state::testing::{TempPins, cid_of, pin_of};
use crate::tracker::Status;

const ME: &str = "me";

fn node(id: &str) -> PeerNode {
    PeerNode {
        peer_id: id.into(),
        addrs: Vec::new(),
    }
}

fn at(status: Status) -> LocalStatus {
    LocalStatus::now(status, String::new(), 0)
}

struct FakeMembers(Vec<PeerNode>);

impl MemberList for FakeMembers {
    fn list(&self) -> Vec<PeerNode> {
        self.0.clone()
    }
}

/// A tracker: every CID has `every`'s status unless `statuses` says otherwise.
#[derive(Default)]
struct FakeTracker {
    statuses: BTreeMap<Cid, LocalStatus>,
    every: Option<Status>,
    upkeeps: Mutex<Vec<Upkeep>>,
}

impl FakeTracker {
    fn all(status: Status) -> Self {
        Self {
            every: Some(status),
            ..Self::default()
        }
    }

    fn holding(cids: impl IntoIterator<Item = Cid>, status: Status) -> Self {
        Self {
            statuses: cids.into_iter().map(|c| (c, at(status))).collect(),
            ..Self::default()
        }
    }
}

impl LocalPins for FakeTracker {
    fn status(&self, cid: &Cid) -> LocalStatus {
        let fallback = || at(self.every.unwrap_or(Status::Unpinned));
        self.statuses.get(cid).cloned().unwrap_or_else(fallback)
    }

    fn page(&self, after: Option<Cid>, limit: usize) -> Vec<(Cid, LocalStatus)> {
        let after = |c: &Cid| after.is_none_or(|a| *c > a);
        let found = self.statuses.iter().filter(|(c, _)| after(c));
        found.take(limit).map(|(c, s)| (*c, s.clone())).collect()
    }

    fn upkeep<'a>(&'a self, upkeep: &'a Upkeep) -> BoxFuture<'a, ()> {
        self.upkeeps.lock().expect("upkeeps").push(upkeep.clone());
        futures::future::ready(()).boxed()
    }
}

/// A member as the fake network reaches it.
enum Peer {
    Tracking(FakeTracker),
    Down,
    Silent,
}

/// The other members, each a [`Peer`]; counts what each was asked.
#[derive(Default)]
struct FakeRemote {
    peers: HashMap<String, Peer>,
    asked: Mutex<HashMap<String, usize>>,
}

impl FakeRemote {
    fn with(peers: impl IntoIterator<Item = (&'static str, Peer)>) -> Self {
        Self {
            peers: peers.into_iter().map(|(id, p)| (id.to_owned(), p)).collect(),
            ..Self::default()
        }
    }

    fn asked(&self, id: &str) -> usize {
        self.asked.lock().expect("asked").get(id).copied().unwrap_or(0)
    }

    /// `member`'s tracker, after counting the ask; a down peer fails at once, a silent one
    /// never answers.
    fn reach<'a>(&'a self, member: &PeerNode) -> BoxFuture<'a, Result<&'a FakeTracker, RpcError>> {
        *self
            .asked
            .lock()
            .expect("asked")
            .entry(member.peer_id.clone())
            .or_default() += 1;
        let peer = self.peers.get(&member.peer_id);
        let id = member.peer_id.clone();
        async move {
            match peer {
                Some(Peer::Tracking(tracker)) => Ok(tracker),
                Some(Peer::Silent) => futures::future::pending().await,
                Some(Peer::Down) | None => Err(RpcError::NoPeerId { member: id }),
            }
        }
        .boxed()
    }
}

impl Remote for FakeRemote {
    fn status_of<'a>(
        &'a self,
        member: &'a PeerNode,
        cid: String,
    ) -> BoxFuture<'a, Result<LocalStatus, RpcError>> {
        async move {
            let cid: Cid = cid.parse().expect("a CID");
            Ok(self.reach(member).await?.status(&cid))
        }
        .boxed()
    }

    fn statuses<'a>(
        &'a self,
        member: &'a PeerNode,
        after: Option<String>,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<(String, LocalStatus)>, RpcError>> {
        async move {
            let after = after.map(|c| c.parse().expect("a CID"));
            let page = self.reach(member).await?.page(after, limit as usize);
            Ok(page.into_iter().map(|(c, s)| (c.to_string(), s)).collect())
        }
        .boxed()
    }

    fn nested<'a>(
        &'a self,
        member: &'a PeerNode,
        cids: Vec<String>,
        _depth: u32,
        _budget: Duration,
    ) -> BoxFuture<'a, Result<Vec<NestedStatus>, RpcError>> {
        async move {
            let tracker = self.reach(member).await?;
            let answer = cids.into_iter().map(|cid| NestedStatus {
                status: tracker.status(&cid.parse().expect("a CID")),
                cid,
                child: None,
            });
            Ok(answer.collect())
        }
        .boxed()
    }

    fn upkeep<'a>(&'a self, member: &'a PeerNode, upkeep: &'a Upkeep) -> BoxFuture<'a, Result<(), RpcError>> {
        async move {
            self.reach(member).await?.upkeep(upkeep).await;
            Ok(())
        }
        .boxed()
    }
}

/// This peer's daemon: a plain one, a child cluster that answers every pin as pinned on
/// one peer of its own, or one that never answers.
#[derive(Clone, Copy, PartialEq)]
enum Child {
    Plain,
    Answering,
    Silent,
}

impl ChildCluster for Child {
    fn is_cluster(&self) -> bool {
        *self != Child::Plain
    }

    fn status<'a>(
        &'a self,
        cids: &'a [Cid],
        _depth: u32,
        _budget: Duration,
    ) -> BoxFuture<'a, Result<Vec<GlobalPinInfo>, String>> {
        async move {
            if *self == Child::Silent {
                return futures::future::pending().await;
            }
            let identity = crate::api::PeerIdentity::from_ping(&Default::default(), Some("grandchild"));
            let below = |cid: &Cid| {
                let peer_map =
                    BTreeMap::from([("gc".to_owned(), short(&identity, &at(Status::Pinned), None))]);
                global(cid, None, peer_map)
            };
            Ok(cids.iter().map(below).collect())
        }
        .boxed()
    }
}

/// A status component: this peer (`ME`, tracking with `local`), then `others` as members.
struct Setup {
    statuses: Statuses,
    remote: Arc<FakeRemote>,
    local: Arc<FakeTracker>,
    _pins: TempPins,
}

fn setup(pins: TempPins, local: FakeTracker, others: Vec<(&'static str, Peer)>, child: Child) -> Setup {
    let mut members = vec![node(ME)];
    members.extend(others.iter().map(|(id, _)| node(id)));
    let remote = Arc::new(FakeRemote::with(others));
    let local = Arc::new(local);
    let statuses = Statuses::new(StatusInputs {
        peer_id: ME.into(),
        peername: "my-name".into(),
        members: Arc::new(FakeMembers(members)),
        local: local.clone(),
        remote: remote.clone(),
        child: Arc::new(child),
        pins: pins.store.clone(),
        listings: crate::listing::Listings::new(pins.store.clone()),
        monitor: crate::monitor::Monitor::new(),
        network_timeout: Duration::from_secs(10),
    });
    Setup {
        statuses,
        remote,
        local,
        _pins: pins,
    }
}

fn allocated(n: u32, allocations: &[&str], rf_min: i32) -> Pin {
    let options = PinOptions {
        replication_factor_min: rf_min,
        replication_factor_max: allocations.len() as i32,
        ..PinOptions::default()
    };
    let mut pin = Pin::new(cid_of(n), options);
    pin.allocations = allocations.iter().map(|a| (*a).to_owned()).collect();
    pin
}

#[tokio::test]
async fn a_member_that_is_down_fails_only_its_own_entry() {
    let others = vec![
        ("b", Peer::Tracking(FakeTracker::all(Status::Pinning))),
        ("c", Peer::Down),
    ];
    let s = setup(
        TempPins::new(),
        FakeTracker::all(Status::Pinned),
        others,
        Child::Plain,
    );
    let answers: HashMap<String, _> = s
        .statuses
        .status_everywhere(&cid_of(1))
        .await
        .into_iter()
        .map(|(m, a)| (m.peer_id, a))
        .collect();
    assert_eq!(answers[ME].as_ref().map(|l| l.status), Ok(Status::Pinned));
    assert_eq!(answers["b"].as_ref().map(|l| l.status), Ok(Status::Pinning));
    assert!(
        answers["c"].as_ref().is_err_and(|why| why.contains("c")),
        "{:?}",
        answers["c"]
    );
}

#[tokio::test]
async fn every_status_of_a_member_arrives_in_pages() {
    let held = (0..fanout::PAGE + 7).map(cid_of);
    let b = FakeTracker::holding(held, Status::Pinned);
    let s = setup(
        TempPins::new(),
        FakeTracker::default(),
        vec![("b", Peer::Tracking(b))],
        Child::Plain,
    );
    let all = s.statuses.statuses_everywhere().await;
    let b_answer = all.iter().find(|(m, _)| m.peer_id == "b").expect("b answered");
    let count = b_answer.1.as_ref().map(HashMap::len);
    assert_eq!(count, Ok(fanout::PAGE as usize + 7));
    assert_eq!(s.remote.asked("b"), 2, "one full page, then the rest");
}

#[tokio::test]
async fn a_request_from_another_peer_with_a_bad_cid_is_refused_and_pages_are_capped() {
    let s = setup(
        TempPins::new(),
        FakeTracker::holding((0..3).map(cid_of), Status::Pinned),
        vec![],
        Child::Plain,
    );
    assert!(matches!(
        s.statuses.local_status_of("not-a-cid"),
        Err(StatusError::Invalid(_))
    ));
    assert!(matches!(
        s.statuses.local_statuses(Some("nope".into()), 1),
        Err(StatusError::Invalid(_))
    ));
    let page = s.statuses.local_statuses(None, 2).expect("a page");
    assert_eq!(page.len(), 2);
}

#[tokio::test]
async fn upkeep_runs_here_and_on_every_member_that_answers() {
    let others = vec![("b", Peer::Tracking(FakeTracker::default())), ("c", Peer::Down)];
    let s = setup(TempPins::new(), FakeTracker::default(), others, Child::Plain);
    let outcomes = s.statuses.on_every_member(Upkeep::Sync).await;
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|(_, o)| o.is_err())
        .map(|(m, _)| m.peer_id.as_str())
        .collect();
    assert_eq!(failed, ["c"]);
    assert_eq!(*s.local.upkeeps.lock().expect("upkeeps"), [Upkeep::Sync]);
    let Some(Peer::Tracking(b)) = s.remote.peers.get("b") else {
        unreachable!("b tracks")
    };
    assert_eq!(*b.upkeeps.lock().expect("upkeeps"), [Upkeep::Sync]);
}

#[tokio::test]
async fn a_pin_lands_when_rf_min_of_its_allocations_hold_it() {
    let pin = allocated(1, &[ME, "b", "c"], 2);
    let pins = TempPins::with([pin.clone()]);
    let others = vec![
        ("b", Peer::Tracking(FakeTracker::all(Status::Pinning))),
        ("c", Peer::Down),
    ];
    let s = setup(pins, FakeTracker::all(Status::Pinned), others, Child::Plain);
    let landing = s.statuses.landing(pin.cid).await.expect("landing");
    assert_eq!(landing, Landing::Pending { pinned: 1, needed: 2 });
    assert_eq!(
        s.statuses.landing(cid_of(2)).await.expect("landing"),
        Landing::Missing
    );

    let others = vec![
        ("b", Peer::Tracking(FakeTracker::all(Status::Pinned))),
        ("c", Peer::Down),
    ];
    let s = setup(
        TempPins::with([pin.clone()]),
        FakeTracker::all(Status::Pinned),
        others,
        Child::Plain,
    );
    assert_eq!(
        s.statuses.landing(pin.cid).await.expect("landing"),
        Landing::Pinned
    );
}

#[tokio::test]
async fn a_failed_member_shows_cluster_error_and_is_asked_once_per_call() {
    let pins = TempPins::with((0..200).map(pin_of));
    let others = vec![
        ("b", Peer::Tracking(FakeTracker::all(Status::Pinned))),
        ("c", Peer::Down),
    ];
    let s = setup(pins, FakeTracker::all(Status::Pinned), others, Child::Plain);
    let infos: Vec<GlobalPinInfo> = s
        .statuses
        .global_infos(None, 1, None, None)
        .map(|info| info.expect("a line"))
        .collect()
        .await;
    assert_eq!(infos.len(), 200);
    for info in &infos {
        assert_eq!(info.peer_map["b"].status, Status::Pinned);
        assert_eq!(info.peer_map["c"].status, Status::ClusterError);
        assert_eq!(info.peer_map[ME].peername, "my-name");
    }
    assert!(s.remote.asked("b") > 1, "b was asked once per chunk");
    assert_eq!(s.remote.asked("c"), 1, "c failed once and was not asked again");
}

#[tokio::test]
async fn a_filter_keeps_only_the_peers_whose_status_matches() {
    let pins = TempPins::with((0..5).map(pin_of));
    let others = vec![("b", Peer::Tracking(FakeTracker::all(Status::PinError)))];
    let s = setup(pins, FakeTracker::all(Status::Pinned), others, Child::Plain);
    let infos: Vec<GlobalPinInfo> = s
        .statuses
        .global_infos(None, 1, Some("pin_error".into()), None)
        .map(|info| info.expect("a line"))
        .collect()
        .await;
    assert_eq!(infos.len(), 5);
    assert!(infos.iter().all(|i| i.peer_map.keys().eq(["b"])));
}

#[tokio::test]
async fn a_child_cluster_appears_below_this_peer_at_depth_two() {
    let pins = TempPins::with([pin_of(1)]);
    let s = setup(pins, FakeTracker::all(Status::Pinned), vec![], Child::Answering);
    let mut infos = s.statuses.global_infos(Some(vec![cid_of(1)]), 2, None, None);
    let info = infos.next().await.expect("a line").expect("an info");
    let mine = &info.peer_map[ME];
    let child = mine.child.as_ref().expect("the child's answer");
    assert_eq!(child.peer_map["gc"].status, Status::Pinned);
    let flat = s.statuses.global_infos(Some(vec![cid_of(1)]), 1, None, None);
    let flat: Vec<_> = flat.collect().await;
    assert!(
        flat[0].as_ref().is_ok_and(|i| i.peer_map[ME].child.is_none()),
        "depth 1 has no child"
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_child_or_member_costs_the_budget_and_the_rest_still_answers() {
    let pins = TempPins::with([pin_of(1)]);
    let others = vec![("slow", Peer::Silent)];
    let s = setup(pins, FakeTracker::all(Status::Pinned), others, Child::Silent);
    let budget = Duration::from_secs(2);
    let mut infos = s
        .statuses
        .global_infos(Some(vec![cid_of(1)]), 2, None, Some(budget));
    let info = infos.next().await.expect("a line").expect("an info");
    let mine = &info.peer_map[ME];
    assert_eq!(mine.status, Status::Pinned, "this peer's own status arrives");
    assert!(
        mine.child_error
            .as_deref()
            .is_some_and(|e| e.contains("did not answer")),
        "{mine:?}"
    );
    let slow = &info.peer_map["slow"];
    assert_eq!(slow.status, Status::ClusterError);
    assert!(slow.error.contains("did not answer within"), "{}", slow.error);
}
