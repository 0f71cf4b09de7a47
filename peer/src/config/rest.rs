//! The `api.restapi` section (and, with its own defaults, `api.pinsvcapi`): where an HTTP API
//! listens and how it is protected: basic auth and tokens, TLS, CORS, the body limit. Keys are
//! ipfs-cluster's where it has them; `token_lifetime` and `max_body_bytes` are Cairn's.
//!
//! # Invariants
//! - [`RestConfig::validate`] checks what single keys cannot before anything binds; errors
//!   name `api.restapi.<key>` (`pinsvc` renames them for its section).
//! - Passwords never reach a log or an error through `Debug`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::GoDuration;
use super::reference::Multiaddr;

/// The `api.restapi` section: ipfs-cluster's keys (auth, TLS, CORS) plus Cairn's limits.
#[derive(Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RestConfig {
    /// Where this API listens: `/ip4` or `/ip6` with `/tcp`, or `/unix/<path>`.
    #[schemars(with = "Multiaddr")]
    pub http_listen_multiaddress: String,
    /// PEM certificate chain: the API serves HTTPS only (with `ssl_key_file`; rustls, TLS 1.2
    /// and 1.3).
    pub ssl_cert_file: String,
    /// PEM private key of `ssl_cert_file`.
    pub ssl_key_file: String,
    /// `{"user": "password", …}`; when set, every request needs basic auth or a token from
    /// `POST /token`. `null` = no authentication (ipfs-cluster's default). In the environment:
    /// `user:pass,user2:pass2` (docs/security.md).
    pub basic_auth_credentials: Option<BTreeMap<String, String>>,
    /// *Cairn.* How long a token from `POST /token` is valid (above `0s`).
    pub token_lifetime: GoDuration,
    /// Origins a browser may call from (`scheme://host[:port]`; `*` = any). ipfs-cluster's
    /// default is `["*"]`; Cairn's is none.
    pub cors_allowed_origins: Vec<String>,
    /// Methods an allowed origin may use (writes need `POST`/`DELETE` here).
    pub cors_allowed_methods: Vec<String>,
    /// Request headers an allowed origin may send (add `Authorization` for token use from a
    /// page).
    pub cors_allowed_headers: Vec<String>,
    /// Response headers a page from an allowed origin may read.
    pub cors_exposed_headers: Vec<String>,
    /// `Access-Control-Allow-Credentials: true` for allowed origins (with `*`, the origin is
    /// echoed).
    pub cors_allow_credentials: bool,
    /// How long a browser may cache a preflight answer (`0s` = not cached).
    pub cors_max_age: GoDuration,
    /// *Cairn.* The largest request body accepted, in bytes; a request whose `Content-Length` is
    /// larger answers 413 before anything is read.
    pub max_body_bytes: u64,
    /// File this API's access log (target `cairn::restapi`, `cairn::pinsvcapi` for the
    /// pinning service API) is appended to instead of stderr, relative to the config directory
    /// (ipfs-cluster's key; docs/operations.md, "Logs"). `""` = stderr.
    pub http_log_file: String,
}

impl Default for RestConfig {
    fn default() -> Self {
        Self {
            http_listen_multiaddress: "/ip4/127.0.0.1/tcp/9094".into(),
            ssl_cert_file: String::new(),
            ssl_key_file: String::new(),
            basic_auth_credentials: None,
            token_lifetime: GoDuration::secs(24 * 3600),
            cors_allowed_origins: Vec::new(),
            cors_allowed_methods: vec!["GET".into()],
            cors_allowed_headers: Vec::new(),
            cors_exposed_headers: [
                "Content-Type",
                "X-Stream-Output",
                "X-Chunked-Output",
                "X-Content-Length",
            ]
            .map(String::from)
            .to_vec(),
            cors_allow_credentials: true,
            cors_max_age: GoDuration::secs(0),
            max_body_bytes: 1 << 20,
            http_log_file: String::new(),
        }
    }
}

/// Passwords never reach a log or an error through `Debug`.
impl std::fmt::Debug for RestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let users: Option<Vec<&String>> = self.basic_auth_credentials.as_ref().map(|c| c.keys().collect());
        f.debug_struct("RestConfig")
            .field("http_listen_multiaddress", &self.http_listen_multiaddress)
            .field("ssl_cert_file", &self.ssl_cert_file)
            .field("ssl_key_file", &self.ssl_key_file)
            .field("basic_auth_users", &users)
            .field("token_lifetime", &self.token_lifetime)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("cors_allowed_methods", &self.cors_allowed_methods)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("http_log_file", &self.http_log_file)
            .finish_non_exhaustive()
    }
}

impl RestConfig {
    /// Checks what single keys cannot (run by [`super::ServiceConfig::load`]).
    pub fn validate(&self) -> Result<(), String> {
        if self.ssl_cert_file.is_empty() != self.ssl_key_file.is_empty() {
            return Err("api.restapi.ssl_cert_file: ssl_cert_file and ssl_key_file go together".into());
        }
        if let Some(users) = &self.basic_auth_credentials {
            if users.is_empty() {
                return Err("api.restapi.basic_auth_credentials: give at least one user, or null".into());
            }
            if let Some(user) = users
                .iter()
                .find(|(u, p)| u.is_empty() || u.contains(':') || p.is_empty())
            {
                return Err(format!(
                    "api.restapi.basic_auth_credentials: user {:?}: names are not empty and hold no ':', passwords are not empty",
                    user.0
                ));
            }
        }
        if self.token_lifetime.get().is_zero() {
            return Err("api.restapi.token_lifetime: must be above 0s".into());
        }
        for method in &self.cors_allowed_methods {
            if http::Method::from_bytes(method.as_bytes()).is_err() {
                return Err(format!(
                    "api.restapi.cors_allowed_methods: {method:?} is not an HTTP method"
                ));
            }
        }
        for header in self.cors_allowed_headers.iter().chain(&self.cors_exposed_headers) {
            if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                return Err(format!(
                    "api.restapi.cors_*_headers: {header:?} is not a header name"
                ));
            }
        }
        if let Some(origin) = self
            .cors_allowed_origins
            .iter()
            .find(|o| *o != "*" && !(o.starts_with("http://") || o.starts_with("https://")))
        {
            return Err(format!(
                "api.restapi.cors_allowed_origins: {origin:?} is not an origin (scheme://host[:port]) or *"
            ));
        }
        Ok(())
    }
}
