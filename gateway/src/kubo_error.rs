//! kubo's error answer: `{"Message":"…","Code":<n>,"Type":"error"}` and a newline
//! (go-ipfs-cmds `Error`), `Code` 0 (`ErrNormal`) for server-side failures and 1 (`ErrClient`)
//! for client errors. Built here, for `rescue` (errors of the stack) and `intercept` (errors
//! of a served call) alike; which error gets which status is `rescue`'s business.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

use crate::{Body, boxed};

/// go-ipfs-cmds `ErrNormal`.
pub const CODE_NORMAL: u8 = 0;
/// go-ipfs-cmds `ErrClient`.
pub const CODE_CLIENT: u8 = 1;

/// go-ipfs-cmds' error object, fields in kubo's order.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct KuboError<'a> {
    message: &'a str,
    code: u8,
    r#type: &'static str,
}

/// The kubo error body for `message`, with its trailing newline.
pub fn error_body(message: &str, code: u8) -> Bytes {
    let error = KuboError {
        message,
        code,
        r#type: "error",
    };
    let mut body = serde_json::to_vec(&error).unwrap_or_default();
    body.push(b'\n');
    Bytes::from(body)
}

/// A complete kubo-style error answer.
pub fn error_response(status: StatusCode, message: &str) -> Response<Body> {
    let code = if status.is_client_error() {
        CODE_CLIENT
    } else {
        CODE_NORMAL
    };
    let mut rsp = Response::new(boxed(Full::new(error_body(message, code))));
    *rsp.status_mut() = status;
    rsp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    rsp
}
