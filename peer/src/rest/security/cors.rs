//! CORS for the REST API (ipfs-cluster's `cors_*` keys) and the CSRF rule that rides on it.
//!
//! A browser's cross-origin request is one whose `Origin` (or, without one, `Referer`) is
//! not the API's own origin (`<scheme>://<Host>`), or that says `Sec-Fetch-Site: cross-site`
//! or `same-site`. Such a request to a state-changing method (anything but GET, HEAD,
//! OPTIONS) is refused unless the origin is allowed (`cors_allowed_origins`, `*` = any) and
//! the method too (`cors_allowed_methods`). Browsers send a "simple" POST without a
//! preflight, so this check, not the browser, is what stops a page from pinning.
//!
//! # Invariants
//! - A request with no `Origin`, `Referer` or `Sec-Fetch-Site` (curl, the CLI, other
//!   programs) is never refused here.
//! - Only allowed origins get `Access-Control-Allow-*` headers; `*` with credentials echoes
//!   the origin (browsers refuse `*` with credentials).

use http::{HeaderMap, HeaderValue, Method, header};

use crate::config::RestConfig;

/// The CORS settings, read once.
#[derive(Clone, Debug, Default)]
pub struct Cors {
    any: bool,
    origins: Vec<String>,
    methods: Vec<Method>,
    allow_methods: String,
    allow_headers: String,
    expose_headers: String,
    credentials: bool,
    max_age: u64,
}

/// A refused cross-origin request: the origin (as sent, or what made it cross-origin).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrossOrigin(pub String);

impl Cors {
    /// From the `api.restapi` section (validated).
    pub fn new(config: &RestConfig) -> Self {
        let methods: Vec<Method> = config
            .cors_allowed_methods
            .iter()
            .filter_map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
            .collect();
        Self {
            any: config.cors_allowed_origins.iter().any(|o| o == "*"),
            origins: config.cors_allowed_origins.clone(),
            allow_methods: methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", "),
            methods,
            allow_headers: config.cors_allowed_headers.join(", "),
            expose_headers: config.cors_exposed_headers.join(", "),
            credentials: config.cors_allow_credentials,
            max_age: config.cors_max_age.get().as_secs(),
        }
    }

    fn allows_origin(&self, origin: &str) -> bool {
        self.any || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// Refuses a browser's cross-origin write that the settings do not allow.
    pub fn check(&self, method: &Method, headers: &HeaderMap, tls: bool) -> Result<(), CrossOrigin> {
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(());
        }
        let Some(foreign) = foreign_origin(headers, tls) else {
            return Ok(());
        };
        if self.allows_origin(&foreign) && self.methods.contains(method) {
            return Ok(());
        }
        Err(CrossOrigin(foreign))
    }

    /// The answer headers of a preflight (`OPTIONS` with `Access-Control-Request-Method`),
    /// or `None` when it is not one or its origin or method is not allowed.
    pub fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<Option<HeaderMap>> {
        let asked = headers.get(header::ACCESS_CONTROL_REQUEST_METHOD)?;
        if method != Method::OPTIONS {
            return None;
        }
        let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
        let method_ok = Method::from_bytes(asked.as_bytes()).is_ok_and(|m| self.methods.contains(&m));
        if !self.allows_origin(origin) || !method_ok {
            return Some(None);
        }
        let mut out = HeaderMap::new();
        self.allow_origin(origin, &mut out);
        insert(
            &mut out,
            header::ACCESS_CONTROL_ALLOW_METHODS,
            &self.allow_methods,
        );
        insert(
            &mut out,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            &self.allow_headers,
        );
        if self.max_age > 0 {
            insert(
                &mut out,
                header::ACCESS_CONTROL_MAX_AGE,
                &self.max_age.to_string(),
            );
        }
        Some(Some(out))
    }

    /// Adds the CORS headers an allowed origin's answer carries.
    pub fn decorate(&self, origin: Option<&HeaderValue>, out: &mut HeaderMap) {
        out.append(header::VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = origin.and_then(|o| o.to_str().ok()) else {
            return;
        };
        if self.allows_origin(origin) {
            self.allow_origin(origin, out);
            insert(out, header::ACCESS_CONTROL_EXPOSE_HEADERS, &self.expose_headers);
        }
    }

    fn allow_origin(&self, origin: &str, out: &mut HeaderMap) {
        let echoed = if self.any && !self.credentials {
            "*"
        } else {
            origin
        };
        insert(out, header::ACCESS_CONTROL_ALLOW_ORIGIN, echoed);
        if self.credentials {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

fn insert(out: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value)
        && !value.is_empty()
    {
        out.insert(name, value);
    }
}

/// The other origin a browser request comes from, or `None` for a same-origin or
/// non-browser request.
pub fn foreign_origin(headers: &HeaderMap, tls: bool) -> Option<String> {
    let scheme = if tls { "https" } else { "http" };
    let own = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|host| format!("{scheme}://{host}"));
    let is_own = |origin: &str| own.as_deref().is_some_and(|own| own.eq_ignore_ascii_case(origin));
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = String::from_utf8_lossy(origin.as_bytes()).into_owned();
        return (!is_own(&origin)).then_some(origin);
    }
    if let Some(referer) = headers.get(header::REFERER) {
        let origin = referer_origin(&String::from_utf8_lossy(referer.as_bytes()));
        return (!is_own(&origin)).then_some(origin);
    }
    match headers.get("sec-fetch-site").map(HeaderValue::as_bytes) {
        Some(b"cross-site" | b"same-site") => Some("(Sec-Fetch-Site: cross-site)".to_owned()),
        _ => None,
    }
}

/// `scheme://host[:port]` of a URL; the text itself when it is not one.
fn referer_origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            format!("{scheme}://{host}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    header::HeaderName::from_static(k),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    fn cors(origins: &[&str], methods: &[&str]) -> Cors {
        Cors::new(&RestConfig {
            cors_allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            cors_allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            ..RestConfig::default()
        })
    }

    #[test]
    fn cross_origin_writes_are_refused_by_default() {
        let strict = cors(&[], &["GET"]);
        let post = Method::POST;
        let host = ("host", "127.0.0.1:9094");
        assert!(strict.check(&post, &headers(&[host]), false).is_ok(), "curl");
        assert!(
            strict
                .check(
                    &post,
                    &headers(&[host, ("origin", "http://127.0.0.1:9094")]),
                    false
                )
                .is_ok()
        );
        let evil = headers(&[host, ("origin", "https://evil.example")]);
        assert_eq!(
            strict.check(&post, &evil, false),
            Err(CrossOrigin("https://evil.example".into()))
        );
        assert!(strict.check(&Method::DELETE, &evil, false).is_err());
        assert!(
            strict.check(&Method::GET, &evil, false).is_ok(),
            "reads are the browser's to block"
        );
        let referer = headers(&[host, ("referer", "http://evil.example/page?x")]);
        assert_eq!(
            strict.check(&post, &referer, false),
            Err(CrossOrigin("http://evil.example".into()))
        );
        let fetch_site = headers(&[host, ("sec-fetch-site", "cross-site")]);
        assert!(strict.check(&post, &fetch_site, false).is_err());
        assert!(
            strict
                .check(&post, &headers(&[host, ("origin", "null")]), false)
                .is_err()
        );
        // The own origin is https when TLS is on.
        let own_https = headers(&[host, ("origin", "https://127.0.0.1:9094")]);
        assert!(strict.check(&post, &own_https, true).is_ok());
        assert!(strict.check(&post, &own_https, false).is_err());
    }

    #[test]
    fn allowed_origins_and_methods_pass() {
        let app = cors(&["https://app.example"], &["GET", "POST"]);
        let from_app = headers(&[("host", "127.0.0.1:9094"), ("origin", "https://app.example")]);
        assert!(app.check(&Method::POST, &from_app, false).is_ok());
        assert!(
            app.check(&Method::DELETE, &from_app, false).is_err(),
            "DELETE is not allowed"
        );
        let any = cors(&["*"], &["POST"]);
        let evil = headers(&[("host", "127.0.0.1:9094"), ("origin", "https://evil.example")]);
        assert!(any.check(&Method::POST, &evil, false).is_ok());
    }

    #[test]
    fn preflights_answer_allowed_origins_only() {
        let app = cors(&["https://app.example"], &["GET", "POST"]);
        let ask = |origin: &str, method: &str| {
            app.preflight(
                &Method::OPTIONS,
                &headers(&[("origin", origin), ("access-control-request-method", method)]),
            )
        };
        let allowed = ask("https://app.example", "POST").unwrap().unwrap();
        assert_eq!(
            allowed[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example"
        );
        assert_eq!(allowed[header::ACCESS_CONTROL_ALLOW_METHODS], "GET, POST");
        assert_eq!(ask("https://evil.example", "POST"), Some(None));
        assert_eq!(ask("https://app.example", "DELETE"), Some(None));
        assert_eq!(app.preflight(&Method::OPTIONS, &headers(&[])), None);
    }
}
