//! Fuzz targets of the REST API's auth parsers, as property tests: the `Authorization`
//! header, the JWT verifier and the CORS settings never panic, and what they accept is what
//! was meant. CI runs 512 inputs per target; `CAIRN_FUZZ_CASES=N` runs N (the documented long
//! runs: `CAIRN_FUZZ_CASES=1000000 cargo test --release -p cairn-peer fuzz_`).

use std::time::{Duration, SystemTime};

use base64::Engine;
use http::{HeaderMap, HeaderValue, Method, header};
use proptest::prelude::*;

use super::cors::Cors;
use super::credentials::{Presented, Users, presented};
use super::token::{self, Scope};
use crate::config::RestConfig;

fn cases() -> u32 {
    std::env::var("CAIRN_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(512)
}

fn users() -> Users {
    Users::new([("alice".to_owned(), "pw".to_owned())].into())
}

/// Header values near the real ones: both schemes in any case, padding, junk.
fn authorization() -> impl Strategy<Value = Vec<u8>> {
    let basic = ("[a-z:]{0,8}", "[ -~]{0,8}").prop_map(|(user, pass)| {
        let pair = format!("{user}:{pass}");
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)).into_bytes()
    });
    prop_oneof![
        2 => basic,
        1 => "(?i)(basic|bearer|digest) ?[ -~]{0,40}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases()) })]

    /// Any header reads as something; a basic pair reads back as it was encoded.
    #[test]
    fn fuzz_authorization_header(bytes in authorization()) {
        let Ok(value) = HeaderValue::from_bytes(&bytes) else { return Ok(()) };
        let sent = presented(Some(&value));
        if let Presented::Basic { user, password } = &sent {
            let pair = format!("{user}:{password}");
            let again = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair));
            let Ok(again) = HeaderValue::from_str(&again) else { return Ok(()) };
            prop_assert_eq!(presented(Some(&again)), sent.clone());
            prop_assert_eq!(users().check(user, password), user == "alice" && password == "pw");
        }
    }

    /// Arbitrary text never verifies; a damaged real token verifies only to the same holder.
    #[test]
    fn fuzz_jwt(junk in "[A-Za-z0-9_.=-]{0,200}", flips in prop::collection::vec((any::<usize>(), 0u8..64), 1..4)) {
        prop_assert!(token::verify(&junk, &users()).is_err() || junk.split('.').count() == 3);
        let real = token::mint("alice", "pw", Scope::Read, Duration::from_secs(600), SystemTime::now())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut damaged = real.clone().into_bytes();
        for (at, to) in flips {
            let at = at % damaged.len();
            damaged[at] = alphabet[usize::from(to)];
        }
        let damaged = String::from_utf8_lossy(&damaged).into_owned();
        if let Ok(holder) = token::verify(&damaged, &users()) {
            prop_assert_eq!(Ok(holder), token::verify(&real, &users()));
        }
    }

    /// Any CORS settings either fail validation or never refuse a non-browser request.
    #[test]
    fn fuzz_cors_config(
        origins in prop::collection::vec("(\\*|https?://[a-z.:0-9]{0,12}|[ -~]{0,8})", 0..3),
        methods in prop::collection::vec("(GET|POST|DELETE|[A-Za-z]{0,6}|[ -~]{0,4})", 0..3),
        headers in prop::collection::vec("[ -~]{0,10}", 0..3),
        origin in prop::option::of("(https?://[a-z.:0-9]{0,12}|null|[ -~]{0,10})"),
        post in any::<bool>(),
    ) {
        let config = RestConfig {
            cors_allowed_origins: origins,
            cors_allowed_methods: methods,
            cors_allowed_headers: headers,
            ..RestConfig::default()
        };
        if config.validate().is_err() {
            return Ok(());
        }
        let cors = Cors::new(&config);
        let method = if post { Method::POST } else { Method::GET };
        let mut request = HeaderMap::new();
        request.insert(header::HOST, HeaderValue::from_static("127.0.0.1:9094"));
        prop_assert!(cors.check(&method, &request, false).is_ok(), "a request with no Origin");
        if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
            request.insert(header::ORIGIN, origin.clone());
            request.insert(header::ACCESS_CONTROL_REQUEST_METHOD, HeaderValue::from_static("POST"));
            let verdict = cors.check(&method, &request, false);
            let _ = cors.preflight(&Method::OPTIONS, &request);
            let mut out = HeaderMap::new();
            cors.decorate(Some(&origin), &mut out);
            if config.cors_allowed_origins.is_empty() && post && origin != "http://127.0.0.1:9094" {
                prop_assert!(verdict.is_err(), "a foreign write passed with no allowed origin");
            }
        }
    }
}
