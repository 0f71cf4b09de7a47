//! docs/config.md is the generated reference, and the reference and the parsers agree on every
//! key: the keys `cairn init` writes, the keys the loader accepts, the variables it reads.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;
use crate::config::{ConfigError, ServiceConfig};

fn doc_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/config.md")
}

fn rows() -> Vec<Row> {
    tables()
        .unwrap_or_else(|e| panic!("the reference cannot be generated: {e}"))
        .into_iter()
        .flat_map(|t| t.rows)
        .collect()
}

fn split(key: &str) -> (Vec<&str>, &str) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap();
    (parts, last)
}

/// The value a row's key takes in a fresh `cairn init` (which fills in the noted ones).
fn init_value(row: &Row, generated: &Value) -> Value {
    match &row.default {
        DefaultValue::Json(value) => value.clone(),
        DefaultValue::Note(_) => {
            let (section, key) = split(&row.key);
            lookup(generated, &section).unwrap()[key].clone()
        }
    }
}

/// `service.json` holding `json`, loaded with the environment `env`.
fn load(json: &Value, env: impl Fn(&str) -> Option<String>) -> Result<ServiceConfig, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("service.json"), json.to_string()).unwrap();
    ServiceConfig::load(dir.path(), env)
}

fn with_secret(mut json: Value) -> Value {
    json["cluster"]["secret"] = json!("ab".repeat(32));
    json
}

/// docs/config.md is what the code generates; `UPDATE_CONFIG_DOCS=1` rewrites it.
#[test]
fn docs_config_md_is_generated_from_the_config_types() {
    let generated = markdown().unwrap_or_else(|e| panic!("the reference cannot be generated: {e}"));
    let path = doc_path();
    if std::env::var_os("UPDATE_CONFIG_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != generated {
        let (line, (have, want)) = current
            .lines()
            .chain(std::iter::repeat(""))
            .zip(generated.lines().chain(std::iter::repeat("")))
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .unwrap_or((0, ("", "")));
        panic!(
            "docs/config.md is out of date with the config types (first difference at line {}):\n  \
             file:      {have}\n  generated: {want}\nRegenerate it with `{REGENERATE}` and commit it.",
            line + 1
        );
    }
}

/// A key without a doc comment, or of a type the reference cannot name, fails here.
#[test]
fn every_key_has_a_type_a_default_a_variable_and_a_meaning() {
    let rows = rows();
    let keys: BTreeSet<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.len(), rows.len(), "no key twice");
    for row in &rows {
        assert!(!row.ty.is_empty() && !row.meaning.is_empty(), "{row:?}");
        assert!(row.env.starts_with("CLUSTER_"), "{row:?}");
    }
}

/// Every key `cairn init` writes is in the reference, and nothing else is.
#[test]
fn the_reference_lists_exactly_the_keys_init_writes() {
    let generated = ServiceConfig::generated(Some("a".into())).unwrap();
    let tables = tables().unwrap();
    let sections: BTreeSet<&str> = tables.iter().map(|t| t.section.as_str()).collect();
    let mut written = BTreeSet::new();
    let Value::Object(top) = &generated else {
        panic!("not an object")
    };
    for (name, value) in top {
        let Value::Object(inner) = value else {
            panic!("{name}: not an object")
        };
        if sections.contains(name.as_str()) {
            written.extend(inner.keys().map(|k| format!("{name}.{k}")));
            continue;
        }
        for (sub, keys) in inner {
            let section = format!("{name}.{sub}");
            assert!(
                sections.contains(section.as_str()),
                "{section}: no table in the reference"
            );
            let Value::Object(keys) = keys else {
                panic!("{section}: not an object")
            };
            written.extend(keys.keys().map(|k| format!("{section}.{k}")));
        }
    }
    let documented: BTreeSet<String> = rows().into_iter().map(|r| r.key).collect();
    assert_eq!(written, documented);
}

/// Each key of the reference, alone in its section with its default, is accepted; a key that
/// is not in it is refused, so acceptance means something.
#[test]
fn every_key_in_the_reference_is_accepted_and_no_other() {
    let generated = ServiceConfig::generated(Some("a".into())).unwrap();
    for row in rows() {
        let (section, key) = split(&row.key);
        let mut json = json!({});
        let mut target = &mut json;
        for part in &section {
            target = &mut target[*part];
        }
        target[key] = init_value(&row, &generated);
        if let Err(e) = load(&with_secret(json), |_| None) {
            panic!("{}: the loader refuses the reference's key: {e}", row.key);
        }
    }
    for table in tables().unwrap() {
        let mut json = json!({});
        let mut target = &mut json;
        for part in table.section.split('.') {
            target = &mut target[part];
        }
        target["no_such_key"] = json!(1);
        let err = load(&with_secret(json), |_| None).unwrap_err().0;
        assert!(err.contains(&table.section), "{}: {err}", table.section);
    }
}

/// The loader asks for exactly the reference's variables, and each, written in the row's form,
/// is read.
#[test]
fn the_variables_in_the_reference_are_the_ones_the_loader_reads() {
    let generated = ServiceConfig::generated(Some("a".into())).unwrap();
    let asked = RefCell::new(BTreeSet::new());
    load(&generated, |name| {
        asked.borrow_mut().insert(name.to_owned());
        None
    })
    .unwrap();
    let rows = rows();
    let documented: BTreeSet<String> = rows.iter().map(|r| r.env.clone()).collect();
    assert_eq!(asked.into_inner(), documented);

    for row in &rows {
        let text = match init_value(row, &generated) {
            Value::Null => "user:password".to_owned(),
            Value::String(s) => s,
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        let set = |name: &str| (name == row.env).then(|| text.clone());
        if let Err(e) = load(&with_secret(json!({})), set) {
            panic!("{}={text}: refused: {e}", row.env);
        }
    }
}
