//! `CLUSTER_<SECTION>_<KEY>` environment overrides of the serde-read sections, ipfs-cluster's
//! envconfig scheme: the prefix comes from the section's row of [`super::sections`], KEY is
//! the JSON key upper-cased without underscores. The reference (docs/config.md) names each
//! variable and its form through [`variable`] and [`form`], so it says what this reads.
//!
//! # Invariants
//! - Values are set into the JSON before it is typed, so an environment value is checked, and
//!   its error named, exactly like the same value in `service.json`.
//! - Only keys `cairn init` writes (the template) are looked up; a variable setting a key of
//!   an absent section creates that section (`api.pinsvcapi` is then served).

use serde_json::{Value, json};

use super::{Section, lookup, sections, template};

/// Sets `CLUSTER_<SECTION>_<KEY>` values into the JSON before it is typed.
pub(super) fn apply(json: &mut Value, env: &impl Fn(&str) -> Option<String>) {
    let defaults = template(String::new(), String::new());
    for section in sections() {
        let Some(Value::Object(keys)) = lookup(&defaults, section.path) else {
            continue;
        };
        for (key, default) in keys {
            let Some(text) = env(&variable(section, key)) else {
                continue;
            };
            if let Some(map) = section_mut(json, section.path) {
                map.insert(key.clone(), typed_like(default, &text));
            }
        }
    }
}

/// The variable that overrides `key` of `section`.
pub(super) fn variable(section: &Section, key: &str) -> String {
    format!("{}{}", section.env_prefix, key.replace('_', "").to_uppercase())
}

/// How a variable writes a value whose default is `default`, when not as plain text
/// (what [`typed_like`] reads).
pub(super) fn form(default: &Value) -> Option<&'static str> {
    match default {
        Value::Array(_) => Some("comma-separated"),
        Value::Null => Some("`user:pass,…`"),
        Value::Object(_) => Some("the JSON object"),
        _ => None,
    }
}

/// The object at `path`, created when missing.
fn section_mut<'a>(json: &'a mut Value, path: &[&str]) -> Option<&'a mut serde_json::Map<String, Value>> {
    let mut target = json;
    for part in path {
        target = target
            .as_object_mut()?
            .entry(part.to_string())
            .or_insert_with(|| json!({}));
    }
    target.as_object_mut()
}

/// Reads environment text as the type the default has (numbers, booleans, comma lists, JSON
/// objects).
fn typed_like(default: &Value, text: &str) -> Value {
    let as_json = || serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
    match default {
        // Empty entries are dropped, as the gateway's reader drops them: `""` is `[]`.
        Value::Array(_) => Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ),
        // `user:pass,user2:pass2` for a map that defaults to null (basic_auth_credentials).
        Value::Null => Value::Object(
            text.split(',')
                .filter_map(|pair| pair.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), Value::String(v.to_owned())))
                .collect(),
        ),
        Value::Number(_) | Value::Bool(_) | Value::Object(_) => as_json(),
        Value::String(_) => Value::String(text.to_owned()),
    }
}
