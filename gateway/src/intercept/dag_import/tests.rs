//! `dag/import` through the intercept layer over a [`FakeCluster`] and a stub upstream that
//! reads the whole upload (as kubo does before it answers): the roots come from the CARs in
//! the upload, the upstream is asked `pin-roots=false`, and failures pin nothing.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cid::Cid;
use cid::multihash::Multihash;
use http::{Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use tower::{Layer, ServiceExt};

use super::super::InterceptLayer;
use super::super::fake::FakeCluster;
use crate::{Body, BoxError, ProxyConfig, boxed};

fn cid(n: u8) -> Cid {
    Cid::new_v1(0x55, Multihash::<64>::wrap(0x12, &[n; 32]).expect("digest"))
}

/// A CARv1 naming `roots` with one block per root (the reader does not check hashes).
fn car(roots: &[Cid]) -> Vec<u8> {
    let mut out = cairn_kubo::car::header(roots).expect("header").to_vec();
    for root in roots {
        out.extend_from_slice(&cairn_kubo::car::section(root, b"block"));
    }
    out
}

/// A multipart body with one file part per CAR, sent in 7-byte frames.
fn upload(cars: &[Vec<u8>]) -> Body {
    let mut body = Vec::new();
    for car in cars {
        body.extend_from_slice(b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.car\"\r\nContent-Type: application/octet-stream\r\n\r\n");
        body.extend_from_slice(car);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--b--\r\n");
    let frames: Vec<Result<Frame<Bytes>, BoxError>> = body
        .chunks(7)
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    boxed(StreamBody::new(futures::stream::iter(frames)))
}

/// How the stub upstream answers once it has read the upload.
#[derive(Clone, Copy)]
enum Upstream {
    /// 200, with a Stats line when asked `stats=true`.
    Imports,
    /// kubo's 500 for a CAR it cannot read.
    Refuses,
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    text: String,
    trailers: Option<http::HeaderMap>,
}

/// Posts `cars` to `target`; what came back and the queries the upstream saw.
async fn import(
    cluster: &Arc<FakeCluster>,
    target: &str,
    cars: &[Vec<u8>],
    mode: Upstream,
) -> (Answer, Vec<String>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let upstream = tower::service_fn(move |req: Request<Body>| {
        let log = log.clone();
        async move {
            let query = req.uri().query().unwrap_or("").to_owned();
            let read = req.into_body().collect().await?.to_bytes();
            log.lock().expect("log").push(query.clone());
            let (status, text) = match mode {
                Upstream::Refuses => (
                    500,
                    "{\"Message\":\"import failed: bad car\",\"Code\":0,\"Type\":\"error\"}\n".to_owned(),
                ),
                Upstream::Imports if query.contains("stats=true") => (
                    200,
                    format!(
                        "{{\"Stats\":{{\"BlockCount\":1,\"BlockBytesCount\":{}}}}}\n",
                        read.len()
                    ),
                ),
                Upstream::Imports => (200, String::new()),
            };
            let mut response = Response::new(boxed(Full::new(Bytes::from(text))));
            *response.status_mut() = StatusCode::from_u16(status)?;
            Ok::<_, BoxError>(response)
        }
    });
    let service = InterceptLayer::new(cluster.clone(), &ProxyConfig::default()).layer(upstream);
    let request = Request::post(target)
        .header("host", "127.0.0.1:9095")
        .header("content-type", "multipart/form-data; boundary=b")
        .body(upload(cars))
        .expect("request");
    let response = match service.oneshot(request).await {
        Ok(response) => response,
        Err(e) => crate::rescue::into_response(&e),
    };
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.expect("answer");
    let trailers = collected.trailers().cloned();
    let text = String::from_utf8_lossy(&collected.to_bytes()).into_owned();
    let queries = seen.lock().expect("log").clone();
    (
        Answer {
            status: parts.status,
            headers: parts.headers,
            text,
            trailers,
        },
        queries,
    )
}

fn root_line(cid: Cid, error: &str) -> String {
    format!("{{\"Root\":{{\"Cid\":{{\"/\":\"{cid}\"}},\"PinErrorMsg\":\"{error}\"}}}}\n")
}

#[test]
fn dag_import_is_an_intercepted_route() {
    use super::super::route::{Command, Route, classify};
    assert_eq!(
        classify("/api/v0/dag/import"),
        Route::Serve(Command::DagImport, vec![])
    );
    assert_eq!(classify("/api/v0/dag%2Fimport"), Route::Ambiguous);
}

#[tokio::test]
async fn every_root_of_every_car_is_pinned_once_with_the_options_then_the_stats_follow() {
    let cluster = Arc::new(FakeCluster::default());
    let (a, b, c) = (cid(1), cid(2), cid(3));
    let cars = [car(&[a, b]), car(&[b, c])];
    let (answer, queries) = import(
        &cluster,
        "/api/v0/dag/import?stats=true&name=n&replication=2",
        &cars,
        Upstream::Imports,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let mut lines = answer.text.lines();
    for root in [a, b, c] {
        assert_eq!(lines.next().map(|l| format!("{l}\n")), Some(root_line(root, "")));
    }
    let stats = lines.next().unwrap_or_default();
    assert!(
        stats.starts_with("{\"Stats\":{\"BlockCount\":"),
        "{}",
        answer.text
    );
    assert_eq!(lines.next(), None);
    assert_eq!(answer.headers["x-chunked-output"], "1");
    assert_eq!(answer.headers["trailer"], "X-Stream-Error");
    assert_eq!(queries.len(), 1);
    assert!(
        queries[0].ends_with("pin-roots=false") && queries[0].contains("stats=true"),
        "{}",
        queries[0]
    );
    let pins = cluster.pins.lock().expect("pins");
    assert!(pins.keys().eq([&a, &b, &c]));
    let (info, options) = &pins[&a];
    assert!(info.recursive);
    assert_eq!(info.name, "n");
    assert!(options.iter().any(|(k, v)| k == "replication" && v == "2"));
    assert!(options.iter().all(|(k, _)| k != "pin-roots"));
}

#[tokio::test]
async fn the_clients_pin_roots_true_becomes_false_upstream() {
    let cluster = Arc::new(FakeCluster::default());
    let (answer, queries) = import(
        &cluster,
        "/api/v0/dag/import?pin-roots=true",
        &[car(&[cid(1)])],
        Upstream::Imports,
    )
    .await;
    assert_eq!(answer.text, root_line(cid(1), ""));
    assert_eq!(queries, vec!["pin-roots=false".to_owned()]);
}

#[tokio::test]
async fn pin_roots_false_is_the_upstreams_and_pins_nothing() {
    let cluster = Arc::new(FakeCluster::default());
    let (answer, queries) = import(
        &cluster,
        "/api/v0/dag/import?pin-roots=false&stats=true",
        &[car(&[cid(1)])],
        Upstream::Imports,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.text.starts_with("{\"Stats\""), "{}", answer.text);
    assert_eq!(
        queries,
        vec!["pin-roots=false&stats=true".to_owned()],
        "forwarded as it came"
    );
    assert!(cluster.pins.lock().expect("pins").is_empty());
    let (bad, _) = import(
        &cluster,
        "/api/v0/dag/import?pin-roots=maybe",
        &[],
        Upstream::Imports,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
}

#[tokio::test]
async fn the_upstreams_refusal_is_passed_on_and_nothing_is_pinned() {
    let cluster = Arc::new(FakeCluster::default());
    let (answer, _) = import(
        &cluster,
        "/api/v0/dag/import",
        &[car(&[cid(1)])],
        Upstream::Refuses,
    )
    .await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(answer.text.contains("import failed: bad car"), "{}", answer.text);
    assert!(cluster.pins.lock().expect("pins").is_empty());
}

#[tokio::test]
async fn an_upload_the_gateway_cannot_read_roots_from_pins_nothing_and_says_so() {
    let cluster = Arc::new(FakeCluster::default());
    let (answer, _) = import(
        &cluster,
        "/api/v0/dag/import",
        &[b"no car at all".to_vec()],
        Upstream::Imports,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let error = answer.trailers.as_ref().and_then(|t| t.get("x-stream-error"));
    let error = error.and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(error.contains("the roots were not pinned"), "{error:?}");
    assert!(answer.text.is_empty(), "{}", answer.text);
    assert!(cluster.pins.lock().expect("pins").is_empty());
}

#[tokio::test]
async fn a_failed_cluster_pin_is_that_roots_pin_error_msg() {
    let cluster = Arc::new(FakeCluster {
        leaderless: true,
        ..FakeCluster::default()
    });
    let (answer, _) = import(
        &cluster,
        "/api/v0/dag/import",
        &[car(&[cid(1), cid(2)])],
        Upstream::Imports,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let want = [cid(1), cid(2)]
        .map(|c| root_line(c, "no Raft leader within 15s"))
        .concat();
    assert_eq!(answer.text, want);
}
