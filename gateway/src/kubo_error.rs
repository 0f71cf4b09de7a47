//! kubo's error answer: `{"Message":"…","Code":<n>,"Type":"error"}` and a newline
//! (go-ipfs-cmds `Error`), `Code` 0 (`ErrNormal`) for server-side failures and 1 (`ErrClient`)
//! for client errors. Built here, for `rescue` (errors of the stack) and `intercept` (errors
//! of a served call) alike; which error gets which status is `rescue`'s business.

use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

use crate::{Body, boxed};

pub use cairn_kubo::error::{CODE_CLIENT, CODE_NORMAL, error_body};

/// A complete kubo-style error answer.
pub fn error_response(status: StatusCode, message: &str) -> Response<Body> {
    let code = cairn_kubo::error::code_for(status);
    let mut rsp = Response::new(boxed(Full::new(error_body(message, code))));
    *rsp.status_mut() = status;
    rsp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    rsp
}
