//! kubo's cross-site request checks on its RPC API (go-ipfs-cmds `checkOrigin`/`checkReferer`
//! and kubo's User-Agent rule).
//!
//! An `Origin` or `Referer` passes when it is one of the server's own loopback origins
//! (`http(s)://127.0.0.1|localhost|[::1]:<port>`) or an allowed one (`*` allows all). As in
//! kubo, origins compare as exact strings, an `Origin` and a `Referer` must both pass when
//! both are sent, and a header that is present but not text still counts as present. A
//! request with neither is refused only when it comes from a browser (`User-Agent: Mozilla…`,
//! not Electron). A cross-site page (another origin) and a DNS-rebinding page (a non-loopback
//! host on the server's port) are both refused.

use http::{HeaderMap, HeaderValue, header};

/// Whether a request with `headers` may run a command, on a server whose own origins are on
/// `port`, with `allowed` origins besides.
pub fn allows(headers: &HeaderMap, port: Option<u16>, allowed: &[String]) -> bool {
    let ok = |origin: &[u8]| origin_ok(origin, port, allowed);
    let origin = present(headers, header::ORIGIN);
    let referer = present(headers, header::REFERER);
    if origin.is_none() && referer.is_none() {
        let agent = present(headers, header::USER_AGENT).map_or(&b""[..], |v| v.as_bytes());
        return !agent.starts_with(b"Mozilla") || contains(agent, b"Electron");
    }
    // A Referer that is not a URL is refused.
    let origin_ok = origin.is_none_or(|v| ok(v.as_bytes()));
    let referer_ok = referer.is_none_or(|v| {
        v.to_str()
            .ok()
            .and_then(scheme_host)
            .is_some_and(|o| ok(o.as_bytes()))
    });
    origin_ok && referer_ok
}

/// The port of the request's `Host` header, if it names one.
pub fn host_port(headers: &HeaderMap) -> Option<u16> {
    present(headers, header::HOST)
        .and_then(|host| host.to_str().ok())
        .and_then(|host| host.rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok())
}

/// The header's first value, unless it is absent or empty (kubo's `Header.Get(..) == ""`).
fn present(headers: &HeaderMap, name: header::HeaderName) -> Option<&HeaderValue> {
    headers.get(name).filter(|v| !v.is_empty())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

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

fn scheme_host(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(pairs: &[(&'static str, &[u8])]) -> bool {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_bytes(value).expect("header"));
        }
        allows(&headers, host_port(&headers), &[])
    }

    const HOST: (&str, &[u8]) = ("host", b"127.0.0.1:9095");

    #[test]
    fn own_loopback_origins_pass_and_other_sites_do_not() {
        assert!(ok(&[HOST]));
        assert!(ok(&[HOST, ("origin", b"http://localhost:9095")]));
        assert!(ok(&[HOST, ("origin", b"https://[::1]:9095")]));
        assert!(!ok(&[HOST, ("origin", b"http://evil.example")]));
        assert!(!ok(&[
            ("host", b"evil.example:9095"),
            ("origin", b"http://evil.example:9095")
        ]));
        assert!(!ok(&[HOST, ("referer", b"http://evil.example/page")]));
        assert!(!ok(&[HOST, ("user-agent", b"Mozilla/5.0")]));
        assert!(ok(&[HOST, ("user-agent", b"Mozilla/5.0 Electron/30")]));
    }

    #[test]
    fn origins_compare_as_strings_and_both_headers_are_checked() {
        assert!(!ok(&[
            HOST,
            ("origin", b"http://localhost:9095"),
            ("referer", b"http://evil.example/")
        ]));
        assert!(!ok(&[HOST, ("origin", b"http://evil.example\xff")]));
        assert!(!ok(&[HOST, ("user-agent", b"Mozilla/5.0 \xff")]));
        assert!(!ok(&[HOST, ("origin", b"http://localhost:9095/")]));
        assert!(!ok(&[HOST, ("origin", b"http://localhost:09095")]));
    }

    #[test]
    fn allowed_origins_pass_on_any_port() {
        let mut headers = HeaderMap::new();
        headers.insert("origin", HeaderValue::from_static("https://app.example"));
        assert!(allows(&headers, None, &["https://app.example".to_owned()]));
        assert!(allows(&headers, None, &["*".to_owned()]));
        assert!(!allows(&headers, Some(9095), &[]));
    }
}
