//! The configuration reference, docs/config.md, generated from the code: one table per section
//! of `service.json`, a row per key with its type, default, environment variable and meaning.
//!
//! Where each part comes from, so that none is typed twice:
//! - keys, types and meanings of the serde-read sections: their types' JSON schemas
//!   (`schemars`, which reads the fields' doc comments); `api.ipfsproxy`: the gateway's key
//!   table (`cairn_gateway::config::KEYS`);
//! - defaults: what `cairn init` writes (`template`), or a field's `x-default` note where
//!   init computes the value (the peer name, the secret);
//! - variables: the section table the parser reads (`super::sections`, `env::variable`) and
//!   the gateway's `env_name`;
//! - the prose around the tables: `template.md` here, whose `{{table <section>}}` lines the
//!   tables replace.
//!
//! Regenerate with [`REGENERATE`]; the tests fail while docs/config.md differs, while a key
//! has no doc comment, or while the reference and the parsers disagree about a key.

use std::borrow::Cow;

use cairn_gateway::config::{KEYS, ProxyConfig, env_name};
use serde_json::Value;

use super::{lookup, sections, template};

#[cfg(test)]
mod tests;

/// The prose of docs/config.md around the tables.
const TEMPLATE: &str = include_str!("template.md");

/// The command that rewrites docs/config.md from the code.
pub const REGENERATE: &str = "UPDATE_CONFIG_DOCS=1 cargo test -p cairn-peer --lib config::reference";

/// The gateway's section, whose keys are its own table rather than a serde type.
const PROXY: &str = "api.ipfsproxy";

/// In a schema, a `String` key holding a multiaddr (`#[schemars(with = "Multiaddr")]`).
pub(crate) struct Multiaddr;

impl schemars::JsonSchema for Multiaddr {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Multiaddr".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "multiaddr" })
    }
}

/// A key's default as the reference shows it.
#[derive(Clone, Debug, PartialEq)]
pub enum DefaultValue {
    /// The value `cairn init` writes (and an absent key takes).
    Json(Value),
    /// What the field's `x-default` note says instead, where init computes the value.
    Note(String),
}

/// One key of the reference.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The full path, `api.restapi.http_listen_multiaddress`.
    pub key: String,
    /// `string`, `integer`, `boolean`, `Go duration`, `multiaddr`, `list of …`, `map …`.
    pub ty: String,
    /// Its default.
    pub default: DefaultValue,
    /// The environment variable that overrides it.
    pub env: String,
    /// How the variable writes a value, when not as plain text (`comma-separated`, …).
    pub env_form: Option<&'static str>,
    /// What it means (Markdown, one line).
    pub meaning: String,
}

/// One section's rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The section's path, `consensus.raft`.
    pub section: String,
    /// Its keys, in the type's order.
    pub rows: Vec<Row>,
}

/// Why the reference cannot be generated: the code lacks something the reference needs.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// A key without a doc comment (or an empty meaning in the gateway's table).
    #[error("{key}: no meaning; give the field a doc comment saying what the key does")]
    NoMeaning {
        /// The key.
        key: String,
    },
    /// A key whose schema the reference cannot name.
    #[error("{key}: no type name for the schema {schema}; teach `reference::type_name` it")]
    UnknownType {
        /// The key.
        key: String,
        /// Its schema.
        schema: String,
    },
    /// A section whose schema lists no keys.
    #[error("{section}: the section's schema has no properties")]
    NoProperties {
        /// The section.
        section: String,
    },
    /// A key of the type that `cairn init` does not write, so no variable reads it.
    #[error("{key}: in the section's type but not written by `cairn init`")]
    NotWritten {
        /// The key.
        key: String,
    },
    /// A key `cairn init` writes that the section's type does not have.
    #[error("{key}: written by `cairn init` but not in the section's type")]
    NotInType {
        /// The key.
        key: String,
    },
    /// template.md places a table of no known section.
    #[error("template.md: `{{{{table {section}}}}}` names no section")]
    UnknownSection {
        /// What it names.
        section: String,
    },
    /// template.md does not place a section's table exactly once.
    #[error("template.md: the table of {section} is placed {count} times, not once")]
    Placement {
        /// The section.
        section: String,
        /// How often it is placed.
        count: usize,
    },
}

/// Every section's table: the serde-read ones in `config::sections` order, then `api.ipfsproxy`.
pub fn tables() -> Result<Vec<Table>, ReferenceError> {
    let written = template(String::new(), String::new());
    let mut tables = Vec::new();
    for section in sections() {
        let name = section.path.join(".");
        let schema = (section.schema)();
        let Some(Value::Object(properties)) = schema.get("properties") else {
            return Err(ReferenceError::NoProperties { section: name });
        };
        let defaults = lookup(&written, section.path).and_then(Value::as_object);
        if let Some(extra) = defaults
            .into_iter()
            .flat_map(|d| d.keys())
            .find(|k| !properties.contains_key(*k))
        {
            return Err(ReferenceError::NotInType {
                key: format!("{name}.{extra}"),
            });
        }
        let mut rows = Vec::new();
        for (key, property) in properties {
            let full = format!("{name}.{key}");
            let Some(default) = defaults.and_then(|d| d.get(key)) else {
                return Err(ReferenceError::NotWritten { key: full });
            };
            rows.push(Row {
                ty: type_name(property).ok_or_else(|| ReferenceError::UnknownType {
                    key: full.clone(),
                    schema: property.to_string(),
                })?,
                default: match property.get("x-default").and_then(Value::as_str) {
                    Some(note) => DefaultValue::Note(note.to_owned()),
                    None => DefaultValue::Json(default.clone()),
                },
                env: super::env::variable(section, key),
                env_form: super::env::form(default),
                meaning: meaning(&full, property.get("description").and_then(Value::as_str))?,
                key: full,
            });
        }
        tables.push(Table { section: name, rows });
    }
    tables.push(proxy_table()?);
    Ok(tables)
}

/// `api.ipfsproxy` from the gateway's key table.
fn proxy_table() -> Result<Table, ReferenceError> {
    let defaults = ProxyConfig::default().to_json();
    let rows = KEYS
        .iter()
        .map(|key| {
            let full = format!("{PROXY}.{}", key.name);
            Ok(Row {
                ty: key.kind.name().to_owned(),
                default: DefaultValue::Json(defaults.get(key.name).cloned().unwrap_or(Value::Null)),
                env: env_name(key.name),
                env_form: key.kind.env_form(),
                meaning: meaning(&full, Some(key.meaning))?,
                key: full,
            })
        })
        .collect::<Result<_, ReferenceError>>()?;
    Ok(Table {
        section: PROXY.to_owned(),
        rows,
    })
}

/// A doc comment as one table cell's text.
fn meaning(key: &str, text: Option<&str>) -> Result<String, ReferenceError> {
    let text = text
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match text.is_empty() {
        true => Err(ReferenceError::NoMeaning { key: key.to_owned() }),
        false => Ok(text),
    }
}

/// The type column for a key's schema; `None` for a schema it does not know.
fn type_name(schema: &Value) -> Option<String> {
    match schema.get("format").and_then(Value::as_str) {
        Some("go-duration") => return Some("Go duration".into()),
        Some("multiaddr") => return Some("multiaddr".into()),
        _ => {}
    }
    let types: Vec<&str> = match schema.get("type")? {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => return None,
    };
    let nullable = types.contains(&"null");
    let name = match *types.iter().find(|t| **t != "null")? {
        "string" => "string".to_owned(),
        "integer" => "integer".to_owned(),
        "boolean" => "boolean".to_owned(),
        "array" => format!("list of {}s", type_name(schema.get("items")?)?),
        "object" => format!(
            "map (string → {})",
            type_name(schema.get("additionalProperties")?)?
        ),
        _ => return None,
    };
    Some(match nullable {
        true => format!("{name} or null"),
        false => name,
    })
}

/// docs/config.md: `template.md` with each `{{table <section>}}` line replaced by its table.
pub fn markdown() -> Result<String, ReferenceError> {
    let tables = tables()?;
    for table in &tables {
        let line = format!("{{{{table {}}}}}", table.section);
        let count = TEMPLATE.lines().filter(|l| l.trim() == line).count();
        if count != 1 {
            return Err(ReferenceError::Placement {
                section: table.section.clone(),
                count,
            });
        }
    }
    let mut out = String::new();
    for line in TEMPLATE.lines() {
        match placeholder(line) {
            Some(section) => {
                let table = tables.iter().find(|t| t.section == section).ok_or_else(|| {
                    ReferenceError::UnknownSection {
                        section: section.to_owned(),
                    }
                })?;
                render(table, &mut out);
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// The section a `{{table <section>}}` line names.
fn placeholder(line: &str) -> Option<&str> {
    line.trim()
        .strip_prefix("{{table ")?
        .strip_suffix("}}")
        .map(str::trim)
}

/// One table in Markdown.
fn render(table: &Table, out: &mut String) {
    out.push_str("| key | type | default | environment variable | meaning |\n");
    out.push_str("|---|---|---|---|---|\n");
    for row in &table.rows {
        let default = match &row.default {
            DefaultValue::Json(value) => format!("`{value}`"),
            DefaultValue::Note(note) => note.clone(),
        };
        let env = match row.env_form {
            Some(form) => format!("`{}` ({form})", row.env),
            None => format!("`{}`", row.env),
        };
        let cells = [
            format!("`{}`", row.key),
            row.ty.clone(),
            default,
            env,
            row.meaning.clone(),
        ];
        out.push('|');
        for cell in cells {
            out.push(' ');
            out.push_str(&cell.replace('|', "\\|"));
            out.push_str(" |");
        }
        out.push('\n');
    }
}
