//! The policy table, the gate over a hand-fed membership, and a forged join over a real
//! transport (the sender's id is the connection's, whatever the request says).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use libp2p::PeerId;
use libp2p::identity::Keypair;
use openraft::Vote;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};

use super::{Access, Call, Gate, Refusal, Trusted, WARNED_MAX, access};
use crate::consensus::{MemberList, PeerNode};
use crate::net::{Inbound, Net, Settings};
use crate::rpc::{AtLeader, Client, ClusterReply, ClusterRequest, LeaderRequest, RaftRequest, Request};
use crate::rpc::{Response, RpcError, encode};
use crate::state::PinOp;

/// A membership the test changes between requests.
#[derive(Clone, Default)]
struct FakeMembers(Arc<Mutex<Vec<PeerNode>>>);

impl FakeMembers {
    fn of(peers: &[PeerId]) -> Self {
        let members = Self::default();
        members.set(peers);
        members
    }

    fn set(&self, peers: &[PeerId]) {
        *self.0.lock().unwrap() = peers.iter().map(|p| node(p, &[])).collect();
    }
}

impl MemberList for FakeMembers {
    fn list(&self) -> Vec<PeerNode> {
        self.0.lock().unwrap().clone()
    }
}

fn node(peer: &PeerId, addrs: &[String]) -> PeerNode {
    PeerNode {
        peer_id: peer.to_base58(),
        addrs: addrs.to_vec(),
    }
}

fn id() -> PeerId {
    PeerId::random()
}

/// One request of every call.
fn every_request(joiner: &PeerId) -> Vec<(Call, Request)> {
    let vote = Vote::new(1, 1);
    let append = AppendEntriesRequest {
        vote,
        prev_log_id: None,
        entries: vec![],
        leader_commit: None,
    };
    let snapshot = InstallSnapshotRequest {
        vote,
        meta: Default::default(),
        offset: 0,
        data: vec![],
        done: true,
    };
    let cluster = |r| Request::Cluster(r);
    let leader = |r| Request::Cluster(ClusterRequest::Leader(r));
    vec![
        (Call::Join, cluster(ClusterRequest::Join(node(joiner, &[])))),
        (Call::RaftAppend, Request::Raft(RaftRequest::Append(append))),
        (
            Call::RaftVote,
            Request::Raft(RaftRequest::Vote(VoteRequest::new(vote, None))),
        ),
        (Call::RaftSnapshot, Request::Raft(RaftRequest::Snapshot(snapshot))),
        (Call::LeaderJoin, leader(LeaderRequest::Join(node(joiner, &[])))),
        (Call::Remove, leader(LeaderRequest::Remove(7))),
        (Call::Write, leader(LeaderRequest::Write(PinOp::Batch(vec![])))),
        (Call::ReadIndex, leader(LeaderRequest::ReadIndex)),
        (Call::RepoStat, cluster(ClusterRequest::RepoStat(true))),
        (Call::RepoGc, cluster(ClusterRequest::RepoGc)),
        (
            Call::Statuses,
            cluster(ClusterRequest::Statuses {
                after: None,
                limit: 1,
            }),
        ),
        (Call::StatusOf, cluster(ClusterRequest::StatusOf("c".into()))),
        (
            Call::Nested,
            cluster(ClusterRequest::Nested {
                cids: vec![],
                depth: 2,
                budget_ms: 1,
            }),
        ),
        (Call::Recover, cluster(ClusterRequest::Recover(None))),
        (Call::Sync, cluster(ClusterRequest::Sync)),
        (
            Call::Events,
            cluster(ClusterRequest::Events(crate::eventlog::EventsAsk {
                since: None,
                from_ms: 0,
                wait_ms: 0,
                limit: 1,
            })),
        ),
        (Call::Block, Request::Block(vec![1])),
        (
            Call::Follow,
            cluster(ClusterRequest::Follow(crate::pinlog::wire::FollowAsk {
                after: 0,
                wait_ms: 0,
            })),
        ),
        (
            Call::FollowSnapshot,
            cluster(ClusterRequest::FollowSnapshot(crate::pinlog::wire::ChunkAsk {
                snapshot: None,
                offset: 0,
            })),
        ),
    ]
}

// === the policy ===

#[test]
fn join_blocks_and_following_are_open_every_other_call_is_for_members() {
    let open = [Call::Join, Call::Block, Call::Follow, Call::FollowSnapshot];
    for call in Call::ALL {
        let want = if open.contains(&call) {
            Access::Open
        } else {
            Access::Member
        };
        assert_eq!(call.access(), want, "{call}");
    }
}

#[test]
fn every_request_variant_is_its_own_call_and_all_lists_each_once() {
    let requests = every_request(&id());
    let calls: Vec<Call> = requests.iter().map(|(call, _)| *call).collect();
    assert_eq!(calls, Call::ALL, "every_request covers Call::ALL in order");
    for (call, request) in &requests {
        assert_eq!(Call::of(request), *call);
        assert_eq!(access(request), call.access());
    }
    let names: std::collections::HashSet<&str> = Call::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(names.len(), Call::ALL.len(), "names are distinct");
}

#[test]
fn docs_security_rpc_md_lists_every_call_with_its_class() {
    let doc = include_str!("../../../../docs/security.md");
    for call in Call::ALL {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{call}` |")))
            .unwrap_or_else(|| panic!("docs/security.md has no row for {call}"));
        let class = match call.access() {
            Access::Open => "| open |",
            Access::Member => "| member |",
        };
        assert!(row.contains(class), "{call}: {row}");
    }
}

// === the gate ===

#[test]
fn a_member_may_make_every_call() {
    let member = id();
    let gate = Gate::new(FakeMembers::of(&[id(), member]), Trusted::default());
    for (call, request) in every_request(&member) {
        assert_eq!(gate.admit(&member, &request), Ok(()), "{call}");
    }
}

#[test]
fn a_stranger_may_only_join_for_itself_follow_and_fetch_blocks() {
    let stranger = id();
    let gate = Gate::new(FakeMembers::of(&[id(), id()]), Trusted::default());
    for (call, request) in every_request(&stranger) {
        let want = match call {
            Call::Join | Call::Block | Call::Follow | Call::FollowSnapshot => Ok(()),
            call => Err(Refusal::NotMember { call }),
        };
        assert_eq!(gate.admit(&stranger, &request), want, "{call}");
    }
}

#[test]
fn a_removed_member_is_refused_from_its_next_request_on() {
    let (a, b, c) = (id(), id(), id());
    let members = FakeMembers::of(&[a, b, c]);
    let gate = Gate::new(members.clone(), Trusted::default());
    let write = Request::Cluster(ClusterRequest::Leader(LeaderRequest::Write(PinOp::Batch(vec![]))));
    let vote = Request::Raft(RaftRequest::Vote(VoteRequest::new(Vote::new(9, 3), None)));
    assert_eq!(gate.admit(&c, &write), Ok(()));
    members.set(&[a, b]);
    assert_eq!(
        gate.admit(&c, &write),
        Err(Refusal::NotMember { call: Call::Write })
    );
    assert_eq!(
        gate.admit(&c, &vote),
        Err(Refusal::NotMember { call: Call::RaftVote })
    );
    assert_eq!(gate.admit(&a, &vote), Ok(()), "the others are still members");
}

#[test]
fn a_join_naming_another_peer_is_refused() {
    let (sender, victim) = (id(), id());
    let gate = Gate::new(FakeMembers::of(&[id()]), Trusted::default());
    let join = |node| Request::Cluster(ClusterRequest::Join(node));
    let foreign = gate.admit(&sender, &join(node(&victim, &[])));
    assert_eq!(
        foreign,
        Err(Refusal::ForeignJoin {
            claimed: victim.to_base58()
        })
    );
    let unparsable = gate.admit(&sender, &join(PeerNode::default()));
    assert!(matches!(unparsable, Err(Refusal::ForeignJoin { .. })));
    let elsewhere = format!("/ip4/127.0.0.1/tcp/1/p2p/{victim}");
    let mixed = gate.admit(&sender, &join(node(&sender, std::slice::from_ref(&elsewhere))));
    assert_eq!(mixed, Err(Refusal::ForeignJoin { claimed: elsewhere }));
    let own = [
        format!("/ip4/127.0.0.1/tcp/1/p2p/{sender}"),
        "/ip4/127.0.0.1/tcp/2".to_owned(),
    ];
    assert_eq!(gate.admit(&sender, &join(node(&sender, &own))), Ok(()));
}

#[test]
fn trusted_peers_make_member_calls_without_being_members() {
    let (trusted, other) = (id(), id());
    let write = Request::Cluster(ClusterRequest::Leader(LeaderRequest::Write(PinOp::Batch(vec![]))));
    let entries = [trusted.to_base58(), "not a peer id".to_owned()];
    let gate = Gate::new(FakeMembers::of(&[id()]), Trusted::new(&entries));
    assert_eq!(gate.admit(&trusted, &write), Ok(()));
    assert!(
        gate.admit(&other, &write).is_err(),
        "an entry that does not parse trusts nobody"
    );
    let anyone = Gate::new(FakeMembers::of(&[id()]), Trusted::new(&["*".to_owned()]));
    assert_eq!(anyone.admit(&other, &write), Ok(()));
    let join = Request::Cluster(ClusterRequest::Join(node(&trusted, &[])));
    assert!(
        anyone.admit(&other, &join).is_err(),
        "trust does not let a peer join for another"
    );
}

#[test]
fn without_a_membership_raft_calls_are_admitted_from_anyone_as_are_the_open_ones() {
    let leader = id();
    let gate = Gate::new(FakeMembers::default(), Trusted::default());
    for (call, request) in every_request(&leader) {
        let want = if call.is_raft() || call.access() == Access::Open {
            Ok(())
        } else {
            Err(Refusal::NotMember { call })
        };
        assert_eq!(gate.admit(&leader, &request), want, "{call}");
    }
}

/// Everything logged at WARN or above while `work` runs.
fn warnings(work: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, work);
    let text = buf.0.lock().unwrap().clone();
    String::from_utf8(text).unwrap()
}

#[test]
fn a_refusal_is_logged_once_per_peer_and_call() {
    let (removed, stranger) = (id(), id());
    let gate = Gate::new(FakeMembers::of(&[id()]), Trusted::default());
    let write = Request::Cluster(ClusterRequest::Leader(LeaderRequest::Write(PinOp::Batch(vec![]))));
    let vote = || Request::Raft(RaftRequest::Vote(VoteRequest::new(Vote::new(5, 1), None)));
    let log = warnings(|| {
        for _ in 0..10 {
            let _ = gate.admit(&removed, &write);
            let _ = gate.admit(&removed, &vote());
        }
        let _ = gate.admit(&stranger, &write);
    });
    let lines = |peer: &PeerId, call: &str| {
        log.lines()
            .filter(|l| l.contains(&peer.to_base58()) && l.contains(&format!("call={call}")))
            .count()
    };
    assert_eq!(lines(&removed, "leader.write"), 1, "{log}");
    assert_eq!(lines(&removed, "raft.vote"), 1, "{log}");
    assert_eq!(lines(&stranger, "leader.write"), 1, "{log}");
    assert!(log.contains("WARN"), "{log}");
}

#[test]
fn the_warned_set_stays_bounded() {
    let gate = Gate::new(FakeMembers::of(&[id()]), Trusted::default());
    let write = Request::Cluster(ClusterRequest::Leader(LeaderRequest::Write(PinOp::Batch(vec![]))));
    for _ in 0..WARNED_MAX + 10 {
        let _ = gate.admit(&id(), &write);
    }
    assert!(gate.warned.lock().unwrap().len() <= WARNED_MAX);
}

// === over a real transport ===

async fn net() -> (Net, crate::net::Incoming) {
    let settings = Settings {
        keypair: Keypair::generate_ed25519(),
        secret: [9; 32],
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        request_timeout: Duration::from_secs(5),
    };
    Net::start(settings).await.unwrap()
}

/// A member whose only member is itself, screening requests with the real gate and answering
/// what it admits with `Done`.
async fn guarded_member() -> PeerNode {
    let (server, mut incoming) = net().await;
    let gate = Gate::new(FakeMembers::of(&[server.peer_id]), Trusted::default());
    let addrs: Vec<String> = server.addrs.iter().map(ToString::to_string).collect();
    let me = node(&server.peer_id, &addrs);
    tokio::spawn(async move {
        while let Some(Inbound { peer, request, reply }) = incoming.requests.recv().await {
            let response = match gate.screen(&peer, &request) {
                Ok(_) => Response::Cluster(Ok(ClusterReply::Done)),
                Err(rejected) => rejected.into_response(),
            };
            let _ = reply.send(encode(&response).unwrap());
        }
        drop(server);
    });
    me
}

#[tokio::test]
async fn a_forged_join_over_the_wire_is_refused_and_an_honest_one_admitted() {
    let member = guarded_member().await;
    let (client_net, _incoming) = net().await;
    let me = client_net.peer_id;
    let client = Client::new(client_net);
    let (peer, addrs) = member.dial_address();
    let peer = peer.unwrap();
    let server_addrs = || addrs.clone();
    let victim = id();
    let forged = client.join(peer, server_addrs(), node(&victim, &[])).await;
    match forged {
        Err(RpcError::Unauthorized {
            refusal: Refusal::ForeignJoin { claimed },
            ..
        }) => assert_eq!(claimed, victim.to_base58()),
        other => panic!("a forged join got {other:?}"),
    }
    let honest = client.join(peer, server_addrs(), node(&me, &[])).await;
    assert!(matches!(honest, Ok(AtLeader::Done(()))), "{honest:?}");
    let write = client.write(&member, PinOp::Batch(vec![])).await;
    assert!(
        matches!(
            write,
            Err(RpcError::Unauthorized {
                refusal: Refusal::NotMember { call: Call::Write },
                ..
            })
        ),
        "{write:?}"
    );
}
