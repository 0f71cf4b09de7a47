//! Hop-by-hop headers (RFC 9110 §7.6.1) and `X-Forwarded-For`.
//!
//! hyper leaves these to the proxy. Removed in both directions: `Connection`, every header it
//! names, and the fixed list Go's `httputil.ReverseProxy` uses (`Proxy-Connection`,
//! `Keep-Alive`, `Proxy-Authenticate`, `Proxy-Authorization`, `TE`, `Transfer-Encoding`,
//! `Upgrade`). `Trailer` is end-to-end metadata and is kept: it announces kubo's
//! `X-Stream-Error`, and hyper only writes trailers that `Trailer` declares.
//!
//! # Not here
//! `Host`: kept as the client sent it (hyper-util's client only fills it in when absent).

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

const FIXED: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// `X-Forwarded-For`.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Removes hop-by-hop headers, including those named in `Connection`.
pub fn strip(headers: &mut HeaderMap) {
    for name in named_in_connection(headers) {
        headers.remove(name);
    }
    for name in &FIXED {
        headers.remove(name);
    }
}

fn named_in_connection(headers: &HeaderMap) -> Vec<HeaderName> {
    tokens(headers, header::CONNECTION)
        .filter_map(|token| HeaderName::from_bytes(token.as_bytes()).ok())
        .collect()
}

/// True when the client announced it accepts trailers (`TE: trailers`, any case, in a list).
pub fn accepts_trailers(headers: &HeaderMap) -> bool {
    tokens(headers, header::TE).any(|token| token.eq_ignore_ascii_case("trailers"))
}

/// The comma-separated tokens of every `name` header line, trimmed.
fn tokens(headers: &HeaderMap, name: HeaderName) -> impl Iterator<Item = &str> {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(','))
        .map(str::trim)
}

/// Appends the client's address to `X-Forwarded-For` (`"a, b"` when one is already present).
pub fn append_forwarded_for(headers: &mut HeaderMap, client: std::net::IpAddr) {
    let value = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prior) => format!("{prior}, {client}"),
        None => client.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(X_FORWARDED_FOR, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn strips_fixed_and_connection_named_headers_only() {
        let mut headers = map(&[
            ("connection", "keep-alive, X-Secret"),
            ("x-secret", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("upgrade", "h2c"),
            ("proxy-authorization", "Basic x"),
            ("trailer", "X-Stream-Error"),
            ("content-type", "application/json"),
            ("host", "example:1"),
        ]);
        strip(&mut headers);
        let left: Vec<_> = headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["trailer", "content-type", "host"]);
    }

    #[test]
    fn forwarded_for_appends_to_a_prior_chain() {
        let mut headers = map(&[("x-forwarded-for", "10.0.0.1")]);
        append_forwarded_for(&mut headers, "127.0.0.1".parse().unwrap());
        assert_eq!(headers[X_FORWARDED_FOR], "10.0.0.1, 127.0.0.1");
        let mut fresh = HeaderMap::new();
        append_forwarded_for(&mut fresh, "::1".parse().unwrap());
        assert_eq!(fresh[X_FORWARDED_FOR], "::1");
    }

    #[test]
    fn trailers_acceptance_reads_lists_in_any_case() {
        assert!(accepts_trailers(&map(&[("te", "gzip, Trailers")])));
        assert!(!accepts_trailers(&map(&[("te", "gzip")])));
        assert!(!accepts_trailers(&HeaderMap::new()));
    }
}
