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

    /// A boolean option as go-ipfs-cmds reads it: present without a value is true, else
    /// `strconv.ParseBool` of the lowercased value (so `tRuE` is true, `yes` an error).
    pub fn bool(&self, names: &[&str], default: bool) -> Result<bool, InterceptError> {
        let Some(text) = self.string(names) else {
            return Ok(default);
        };
        match text.to_ascii_lowercase().as_str() {
            "" | "true" | "1" | "t" => Ok(true),
            "false" | "0" | "f" => Ok(false),
            _ => Err(InterceptError::BadOption(format!(
                "Could not convert value \"{text}\" to type \"bool\" (for option \"-{}\")",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn query(raw: &str) -> Query {
        Query::new(
            &format!("/api/v0/pin/add?{raw}").parse().expect("uri"),
            Vec::new(),
        )
    }

    #[test]
    fn bools_are_case_insensitive_as_in_kubo() {
        // go-ipfs-cmds lowercases before strconv.ParseBool: `tRuE` is true in kubo.
        assert_eq!(query("pin=tRuE").bool(&["pin"], false), Ok(true));
        assert_eq!(query("pin=fAlSe").bool(&["pin"], true), Ok(false));
        assert_eq!(query("pin").bool(&["pin"], false), Ok(true));
        assert!(query("pin=yes").bool(&["pin"], false).is_err());
    }
}
