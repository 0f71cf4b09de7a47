use base64::Engine;
use http_body_util::BodyExt;

use super::*;

fn secured() -> Security {
    Security::new(&RestConfig {
        basic_auth_credentials: Some([("alice".to_owned(), "pw".to_owned())].into()),
        ..RestConfig::default()
    })
}

fn basic(pair: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
}

fn request(method: Method, path: &str, auth: Option<&str>) -> Request<()> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:9094");
    if let Some(auth) = auth {
        req = req.header(header::AUTHORIZATION, auth);
    }
    req.body(()).unwrap()
}

async fn answer(
    security: &Security,
    req: &Request<()>,
) -> Option<(StatusCode, http::HeaderMap, serde_json::Value)> {
    match security.admit(req) {
        Admission::Serve => None,
        Admission::Answer(rsp) => {
            let (parts, body) = rsp.into_parts();
            let bytes = body.collect().await.unwrap().to_bytes();
            let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
            Some((parts.status, parts.headers, json))
        }
    }
}

#[tokio::test]
async fn without_credentials_the_answer_is_401_with_a_challenge() {
    let security = secured();
    let (status, headers, body) = answer(&security, &request(Method::GET, "/id", None))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], WWW_AUTHENTICATE);
    assert_eq!(body["code"], 401);
    assert!(body["message"].as_str().unwrap().contains("--basic-auth"));
    let wrong = request(Method::GET, "/id", Some(&basic("alice:nope")));
    assert_eq!(
        answer(&security, &wrong).await.unwrap().0,
        StatusCode::UNAUTHORIZED
    );
    let right = request(Method::POST, "/pins/x", Some(&basic("alice:pw")));
    assert!(answer(&security, &right).await.is_none());
}

#[tokio::test]
async fn tokens_are_issued_to_basic_users_and_scoped() {
    let security = secured();
    let mint = |query: &str| request(Method::POST, &format!("/token{query}"), Some(&basic("alice:pw")));
    let (status, _, body) = answer(&security, &mint("")).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let full = format!("Bearer {}", body["token"].as_str().unwrap());
    assert!(
        answer(&security, &request(Method::DELETE, "/pins/x", Some(&full)))
            .await
            .is_none()
    );

    let (_, _, body) = answer(&security, &mint("?scope=read")).await.unwrap();
    let read = format!("Bearer {}", body["token"].as_str().unwrap());
    assert!(
        answer(&security, &request(Method::GET, "/pins", Some(&read)))
            .await
            .is_none()
    );
    let (status, _, body) = answer(&security, &request(Method::POST, "/pins/x", Some(&read)))
        .await
        .unwrap();
    assert_eq!(
        (status, body["code"].as_u64()),
        (StatusCode::FORBIDDEN, Some(403))
    );

    let with_token = request(Method::POST, "/token", Some(&full));
    assert_eq!(
        answer(&security, &with_token).await.unwrap().0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        answer(&security, &mint("?scope=root")).await.unwrap().0,
        StatusCode::BAD_REQUEST
    );
    let forged = request(Method::GET, "/id", Some("Bearer a.b.c"));
    assert_eq!(
        answer(&security, &forged).await.unwrap().0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn open_apis_serve_and_have_no_tokens() {
    let open = Security::new(&RestConfig::default());
    assert!(
        answer(&open, &request(Method::POST, "/pins/x", None))
            .await
            .is_none()
    );
    let (status, _, _) = answer(&open, &request(Method::POST, "/token", None))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn large_bodies_and_cross_origin_writes_are_refused_before_auth() {
    let security = secured();
    let mut big = request(Method::POST, "/pins/x", Some(&basic("alice:pw")));
    big.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("2000000"));
    assert_eq!(
        answer(&security, &big).await.unwrap().0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let mut cross = request(Method::POST, "/pins/x", Some(&basic("alice:pw")));
    cross
        .headers_mut()
        .insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
    let (status, _, body) = answer(&security, &cross).await.unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["message"].as_str().unwrap().contains("cors_allowed_origins"));
}
