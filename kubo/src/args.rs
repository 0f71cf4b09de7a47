//! Reading a kubo RPC request's query: positional arguments and typed options.
//!
//! go-ipfs-cmds takes positional arguments from repeated `arg` parameters and, when the last
//! path segment is not a command, from the path (`/api/v0/pin/add/<cid>`); path ones come
//! first. Options are booleans (`true`/`false`/`t`/`f`/`1`/`0` in any case, or present with
//! no value), integers or strings; the first of an option's aliases that is present wins.

use http::Uri;

/// An option that does not convert, or a missing argument, in kubo's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// An option's value is not of its type (kubo answers 400, in plain text).
    #[error("Could not convert value \"{value}\" to type \"{kind}\" (for option \"-{option}\")")]
    Convert {
        /// The value sent.
        value: String,
        /// The option's type, as kubo names it (`bool`, `int`, `uint64`).
        kind: &'static str,
        /// The option's first alias.
        option: String,
    },
    /// A required positional argument is missing.
    #[error("argument \"{0}\" is required")]
    Required(&'static str),
}

/// The query of one request.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
    path_args: Vec<String>,
}

impl Query {
    /// Reads `uri`'s query; `path_args` are the arguments found in the path.
    pub fn new(uri: &Uri, path_args: Vec<String>) -> Self {
        let pairs = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Self { pairs, path_args }
    }

    /// Every positional argument, path ones first.
    pub fn args(&self) -> Vec<String> {
        let query = self.values("arg").map(str::to_owned);
        self.path_args.iter().cloned().chain(query).collect()
    }

    /// The first positional argument, or kubo's "is required" error naming it.
    pub fn required_arg(&self, name: &'static str) -> Result<String, ArgError> {
        self.args().into_iter().next().ok_or(ArgError::Required(name))
    }

    /// The value of the first of `names` that is present.
    pub fn string(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|name| {
            self.pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        })
    }

    /// A boolean option: absent gives `default`, present without a value gives true, else
    /// `strconv.ParseBool` of the lowercased value (`tRuE` is true, `yes` an error).
    pub fn bool(&self, names: &[&str], default: bool) -> Result<bool, ArgError> {
        let Some(text) = self.string(names) else {
            return Ok(default);
        };
        match text.to_ascii_lowercase().as_str() {
            "" | "true" | "1" | "t" => Ok(true),
            "false" | "0" | "f" => Ok(false),
            _ => Err(convert(text, "bool", names)),
        }
    }

    /// An unsigned integer option.
    pub fn uint(&self, names: &[&str]) -> Result<Option<u64>, ArgError> {
        self.string(names)
            .map(|v| v.parse::<u64>().map_err(|_| convert(v, "uint64", names)))
            .transpose()
    }

    /// A signed integer option.
    pub fn int(&self, names: &[&str]) -> Result<Option<i64>, ArgError> {
        self.string(names)
            .map(|v| v.parse::<i64>().map_err(|_| convert(v, "int", names)))
            .transpose()
    }

    /// Every pair but the `arg`s, in order (the cluster reads its pin options from them).
    pub fn options(&self) -> Vec<(String, String)> {
        self.pairs.iter().filter(|(k, _)| k != "arg").cloned().collect()
    }

    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn convert(value: &str, kind: &'static str, names: &[&str]) -> ArgError {
    ArgError::Convert {
        value: value.to_owned(),
        kind,
        option: names.first().copied().unwrap_or_default().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "fuzz")]
    mod props {
        use proptest::prelude::*;

        use super::super::Query;
        use crate::fuzz::{bool_text, kubo_bool};

        fn check_bool(text: &str, default: bool) -> Result<(), TestCaseError> {
            let raw = form_urlencoded::Serializer::new(String::new())
                .append_pair("pin", text)
                .finish();
            let uri = format!("/api/v0/add?{raw}")
                .parse()
                .map_err(|e| TestCaseError::fail(format!("{raw:?}: {e}")))?;
            let query = Query::new(&uri, Vec::new());
            prop_assert_eq!(query.bool(&["pin"], default).ok(), kubo_bool(text), "{:?}", text);
            prop_assert_eq!(query.bool(&["other"], default).ok(), Some(default));
            let _ = (query.uint(&["pin"]), query.int(&["pin"]), query.args());
            Ok(())
        }

        proptest! {
            #[test]
            fn bools_accept_exactly_kubos_spellings(text in bool_text(), default in any::<bool>()) {
                check_bool(&text, default)?;
            }
        }

        #[test]
        fn fuzz_options() {
            crate::fuzz::long_run(
                "fuzz_options",
                256,
                (bool_text(), any::<bool>()),
                |(text, default)| check_bool(&text, default),
            );
        }
    }

    fn query(raw: &str, path_args: &[&str]) -> Query {
        let uri = format!("/api/v0/pin/add?{raw}").parse().expect("uri");
        Query::new(&uri, path_args.iter().map(|a| (*a).to_owned()).collect())
    }

    #[test]
    fn bools_are_read_as_go_ipfs_cmds_reads_them() {
        assert_eq!(query("pin=tRuE", &[]).bool(&["pin"], false), Ok(true));
        assert_eq!(query("pin=fAlSe", &[]).bool(&["pin"], true), Ok(false));
        assert_eq!(query("pin", &[]).bool(&["pin"], false), Ok(true));
        assert_eq!(query("", &[]).bool(&["pin"], true), Ok(true));
        assert_eq!(
            query("r=yes", &[])
                .bool(&["recursive", "r"], false)
                .map_err(|e| e.to_string()),
            Err("Could not convert value \"yes\" to type \"bool\" (for option \"-recursive\")".into())
        );
    }

    #[test]
    fn path_arguments_come_first_and_the_first_alias_present_wins() {
        let q = query("arg=b&arg=c&n=2&number=1", &["a"]);
        assert_eq!(q.args(), ["a", "b", "c"]);
        assert_eq!(q.required_arg("cid"), Ok("a".to_owned()));
        assert_eq!(q.string(&["number", "n"]), Some("1"));
        assert_eq!(q.uint(&["n"]), Ok(Some(2)));
        assert_eq!(
            q.options(),
            [("n".into(), "2".into()), ("number".into(), "1".into())]
        );
        assert_eq!(
            query("", &[]).required_arg("cid").map_err(|e| e.to_string()),
            Err("argument \"cid\" is required".into())
        );
    }

    #[test]
    fn integers_name_their_kubo_type_when_they_do_not_convert() {
        let q = query("n=-1&m=x", &[]);
        assert_eq!(q.int(&["n"]), Ok(Some(-1)));
        assert!(matches!(
            q.uint(&["n"]),
            Err(ArgError::Convert { kind: "uint64", .. })
        ));
        assert!(matches!(
            q.int(&["m"]),
            Err(ArgError::Convert { kind: "int", .. })
        ));
        assert_eq!(q.int(&["absent"]), Ok(None));
    }
}
