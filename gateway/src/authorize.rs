//! kubo's `API.Authorizations` on every route of the gateway, intercepted and forwarded
//! alike (`cairn_kubo::auth` decides; this layer answers).
//!
//! # Invariants
//! - With no authorization configured the layer is a pass-through.
//! - A denied request is answered here, as kubo answers it (403, plain text, kubo's words),
//!   and reaches neither the cluster nor the upstream.
//! - The header a client sent is never logged; the access line shows the 403.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use cairn_kubo::auth::{Access, Authorizations, DENIED};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;

use crate::{Body, boxed};

/// Adds the check to a service.
#[derive(Clone, Debug)]
pub struct AuthorizeLayer {
    rules: Arc<Authorizations>,
}

impl AuthorizeLayer {
    /// A layer enforcing `rules` (none = open).
    pub fn new(rules: Authorizations) -> Self {
        Self {
            rules: Arc::new(rules),
        }
    }
}

impl<S> tower::Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorize {
            inner,
            rules: self.rules.clone(),
        }
    }
}

/// The service of [`AuthorizeLayer`].
#[derive(Clone, Debug)]
pub struct Authorize<S> {
    inner: S,
    rules: Arc<Authorizations>,
}

type Answer<E> = Pin<Box<dyn Future<Output = Result<Response<Body>, E>> + Send>>;

impl<S> tower::Service<Request<Body>> for Authorize<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Answer<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let sent = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        match self.rules.check(sent, req.uri().path()) {
            Access::Open | Access::Allowed(_) => Box::pin(self.inner.call(req)),
            Access::Denied => Box::pin(std::future::ready(Ok(denied()))),
        }
    }
}

/// kubo's answer (Go's `http.Error`): 403, `text/plain; charset=utf-8`, `nosniff`.
pub fn denied() -> Response<Body> {
    let mut rsp = Response::new(boxed(Full::new(Bytes::from(format!("{DENIED}\n")))));
    *rsp.status_mut() = StatusCode::FORBIDDEN;
    let headers = rsp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(cairn_kubo::error::PLAIN_TEXT),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    rsp
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::{Layer, ServiceExt};

    fn rules() -> Authorizations {
        Authorizations::from_json(&serde_json::json!({
            "app": {"AuthSecret": "bearer:t0k", "AllowedPaths": ["/api/v0/pin"]}
        }))
        .unwrap()
    }

    async fn ask(rules: Authorizations, path: &str, auth: Option<&str>) -> (StatusCode, String, usize) {
        let reached = Arc::new(AtomicUsize::new(0));
        let seen = reached.clone();
        let inner = tower::service_fn(move |_req: Request<Body>| {
            seen.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, Infallible>(Response::new(boxed(Full::new(Bytes::from_static(b"ok"))))) }
        });
        let mut req = Request::post(path);
        if let Some(auth) = auth {
            req = req.header(header::AUTHORIZATION, auth);
        }
        let req = req.body(boxed(Full::new(Bytes::new()))).unwrap();
        let rsp = AuthorizeLayer::new(rules)
            .layer(inner)
            .oneshot(req)
            .await
            .unwrap();
        let status = rsp.status();
        let body = rsp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            String::from_utf8_lossy(&body).into_owned(),
            reached.load(Ordering::SeqCst),
        )
    }

    #[tokio::test]
    async fn denies_as_kubo_and_reaches_nothing() {
        let (status, body, reached) = ask(rules(), "/api/v0/pin/add", None).await;
        assert_eq!((status, reached), (StatusCode::FORBIDDEN, 0));
        assert_eq!(body, format!("{DENIED}\n"));
        let (status, _, reached) = ask(rules(), "/api/v0/cat", Some("Bearer t0k")).await;
        assert_eq!((status, reached), (StatusCode::FORBIDDEN, 0));
        let (status, _, reached) = ask(rules(), "/api/v0/pin/add", Some("Bearer t0k")).await;
        assert_eq!((status, reached), (StatusCode::OK, 1));
        let (status, _, reached) = ask(rules(), "/api/v0/version", Some("Bearer t0k")).await;
        assert_eq!((status, reached), (StatusCode::OK, 1));
        let (status, _, reached) = ask(Authorizations::default(), "/api/v0/cat", None).await;
        assert_eq!((status, reached), (StatusCode::OK, 1));
    }
}
