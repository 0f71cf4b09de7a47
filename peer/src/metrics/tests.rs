use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn_gateway::stats::{GatewayStats, Histogram, RouteClass, UpstreamFailure};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::reading::{LogReading, RaftReading};
use super::*;

/// A source with every value known, counting how often it is read.
struct Fixed {
    reads: Arc<AtomicU64>,
    gateway: Arc<GatewayStats>,
}

impl Source for Fixed {
    fn read(&self) -> Reading {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let sizes = Histogram::new(&[1, 2, 4]);
        sizes.observe(3);
        let fsync = Histogram::latency();
        fsync.observe_duration(Duration::from_micros(700));
        Reading {
            pins: Some(7),
            tracker: status_counts(),
            queued: 2,
            ipfs_pins: Some(5),
            child_pins: 0,
            peers: 3,
            freespace: Some(1 << 30),
            reposize: Some(4096),
            raft: RaftReading {
                term: 4,
                leader: true,
                leader_known: true,
                last_log_index: 12,
                commit_index: 11,
                applied_index: 10,
                snapshot_index: 0,
            },
            proposals: Some(sizes.snapshot()),
            log: LogReading {
                commits: 9,
                entries: 12,
                fsync: Some(fsync.snapshot()),
            },
            gateway: Some(self.gateway.clone()),
            process: process::read(),
        }
    }
}

fn status_counts() -> crate::tracker::StatusCounts {
    use crate::tracker::Status;
    [
        Status::Pinned,
        Status::Pinned,
        Status::PinQueued,
        Status::Unpinning,
    ]
    .into_iter()
    .collect()
}

fn fixed(interval: Duration) -> (Arc<Exposition>, Arc<AtomicU64>, Arc<GatewayStats>) {
    let reads = Arc::new(AtomicU64::new(0));
    let gateway = Arc::new(GatewayStats::new());
    gateway.record(RouteClass::Intercepted, StatusCode::OK, Duration::from_millis(4));
    gateway.record(RouteClass::Forwarded, StatusCode::OK, Duration::from_millis(1));
    gateway.upstream_failed(UpstreamFailure::Unreachable);
    let source = Fixed {
        reads: reads.clone(),
        gateway: gateway.clone(),
    };
    (Arc::new(Exposition::new(source, interval)), reads, gateway)
}

/// The metric family names of a Prometheus text exposition (`# TYPE` lines).
fn families(prometheus: &str) -> BTreeSet<String> {
    let types = prometheus.lines().filter_map(|l| l.strip_prefix("# TYPE "));
    types
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The sample of `series` (name with labels, as written) in a Prometheus exposition.
fn sample(prometheus: &str, series: &str) -> Option<f64> {
    let line = prometheus
        .lines()
        .find(|l| l.starts_with(&format!("{series} ")))?;
    line.rsplit(' ').next()?.parse().ok()
}

#[test]
fn every_family_has_ipfs_clusters_or_cairns_name_and_its_value() {
    let (exposition, _, _) = fixed(Duration::ZERO);
    let openmetrics = exposition.read_now().unwrap();
    assert!(openmetrics.ends_with("# EOF\n"), "{openmetrics}");
    let text = text::to_prometheus(&openmetrics);
    for (series, value) in [
        ("ipfscluster_pins", 7.0),
        ("ipfscluster_pins_pin_queued", 1.0),
        ("ipfscluster_pins_pinning", 0.0),
        ("ipfscluster_pins_ipfs_pins", 5.0),
        ("ipfscluster_peers", 3.0),
        ("ipfscluster_informer_freespace_bytes", 1_073_741_824.0),
        ("cairn_tracker_queue_operations", 2.0),
        ("cairn_tracker_pins{status=\"pinned\"}", 2.0),
        ("cairn_tracker_pins{status=\"unpinning\"}", 1.0),
        ("cairn_tracker_pins{status=\"pin_error\"}", 0.0),
        ("cairn_raft_term", 4.0),
        ("cairn_raft_leader", 1.0),
        ("cairn_raft_commit_index", 11.0),
        ("cairn_raft_applied_index", 10.0),
        ("cairn_raft_log_commits_total", 9.0),
        ("cairn_raft_proposal_writes_bucket{le=\"4.0\"}", 1.0),
        ("cairn_raft_proposal_writes_bucket{le=\"2.0\"}", 0.0),
        ("cairn_raft_log_fsync_seconds_bucket{le=\"0.001\"}", 1.0),
        ("cairn_raft_log_fsync_seconds_sum", 0.0007),
        (
            "cairn_gateway_requests_total{route=\"intercepted\",code=\"200\"}",
            1.0,
        ),
        (
            "cairn_gateway_requests_total{route=\"forwarded\",code=\"200\"}",
            1.0,
        ),
        (
            "cairn_gateway_request_duration_seconds_count{route=\"intercepted\"}",
            1.0,
        ),
        ("cairn_gateway_upstream_errors_total{kind=\"unreachable\"}", 1.0),
        (
            "cairn_gateway_upstream_errors_total{kind=\"header_timeout\"}",
            0.0,
        ),
    ] {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    }
    assert!(sample(&text, "process_cpu_seconds_total").is_some(), "{text}");
    assert!(sample(&text, "process_start_time_seconds").unwrap_or(0.0) > 1.0e9);
}

#[test]
fn docs_operations_md_lists_exactly_the_families_served() {
    let doc = include_str!("../../../docs/operations.md");
    let documented: BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|name| {
            name.starts_with("ipfscluster_") || name.starts_with("cairn_") || name.starts_with("process_")
        })
        .map(str::to_owned)
        .collect();
    let (exposition, _, _) = fixed(Duration::ZERO);
    let served = families(&text::to_prometheus(&exposition.read_now().unwrap()));
    assert_eq!(documented, served);
}

#[tokio::test]
async fn one_reading_serves_scrapes_for_the_reporting_interval() {
    let (cached, reads, gateway) = fixed(Duration::from_secs(3600));
    let first = cached.openmetrics().await.unwrap();
    gateway.record(RouteClass::Forwarded, StatusCode::NOT_FOUND, Duration::ZERO);
    assert_eq!(cached.openmetrics().await.unwrap(), first);
    assert_eq!(reads.load(Ordering::Relaxed), 1);
    let (fresh, reads, gateway) = fixed(Duration::ZERO);
    let first = fresh.openmetrics().await.unwrap();
    gateway.record(RouteClass::Forwarded, StatusCode::NOT_FOUND, Duration::ZERO);
    assert_ne!(fresh.openmetrics().await.unwrap(), first);
    assert_eq!(reads.load(Ordering::Relaxed), 2);
}

async fn scrape(
    exposition: &Arc<Exposition>,
    req: Request<cairn_gateway::Body>,
) -> (StatusCode, String, String) {
    let rsp = serve::stack(exposition.clone()).oneshot(req).await.unwrap();
    let kind = rsp
        .headers()
        .get(header::CONTENT_TYPE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let status = rsp.status();
    let body = rsp.into_body().collect().await.unwrap().to_bytes();
    (status, kind, String::from_utf8(body.to_vec()).unwrap())
}

fn request(method: &str, path: &str, accept: Option<&str>) -> Request<cairn_gateway::Body> {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(accept) = accept {
        req = req.header(header::ACCEPT, accept);
    }
    req.body(cairn_gateway::boxed(http_body_util::Empty::<bytes::Bytes>::new()))
        .unwrap()
}

#[tokio::test]
async fn metrics_answers_in_the_format_asked_and_nothing_else_is_served() {
    let (exposition, _, _) = fixed(Duration::ZERO);
    let (status, kind, body) = scrape(&exposition, request("GET", "/metrics", None)).await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, text::PROMETHEUS));
    assert!(body.contains("# TYPE cairn_gateway_requests_total counter\n") && !body.contains("# EOF"));
    let openmetrics = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let (status, kind, body) = scrape(&exposition, request("GET", "/metrics", Some(openmetrics))).await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, text::OPENMETRICS));
    assert!(body.contains("# TYPE cairn_gateway_requests counter\n") && body.ends_with("# EOF\n"));
    let (status, _, body) = scrape(&exposition, request("HEAD", "/metrics", None)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    assert_eq!(
        scrape(&exposition, request("POST", "/metrics", None)).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        scrape(&exposition, request("GET", "/", None)).await.0,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn the_endpoint_is_bound_only_when_enabled() {
    let mut config = crate::config::MetricsConfig::default();
    assert!(serve::server_config(&config).unwrap().is_none());
    config.enable_stats = true;
    let listen = serve::server_config(&config).unwrap().unwrap().listen;
    let expected = cairn_gateway::config::listen_addr(crate::config::DEFAULT_PROMETHEUS_ENDPOINT).unwrap();
    assert_eq!(format!("{listen:?}"), format!("{:?}", [expected]));
}
