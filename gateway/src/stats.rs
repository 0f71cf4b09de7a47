//! The gateway's request counters, latency and upstream failures, in plain atomics, for
//! whoever exports them: the peer's `metrics` component reads them at scrape time. This crate
//! knows no metrics library and no exposition format.
//!
//! # Where it sits
//! `stack::build_observed` hands one [`GatewayStats`] to the access log (outermost, so the
//! status counted is the one the client got, rescued errors and denials included) and to
//! `Forward` (which counts the upstream failures it turns into errors).
//!
//! # Invariants
//! - Recording never blocks and never allocates: fixed arrays of atomics, sized at creation.
//! - A request is counted once, by [`RouteClass`] and status, when its answer ends or is
//!   abandoned (the access log's moment), so its latency covers the whole transfer.
//! - An upstream failure is counted once, where `Forward` classifies it: the upstream could
//!   not be reached or sent no answer head in time ([`UpstreamFailure`]). A request body that
//!   missed its deadline is the client's fault and not counted; nor are errors inside a
//!   streamed body (the status was already sent).
//! - A reader sees each atomic at some moment during its read: counts only grow, but a
//!   snapshot's histogram sum and counts may disagree by the requests recorded meanwhile.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use http::StatusCode;

use crate::intercept::route::{self, Route};

/// Latency bucket bounds in microseconds: 100 µs to 60 s (fits an fsync and a slow add).
pub const LATENCY_MICROS: [u64; 18] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

/// The status codes counted one by one (`100..=599`); any other is counted as [`OTHER_STATUS`].
const STATUSES: usize = 500;
/// Where a status outside `100..=599` is counted (hyper sends none; the total stays right).
const OTHER_STATUS: u16 = 599;

/// How the gateway routed a request (`intercept::route`'s table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteClass {
    /// An intercepted kubo command, served (or refused) from the cluster.
    Intercepted,
    /// Any other path: relayed to the upstream daemon.
    Forwarded,
}

impl RouteClass {
    /// Every class, in label order.
    pub const ALL: [Self; 2] = [Self::Intercepted, Self::Forwarded];

    /// Its label value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Intercepted => "intercepted",
            Self::Forwarded => "forwarded",
        }
    }

    /// The class of a request for `path`; a gateway without a cluster forwards everything.
    /// `block/put` and `dag/put` without `pin=true` count as intercepted routes although
    /// they are relayed (the class is the route's, read from the path alone).
    pub fn of(path: &str, intercepting: bool) -> Self {
        match intercepting && !matches!(route::classify(path), Route::Forward) {
            true => Self::Intercepted,
            false => Self::Forwarded,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Why a request could not be relayed to the upstream daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UpstreamFailure {
    /// It could not be dialled, or dropped the connection before answering (a 502).
    Unreachable,
    /// It sent no response head within `upstream_header_timeout` (a 504).
    HeaderTimeout,
}

impl UpstreamFailure {
    /// Every kind, in label order.
    pub const ALL: [Self; 2] = [Self::Unreachable, Self::HeaderTimeout];

    /// Its label value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::HeaderTimeout => "header_timeout",
        }
    }
}

/// A histogram over `u64` values with fixed bucket bounds, in atomics.
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds (inclusive), ascending.
    bounds: &'static [u64],
    /// One count per bound, and a last one above every bound.
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

/// What a [`Histogram`] held when read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Upper bounds (inclusive), ascending.
    pub bounds: &'static [u64],
    /// Values per bucket (not cumulative); one more than `bounds`: the last is above them all.
    pub counts: Vec<u64>,
    /// Sum of every value observed (wrapping, as Prometheus expects of a long-lived sum).
    pub sum: u64,
}

impl HistogramSnapshot {
    /// Values observed.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

impl Histogram {
    /// Empty, with these bounds (ascending).
    pub fn new(bounds: &'static [u64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// Latencies in microseconds, [`LATENCY_MICROS`].
    pub fn latency() -> Self {
        Self::new(&LATENCY_MICROS)
    }

    /// Counts `value` in the first bucket whose bound is at least `value`.
    pub fn observe(&self, value: u64) {
        let bucket = self.bounds.partition_point(|bound| *bound < value);
        if let Some(count) = self.counts.get(bucket) {
            count.fetch_add(1, Relaxed);
        }
        self.sum.fetch_add(value, Relaxed);
    }

    /// Counts `elapsed` in microseconds (a latency histogram's unit).
    pub fn observe_duration(&self, elapsed: Duration) {
        self.observe(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    /// The counts and sum now.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: self.bounds,
            counts: self.counts.iter().map(|c| c.load(Relaxed)).collect(),
            sum: self.sum.load(Relaxed),
        }
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::latency()
    }
}

/// Requests by route class and status, their latency by class, and upstream failures.
#[derive(Debug)]
pub struct GatewayStats {
    /// Per class, per status code from 100 (index = code − 100).
    requests: [Box<[AtomicU64]>; 2],
    /// Per class, request latency in microseconds.
    latency: [Histogram; 2],
    /// Per [`UpstreamFailure`].
    upstream: [AtomicU64; 2],
}

/// One count of [`GatewayStats::requests`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestCount {
    /// How it was routed.
    pub class: RouteClass,
    /// The status sent.
    pub status: u16,
    /// Requests so far.
    pub count: u64,
}

impl Default for GatewayStats {
    fn default() -> Self {
        let statuses = || (0..STATUSES).map(|_| AtomicU64::new(0)).collect();
        Self {
            requests: [statuses(), statuses()],
            latency: [Histogram::latency(), Histogram::latency()],
            upstream: [AtomicU64::new(0), AtomicU64::new(0)],
        }
    }
}

impl GatewayStats {
    /// All zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one answered request.
    pub fn record(&self, class: RouteClass, status: StatusCode, elapsed: Duration) {
        let code = Some(status.as_u16())
            .filter(|c| (100..100 + STATUSES as u16).contains(c))
            .unwrap_or(OTHER_STATUS);
        if let Some(count) = self.requests[class.index()].get(usize::from(code - 100)) {
            count.fetch_add(1, Relaxed);
        }
        self.latency[class.index()].observe_duration(elapsed);
    }

    /// Counts one failure to relay a request upstream.
    pub fn upstream_failed(&self, failure: UpstreamFailure) {
        self.upstream[failure as usize].fetch_add(1, Relaxed);
    }

    /// Every (class, status) pair seen at least once, with its count, by class then status.
    pub fn requests(&self) -> Vec<RequestCount> {
        let mut found = Vec::new();
        for class in RouteClass::ALL {
            for (offset, count) in self.requests[class.index()].iter().enumerate() {
                let count = count.load(Relaxed);
                if count > 0 {
                    let status = 100 + offset as u16;
                    found.push(RequestCount { class, status, count });
                }
            }
        }
        found
    }

    /// The latency of `class`'s requests, in microseconds.
    pub fn latency(&self, class: RouteClass) -> HistogramSnapshot {
        self.latency[class.index()].snapshot()
    }

    /// Upstream failures of `failure`'s kind so far.
    pub fn upstream_failures(&self, failure: UpstreamFailure) -> u64 {
        self.upstream[failure as usize].load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_lands_in_the_first_bucket_whose_bound_holds_it() {
        static BOUNDS: [u64; 3] = [1, 10, 100];
        let histogram = Histogram::new(&BOUNDS);
        for value in [0, 1, 2, 10, 11, 100, 101, u64::MAX / 2] {
            histogram.observe(value);
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.counts, [2, 2, 2, 2]);
        assert_eq!(snapshot.count(), 8);
        assert_eq!(snapshot.sum, 225 + u64::MAX / 2);
    }

    #[test]
    fn requests_are_counted_by_class_and_status_and_timed_in_microseconds() {
        let stats = GatewayStats::new();
        let ms = Duration::from_millis;
        stats.record(RouteClass::Intercepted, StatusCode::OK, ms(3));
        stats.record(RouteClass::Intercepted, StatusCode::OK, ms(30));
        stats.record(RouteClass::Forwarded, StatusCode::BAD_GATEWAY, ms(1));
        assert_eq!(
            stats.requests(),
            [
                RequestCount {
                    class: RouteClass::Intercepted,
                    status: 200,
                    count: 2
                },
                RequestCount {
                    class: RouteClass::Forwarded,
                    status: 502,
                    count: 1
                },
            ]
        );
        let intercepted = stats.latency(RouteClass::Intercepted);
        assert_eq!((intercepted.count(), intercepted.sum), (2, 33_000));
        assert_eq!(stats.latency(RouteClass::Forwarded).count(), 1);
    }

    #[test]
    fn upstream_failures_are_counted_by_kind() {
        let stats = GatewayStats::new();
        stats.upstream_failed(UpstreamFailure::Unreachable);
        stats.upstream_failed(UpstreamFailure::Unreachable);
        stats.upstream_failed(UpstreamFailure::HeaderTimeout);
        assert_eq!(stats.upstream_failures(UpstreamFailure::Unreachable), 2);
        assert_eq!(stats.upstream_failures(UpstreamFailure::HeaderTimeout), 1);
    }

    /// Through the whole stack: a refused upstream is one `unreachable` failure, and its 502
    /// is counted, once the body is read, as a forwarded request.
    #[tokio::test]
    async fn the_stack_counts_a_refused_upstream_and_its_answer() {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let config = crate::ProxyConfig {
            node: crate::upstream::Target::from_multiaddr(&format!("/ip4/127.0.0.1/tcp/{}", closed.port()))
                .unwrap(),
            ..crate::ProxyConfig::default()
        };
        let stats = std::sync::Arc::new(GatewayStats::new());
        let stack = crate::stack::build_observed(&config, None, Some(stats.clone())).unwrap();
        let req = http::Request::post("/api/v0/version")
            .body(crate::boxed(http_body_util::Empty::<bytes::Bytes>::new()))
            .unwrap();
        let rsp = stack.oneshot(req).await.unwrap();
        assert_eq!(rsp.status(), StatusCode::BAD_GATEWAY);
        assert!(stats.requests().is_empty(), "counted when the answer ends");
        rsp.into_body().collect().await.unwrap();
        assert_eq!(stats.upstream_failures(UpstreamFailure::Unreachable), 1);
        let forwarded = RequestCount {
            class: RouteClass::Forwarded,
            status: 502,
            count: 1,
        };
        assert_eq!(stats.requests(), [forwarded]);
    }

    #[test]
    fn the_route_class_is_the_intercept_tables_and_a_plain_gateway_forwards_all() {
        assert_eq!(RouteClass::of("/api/v0/pin/add", true), RouteClass::Intercepted);
        assert_eq!(RouteClass::of("/api/v0//pin/add", true), RouteClass::Intercepted);
        assert_eq!(RouteClass::of("/api/v0/version", true), RouteClass::Forwarded);
        assert_eq!(RouteClass::of("/api/v0/pin/add", false), RouteClass::Forwarded);
    }
}
