//! Headers of intercepted answers that mirror the upstream's, as ipfs-cluster's proxy does
//! (`headers.go`) but bounded: a hung upstream cannot hang an intercepted answer.
//!
//! 1. CORS: when the client sent an `Origin`, the upstream is asked `OPTIONS <path>` with that
//!    Origin and `Access-Control-Request-Method: POST`; its `Access-Control-Allow-Origin`,
//!    `Access-Control-Allow-Credentials` and `Vary` are copied. Within [`PROBE_TIMEOUT`].
//! 2. Extracted headers: `Access-Control-Expose-Headers` plus `extract_headers_extra`, read
//!    from `POST extract_headers_path` and cached for `extract_headers_ttl` (failures too).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderName, Method, Request, Response};
use http_body_util::{BodyExt, Empty};

use super::{Upstream, forward};
use crate::{Body, boxed};

/// How long the CORS probe and the header extraction may take.
pub(super) const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
const CORS: [&str; 3] = [
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "vary",
];

/// Where extracted headers come from and how long they are kept.
pub(super) struct Mirror {
    path: String,
    names: Vec<HeaderName>,
    ttl: Duration,
    cache: Mutex<Option<(Instant, HeaderMap)>>,
}

impl Mirror {
    /// Mirrors `Access-Control-Expose-Headers` plus `extra` from `path`, cached for `ttl`
    /// (zero: forever).
    pub(super) fn new(path: &str, extra: &[String], ttl: Duration) -> Self {
        let mut names = vec![HeaderName::from_static("access-control-expose-headers")];
        names.extend(
            extra
                .iter()
                .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok()),
        );
        Self {
            path: path.to_owned(),
            names,
            ttl,
            cache: Mutex::new(None),
        }
    }

    /// Puts the mirrored headers on `response` (`origin` is the client's, if any).
    pub(super) async fn apply(
        &self,
        upstream: &Upstream,
        path: &str,
        origin: Option<String>,
        response: &mut Response<Body>,
    ) {
        // `Server` stays Cairn's: it is how a parent cluster recognises a Cairn child.
        let extracted = self.extracted(upstream).await;
        for (name, value) in extracted.iter().filter(|(name, _)| *name != http::header::SERVER) {
            response.headers_mut().insert(name.clone(), value.clone());
        }
        if let Some(origin) = origin {
            let cors = probe_cors(upstream, path, &origin).await;
            for name in CORS {
                response.headers_mut().remove(name);
                for value in cors.get_all(name) {
                    response.headers_mut().append(name, value.clone());
                }
            }
        }
    }

    async fn extracted(&self, upstream: &Upstream) -> HeaderMap {
        if let Some(fresh) = self.cached() {
            return fresh;
        }
        let request = Request::post(self.path.as_str()).body(boxed(Empty::new()));
        let answer = match request {
            Ok(request) => headers_of(upstream, request).await,
            Err(_) => HeaderMap::new(),
        };
        let mut kept = HeaderMap::new();
        for name in &self.names {
            for value in answer.get_all(name) {
                kept.append(name.clone(), value.clone());
            }
        }
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Some((Instant::now(), kept.clone()));
        }
        kept
    }

    fn cached(&self) -> Option<HeaderMap> {
        let cache = self.cache.lock().ok()?;
        let (at, headers) = cache.as_ref()?;
        (self.ttl.is_zero() || at.elapsed() < self.ttl).then(|| headers.clone())
    }
}

async fn probe_cors(upstream: &Upstream, path: &str, origin: &str) -> HeaderMap {
    let request = Request::builder()
        .method(Method::OPTIONS)
        .uri(path)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .body(boxed(Empty::new()));
    match request {
        Ok(request) => headers_of(upstream, request).await,
        Err(_) => HeaderMap::new(),
    }
}

/// The upstream's answer headers for `request` (empty on failure or timeout); the body is
/// drained so the pooled connection can be reused.
async fn headers_of(upstream: &Upstream, request: Request<Body>) -> HeaderMap {
    let exchange = async {
        let response = forward(upstream, request).await.ok()?;
        let (parts, body) = response.into_parts();
        let _ = body.collect().await;
        Some(parts.headers)
    };
    match tokio::time::timeout(PROBE_TIMEOUT, exchange).await {
        Ok(Some(headers)) => headers,
        _ => {
            tracing::debug!("upstream header probe failed or timed out");
            HeaderMap::new()
        }
    }
}
