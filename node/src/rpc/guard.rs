//! kubo's request checks before a command runs: the method and the CSRF rules.
//!
//! POST only (405 otherwise, OPTIONS 204), then kubo's CSRF rules (`cairn_kubo::csrf`) with
//! the node's own origins on its port and the extra origins the embedding peer allows (its
//! gateway's). Refusals are kubo's plain-text 403.

use cairn_kubo::error::{ALLOW, FORBIDDEN, METHOD_NOT_ALLOWED};
use http::{Method, Request, Response, StatusCode, header};

use super::reply::{self, Body};

/// The origins the node accepts besides its own loopback ones on its port.
#[derive(Clone, Debug)]
pub(crate) struct Origins {
    port: u16,
    extra: Vec<String>,
}

impl Origins {
    pub(crate) fn new(port: u16, extra: Vec<String>) -> Self {
        Self { port, extra }
    }
}

/// The refusal for `req`, or `None` when it may proceed.
pub(crate) fn check<B>(origins: &Origins, req: &Request<B>) -> Option<Response<Body>> {
    let allow = || http::HeaderValue::from_static(ALLOW);
    if req.method() == Method::OPTIONS {
        let mut response = reply::plain(StatusCode::NO_CONTENT, "");
        response.headers_mut().insert(header::ALLOW, allow());
        return Some(response);
    }
    if req.method() != Method::POST {
        let text = format!("{METHOD_NOT_ALLOWED}\n");
        let mut response = reply::plain(StatusCode::METHOD_NOT_ALLOWED, &text);
        response.headers_mut().insert(header::ALLOW, allow());
        return Some(response);
    }
    let allowed = cairn_kubo::csrf::allows(req.headers(), Some(origins.port), &origins.extra);
    (!allowed).then(|| reply::plain(StatusCode::FORBIDDEN, &format!("{FORBIDDEN}\n")))
}
