//! ipfs-cluster's REST tokens: `POST /token` with basic auth answers `{"token": …}`, an
//! HS256 JWT whose issuer (`iss`) is the user and whose key is that user's password, so
//! changing a password revokes every token it signed.
//!
//! Cairn adds what ipfs-cluster's tokens lack: `iat` and `exp` (tokens expire after
//! `api.restapi.token_lifetime`) and a `scope` (`all`, or `read` for GET and HEAD only).
//!
//! # Invariants
//! - A token is accepted only when its signature verifies with its issuer's current password,
//!   its algorithm is HS256 and it has not expired (no leeway).
//! - Errors say why a token was refused, never what it held.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::credentials::Users;

/// What a token may do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Everything its user may do.
    #[default]
    All,
    /// Reads only (GET, HEAD).
    Read,
}

impl Scope {
    /// `all` or `read` (the `scope` query of `POST /token`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "" | "all" => Some(Scope::All),
            "read" => Some(Scope::Read),
            _ => None,
        }
    }
}

/// The claims of a token.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    iat: u64,
    exp: u64,
    #[serde(default)]
    scope: Scope,
}

/// Why a token was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT this API issues (shape, algorithm, claims).
    #[error("the token is not one this API issued")]
    Malformed,
    /// Its issuer is not a configured user.
    #[error("the token's user is unknown")]
    UnknownUser,
    /// The signature does not verify with the user's password.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// It expired.
    #[error("the token expired; get a new one from POST /token")]
    Expired,
    /// It could not be signed.
    #[error("signing the token failed")]
    Signing,
}

/// A verified token's user and scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The user it was issued to.
    pub user: String,
    /// What it may do.
    pub scope: Scope,
}

fn seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A token for `user`, signed with `password`, valid for `lifetime` from `now`.
pub fn mint(
    user: &str,
    password: &str,
    scope: Scope,
    lifetime: Duration,
    now: SystemTime,
) -> Result<String, TokenError> {
    let claims = Claims {
        iss: user.to_owned(),
        iat: seconds(now),
        exp: seconds(now + lifetime),
        scope,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(password.as_bytes()),
    )
    .map_err(|_| TokenError::Signing)
}

/// Checks `token` against the users' passwords.
pub fn verify(token: &str, users: &Users) -> Result<Holder, TokenError> {
    let issuer = unverified_issuer(token)?;
    let password = users.password(&issuer).ok_or(TokenError::UnknownUser)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "iss"]);
    let data =
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(password.as_bytes()), &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature,
                _ => TokenError::Malformed,
            })?;
    Ok(Holder {
        user: data.claims.iss,
        scope: data.claims.scope,
    })
}

/// The issuer, read before the signature is checked (to pick the key).
fn unverified_issuer(token: &str) -> Result<String, TokenError> {
    let mut peek = Validation::new(Algorithm::HS256);
    peek.insecure_disable_signature_validation();
    peek.validate_exp = false;
    peek.set_required_spec_claims(&["iss"]);
    jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&[]), &peek)
        .map(|data| data.claims.iss)
        .map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Users {
        Users::new([("alice".to_owned(), "pw".to_owned())].into())
    }

    #[test]
    fn a_minted_token_verifies_until_it_expires() {
        let now = SystemTime::now();
        let token = mint("alice", "pw", Scope::Read, Duration::from_secs(60), now).unwrap();
        assert_eq!(
            verify(&token, &users()),
            Ok(Holder {
                user: "alice".into(),
                scope: Scope::Read
            })
        );
        let old = mint(
            "alice",
            "pw",
            Scope::All,
            Duration::from_secs(60),
            now - Duration::from_secs(120),
        )
        .unwrap();
        assert_eq!(verify(&old, &users()), Err(TokenError::Expired));
    }

    #[test]
    fn forged_and_foreign_tokens_are_refused() {
        let now = SystemTime::now();
        let day = Duration::from_secs(86400);
        let other_key = mint("alice", "guess", Scope::All, day, now).unwrap();
        assert_eq!(verify(&other_key, &users()), Err(TokenError::BadSignature));
        let stranger = mint("mallory", "pw", Scope::All, day, now).unwrap();
        assert_eq!(verify(&stranger, &users()), Err(TokenError::UnknownUser));
        assert_eq!(verify("not.a.jwt", &users()), Err(TokenError::Malformed));
        // alg "none" with alice as issuer.
        let none =
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJhbGljZSIsImlhdCI6MCwiZXhwIjo5OTk5OTk5OTk5fQ.";
        assert_eq!(verify(none, &users()), Err(TokenError::Malformed));
        // A changed password revokes the tokens it signed.
        let token = mint("alice", "pw", Scope::All, day, now).unwrap();
        let changed = Users::new([("alice".to_owned(), "new".to_owned())].into());
        assert_eq!(verify(&token, &changed), Err(TokenError::BadSignature));
    }
}
