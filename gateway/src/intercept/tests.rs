//! The intercept handlers in process, over a [`FakeCluster`] and a stub upstream: each
//! command's parse → apply → answer, and its kubo-shaped errors, in milliseconds.

use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use cid::multihash::Multihash;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{Layer, ServiceExt};

use super::InterceptLayer;
use super::cluster::{ClusterError, RepoStat};
use super::fake::FakeCluster;
use crate::{Body, BoxError, ProxyConfig, boxed};

fn cid(n: u8) -> Cid {
    let digest = Multihash::<64>::wrap(0x12, &[n; 32]).expect("digest");
    Cid::new_v1(0x55, digest)
}

/// What came back: status, headers, body text.
struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    text: String,
}

/// Sends `method target` (with `headers`) through the intercept layer over `cluster`, turning
/// an error into its answer as the rescue layer does.
async fn call(cluster: &Arc<FakeCluster>, method: &str, target: &str, headers: &[(&str, &str)]) -> Answer {
    let upstream = tower::service_fn(|_req: Request<Body>| async {
        Ok::<_, BoxError>(Response::new(boxed(Full::new(Bytes::from_static(
            b"from upstream\n",
        )))))
    });
    let service = InterceptLayer::new(cluster.clone(), &ProxyConfig::default()).layer(upstream);
    let mut request = Request::builder()
        .method(method)
        .uri(target)
        .header("host", "127.0.0.1:9095");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(boxed(Full::new(Bytes::new()))).expect("request");
    let response = match service.oneshot(request).await {
        Ok(response) => response,
        Err(e) => crate::rescue::into_response(&e),
    };
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    Answer {
        status: parts.status,
        headers: parts.headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn post(cluster: &Arc<FakeCluster>, target: &str) -> Answer {
    call(cluster, "POST", target, &[]).await
}

#[tokio::test]
async fn pin_add_commits_each_cid_with_the_requests_options_and_answers_like_kubo() {
    let cluster = Arc::new(FakeCluster::default());
    let (a, b) = (cid(1), cid(2));
    let answer = post(
        &cluster,
        &format!("/api/v0/pin/add?arg={a}&arg=/ipfs/{b}&name=n&recursive=false"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.text, format!("{{\"Pins\":[\"{a}\",\"{b}\"]}}\n"));
    assert_eq!(answer.headers["trailer"], "X-Stream-Error");
    let pins = cluster.pins.lock().expect("pins");
    let (info, options) = &pins[&a];
    assert!(!info.recursive);
    assert_eq!(info.name, "n");
    assert!(options.iter().any(|(k, v)| k == "name" && v == "n"));
    assert!(options.iter().all(|(k, _)| k != "arg"), "args are not options");
}

#[tokio::test]
async fn pin_ls_lists_in_both_of_kubos_shapes_and_filters_by_type() {
    let cluster = Arc::new(FakeCluster::default());
    post(&cluster, &format!("/api/v0/pin/add?arg={}&name=a", cid(1))).await;
    post(
        &cluster,
        &format!("/api/v0/pin/add?arg={}&recursive=false", cid(2)),
    )
    .await;
    let keys = post(&cluster, "/api/v0/pin/ls").await;
    let value: serde_json::Value = serde_json::from_str(&keys.text).expect("json");
    assert_eq!(value["Keys"][cid(1).to_string()]["Type"], "recursive");
    assert_eq!(value["Keys"][cid(2).to_string()]["Type"], "direct");
    let direct = post(&cluster, "/api/v0/pin/ls?type=direct&stream=true").await;
    assert_eq!(direct.headers["x-chunked-output"], "1");
    assert_eq!(
        direct.text,
        format!("{{\"Cid\":\"{}\",\"Type\":\"direct\"}}\n", cid(2))
    );
    let empty = post(&Arc::new(FakeCluster::default()), "/api/v0/pin/ls").await;
    assert_eq!(empty.text, "{}\n");
    let missing = post(&cluster, &format!("/api/v0/pin/ls?arg={}", cid(9))).await;
    assert_eq!(missing.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        missing.text.contains(&format!("path '{}' is not pinned", cid(9))),
        "{}",
        missing.text
    );
    let bad = post(&cluster, "/api/v0/pin/ls?type=Recursive").await;
    assert!(bad.text.contains("invalid type 'Recursive'"), "{}", bad.text);
}

#[tokio::test]
async fn pin_rm_and_update_change_the_pinset_or_say_why_not() {
    let cluster = Arc::new(FakeCluster::default());
    let (a, b) = (cid(1), cid(2));
    post(&cluster, &format!("/api/v0/pin/add?arg={a}")).await;
    let direct_rm = post(&cluster, &format!("/api/v0/pin/rm?arg={a}&recursive=false")).await;
    assert!(
        direct_rm.text.contains("is pinned recursively"),
        "{}",
        direct_rm.text
    );
    let update = post(&cluster, &format!("/api/v0/pin/update?arg={a}&arg={b}")).await;
    assert_eq!(update.text, format!("{{\"Pins\":[\"{a}\",\"{b}\"]}}\n"));
    assert!(
        cluster.pins.lock().expect("pins").keys().eq([&b]),
        "from is unpinned"
    );
    let again = post(&cluster, &format!("/api/v0/pin/update?arg={a}&arg={b}")).await;
    assert!(
        again
            .text
            .contains("'from' cid was not recursively pinned already"),
        "{}",
        again.text
    );
    let rm = post(&cluster, &format!("/api/v0/pin/rm?arg={b}")).await;
    assert_eq!(rm.status, StatusCode::OK);
    let gone = post(&cluster, &format!("/api/v0/pin/rm?arg={b}")).await;
    assert_eq!(gone.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        gone.text,
        "{\"Message\":\"not pinned or pinned indirectly\",\"Code\":0,\"Type\":\"error\"}\n"
    );
}

#[tokio::test]
async fn bad_requests_get_kubos_refusals_and_change_nothing() {
    let cluster = Arc::new(FakeCluster::default());
    let target = format!("/api/v0/pin/add?arg={}", cid(1));
    let get = call(&cluster, "GET", &target, &[]).await;
    assert_eq!(
        (get.status, get.text.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "405 - Method Not Allowed\n")
    );
    assert_eq!(get.headers["allow"], "OPTIONS, POST");
    let cross_site = call(&cluster, "POST", &target, &[("origin", "http://evil.example")]).await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    let bad_bool = post(&cluster, &format!("{target}&recursive=yes")).await;
    assert_eq!(bad_bool.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_bool
            .text
            .contains("Could not convert value \"yes\" to type \"bool\"")
    );
    let no_arg = post(&cluster, "/api/v0/pin/add").await;
    assert!(
        no_arg.text.contains("argument \\\"ipfs-path\\\" is required"),
        "{}",
        no_arg.text
    );
    let a_path = post(&cluster, &format!("/api/v0/pin/add?arg=/ipfs/{}/sub", cid(1))).await;
    assert!(a_path.text.contains("resolve the path first"), "{}", a_path.text);
    assert!(
        cluster.pins.lock().expect("pins").is_empty(),
        "nothing was committed"
    );
}

#[tokio::test]
async fn a_cluster_without_a_leader_is_a_503_in_kubos_shape() {
    let cluster = Arc::new(FakeCluster {
        leaderless: true,
        ..FakeCluster::default()
    });
    let answer = post(&cluster, &format!("/api/v0/pin/add?arg={}", cid(1))).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    let error: serde_json::Value = serde_json::from_str(&answer.text).expect("json");
    // kubo's cmds codes: 0 (ErrNormal) for a server-side failure, 1 (ErrClient) only for 4xx.
    assert_eq!(
        (error["Code"].as_u64(), error["Type"].as_str()),
        (Some(0), Some("error"))
    );
    assert!(error["Message"].as_str().unwrap_or("").contains("no Raft leader"));
}

#[tokio::test]
async fn repo_stat_sums_the_peers_that_answer_and_the_rest_is_forwarded() {
    let stat = |size| RepoStat {
        repo_size: size,
        storage_max: 1000,
        num_objects: 3,
        repo_path: "/repo".into(),
        version: "fs-repo@16".into(),
    };
    let cluster = Arc::new(FakeCluster {
        stats: vec![
            Ok(stat(10)),
            Err(ClusterError::Failed("peer b: down".into())),
            Ok(stat(5)),
        ],
        ..FakeCluster::default()
    });
    let answer = post(&cluster, "/api/v0/repo/stat").await;
    assert_eq!(
        answer.text,
        "{\"RepoSize\":15,\"StorageMax\":2000,\"NumObjects\":6,\"RepoPath\":\"/repo\",\"Version\":\"fs-repo@16\"}\n"
    );
    let alias = post(&cluster, "/api/v0/stats/repo").await;
    assert_eq!(
        (alias.status, &alias.text),
        (answer.status, &answer.text),
        "kubo's alias"
    );
    let size_only = post(&cluster, "/api/v0/repo/stat?size-only=true").await;
    assert!(
        size_only.text.contains("\"NumObjects\":0,\"RepoPath\":\"\""),
        "{}",
        size_only.text
    );
    assert_eq!(post(&cluster, "/api/v0/id").await.text, "from upstream\n");
    let unpinned_put = post(&cluster, "/api/v0/block/put?pin=false").await;
    assert_eq!(
        unpinned_put.text, "from upstream\n",
        "a put that pins nothing is the daemon's"
    );
}

#[tokio::test]
async fn status_lines_are_written_as_the_cluster_encoded_them_and_depth_is_checked() {
    let cluster = Arc::new(FakeCluster::default());
    let answer = post(
        &cluster,
        &format!("/api/v0/cairn/status?arg={}&arg={}&depth=2", cid(1), cid(2)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.text,
        format!(
            "{{\"cid\":\"{}\",\"depth\":2}}\n{{\"cid\":\"{}\",\"depth\":2}}\n",
            cid(1),
            cid(2)
        )
    );
    let too_deep = post(&cluster, &format!("/api/v0/cairn/status?arg={}&depth=9", cid(1))).await;
    assert_eq!(too_deep.status, StatusCode::BAD_REQUEST, "{}", too_deep.text);
    assert!(
        too_deep.text.contains("depth must be between 1 and 5"),
        "{}",
        too_deep.text
    );
}

#[tokio::test]
async fn more_arguments_than_max_args_are_refused_and_pin_nothing() {
    let cluster = Arc::new(FakeCluster::default());
    let limit = crate::config::DEFAULT_MAX_ARGS;
    let args: String = (0..=limit)
        .map(|i| format!("arg={}&", cid((i % 250) as u8)))
        .collect();
    let answer = post(&cluster, &format!("/api/v0/pin/add?{args}")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
    let error: serde_json::Value = serde_json::from_str(&answer.text).expect("kubo error object");
    assert_eq!(error["Code"], 1);
    assert!(
        error["Message"].as_str().unwrap_or_default().contains("max_args"),
        "{}",
        answer.text
    );
    assert!(cluster.pins.lock().expect("pins").is_empty());
}

#[tokio::test]
async fn pin_names_show_with_names_filter_by_substring_and_are_bounded_as_kubo() {
    let cluster = Arc::new(FakeCluster::default());
    post(
        &cluster,
        &format!("/api/v0/pin/add?arg={}&name=holiday-photos", cid(1)),
    )
    .await;
    post(&cluster, &format!("/api/v0/pin/add?arg={}&name=taxes", cid(2))).await;
    post(&cluster, &format!("/api/v0/pin/add?arg={}", cid(3))).await;

    let plain = post(&cluster, "/api/v0/pin/ls").await;
    let value: serde_json::Value = serde_json::from_str(&plain.text).expect("json");
    assert_eq!(
        value["Keys"][cid(1).to_string()]["Name"],
        "",
        "names only with names=true"
    );
    let lines = post(&cluster, "/api/v0/pin/ls?stream=true").await;
    assert!(!lines.text.contains("Name"), "{}", lines.text);

    let named = post(&cluster, "/api/v0/pin/ls?names=true").await;
    let value: serde_json::Value = serde_json::from_str(&named.text).expect("json");
    assert_eq!(value["Keys"][cid(1).to_string()]["Name"], "holiday-photos");
    assert_eq!(value["Keys"][cid(3).to_string()]["Name"], "");

    let filtered = post(&cluster, "/api/v0/pin/ls?name=photo&stream=true").await;
    assert_eq!(
        filtered.text,
        format!(
            "{{\"Cid\":\"{}\",\"Name\":\"holiday-photos\",\"Type\":\"recursive\"}}\n",
            cid(1)
        )
    );
    let none = post(&cluster, "/api/v0/pin/ls?name=Photo").await;
    assert_eq!(none.text, "{}\n", "case-sensitive");

    let long = "n".repeat(256);
    for target in [
        format!("/api/v0/pin/add?arg={}&name={long}", cid(4)),
        format!("/api/v0/pin/ls?name={long}"),
        format!("/api/v0/add?pin-name={long}"),
    ] {
        let refused = post(&cluster, &target).await;
        assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR, "{target}");
        assert!(
            refused.text.contains("pin name is 256 bytes (max 255 bytes)"),
            "{}",
            refused.text
        );
    }
    assert!(!cluster.pins.lock().expect("pins").contains_key(&cid(4)));
}
