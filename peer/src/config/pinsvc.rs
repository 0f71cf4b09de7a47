//! The `api.pinsvcapi` section: the IPFS Pinning Service API's listener, with the REST API's
//! keys (`basic_auth_credentials`, `token_lifetime`, TLS, CORS, `max_body_bytes`), as
//! ipfs-cluster's `pinsvcapi` shares its common API configuration with `restapi`.
//!
//! # Invariants
//! - The API is served only when the section is present (ipfs-cluster starts the APIs whose
//!   sections it loaded); `cairn init` writes it, so new peers serve it on
//!   [`DEFAULT_LISTEN`]. An absent or `null` section is off, so configurations written before
//!   it existed keep their listeners.
//! - A present section without `http_listen_multiaddress` listens on [`DEFAULT_LISTEN`], not
//!   on the REST API's default.
//! - Errors name `api.pinsvcapi.<key>`.

use serde_json::Value;

use super::{ConfigError, RestConfig, lookup, section};

/// The section's JSON path.
pub(super) const PATH: [&str; 2] = ["api", "pinsvcapi"];

/// ipfs-cluster's default listener of the pinning service API.
pub(super) const DEFAULT_LISTEN: &str = "/ip4/127.0.0.1/tcp/9097";

/// The section's type: the REST API's keys, its own defaults ([`defaults`]).
pub type PinSvcConfig = RestConfig;

/// The section as `cairn init` writes it.
pub(super) fn defaults() -> PinSvcConfig {
    RestConfig {
        http_listen_multiaddress: DEFAULT_LISTEN.into(),
        ..RestConfig::default()
    }
}

/// Reads the section: `None` when it is absent or `null`.
pub(super) fn from_json(json: &Value) -> Result<Option<PinSvcConfig>, ConfigError> {
    let Some(Value::Object(keys)) = lookup(json, &PATH) else {
        return match lookup(json, &PATH) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(ConfigError("api.pinsvcapi: must be an object or null".into())),
        };
    };
    let mut keys = keys.clone();
    keys.entry("http_listen_multiaddress")
        .or_insert_with(|| Value::String(DEFAULT_LISTEN.into()));
    let wrapped = serde_json::json!({ "api": { "pinsvcapi": keys } });
    section(&wrapped, &PATH).map(Some)
}

/// Checks the section as [`RestConfig::validate`] checks `api.restapi`, naming this section.
pub(super) fn validate(config: &PinSvcConfig) -> Result<(), ConfigError> {
    let rename = |message: String| match message.strip_prefix("api.restapi.") {
        Some(rest) => format!("api.pinsvcapi.{rest}"),
        None => message,
    };
    if let Err(e) = cairn_gateway::config::listen_addr(&config.http_listen_multiaddress) {
        return Err(ConfigError(format!(
            "api.pinsvcapi.http_listen_multiaddress: {e}"
        )));
    }
    config.validate().map_err(|e| ConfigError(rename(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServiceConfig;
    use serde_json::json;

    fn load(service: Value) -> Result<ServiceConfig, ConfigError> {
        load_env(service, &[])
    }

    use crate::config::testing::load as load_env;

    #[test]
    fn init_writes_the_section_on_9097_and_it_loads() {
        let generated = ServiceConfig::generated(Some("a".into())).unwrap();
        assert_eq!(
            generated["api"]["pinsvcapi"]["http_listen_multiaddress"],
            DEFAULT_LISTEN
        );
        assert_eq!(
            generated["api"]["pinsvcapi"]["basic_auth_credentials"],
            Value::Null
        );
        let config = load(json!({ "api": generated["api"].clone() })).unwrap();
        assert_eq!(config.pinsvcapi, Some(defaults()));
    }

    #[test]
    fn an_absent_or_null_section_is_off() {
        assert_eq!(load(json!({})).unwrap().pinsvcapi, None);
        assert_eq!(
            load(json!({ "api": { "pinsvcapi": null } })).unwrap().pinsvcapi,
            None
        );
    }

    #[test]
    fn a_section_without_a_listener_listens_on_9097_with_the_rest_keys() {
        let config = load(json!({ "api": { "pinsvcapi": {
            "basic_auth_credentials": { "alice": "pw" }
        } } }))
        .unwrap();
        let section = config.pinsvcapi.unwrap();
        assert_eq!(section.http_listen_multiaddress, DEFAULT_LISTEN);
        assert_eq!(section.basic_auth_credentials.unwrap()["alice"], "pw");
        assert_eq!(
            config.restapi.basic_auth_credentials, None,
            "sections are separate"
        );
    }

    #[test]
    fn errors_name_the_pinsvcapi_keys() {
        for (section, key) in [
            (json!({ "nope": 1 }), "api.pinsvcapi"),
            (
                json!({ "http_listen_multiaddress": "/dns4/x/tcp/1" }),
                "api.pinsvcapi.http_listen_multiaddress",
            ),
            (
                json!({ "basic_auth_credentials": {} }),
                "api.pinsvcapi.basic_auth_credentials",
            ),
            (json!({ "ssl_cert_file": "a.pem" }), "api.pinsvcapi.ssl_cert_file"),
            (json!({ "token_lifetime": "0s" }), "api.pinsvcapi.token_lifetime"),
            (json!(5), "api.pinsvcapi"),
        ] {
            let err = load(json!({ "api": { "pinsvcapi": section } })).unwrap_err().0;
            assert!(err.starts_with(key), "{err} should name {key}");
        }
    }

    #[test]
    fn environment_variables_use_the_pinsvcapi_prefix() {
        let config = load_env(
            json!({}),
            &[("CLUSTER_PINSVCAPI_HTTPLISTENMULTIADDRESS", "/ip4/127.0.0.1/tcp/0")],
        )
        .unwrap();
        assert_eq!(
            config.pinsvcapi.unwrap().http_listen_multiaddress,
            "/ip4/127.0.0.1/tcp/0"
        );
    }
}
