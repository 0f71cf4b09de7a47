//! The typed client against a real transport: two in-process networks on 127.0.0.1, the
//! answering side a scripted server, so that each call's pairing with its reply is checked
//! without a cluster.

use std::time::Duration;

use libp2p::identity::Keypair;
use tokio::sync::mpsc;

use super::{AtLeader, Client, ClusterReply, Request, Response, RpcError, Written, decode_request, encode};
use crate::api::RepoStat;
use crate::consensus::PeerNode;
use crate::net::{Inbound, Net, Settings};
use crate::state::PinOp;

async fn net() -> (Net, crate::net::Incoming) {
    let settings = Settings {
        keypair: Keypair::generate_ed25519(),
        secret: [7; 32],
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("address")],
        request_timeout: Duration::from_secs(5),
    };
    Net::start(settings).await.expect("the network starts")
}

/// A member whose requests are answered by `answer` (`None` drops the request unanswered).
async fn member(answer: fn(Request) -> Option<Response>) -> PeerNode {
    let (server, incoming) = net().await;
    let node = PeerNode {
        peer_id: server.peer_id.to_string(),
        addrs: server.addrs.iter().map(ToString::to_string).collect(),
    };
    tokio::spawn(serve(incoming.raft, answer));
    tokio::spawn(async move {
        serve(incoming.requests, answer).await;
        drop(server); // the network runs while a handle to it lives
    });
    node
}

async fn serve(mut requests: mpsc::Receiver<Inbound>, answer: fn(Request) -> Option<Response>) {
    while let Some(Inbound { request, reply, .. }) = requests.recv().await {
        let request = decode_request(&request).expect("the client sends what the server reads");
        if let Some(response) = answer(request) {
            let _ = reply.send(encode(&response).expect("encodes"));
        }
    }
}

async fn client() -> Client {
    Client::new(net().await.0)
}

fn stat() -> RepoStat {
    RepoStat {
        repo_size: 1,
        storage_max: 2,
        num_objects: 3,
        repo_path: "/repo".into(),
        version: "fs-repo@16".into(),
    }
}

#[tokio::test]
async fn a_call_gets_the_reply_of_its_own_kind() {
    let member = member(|request| match request {
        Request::Cluster(super::ClusterRequest::RepoStat(true)) => {
            Some(Response::Cluster(Ok(ClusterReply::RepoStat(stat()))))
        }
        _ => None,
    })
    .await;
    assert_eq!(
        client().await.repo_stat(&member, true).await.expect("answered"),
        stat()
    );
}

#[tokio::test]
async fn a_reply_of_another_kind_is_mismatched_not_misread() {
    let member = member(|_| Some(Response::Cluster(Ok(ClusterReply::Gc(vec!["k".into()]))))).await;
    let client = client().await;
    let err = client
        .repo_stat(&member, false)
        .await
        .expect_err("a gc reply is no repo/stat");
    assert!(
        matches!(
            err,
            RpcError::Mismatched {
                asked: "repo/stat",
                ..
            }
        ),
        "{err:?}"
    );
    let err = client
        .status_of(&member, "c".into())
        .await
        .expect_err("nor a status");
    assert!(
        matches!(err, RpcError::Mismatched { asked: "status", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_serving_peers_error_comes_back_with_its_message() {
    let member = member(|_| Some(Response::Cluster(Err("no Raft leader: gone".into())))).await;
    let err = client().await.sync(&member).await.expect_err("it failed");
    assert!(
        matches!(&err, RpcError::Failed { message, .. } if message == "no Raft leader: gone"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_refusal_or_an_unanswered_request_is_refused() {
    let refusing = member(|_| Some(Response::Refused("queue full".into()))).await;
    let dropping = member(|_| None).await;
    let client = client().await;
    let err = client.repo_gc(&refusing).await.expect_err("refused");
    assert!(
        matches!(&err, RpcError::Refused { reason, .. } if reason == "queue full"),
        "{err:?}"
    );
    let err = client.repo_gc(&dropping).await.expect_err("dropped");
    assert!(matches!(err, RpcError::Refused { .. }), "{err:?}");
}

#[tokio::test]
async fn a_member_that_does_not_lead_says_so_and_a_write_is_not_taken_for_done() {
    let follower = member(|request| match request {
        Request::Cluster(super::ClusterRequest::Leader(_)) => {
            Some(Response::Cluster(Ok(ClusterReply::NotLeader(None))))
        }
        _ => None,
    })
    .await;
    let client = client().await;
    let cid =
        crate::api::parse_cid("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy").expect("cid");
    let written = client
        .write(&follower, PinOp::Unpin(cid))
        .await
        .expect("answered");
    assert_eq!(written, AtLeader::NotLeader(None));
    assert_eq!(
        client.read_index(&follower).await.expect("answered"),
        AtLeader::NotLeader(None)
    );
    assert_eq!(
        client.remove_at_leader(&follower, 9).await.expect("answered"),
        AtLeader::NotLeader(None)
    );
}

#[tokio::test]
async fn a_leader_write_answers_its_index() {
    let leader = member(|_| Some(Response::Cluster(Ok(ClusterReply::Written(None, 42))))).await;
    let written = client()
        .await
        .write(&leader, PinOp::Batch(vec![]))
        .await
        .expect("answered");
    assert_eq!(
        written,
        AtLeader::Done(Written {
            applied: None,
            index: 42
        })
    );
}

#[tokio::test]
async fn a_member_without_a_valid_peer_id_is_not_dialled() {
    let nobody = PeerNode {
        peer_id: "not-a-peer-id".into(),
        addrs: vec![],
    };
    let err = client().await.sync(&nobody).await.expect_err("unreachable");
    assert!(matches!(err, RpcError::NoPeerId { .. }), "{err:?}");
}
