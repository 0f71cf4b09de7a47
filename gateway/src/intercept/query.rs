//! The query of an intercepted request: positional `arg`s (path ones first) and typed options
//! with kubo's parse errors.

use cid::Cid;
use http::Uri;

use super::error::InterceptError;

/// Parsed query of one request.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
    path_args: Vec<String>,
}

impl Query {
    /// Reads `uri`'s query; `path_args` come from the path (`/pin/add/<cid>`).
    pub fn new(uri: &Uri, path_args: Vec<String>) -> Self {
        let pairs = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Self { pairs, path_args }
    }

    /// Every positional argument.
    pub fn args(&self) -> Vec<String> {
        let query = self
            .pairs
            .iter()
            .filter(|(k, _)| k == "arg")
            .map(|(_, v)| v.clone());
        self.path_args.iter().cloned().chain(query).collect()
    }

    /// The first value of the first present alias.
    pub fn string(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .find_map(|n| self.pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()))
    }

    /// A boolean option as go-ipfs-cmds reads it.
    pub fn bool(&self, names: &[&str], default: bool) -> Result<bool, InterceptError> {
        match self.string(names) {
            None => Ok(default),
            Some("" | "true" | "1" | "t" | "T" | "True" | "TRUE") => Ok(true),
            Some("false" | "0" | "f" | "F" | "False" | "FALSE") => Ok(false),
            Some(other) => Err(InterceptError::BadOption(format!(
                "Could not convert value \"{other}\" to type \"bool\" (for option \"-{}\")",
                names[0]
            ))),
        }
    }

    /// The pairs other than `arg`: the cluster reads its pin options from them.
    pub fn options(&self) -> Vec<(String, String)> {
        self.pairs.iter().filter(|(k, _)| k != "arg").cloned().collect()
    }
}

/// A CID argument: `<cid>` or `/ipfs/<cid>`; paths inside a DAG are not resolved here.
pub fn cid_arg(arg: &str) -> Result<Cid, InterceptError> {
    let bare = arg.strip_prefix("/ipfs/").unwrap_or(arg).trim_end_matches('/');
    if bare.contains('/') {
        return Err(InterceptError::Command(format!(
            "invalid path {arg:?}: the cluster pins CIDs; resolve the path first (ipfs resolve)"
        )));
    }
    Cid::try_from(bare).map_err(|e| InterceptError::Command(format!("invalid path {arg:?}: {e}")))
}

/// kubo's error for a missing positional argument.
pub fn required(name: &str) -> InterceptError {
    InterceptError::Command(format!("argument \"{name}\" is required"))
}
