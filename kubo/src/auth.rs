//! kubo's `API.Authorizations` (kubo 0.25+): named secrets, each allowed a list of path
//! prefixes on the RPC API.
//!
//! The JSON shape is kubo's: `{"<name>": {"AuthSecret": "…", "AllowedPaths": ["/api/v0/…"]}}`.
//! An `AuthSecret` is `basic:<user>:<password>`, `bearer:<token>`, or a bare token (read as
//! `bearer:`); it stands for the exact `Authorization` header a client must send
//! (`Basic base64(user:password)` or `Bearer <token>`).
//!
//! # Invariants
//! - When any authorization is configured, every request needs one: a request whose
//!   `Authorization` matches none, or whose path starts with none of the matching secret's
//!   `AllowedPaths`, is denied; `/api/v0/version` is allowed to every valid secret (kubo's
//!   rule, so clients can probe).
//! - Headers are compared in constant time against every configured secret, and neither the
//!   secrets nor the header a client sent ever appear in an error or a `Debug` output.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use subtle::ConstantTimeEq;

/// kubo's body for a denied request (403, plain text, from `http.Error`).
pub const DENIED: &str = "Kubo RPC Access Denied: Please provide a valid authorization token as defined in the API.Authorizations configuration.";

/// The path kubo allows to any valid secret.
pub const ALWAYS_ALLOWED: &str = "/api/v0/version";

/// A kubo-style secret, held as the `Authorization` header value it stands for.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthSecret {
    text: String,
    header: String,
}

/// Why a secret or an authorizations object cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// `basic:` without a `user:password` pair.
    #[error("a basic secret must read basic:<user>:<password>")]
    BasicWithoutPassword,
    /// An empty secret or token.
    #[error("the secret is empty")]
    Empty,
    /// A secret that cannot be sent as a header (control characters).
    #[error("the secret holds characters an HTTP header cannot carry")]
    NotAHeader,
    /// The authorizations object is not kubo's shape.
    #[error("{0}")]
    Shape(String),
}

impl AuthSecret {
    /// Reads `basic:<user>:<password>`, `bearer:<token>` or a bare token.
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        let header = if let Some(pair) = text.strip_prefix("basic:") {
            if !pair.contains(':') {
                return Err(AuthError::BasicWithoutPassword);
            }
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
        } else {
            let token = text.strip_prefix("bearer:").unwrap_or(text);
            if token.is_empty() {
                return Err(AuthError::Empty);
            }
            format!("Bearer {token}")
        };
        if http::HeaderValue::from_str(&header).is_err() {
            return Err(AuthError::NotAHeader);
        }
        Ok(Self {
            text: text.to_owned(),
            header,
        })
    }

    /// The secret as it was written (`basic:…`, `bearer:…` or bare), for writing configs back.
    pub fn as_written(&self) -> &str {
        &self.text
    }

    /// The `Authorization` header value to send.
    pub fn header_value(&self) -> http::HeaderValue {
        let mut value =
            http::HeaderValue::from_str(&self.header).unwrap_or_else(|_| http::HeaderValue::from_static(""));
        value.set_sensitive(true);
        value
    }

    /// Whether `sent` (a request's `Authorization`) is this secret, in constant time.
    pub fn matches(&self, sent: &[u8]) -> bool {
        self.header.as_bytes().ct_eq(sent).into()
    }
}

impl fmt::Debug for AuthSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthSecret(<redacted>)")
    }
}

/// One named authorization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// Its name (the key in the JSON object).
    pub name: String,
    /// The secret a client presents.
    pub secret: AuthSecret,
    /// Path prefixes it may call.
    pub allowed_paths: Vec<String>,
}

/// kubo's JSON shape of one entry.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(rename = "AuthSecret")]
    auth_secret: String,
    #[serde(rename = "AllowedPaths", default)]
    allowed_paths: Vec<String>,
}

/// Every configured authorization; empty = the API is open (kubo's default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Authorizations {
    entries: Vec<Authorization>,
}

/// What the check decided about a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// No authorization is configured.
    Open,
    /// Allowed by the named authorization.
    Allowed(String),
    /// Denied: answer 403 with [`DENIED`].
    Denied,
}

impl Authorizations {
    /// Reads kubo's JSON object (`null` or `{}` = none).
    pub fn from_json(value: &serde_json::Value) -> Result<Self, AuthError> {
        if value.is_null() {
            return Ok(Self::default());
        }
        let map: BTreeMap<String, Entry> =
            serde_json::from_value(value.clone()).map_err(|e| AuthError::Shape(e.to_string()))?;
        let mut entries = Vec::with_capacity(map.len());
        for (name, entry) in map {
            let secret = AuthSecret::parse(&entry.auth_secret)
                .map_err(|e| AuthError::Shape(format!("{name}.AuthSecret: {e}")))?;
            entries.push(Authorization {
                name,
                secret,
                allowed_paths: entry.allowed_paths,
            });
        }
        Ok(Self { entries })
    }

    /// The configured authorizations.
    pub fn entries(&self) -> &[Authorization] {
        &self.entries
    }

    /// Whether none is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// kubo's decision for a request to `path` carrying `sent` as its `Authorization`.
    pub fn check(&self, sent: Option<&[u8]>, path: &str) -> Access {
        if self.entries.is_empty() {
            return Access::Open;
        }
        let Some(sent) = sent else { return Access::Denied };
        // Every secret is compared, so the time taken does not tell which one matched.
        let mut found = None;
        for entry in &self.entries {
            if entry.secret.matches(sent) && found.is_none() {
                found = Some(entry);
            }
        }
        match found {
            Some(entry) if path == ALWAYS_ALLOWED || allowed(&entry.allowed_paths, path) => {
                Access::Allowed(entry.name.clone())
            }
            _ => Access::Denied,
        }
    }

    /// The object as kubo writes it (secrets included: this is a config file's content).
    pub fn to_json(&self) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> = self
            .entries
            .iter()
            .map(|e| {
                let entry = serde_json::json!({
                    "AuthSecret": e.secret.as_written(),
                    "AllowedPaths": e.allowed_paths,
                });
                (e.name.clone(), entry)
            })
            .collect();
        serde_json::Value::Object(map)
    }
}

/// kubo's prefix test (`strings.HasPrefix(r.URL.Path, prefix)`).
fn allowed(prefixes: &[String], path: &str) -> bool {
    prefixes.iter().any(|prefix| path.starts_with(prefix.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Authorizations {
        Authorizations::from_json(&json!({
            "app": {"AuthSecret": "bearer:s3cret", "AllowedPaths": ["/api/v0/pin", "/api/v0/add"]},
            "ops": {"AuthSecret": "basic:alice:pw:with:colons", "AllowedPaths": ["/api/v0"]},
            "bare": {"AuthSecret": "tok", "AllowedPaths": []}
        }))
        .expect("valid")
    }

    #[test]
    fn secrets_stand_for_kubos_headers() {
        assert_eq!(AuthSecret::parse("bearer:abc").unwrap().header, "Bearer abc");
        assert_eq!(AuthSecret::parse("abc").unwrap().header, "Bearer abc");
        assert_eq!(
            AuthSecret::parse("basic:alice:pw").unwrap().header,
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("alice:pw")
            )
        );
        assert_eq!(
            AuthSecret::parse("basic:alice"),
            Err(AuthError::BasicWithoutPassword)
        );
        assert_eq!(AuthSecret::parse("bearer:"), Err(AuthError::Empty));
        assert_eq!(AuthSecret::parse("bad\nline"), Err(AuthError::NotAHeader));
        assert!(!format!("{:?}", AuthSecret::parse("bearer:abc").unwrap()).contains("abc"));
    }

    #[test]
    fn kubos_rules_decide() {
        let all = config();
        assert_eq!(
            Authorizations::default().check(None, "/api/v0/pin/add"),
            Access::Open
        );
        assert_eq!(all.check(None, "/api/v0/version"), Access::Denied);
        assert_eq!(
            all.check(Some(b"Bearer wrong"), "/api/v0/pin/add"),
            Access::Denied
        );
        assert_eq!(
            all.check(Some(b"Bearer s3cret"), "/api/v0/pin/add"),
            Access::Allowed("app".into())
        );
        assert_eq!(all.check(Some(b"Bearer s3cret"), "/api/v0/cat"), Access::Denied);
        assert_eq!(
            all.check(Some(b"Bearer s3cret"), "/api/v0/version"),
            Access::Allowed("app".into())
        );
        assert_eq!(all.check(Some(b"Bearer tok"), "/api/v0/id"), Access::Denied);
        let basic = AuthSecret::parse("basic:alice:pw:with:colons").unwrap().header;
        assert_eq!(
            all.check(Some(basic.as_bytes()), "/api/v0/cat"),
            Access::Allowed("ops".into())
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { failure_persistence: None, ..Default::default() })]

        /// Any secret text parses or is refused; a parsed one matches only its own header.
        #[test]
        fn fuzz_auth_secret(text in "(basic:|bearer:)?[ -~]{0,24}", sent in "[ -~]{0,40}") {
            if let Ok(secret) = AuthSecret::parse(&text) {
                let header = secret.header_value();
                proptest::prop_assert!(secret.matches(header.as_bytes()));
                proptest::prop_assert_eq!(secret.matches(sent.as_bytes()), sent.as_bytes() == header.as_bytes());
            }
        }
    }

    #[test]
    fn shapes_other_than_kubos_are_refused() {
        assert!(Authorizations::from_json(&json!(null)).unwrap().is_empty());
        assert!(Authorizations::from_json(&json!({})).unwrap().is_empty());
        assert!(Authorizations::from_json(&json!([])).is_err());
        assert!(Authorizations::from_json(&json!({"a": {"AllowedPaths": []}})).is_err());
        assert!(Authorizations::from_json(&json!({"a": {"AuthSecret": "x", "Paths": []}})).is_err());
        let again = Authorizations::from_json(&config().to_json()).unwrap();
        assert_eq!(again, config());
        let err = Authorizations::from_json(&json!({"a": {"AuthSecret": "basic:nopass"}})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a.AuthSecret: a basic secret must read basic:<user>:<password>"
        );
    }
}
