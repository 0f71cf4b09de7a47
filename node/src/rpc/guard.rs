//! kubo's request checks before a command runs: the method and the CSRF rules.
//!
//! POST only (405 otherwise, OPTIONS 204); an `Origin` or `Referer` must be one of the
//! node's own origins (`http(s)://127.0.0.1|localhost|[::1]:<port>`) or an extra origin the
//! embedding peer allows (its gateway's); a browser (`User-Agent: Mozilla…`, not Electron)
//! sending neither is refused. Refusals are kubo's plain-text 403.

use http::{Method, Request, Response, StatusCode, header};

use super::reply::{self, Body};

/// The origins the node accepts.
#[derive(Clone, Debug)]
pub(crate) struct Origins(Vec<String>);

impl Origins {
    pub(crate) fn new(port: u16, extra: Vec<String>) -> Self {
        let mut allowed: Vec<String> = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .flat_map(|host| ["http", "https"].map(|scheme| format!("{scheme}://{host}:{port}")))
            .collect();
        allowed.extend(extra);
        Self(allowed)
    }

    fn allows(&self, origin: &str) -> bool {
        self.0.iter().any(|o| o == "*" || o == origin)
    }
}

/// The refusal for `req`, or `None` when it may proceed.
pub(crate) fn check<B>(origins: &Origins, req: &Request<B>) -> Option<Response<Body>> {
    if req.method() == Method::OPTIONS {
        let mut response = reply::plain(StatusCode::NO_CONTENT, "");
        response
            .headers_mut()
            .insert(header::ALLOW, http::HeaderValue::from_static("OPTIONS, POST"));
        return Some(response);
    }
    if req.method() != Method::POST {
        let mut response = reply::plain(StatusCode::METHOD_NOT_ALLOWED, "405 - Method Not Allowed\n");
        response
            .headers_mut()
            .insert(header::ALLOW, http::HeaderValue::from_static("OPTIONS, POST"));
        return Some(response);
    }
    (!csrf_ok(origins, req)).then(|| reply::plain(StatusCode::FORBIDDEN, "403 - Forbidden\n"))
}

fn csrf_ok<B>(origins: &Origins, req: &Request<B>) -> bool {
    let text = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = text(header::ORIGIN).filter(|o| !o.is_empty()) {
        return origins.allows(origin);
    }
    if let Some(referer) = text(header::REFERER).filter(|r| !r.is_empty()) {
        return scheme_host(referer).is_some_and(|o| origins.allows(&o));
    }
    let agent = text(header::USER_AGENT).unwrap_or("");
    !agent.starts_with("Mozilla") || agent.contains("Electron")
}

fn scheme_host(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
}
