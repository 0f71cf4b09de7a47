//! Reading a kubo RPC request: the command path, `arg` values and typed options.
//!
//! kubo (go-ipfs-cmds) takes positional arguments from repeated `arg` query parameters and,
//! when the last path segment is not a command, from the path (`/api/v0/pin/add/<cid>`).
//! Options are booleans (`true`/`false`/`t`/`f` in any case, `1`/`0`, or present with no
//! value), integers or strings; a value that does not convert is a 400 in kubo's words.

use http::Uri;

use crate::error::NodeError;

/// The query of one request.
#[derive(Clone, Debug, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
    path_args: Vec<String>,
}

impl Query {
    /// Parses `uri`'s query; `path_args` are arguments found in the path.
    pub(crate) fn new(uri: &Uri, path_args: Vec<String>) -> Self {
        let pairs = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Self { pairs, path_args }
    }

    /// Every positional argument, path ones first.
    pub(crate) fn args(&self) -> Vec<String> {
        let query = self.values("arg").map(str::to_owned);
        self.path_args.iter().cloned().chain(query).collect()
    }

    /// The first positional argument, or kubo's "is required" error naming it.
    pub(crate) fn required_arg(&self, name: &'static str) -> Result<String, NodeError> {
        self.args()
            .into_iter()
            .next()
            .ok_or(NodeError::MissingArgument(name))
    }

    /// The value of option `name` (first of its aliases that is present).
    pub(crate) fn string(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| self.first(n))
    }

    fn first(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean option; absent gives `default`, present without a value gives true, else
    /// go-ipfs-cmds' `strconv.ParseBool` of the lowercased value (`tRuE` is true).
    pub(crate) fn bool(&self, names: &[&str], default: bool) -> Result<bool, NodeError> {
        let Some(text) = self.string(names) else {
            return Ok(default);
        };
        match text.to_ascii_lowercase().as_str() {
            "" | "true" | "1" | "t" => Ok(true),
            "false" | "0" | "f" => Ok(false),
            _ => Err(convert_error(text, "bool", names[0])),
        }
    }

    /// An unsigned integer option.
    pub(crate) fn uint(&self, names: &[&str]) -> Result<Option<u64>, NodeError> {
        self.string(names)
            .map(|v| v.parse::<u64>().map_err(|_| convert_error(v, "uint64", names[0])))
            .transpose()
    }

    /// A signed integer option.
    pub(crate) fn int(&self, names: &[&str]) -> Result<Option<i64>, NodeError> {
        self.string(names)
            .map(|v| v.parse::<i64>().map_err(|_| convert_error(v, "int", names[0])))
            .transpose()
    }

    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn convert_error(value: &str, kind: &str, option: &str) -> NodeError {
    NodeError::OptionParse(format!(
        "Could not convert value \"{value}\" to type \"{kind}\" (for option \"-{option}\")"
    ))
}
