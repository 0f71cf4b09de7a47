//! kubo's error answers: the go-ipfs-cmds error object and the plain-text refusals.
//!
//! An error before any output is `{"Message":"…","Code":<n>,"Type":"error"}` and a newline,
//! `Code` 0 (`ErrNormal`) for server-side failures and 1 (`ErrClient`) for client errors.
//! Option conversion errors, a wrong method and a CSRF refusal are plain text instead.

use bytes::Bytes;
use http::StatusCode;

/// go-ipfs-cmds `ErrNormal`.
pub const CODE_NORMAL: u8 = 0;
/// go-ipfs-cmds `ErrClient`.
pub const CODE_CLIENT: u8 = 1;

/// The `Content-Type` of kubo's plain-text answers.
pub const PLAIN_TEXT: &str = "text/plain; charset=utf-8";
/// The `Allow` header of a 405 (and of an OPTIONS answer).
pub const ALLOW: &str = "OPTIONS, POST";
/// kubo's body for a method other than POST (405).
pub const METHOD_NOT_ALLOWED: &str = "405 - Method Not Allowed";
/// kubo's body for a request the CSRF rules refuse (403).
pub const FORBIDDEN: &str = "403 - Forbidden";

/// The error object, fields in kubo's order.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorObject<'a> {
    message: &'a str,
    code: u8,
    r#type: &'static str,
}

/// The error body for `message`, with its trailing newline.
pub fn error_body(message: &str, code: u8) -> Bytes {
    let error = ErrorObject {
        message,
        code,
        r#type: "error",
    };
    let mut body = serde_json::to_vec(&error).unwrap_or_default();
    body.push(b'\n');
    Bytes::from(body)
}

/// The `Code` an error answered with `status` carries.
pub fn code_for(status: StatusCode) -> u8 {
    if status.is_client_error() {
        CODE_CLIENT
    } else {
        CODE_NORMAL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_object_is_kubos_to_the_byte() {
        assert_eq!(
            error_body(
                "pin: \"x\" not found",
                code_for(StatusCode::INTERNAL_SERVER_ERROR)
            ),
            Bytes::from_static(b"{\"Message\":\"pin: \\\"x\\\" not found\",\"Code\":0,\"Type\":\"error\"}\n")
        );
        assert_eq!(code_for(StatusCode::BAD_REQUEST), CODE_CLIENT);
    }
}
