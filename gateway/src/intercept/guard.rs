//! kubo's checks on intercepted routes, which ipfs-cluster's proxy dropped: POST only and the
//! Origin / Referer / User-Agent CSRF rules (`cairn_kubo::csrf`).
//!
//! "Its own" origins are the loopback ones on the port the request arrived at (from `Host`),
//! plus `allowed_origins` from the config. OPTIONS and HEAD are not intercepted: they pass to
//! the upstream.

use http::{HeaderMap, Method};

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
    if cairn_kubo::csrf::allows(headers, cairn_kubo::csrf::host_port(headers), allowed) {
        Ok(Verdict::Serve)
    } else {
        Err(InterceptError::Forbidden)
    }
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
