//! Every key of `api.ipfsproxy`: its name, its type, what it means and its reader. The one
//! table the JSON reader, the environment reader (`CLUSTER_IPFSPROXY_<KEY>`) and the
//! generated reference (docs/config.md, written by `cairn_peer::config::reference`) all walk,
//! so a key cannot be read without being documented, nor documented without being read.
//!
//! # Invariants
//! - JSON values and environment strings go through the same reader ([`Raw`]), so every error
//!   names its key and both sources accept the same values.
//! - Keys are in ipfs-cluster's order, Cairn's after them.

use std::path::PathBuf;
use std::time::Duration;

use cairn_kubo::auth::{AuthSecret, Authorizations};
use serde_json::Value;

use super::{MIN_MAX_HEADER_BYTES, ProxyConfig, listen_addr};
use crate::duration;
use crate::upstream::Target;

/// A value as it arrives: from JSON, or as an environment string.
#[derive(Clone, Copy, Debug)]
pub enum Raw<'a> {
    /// A JSON value from `service.json`.
    Json(&'a Value),
    /// An environment variable's text.
    Env(&'a str),
}

/// Reads one key's value into the configuration; the error says what is wrong with it.
pub type Setter = fn(&mut ProxyConfig, Raw<'_>) -> Result<(), String>;

/// What a key holds, as the reference names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Text.
    String,
    /// A file path; empty = none.
    Path,
    /// A non-negative whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A Go duration (`"5s"`, `"1m0s"`).
    Duration,
    /// One multiaddr.
    Multiaddr,
    /// A multiaddr or a list of them.
    Multiaddrs,
    /// A list of strings.
    Strings,
    /// kubo's `API.Authorizations` object.
    Authorizations,
}

impl Kind {
    /// The type column of the reference.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Path => "string (file path)",
            Self::Integer => "integer",
            Self::Boolean => "boolean",
            Self::Duration => "Go duration",
            Self::Multiaddr => "multiaddr",
            Self::Multiaddrs => "multiaddr or list of multiaddrs",
            Self::Strings => "list of strings",
            Self::Authorizations => "map (name → authorization)",
        }
    }

    /// How an environment variable writes a value of this kind, when not as plain text.
    pub fn env_form(self) -> Option<&'static str> {
        match self {
            Self::Multiaddrs | Self::Strings => Some("comma-separated"),
            Self::Authorizations => Some("the JSON object"),
            _ => None,
        }
    }
}

/// One key of the section.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    /// The JSON key.
    pub name: &'static str,
    /// What it holds.
    pub kind: Kind,
    /// What it means, for the reference (Markdown; `*Cairn.*` marks keys ipfs-cluster lacks).
    pub meaning: &'static str,
    /// Its reader.
    pub set: Setter,
}

const fn key(name: &'static str, kind: Kind, meaning: &'static str, set: Setter) -> Key {
    Key {
        name,
        kind,
        meaning,
        set,
    }
}

/// Every key of the section, in ipfs-cluster's order, with its reader.
pub const KEYS: &[Key] = &[
    key(
        "listen_multiaddress",
        Kind::Multiaddrs,
        "Where the gateway listens: a string or an array; `/ip4`, `/ip6` with `/tcp`, or `/unix/<path>`.",
        |c, v| {
            c.listen = strings(v)?
                .iter()
                .map(|s| listen_addr(s))
                .collect::<Result<_, _>>()?;
            Ok(())
        },
    ),
    key(
        "node_multiaddress",
        Kind::Multiaddr,
        "The upstream daemon's API: `/ip4`, `/ip6`, `/dns`, `/dns4`, `/dns6` with `/tcp` (resolved when dialling), or `/unix/<path>`; read by `cairn gateway` alone (`cairn daemon` fronts `ipfs_connector.ipfshttp.node_multiaddress`).",
        |c, v| {
            let text = string(v)?;
            c.node = Target::from_multiaddr(&text).map_err(|e| e.reason)?;
            c.node_https |= crate::upstream::multiaddr_wants_tls(&text);
            Ok(())
        },
    ),
    // A multiaddr ending in `/https` turns TLS on whatever this says.
    key(
        "node_https",
        Kind::Boolean,
        "Speak TLS to the upstream (also when `node_multiaddress` ends in `/https` or `/tls/http`); the certificate is checked against the host name, trusting the OS's store and `node_ca_file`.",
        |c, v| {
            c.node_https |= boolean(v)?;
            Ok(())
        },
    ),
    key(
        "log_file",
        Kind::Path,
        "Append the gateway's access log (target `cairn::access`) to this file instead of stderr (relative to the config directory; docs/operations.md, \"Logs\").",
        |c, v| set(&mut c.log_file, path(v)),
    ),
    key(
        "read_timeout",
        Kind::Duration,
        "Limit on reading a whole request, body included; `0s` = none.",
        |c, v| set(&mut c.read_timeout, limit(v)),
    ),
    key(
        "read_header_timeout",
        Kind::Duration,
        "Limit on reading a request head (also bounds keep-alive idle time); `0s` = none.",
        |c, v| set(&mut c.read_header_timeout, limit(v)),
    ),
    key(
        "write_timeout",
        Kind::Duration,
        "Limit on writing a whole response body; `0s` = none.",
        |c, v| set(&mut c.write_timeout, limit(v)),
    ),
    key(
        "idle_timeout",
        Kind::Duration,
        "Close keep-alive connections idle this long; `0s` = never.",
        |c, v| set(&mut c.idle_timeout, limit(v)),
    ),
    key(
        "max_header_bytes",
        Kind::Integer,
        "Request head size limit (plus 4096 bytes of slack, as Go grants); `0` = default; below 4096 is refused.",
        |c, v| set(&mut c.max_header_bytes, header_bytes(v)),
    ),
    key(
        "extract_headers_extra",
        Kind::Strings,
        "Extra upstream headers copied onto intercepted replies.",
        |c, v| set(&mut c.extract_headers_extra, strings(v)),
    ),
    key(
        "extract_headers_path",
        Kind::String,
        "Upstream path those headers are read from (must not be empty).",
        |c, v| set(&mut c.extract_headers_path, string(v)),
    ),
    key(
        "extract_headers_ttl",
        Kind::Duration,
        "How long they are cached; `0s` = forever.",
        |c, v| set(&mut c.extract_headers_ttl, dur(v)),
    ),
    key(
        "max_connections",
        Kind::Integer,
        "*Cairn.* Connections served at once; accepting pauses beyond it.",
        |c, v| set(&mut c.max_connections, count(v)),
    ),
    key(
        "max_headers",
        Kind::Integer,
        "*Cairn.* Header fields per request; more answers 431.",
        |c, v| set(&mut c.max_headers, count(v)),
    ),
    key(
        "upstream_connect_timeout",
        Kind::Duration,
        "*Cairn.* Dialling the upstream; then 502.",
        |c, v| set(&mut c.upstream_connect_timeout, limit(v)),
    ),
    key(
        "upstream_header_timeout",
        Kind::Duration,
        "*Cairn.* Waiting for the upstream's response head; then 504.",
        |c, v| set(&mut c.upstream_header_timeout, limit(v)),
    ),
    key(
        "write_stall_timeout",
        Kind::Duration,
        "*Cairn.* A client that accepts no byte of a response for this long is disconnected (a stalled reader cannot hold a listing slot forever); `0s` = never. The REST API uses the default.",
        |c, v| set(&mut c.write_stall_timeout, limit(v)),
    ),
    key(
        "allowed_origins",
        Kind::Strings,
        "*Cairn.* Origins accepted on intercepted routes besides the gateway's own loopback origins (kubo's CSRF rule); `*` accepts any.",
        |c, v| set(&mut c.allowed_origins, strings(v)),
    ),
    key(
        "node_auth_secret",
        Kind::String,
        "*Cairn.* The secret presented to the upstream (kubo's `AuthSecret` form, e.g. `bearer:<token>`); in `cairn daemon` the connector's `ipfs_connector.ipfshttp.node_auth_secret` is used.",
        |c, v| {
            let text = string(v)?;
            c.node_auth_secret = match text.is_empty() {
                true => None,
                false => Some(AuthSecret::parse(&text).map_err(|e| e.to_string())?),
            };
            Ok(())
        },
    ),
    key(
        "node_ca_file",
        Kind::Path,
        "*Cairn.* PEM trust anchors for an https upstream, besides the OS's store.",
        |c, v| set(&mut c.node_ca_file, path(v)),
    ),
    key(
        "authorizations",
        Kind::Authorizations,
        "Kubo's `API.Authorizations`, same shape: `{\"<name>\": {\"AuthSecret\": \"basic:<user>:<pass>\" | \"bearer:<token>\", \"AllowedPaths\": [\"/api/v0/…\"]}}`. When set, every request (intercepted or forwarded) needs a matching `Authorization` header and a path under its `AllowedPaths` (`/api/v0/version` always); otherwise kubo's 403 `Kubo RPC Access Denied: …`.",
        |c, v| {
            let value = match v {
                Raw::Json(value) => value.clone(),
                Raw::Env(text) => serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?,
            };
            c.authorizations = Authorizations::from_json(&value).map_err(|e| e.to_string())?;
            Ok(())
        },
    ),
    key(
        "forward_authorization",
        Kind::Boolean,
        "*Cairn.* Pass the client's `Authorization` header on to the upstream; by default it is removed (and `node_auth_secret` sent instead, when set).",
        |c, v| set(&mut c.forward_authorization, boolean(v)),
    ),
    key(
        "ssl_cert_file",
        Kind::Path,
        "*Cairn.* PEM certificate chain: the gateway serves HTTPS (with `ssl_key_file`).",
        |c, v| set(&mut c.ssl_cert_file, path(v)),
    ),
    key(
        "ssl_key_file",
        Kind::Path,
        "*Cairn.* PEM private key of `ssl_cert_file`.",
        |c, v| set(&mut c.ssl_key_file, path(v)),
    ),
    key(
        "max_args",
        Kind::Integer,
        "*Cairn.* Positional arguments an intercepted command accepts (`pin/add` with more answers 400, kubo's error object with `Code` 1, and pins nothing); the head size limit bounds them too.",
        |c, v| set(&mut c.max_args, count(v)),
    ),
];

/// The key named `name`.
pub(super) fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|key| key.name == name)
}

/// Stores a successfully read value.
fn set<T>(field: &mut T, value: Result<T, String>) -> Result<(), String> {
    *field = value?;
    Ok(())
}

/// A file path; empty = none.
fn path(raw: Raw<'_>) -> Result<Option<PathBuf>, String> {
    Ok(Some(string(raw)?).filter(|s| !s.is_empty()).map(PathBuf::from))
}

fn string(raw: Raw<'_>) -> Result<String, String> {
    match raw {
        Raw::Json(Value::String(s)) => Ok(s.clone()),
        Raw::Json(other) => Err(format!("expected a string, found {other}")),
        Raw::Env(s) => Ok(s.to_owned()),
    }
}

fn strings(raw: Raw<'_>) -> Result<Vec<String>, String> {
    match raw {
        Raw::Json(Value::Array(items)) => items.iter().map(|v| string(Raw::Json(v))).collect(),
        Raw::Json(Value::String(s)) => Ok(vec![s.clone()]),
        Raw::Json(other) => Err(format!("expected a string or an array of strings, found {other}")),
        Raw::Env(s) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()),
    }
}

fn boolean(raw: Raw<'_>) -> Result<bool, String> {
    match raw {
        Raw::Json(Value::Bool(b)) => Ok(*b),
        Raw::Json(other) => Err(format!("expected true or false, found {other}")),
        Raw::Env(s) => s
            .parse()
            .map_err(|_| format!("expected true or false, found {s:?}")),
    }
}

fn count(raw: Raw<'_>) -> Result<usize, String> {
    match raw {
        Raw::Json(Value::Number(n)) => n.as_u64().map(|n| n as usize),
        Raw::Json(_) => None,
        Raw::Env(s) => s.trim().parse().ok(),
    }
    .ok_or_else(|| format!("expected a non-negative whole number, found {}", shown(raw)))
}

fn shown(raw: Raw<'_>) -> String {
    match raw {
        Raw::Json(v) => v.to_string(),
        Raw::Env(s) => format!("{s:?}"),
    }
}

/// `max_header_bytes`: 0 means the default; below 4096 is refused, as ipfs-cluster does.
fn header_bytes(raw: Raw<'_>) -> Result<usize, String> {
    match count(raw)? {
        0 => Ok(MIN_MAX_HEADER_BYTES),
        n if n < MIN_MAX_HEADER_BYTES => Err(format!("must be greater or equal to {MIN_MAX_HEADER_BYTES}")),
        n => Ok(n),
    }
}

fn dur(raw: Raw<'_>) -> Result<Duration, String> {
    let text = string(raw)?;
    duration::parse(&text).map_err(|e| e.to_string())
}

/// A duration where zero means "no limit".
fn limit(raw: Raw<'_>) -> Result<Option<Duration>, String> {
    Ok(Some(dur(raw)?).filter(|d| !d.is_zero()))
}
