//! The API's answers that need no cluster: refusals in the spec's `Failure` shape (through
//! `rest::security` in this API's voice), error statuses, the server settings.

use base64::Engine;
use http_body_util::BodyExt;

use super::*;
use crate::config::RestConfig;
use crate::rest::security::Admission;

fn secured() -> Arc<Security> {
    security(&RestConfig {
        basic_auth_credentials: Some([("alice".to_owned(), "pw".to_owned())].into()),
        ..RestConfig::default()
    })
}

fn request(method: Method, path: &str, auth: Option<&str>) -> Request<()> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:9097");
    if let Some(auth) = auth {
        req = req.header(header::AUTHORIZATION, auth);
    }
    req.body(()).unwrap()
}

async fn body_of(rsp: Response<Body>) -> (StatusCode, http::HeaderMap, serde_json::Value) {
    let (parts, body) = rsp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        serde_json::from_slice(&bytes).unwrap(),
    )
}

async fn refused(security: &Security, req: &Request<()>) -> (StatusCode, http::HeaderMap, serde_json::Value) {
    match security.admit(req) {
        Admission::Serve => panic!("{} {} was served", req.method(), req.uri()),
        Admission::Answer(rsp) => body_of(rsp).await,
    }
}

#[tokio::test]
async fn without_a_token_the_answer_is_a_401_failure() {
    let security = secured();
    let (status, headers, body) = refused(&security, &request(Method::GET, "/pins", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(body["error"]["reason"], "UNAUTHORIZED");
    assert!(
        body["error"]["details"]
            .as_str()
            .unwrap()
            .contains("credentials required")
    );
    let (status, _, body) = refused(
        &security,
        &request(Method::GET, "/pins", Some("Bearer not.a.jwt")),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["reason"]),
        (StatusCode::UNAUTHORIZED, &"UNAUTHORIZED".into())
    );
}

#[tokio::test]
async fn a_token_from_post_token_is_a_bearer_token_here() {
    let security = secured();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:pw")
    );
    let (status, _, body) = refused(&security, &request(Method::POST, "/token", Some(&basic))).await;
    assert_eq!(status, StatusCode::OK);
    let bearer = format!("Bearer {}", body["token"].as_str().unwrap());
    assert!(matches!(
        security.admit(&request(Method::POST, "/pins", Some(&bearer))),
        Admission::Serve
    ));
}

#[tokio::test]
async fn refusals_name_this_api_s_keys() {
    let open = security(&RestConfig::default());
    let (status, _, body) = refused(&open, &request(Method::POST, "/token", None)).await;
    assert_eq!(
        (status, &body["error"]["reason"]),
        (StatusCode::NOT_FOUND, &"NOT_FOUND".into())
    );
    assert!(
        body["error"]["details"]
            .as_str()
            .unwrap()
            .contains("api.pinsvcapi.basic_auth_credentials")
    );
    let mut cross = request(Method::POST, "/pins", None);
    cross
        .headers_mut()
        .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    let (status, _, body) = refused(&open, &cross).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["error"]["details"]
            .as_str()
            .unwrap()
            .contains("api.pinsvcapi.cors_allowed_origins")
    );
    assert!(matches!(
        open.admit(&request(Method::GET, "/pins", None)),
        Admission::Serve
    ));
}

#[test]
fn reasons_are_the_status_names_in_capitals() {
    for (status, word) in [
        (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
        (StatusCode::NOT_FOUND, "NOT_FOUND"),
        (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
        (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR"),
        (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
    ] {
        assert_eq!(reason(status), word);
    }
}

#[tokio::test]
async fn errors_answer_with_their_status_and_whole_reason() {
    let bad_body = serde_json::from_str::<types::Pin>("{}").unwrap_err();
    let cases = [
        (
            SvcError::BadBody(bad_body),
            StatusCode::BAD_REQUEST,
            "missing field `cid`",
        ),
        (
            SvcError::Filter(FilterError::BadLimit("0".into())),
            StatusCode::BAD_REQUEST,
            "limit \"0\"",
        ),
        (SvcError::NotFound("x".into()), StatusCode::NOT_FOUND, "\"x\""),
        (
            SvcError::Cluster(ClusterError::NotPinned),
            StatusCode::NOT_FOUND,
            "pinset",
        ),
        (
            SvcError::TooLarge(10),
            StatusCode::PAYLOAD_TOO_LARGE,
            "max_body_bytes",
        ),
        (
            SvcError::Cluster(ClusterError::NoLeader("none".into())),
            StatusCode::SERVICE_UNAVAILABLE,
            "leader",
        ),
        (
            SvcError::Cluster(ClusterError::Invalid(crate::api::PinError::Expired)),
            StatusCode::BAD_REQUEST,
            "ExpireAt",
        ),
        (
            SvcError::Cluster(ClusterError::Consensus("x".into())),
            StatusCode::INTERNAL_SERVER_ERROR,
            "consensus",
        ),
    ];
    for (err, status, says) in cases {
        let (got, _, body) = body_of(refusal(&err)).await;
        assert_eq!(got, status, "{err}");
        assert_eq!(body["error"]["reason"], reason(status));
        assert!(
            body["error"]["details"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
}

#[test]
fn the_server_listens_where_the_section_says() {
    let config = RestConfig {
        http_listen_multiaddress: "/ip4/127.0.0.1/tcp/9097".into(),
        ..RestConfig::default()
    };
    let server = server_config(&config).unwrap();
    assert_eq!(server.listen.len(), 1);
    assert!(server.ssl_cert_file.is_none());
    let bad = RestConfig {
        http_listen_multiaddress: "/dns4/x/tcp/1".into(),
        ..RestConfig::default()
    };
    assert!(
        server_config(&bad)
            .unwrap_err()
            .starts_with("api.pinsvcapi.http_listen_multiaddress")
    );
}
