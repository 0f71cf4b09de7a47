//! [`check`] against a model of kubo's method and CSRF rules (go-ipfs-cmds `http/handler.go`
//! and `allowOrigin` / `allowReferer` / `allowUserAgent`), where kubo's allowed origins are
//! the configured ones plus its loopback origins on the port of `Host`.

use http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use proptest::prelude::*;

use super::{Tally, ci_config, long_run};
use crate::intercept::InterceptError;
use crate::intercept::guard::{Verdict, check};

/// One generated request: method, headers, configured origins.
#[derive(Clone)]
struct Request {
    method: Vec<u8>,
    headers: Vec<(&'static str, Vec<u8>)>,
    allowed: Vec<String>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ", self.method.escape_ascii())?;
        for (name, value) in &self.headers {
            write!(f, "{name}: {:?} ", value.escape_ascii().to_string())?;
        }
        write!(f, "allowed {:?}", self.allowed)
    }
}

impl Request {
    fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in &self.headers {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                map.append(HeaderName::from_static(name), value);
            }
        }
        map
    }
}

/// Whether kubo runs the command (method aside).
fn kubo_allows(headers: &HeaderMap, allowed: &[String]) -> bool {
    let port = value(headers, header::HOST)
        .filter(|h| h.iter().all(|b| (0x20..0x7f).contains(b) || *b == b'\t'))
        .and_then(|h| std::str::from_utf8(h).ok())
        .and_then(|h| h.rsplit_once(':'))
        .and_then(|(_, p)| p.parse::<u16>().ok());
    let mut origins: Vec<Vec<u8>> = allowed.iter().map(|a| a.as_bytes().to_vec()).collect();
    if let Some(port) = port {
        for scheme in ["http", "https"] {
            for host in ["127.0.0.1", "[::1]", "localhost"] {
                origins.push(format!("{scheme}://{host}:{port}").into_bytes());
            }
        }
    }
    let listed = |o: &[u8]| origins.iter().any(|a| a == b"*" || a == o);
    let origin = value(headers, header::ORIGIN);
    let referer = value(headers, header::REFERER);
    if origin.is_some_and(|o| !listed(o)) {
        return false;
    }
    if referer.is_some_and(|r| !go_referer_origin(r).is_some_and(|o| listed(&o))) {
        return false;
    }
    if origin.is_none() && referer.is_none() {
        let agent = value(headers, header::USER_AGENT).unwrap_or(b"");
        let electron = agent.windows(8).any(|w| w == b"Electron");
        return electron || !agent.starts_with(b"Mozilla");
    }
    true
}

/// Go's `r.Header.Get(name)`: the first value, `None` when absent or empty.
fn value(headers: &HeaderMap, name: HeaderName) -> Option<&[u8]> {
    headers
        .get(name)
        .map(HeaderValue::as_bytes)
        .filter(|v| !v.is_empty())
}

/// `u.Scheme + "://" + u.Host` of Go's `url.Parse(referer)`, `None` where Go fails to parse
/// (a model of the origin-relevant part of `url.Parse`, not all of it).
fn go_referer_origin(referer: &[u8]) -> Option<Vec<u8>> {
    if referer.iter().any(|b| *b < 0x20 || *b == 0x7f) {
        return None;
    }
    let url = referer.split(|b| *b == b'#').next()?;
    let (scheme, rest) = match url
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || b"+-.".contains(b)))
    {
        Some(0) if url[0] == b':' => return None,
        Some(i) if url[i] == b':' && url[0].is_ascii_alphabetic() => {
            (url[..i].to_ascii_lowercase(), &url[i + 1..])
        }
        _ => (Vec::new(), url),
    };
    let rest = rest.split(|b| *b == b'?').next()?;
    let host = match rest.strip_prefix(b"//") {
        Some(authority) => {
            let authority = authority.split(|b| *b == b'/').next()?;
            let at = authority.iter().rposition(|b| *b == b'@').map_or(0, |i| i + 1);
            &authority[at..]
        }
        None => &[][..],
    };
    let after_bracket = host.iter().rposition(|b| *b == b']').map_or(0, |i| i + 1);
    if let Some(colon) = host[after_bracket..].iter().position(|b| *b == b':') {
        let port = &host[after_bracket + colon + 1..];
        if !port.iter().all(u8::is_ascii_digit) {
            return None;
        }
    }
    Some([&scheme[..], b"://", host].concat())
}

/// The properties of one request.
fn check_request(req: &Request) -> Result<(), TestCaseError> {
    let Ok(method) = Method::from_bytes(&req.method) else {
        return Ok(());
    };
    let headers = req.header_map();
    let verdict = check(&method, &headers, &req.allowed);
    if method == Method::OPTIONS || method == Method::HEAD {
        prop_assert_eq!(verdict, Ok(Verdict::Forward));
        return Ok(());
    }
    if method != Method::POST {
        prop_assert_eq!(verdict, Err(InterceptError::MethodNotAllowed));
        return Ok(());
    }
    let kubo = kubo_allows(&headers, &req.allowed);
    match &verdict {
        Ok(Verdict::Serve) => prop_assert!(kubo, "served, but kubo refuses {:?}", req),
        Err(InterceptError::Forbidden) => {
            // The gateway may be stricter than kubo only about a Referer it cannot parse.
            let referer = value(&headers, header::REFERER);
            prop_assert!(!kubo || referer.is_some(), "refused, but kubo allows {:?}", req);
        }
        other => prop_assert!(false, "POST answered {:?}", other),
    }
    Ok(())
}

/// Origin-like values: our own loopback origins, near misses, hostile ones, junk bytes.
fn origin_value() -> impl Strategy<Value = Vec<u8>> {
    let words = vec![
        "http://127.0.0.1:9095",
        "http://localhost:9095",
        "https://[::1]:9095",
        "http://localhost:8080",
        "http://localhost:9095/",
        "http://localhost:09095",
        "HTTP://localhost:9095",
        "http://LOCALHOST:9095",
        "http://u@localhost:9095",
        "http://localhost:9095@evil.example",
        "http://evil.example",
        "http://evil.example:9095",
        "https://app.example",
        "null",
        "ftp://localhost:9095",
        "localhost:9095",
        "http://localhost",
        "",
    ];
    let referers = vec!["", "/page", "/x?y#z", "#f", "?q"];
    prop_oneof![
        6 => (prop::sample::select(words), prop::sample::select(referers))
            .prop_map(|(o, path)| format!("{o}{path}").into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..24),
        1 => "[a-z:/.@\\[\\]0-9]{0,24}".prop_map(String::into_bytes),
    ]
}

fn agent_value() -> impl Strategy<Value = Vec<u8>> {
    let words = vec![
        "curl/8.5",
        "Mozilla/5.0",
        "Mozilla/5.0 Electron/30",
        "mozilla/5.0",
        "",
        "go-ipfs",
    ];
    prop_oneof![
        3 => prop::sample::select(words).prop_map(|w| w.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..12).prop_map(|tail| [&b"Mozilla"[..], &tail].concat()),
    ]
}

fn host_value() -> impl Strategy<Value = Vec<u8>> {
    let words = vec![
        "127.0.0.1:9095",
        "localhost:9095",
        "[::1]:9095",
        "127.0.0.1",
        "[::1]",
        "evil.example:9095",
    ];
    prop_oneof![
        4 => prop::sample::select(words).prop_map(|w| w.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..12),
    ]
}

fn method() -> impl Strategy<Value = Vec<u8>> {
    let words = vec![
        "POST", "POST", "POST", "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "post", "CONNECT",
    ];
    prop_oneof![
        5 => prop::sample::select(words).prop_map(|w| w.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..8),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    let allowed = prop::collection::vec(
        prop::sample::select(vec!["*", "https://app.example", "http://evil.example:9095"]),
        0..2,
    );
    (
        method(),
        prop::option::of(host_value()),
        prop::option::of(origin_value()),
        prop::option::of(origin_value()),
        prop::option::of(agent_value()),
        prop::option::weighted(0.1, origin_value()),
        allowed,
    )
        .prop_map(|(method, host, origin, referer, agent, second_origin, allowed)| {
            let headers = [
                ("host", host),
                ("origin", origin),
                ("referer", referer),
                ("user-agent", agent),
                ("origin", second_origin),
            ];
            Request {
                method,
                headers: headers.into_iter().filter_map(|(n, v)| Some((n, v?))).collect(),
                allowed: allowed.into_iter().map(str::to_owned).collect(),
            }
        })
}

proptest! {
    #![proptest_config(ci_config())]

    #[test]
    fn only_post_is_served_and_only_as_kubo_allows(req in request()) {
        check_request(&req)?;
    }
}

#[test]
fn the_model_reads_referers_as_go() {
    let origin = |r: &str| go_referer_origin(r.as_bytes()).map(|o| String::from_utf8_lossy(&o).into_owned());
    assert_eq!(
        origin("HTTP://u@localhost:9095/x?y#z").as_deref(),
        Some("http://localhost:9095")
    );
    assert_eq!(origin("/relative").as_deref(), Some("://"));
    assert_eq!(origin("http://localhost:x/"), None);
    assert_eq!(origin(":nope"), None);
}

#[test]
fn fuzz_guard() {
    let tally = Tally::new(&[
        "served",
        "forbidden",
        "method not allowed",
        "forwarded",
        "bad method",
    ]);
    long_run("fuzz_guard", request(), |req| {
        let verdict =
            Method::from_bytes(&req.method).map(|method| check(&method, &req.header_map(), &req.allowed));
        tally.count(match verdict {
            Ok(Ok(Verdict::Serve)) => 0,
            Ok(Err(InterceptError::Forbidden)) => 1,
            Ok(Err(_)) => 2,
            Ok(Ok(Verdict::Forward)) => 3,
            Err(_) => 4,
        });
        check_request(&req)
    });
    tally.report("fuzz_guard");
}
