//! kubo's checks on intercepted routes, which ipfs-cluster's proxy dropped: POST only and the
//! Origin / Referer / User-Agent CSRF rules.
//!
//! kubo allows an `Origin` only when it is one of its own loopback origins (its API port) or
//! configured; here "its own" is a loopback origin (`127.0.0.1`, `localhost`, `[::1]`) on the
//! port the request arrived at (from `Host`), plus `allowed_origins` from the config. A
//! cross-site page (any other origin) and a DNS-rebinding page (a non-loopback host on our
//! port) are both refused. As in kubo, origins compare as exact strings, an `Origin` and a
//! `Referer` must both pass when both are sent, and a header that is present but not text
//! still counts as present. OPTIONS and HEAD are not intercepted: they pass
//! to the upstream.

use http::{HeaderMap, HeaderValue, Method, header};

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
    let port = present(headers, header::HOST)
        .and_then(|host| host.to_str().ok())
        .and_then(port_of);
    let ok = |origin: &[u8]| origin_ok(origin, port, allowed);
    let origin = present(headers, header::ORIGIN);
    let referer = present(headers, header::REFERER);
    if origin.is_none() && referer.is_none() {
        let agent = present(headers, header::USER_AGENT).map_or(&b""[..], |v| v.as_bytes());
        return !agent.starts_with(b"Mozilla") || contains(agent, b"Electron");
    }
    // kubo checks both when both are present; a Referer that is not a URL is refused.
    let origin_ok = origin.is_none_or(|v| ok(v.as_bytes()));
    let referer_ok = referer.is_none_or(|v| {
        v.to_str()
            .ok()
            .and_then(scheme_host)
            .is_some_and(|o| ok(o.as_bytes()))
    });
    origin_ok && referer_ok
}

/// The header's first value, unless it is absent or empty (kubo's `Header.Get(..) == ""`).
fn present(headers: &HeaderMap, name: header::HeaderName) -> Option<&HeaderValue> {
    headers.get(name).filter(|v| !v.is_empty())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// kubo compares origins as strings: an allowed one, or one of its own loopback origins
/// (`http(s)://127.0.0.1|localhost|[::1]:<port>`) on the port the request arrived at.
fn origin_ok(origin: &[u8], port: Option<u16>, allowed: &[String]) -> bool {
    if allowed.iter().any(|a| a == "*" || a.as_bytes() == origin) {
        return true;
    }
    port.is_some_and(|port| {
        ["http", "https"].iter().any(|scheme| {
            ["127.0.0.1", "localhost", "[::1]"]
                .iter()
                .any(|host| origin == format!("{scheme}://{host}:{port}").as_bytes())
        })
    })
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
    fn csrf_rules_found_by_the_property_tests() {
        let ok = |pairs: &[(&'static str, &[u8])]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, HeaderValue::from_bytes(value).expect("header"));
            }
            check(&Method::POST, &map, &[]).is_ok()
        };
        let host = ("host", &b"127.0.0.1:9095"[..]);
        // kubo checks the Referer too when an Origin is sent.
        assert!(!ok(&[
            host,
            ("origin", b"http://localhost:9095"),
            ("referer", b"http://evil.example/")
        ]));
        // An Origin that is not text is present, and not ours.
        assert!(!ok(&[host, ("origin", b"http://evil.example\xff")]));
        // A browser's User-Agent that is not text is still a browser's.
        assert!(!ok(&[host, ("user-agent", b"Mozilla/5.0 \xff")]));
        // Origins compare as strings, as in kubo.
        assert!(!ok(&[host, ("origin", b"http://localhost:9095/")]));
        assert!(!ok(&[host, ("origin", b"http://localhost:09095")]));
        assert!(ok(&[host, ("origin", b"https://[::1]:9095")]));
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
