//! kubo's checks on intercepted routes, which ipfs-cluster's proxy dropped: POST only and the
//! Origin / Referer / User-Agent CSRF rules.
//!
//! kubo allows an `Origin` only when it is one of its own loopback origins (its API port) or
//! configured; here "its own" is a loopback origin (`127.0.0.1`, `localhost`, `[::1]`) on the
//! port the request arrived at (from `Host`), plus `allowed_origins` from the config. A
//! cross-site page (any other origin) and a DNS-rebinding page (a non-loopback host on our
//! port) are both refused. OPTIONS and HEAD are not intercepted: they pass to the upstream.

use http::{HeaderMap, Method, header};

use super::error::InterceptError;

/// What the guard decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it.
    Serve,
    /// Not an intercepted method: forward it.
    Forward,
}

/// Checks method and origin of an intercepted request.
pub fn check(method: &Method, headers: &HeaderMap, allowed: &[String]) -> Result<Verdict, InterceptError> {
    if method == Method::OPTIONS || method == Method::HEAD {
        return Ok(Verdict::Forward);
    }
    if method != Method::POST {
        return Err(InterceptError::MethodNotAllowed);
    }
    if csrf_ok(headers, allowed) {
        Ok(Verdict::Serve)
    } else {
        Err(InterceptError::Forbidden)
    }
}

fn csrf_ok(headers: &HeaderMap, allowed: &[String]) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
    };
    let port = text(header::HOST).and_then(port_of);
    if let Some(origin) = text(header::ORIGIN) {
        return origin_ok(origin, port, allowed);
    }
    if let Some(referer) = text(header::REFERER) {
        return scheme_host(referer).is_some_and(|o| origin_ok(&o, port, allowed));
    }
    let agent = text(header::USER_AGENT).unwrap_or("");
    !agent.starts_with("Mozilla") || agent.contains("Electron")
}

fn origin_ok(origin: &str, port: Option<u16>, allowed: &[String]) -> bool {
    if allowed.iter().any(|a| a == "*" || a == origin) {
        return true;
    }
    let Ok(uri) = origin.parse::<http::Uri>() else {
        return false;
    };
    let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let scheme = matches!(uri.scheme_str(), Some("http" | "https"));
    loopback && scheme && uri.port_u16().is_some() && uri.port_u16() == port
}

fn port_of(host: &str) -> Option<u16> {
    host.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

fn scheme_host(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("header"));
        }
        map
    }

    #[test]
    fn kubo_csrf_rules() {
        let ok = |pairs: &[(&'static str, &str)]| check(&Method::POST, &headers(pairs), &[]).is_ok();
        assert!(ok(&[("host", "127.0.0.1:9095")]));
        assert!(ok(&[
            ("host", "127.0.0.1:9095"),
            ("origin", "http://localhost:9095")
        ]));
        assert!(!ok(&[
            ("host", "127.0.0.1:9095"),
            ("origin", "http://evil.example")
        ]));
        assert!(!ok(&[
            ("host", "evil.example:9095"),
            ("origin", "http://evil.example:9095")
        ]));
        assert!(!ok(&[
            ("host", "127.0.0.1:9095"),
            ("referer", "http://evil.example/page")
        ]));
        assert!(!ok(&[("host", "127.0.0.1:9095"), ("user-agent", "Mozilla/5.0")]));
        assert!(ok(&[
            ("host", "127.0.0.1:9095"),
            ("user-agent", "Mozilla/5.0 Electron/30")
        ]));
        let allowed = ["https://app.example".to_owned()];
        assert!(
            check(
                &Method::POST,
                &headers(&[("origin", "https://app.example")]),
                &allowed
            )
            .is_ok()
        );
    }

    #[test]
    fn methods_as_kubo() {
        let none = HeaderMap::new();
        assert_eq!(
            check(&Method::GET, &none, &[]),
            Err(InterceptError::MethodNotAllowed)
        );
        assert_eq!(
            check(&Method::PUT, &none, &[]),
            Err(InterceptError::MethodNotAllowed)
        );
        assert_eq!(check(&Method::OPTIONS, &none, &[]), Ok(Verdict::Forward));
    }
}
