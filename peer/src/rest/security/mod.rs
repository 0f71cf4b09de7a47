//! Who may use the REST API: CORS and the CSRF rule ([`cors`]), basic auth and tokens
//! ([`credentials`], [`token`]), and the body limit, applied to every request before it is
//! routed.
//!
//! The order, and why:
//! 1. the body limit (413), so nothing large is read from anyone;
//! 2. CORS preflights, answered without credentials (browsers send none on them);
//! 3. the CSRF rule: a browser's cross-origin write is refused (403) unless allowed;
//! 4. authentication when `basic_auth_credentials` is set: no or wrong credentials → 401
//!    with `WWW-Authenticate`; a `read` token on a write → 403. `POST /token` is answered
//!    here, to a basic-auth user only.
//!
//! # Invariants
//! - With no users configured, every request that passes 1–3 is served (ipfs-cluster's
//!   default), and `POST /token` answers 404.
//! - Passwords and tokens are compared in constant time and never logged; a refusal says
//!   what to send, not what was sent.

pub mod cors;
pub mod credentials;
pub mod token;

use std::time::{Duration, SystemTime};

use http::{HeaderValue, Method, Request, Response, StatusCode, header};

use cairn_gateway::Body;

use self::cors::Cors;
use self::credentials::{Presented, Users, presented};
use self::token::{Scope, TokenError};
use crate::config::RestConfig;

/// ipfs-cluster's challenge.
pub const WWW_AUTHENTICATE: &str = "Basic realm=\"Restricted IPFS Cluster API\"";

/// The REST API's access rules, read once from `api.restapi`.
#[derive(Debug)]
pub struct Security {
    cors: Cors,
    users: Option<Users>,
    token_lifetime: Duration,
    max_body_bytes: u64,
    tls: bool,
}

/// What the rules decided.
#[derive(Debug)]
pub enum Admission {
    /// Route it.
    Serve,
    /// Answer this instead (a refusal, a preflight, a token).
    Answer(Response<Body>),
}

impl Security {
    /// From the validated section.
    pub fn new(config: &RestConfig) -> Self {
        Self {
            cors: Cors::new(config),
            users: config.basic_auth_credentials.clone().map(Users::new),
            token_lifetime: config.token_lifetime.get(),
            max_body_bytes: config.max_body_bytes,
            tls: !config.ssl_cert_file.is_empty(),
        }
    }

    /// Whether requests must authenticate.
    pub fn authenticates(&self) -> bool {
        self.users.is_some()
    }

    /// Applies the rules to `req`.
    pub fn admit<B>(&self, req: &Request<B>) -> Admission {
        match self.decide(req) {
            Ok(()) => Admission::Serve,
            Err(rsp) => Admission::Answer(*rsp),
        }
    }

    fn decide<B>(&self, req: &Request<B>) -> Result<(), Refusal> {
        let (method, headers) = (req.method(), req.headers());
        if content_length(headers).is_some_and(|n| n > self.max_body_bytes) {
            let message = format!(
                "request body over {} bytes (api.restapi.max_body_bytes)",
                self.max_body_bytes
            );
            return Err(refuse(StatusCode::PAYLOAD_TOO_LARGE, &message));
        }
        if let Some(answer) = self.cors.preflight(method, headers) {
            return Err(match answer {
                Some(allowed) => Box::new(with_headers(super::empty(StatusCode::NO_CONTENT), allowed)),
                None => refuse(
                    StatusCode::FORBIDDEN,
                    "CORS preflight refused: origin or method not allowed",
                ),
            });
        }
        if let Err(cross) = self.cors.check(method, headers, self.tls) {
            let message = format!(
                "cross-origin request from {} refused: allow it in api.restapi.cors_allowed_origins and cors_allowed_methods",
                cross.0
            );
            return Err(refuse(StatusCode::FORBIDDEN, &message));
        }
        let Some(users) = &self.users else {
            return match is_token_request(req) {
                true => Err(refuse(
                    StatusCode::NOT_FOUND,
                    "basic auth is not enabled: set api.restapi.basic_auth_credentials",
                )),
                false => Ok(()),
            };
        };
        self.authenticate(req, users)
    }

    fn authenticate<B>(&self, req: &Request<B>, users: &Users) -> Result<(), Refusal> {
        let sent = presented(req.headers().get(header::AUTHORIZATION));
        let scope = match &sent {
            Presented::Basic { user, password } if users.check(user, password) => {
                if is_token_request(req) {
                    return Err(Box::new(self.issue(req, user, password)));
                }
                Scope::All
            }
            Presented::Bearer(jwt) if !is_token_request(req) => match token::verify(jwt, users) {
                Ok(holder) => holder.scope,
                Err(e) => return Err(unauthorized(&e.to_string())),
            },
            Presented::Bearer(_) => return Err(unauthorized("POST /token needs basic auth, not a token")),
            Presented::Nothing => return Err(unauthorized("credentials required")),
            Presented::Basic { .. } | Presented::Malformed => {
                return Err(unauthorized("invalid credentials"));
            }
        };
        if scope == Scope::Read && !matches!(*req.method(), Method::GET | Method::HEAD) {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "this token's scope is read: it may only GET; ask POST /token for a full token",
            ));
        }
        Ok(())
    }

    /// `POST /token[?scope=read]`: `{"token": …}`.
    fn issue<B>(&self, req: &Request<B>, user: &str, password: &str) -> Response<Body> {
        let word = form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let Some(scope) = Scope::parse(&word) else {
            return super::error(StatusCode::BAD_REQUEST, "scope must be all or read");
        };
        match token::mint(user, password, scope, self.token_lifetime, SystemTime::now()) {
            Ok(token) => super::json(StatusCode::OK, &serde_json::json!({ "token": token })),
            Err(TokenError::Signing) | Err(_) => {
                super::error(StatusCode::INTERNAL_SERVER_ERROR, "the token could not be signed")
            }
        }
    }

    /// Adds the CORS headers of an allowed origin to an answer.
    pub fn decorate(&self, origin: Option<&HeaderValue>, rsp: &mut Response<Body>) {
        self.cors.decorate(origin, rsp.headers_mut());
    }
}

fn is_token_request<B>(req: &Request<B>) -> bool {
    req.method() == Method::POST && req.uri().path().trim_end_matches('/') == "/token"
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn with_headers(mut rsp: Response<Body>, headers: http::HeaderMap) -> Response<Body> {
    rsp.headers_mut().extend(headers);
    rsp
}

/// An answer given instead of routing (boxed: responses are large).
type Refusal = Box<Response<Body>>;

fn refuse(status: StatusCode, message: &str) -> Refusal {
    Box::new(super::error(status, message))
}

/// 401 with ipfs-cluster's challenge and a hint of what to send.
fn unauthorized(why: &str) -> Refusal {
    let message = format!(
        "Unauthorized: {why} (basic auth, e.g. `cairn --basic-auth user:pass`, or a bearer token from POST /token)"
    );
    let mut rsp = refuse(StatusCode::UNAUTHORIZED, &message);
    rsp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(WWW_AUTHENTICATE),
    );
    rsp
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
