//! Who may use the REST API: CORS and the CSRF rule ([`cors`]), basic auth and tokens
//! ([`credentials`], [`token`]), and the body limit, applied to every request before it is
//! routed.
//!
//! The order, and why:
//! 1. the body limit (413), so nothing large is read from anyone (but `POST /add`, an upload
//!    streamed to the IPFS daemon);
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

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderValue, Method, Request, Response, StatusCode, header};

use cairn_gateway::Body;
use cairn_gateway::access_log::{AccessLogLayer, Api};

use self::cors::Cors;
use self::credentials::{Presented, Users, presented};
use self::token::{Scope, TokenError};
use crate::config::RestConfig;

/// ipfs-cluster's challenge.
pub const WWW_AUTHENTICATE: &str = "Basic realm=\"Restricted IPFS Cluster API\"";

/// The REST API's access rules, read once from `api.restapi` (or another API's section with
/// the same keys, such as `api.pinsvcapi`).
#[derive(Debug)]
pub struct Security {
    cors: Cors,
    users: Option<Users>,
    token_lifetime: Duration,
    max_body_bytes: u64,
    tls: bool,
    voice: Voice,
}

/// How an API guarded by [`Security`] writes its refusals: the section its hints name and its
/// error body.
#[derive(Clone, Copy, Debug)]
pub struct Voice {
    /// The configuration section whose keys the hints name (`api.restapi`).
    pub section: &'static str,
    /// Writes an error answer with this status and message.
    pub error: fn(StatusCode, &str) -> Response<Body>,
}

impl Voice {
    /// The REST API's: `api.restapi`, `{"code":…,"message":…}`.
    pub const REST: Voice = Voice {
        section: "api.restapi",
        error: super::error,
    };
}

/// `serve` behind `security`, as a gateway-server stack: every request is admitted (or
/// answered) by the rules first, every answer gets its CORS headers, and every request is
/// logged on `api`'s access target once its answer is sent (refusals included).
pub fn guarded<F, Fut>(security: Arc<Security>, api: Api, serve: F) -> cairn_gateway::stack::Stack
where
    F: Fn(Request<Body>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let service = tower::service_fn(move |req: Request<Body>| {
        let (security, serve) = (security.clone(), serve.clone());
        async move {
            let origin = req.headers().get(header::ORIGIN).cloned();
            let mut rsp = match security.admit(&req) {
                Admission::Serve => serve(req).await,
                Admission::Answer(rsp) => rsp,
            };
            security.decorate(origin.as_ref(), &mut rsp);
            Ok::<_, Infallible>(rsp)
        }
    });
    let logged = tower::ServiceBuilder::new()
        .layer(AccessLogLayer::of(api))
        .service(service);
    tower::util::BoxCloneSyncService::new(logged)
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
    /// From the validated section, answering as the REST API does.
    pub fn new(config: &RestConfig) -> Self {
        Self::with_voice(config, Voice::REST)
    }

    /// From a validated section with the REST API's keys, answering in `voice`.
    pub fn with_voice(config: &RestConfig, voice: Voice) -> Self {
        Self {
            cors: Cors::new(config),
            users: config.basic_auth_credentials.clone().map(Users::new),
            token_lifetime: config.token_lifetime.get(),
            max_body_bytes: config.max_body_bytes,
            tls: !config.ssl_cert_file.is_empty(),
            voice,
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
        if content_length(headers).is_some_and(|n| n > self.max_body_bytes) && !is_upload(req) {
            let message = format!(
                "request body over {} bytes ({}.max_body_bytes)",
                self.max_body_bytes, self.voice.section
            );
            return Err(self.refuse(StatusCode::PAYLOAD_TOO_LARGE, &message));
        }
        if let Some(answer) = self.cors.preflight(method, headers) {
            return Err(match answer {
                Some(allowed) => Box::new(with_headers(super::empty(StatusCode::NO_CONTENT), allowed)),
                None => self.refuse(
                    StatusCode::FORBIDDEN,
                    "CORS preflight refused: origin or method not allowed",
                ),
            });
        }
        if let Err(cross) = self.cors.check(method, headers, self.tls) {
            let message = format!(
                "cross-origin request from {} refused: allow it in {}.cors_allowed_origins and cors_allowed_methods",
                cross.0, self.voice.section
            );
            return Err(self.refuse(StatusCode::FORBIDDEN, &message));
        }
        let Some(users) = &self.users else {
            return match is_token_request(req) {
                true => Err(self.refuse(
                    StatusCode::NOT_FOUND,
                    &format!(
                        "basic auth is not enabled: set {}.basic_auth_credentials",
                        self.voice.section
                    ),
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
                Err(e) => return Err(self.unauthorized(&e.to_string())),
            },
            Presented::Bearer(_) => {
                return Err(self.unauthorized("POST /token needs basic auth, not a token"));
            }
            Presented::Nothing => return Err(self.unauthorized("credentials required")),
            Presented::Basic { .. } | Presented::Malformed => {
                return Err(self.unauthorized("invalid credentials"));
            }
        };
        if scope == Scope::Read && !matches!(*req.method(), Method::GET | Method::HEAD) {
            return Err(self.refuse(
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
            return (self.voice.error)(StatusCode::BAD_REQUEST, "scope must be all or read");
        };
        match token::mint(user, password, scope, self.token_lifetime, SystemTime::now()) {
            Ok(token) => super::json(StatusCode::OK, &serde_json::json!({ "token": token })),
            Err(TokenError::Signing) | Err(_) => {
                (self.voice.error)(StatusCode::INTERNAL_SERVER_ERROR, "the token could not be signed")
            }
        }
    }

    /// Adds the CORS headers of an allowed origin to an answer.
    pub fn decorate(&self, origin: Option<&HeaderValue>, rsp: &mut Response<Body>) {
        self.cors.decorate(origin, rsp.headers_mut());
    }

    fn refuse(&self, status: StatusCode, message: &str) -> Refusal {
        Box::new((self.voice.error)(status, message))
    }

    /// 401 with ipfs-cluster's challenge and a hint of what to send.
    fn unauthorized(&self, why: &str) -> Refusal {
        let message = format!(
            "Unauthorized: {why} (basic auth, e.g. `cairn --basic-auth user:pass`, or a bearer token from POST /token)"
        );
        let mut rsp = self.refuse(StatusCode::UNAUTHORIZED, &message);
        rsp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(WWW_AUTHENTICATE),
        );
        rsp
    }
}

/// `POST /add` streams its upload into the IPFS daemon, never collected: like ipfs-cluster's
/// REST `/add` it takes files of any size, so `max_body_bytes` does not bound it.
fn is_upload<B>(req: &Request<B>) -> bool {
    req.method() == Method::POST && req.uri().path().trim_end_matches('/') == "/add"
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

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
