//! What a request presents in its `Authorization` header, and the configured users
//! (`api.restapi.basic_auth_credentials`) it is checked against.
//!
//! # Invariants
//! - Users and passwords are compared in constant time, every configured user each time, so
//!   the time taken does not tell whether a user name exists.
//! - Nothing here logs or formats a password: [`Presented`]'s and [`Users`]' `Debug` show user
//!   names only.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use http::HeaderValue;
use subtle::ConstantTimeEq;

/// The credentials a request carries.
#[derive(Clone, PartialEq, Eq)]
pub enum Presented {
    /// No `Authorization` header.
    Nothing,
    /// `Basic base64(user:password)`.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// `Bearer <token>`.
    Bearer(String),
    /// A header that is neither (another scheme, bad base64, no `:`).
    Malformed,
}

impl fmt::Debug for Presented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Presented::Nothing => f.write_str("Nothing"),
            Presented::Basic { user, .. } => write!(f, "Basic({user:?}, <redacted>)"),
            Presented::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Presented::Malformed => f.write_str("Malformed"),
        }
    }
}

/// Reads an `Authorization` header (schemes are case-insensitive, RFC 9110).
pub fn presented(header: Option<&HeaderValue>) -> Presented {
    let Some(header) = header else {
        return Presented::Nothing;
    };
    let Ok(text) = header.to_str() else {
        return Presented::Malformed;
    };
    let Some((scheme, rest)) = text.trim().split_once(' ') else {
        return Presented::Malformed;
    };
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        basic(rest)
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Presented::Bearer(rest.to_owned())
    } else {
        Presented::Malformed
    }
}

fn basic(encoded: &str) -> Presented {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    match decoded.as_deref().and_then(|pair| pair.split_once(':')) {
        Some((user, password)) => Presented::Basic {
            user: user.to_owned(),
            password: password.to_owned(),
        },
        None => Presented::Malformed,
    }
}

/// The configured users and passwords.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Users(BTreeMap<String, String>);

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Users {
    /// The users of `basic_auth_credentials`.
    pub fn new(users: BTreeMap<String, String>) -> Self {
        Self(users)
    }

    /// Whether `user` exists with `password`.
    pub fn check(&self, user: &str, password: &str) -> bool {
        let mut ok = subtle::Choice::from(0);
        for (name, secret) in &self.0 {
            ok |= name.as_bytes().ct_eq(user.as_bytes()) & secret.as_bytes().ct_eq(password.as_bytes());
        }
        ok.into()
    }

    /// The password of `user` (the key its tokens are signed with).
    pub fn password(&self, user: &str) -> Option<&str> {
        self.0.get(user).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).unwrap()
    }

    fn basic_of(pair: &str) -> HeaderValue {
        header(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        ))
    }

    #[test]
    fn reads_basic_and_bearer() {
        assert_eq!(presented(None), Presented::Nothing);
        assert_eq!(
            presented(Some(&basic_of("alice:pa:ss"))),
            Presented::Basic {
                user: "alice".into(),
                password: "pa:ss".into()
            }
        );
        assert_eq!(
            presented(Some(&header("bearer abc.def"))),
            Presented::Bearer("abc.def".into())
        );
        for bad in ["Basic", "Basic !!!", "Digest x", "Bearer ", "Basic YWxpY2U="] {
            assert_eq!(presented(Some(&header(bad))), Presented::Malformed, "{bad}");
        }
    }

    #[test]
    fn checks_users_and_hides_passwords() {
        let users = Users::new([("alice".to_owned(), "pw".to_owned())].into());
        assert!(users.check("alice", "pw"));
        assert!(!users.check("alice", "pW"));
        assert!(!users.check("bob", "pw"));
        assert!(!format!("{users:?}").contains("pw"));
        let sent = presented(Some(&basic_of("alice:pw")));
        assert!(!format!("{sent:?}").contains("pw"));
    }
}
