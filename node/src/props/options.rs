//! The node's [`Query`] booleans against kubo's: `""` is true, else go-ipfs-cmds'
//! `strconv.ParseBool` of the lowercased text; anything else is kubo's 400.

use http::Uri;
use proptest::prelude::*;

use super::{ci_config, long_run};
use crate::rpc::request::Query;

fn kubo_bool(text: &str) -> Option<bool> {
    match text.to_lowercase().as_str() {
        "" | "1" | "t" | "true" => Some(true),
        "0" | "f" | "false" => Some(false),
        _ => None,
    }
}

fn check_bool(text: &str, default: bool) -> Result<(), TestCaseError> {
    let raw = form_urlencoded::Serializer::new(String::new())
        .append_pair("pin", text)
        .finish();
    let uri: Uri = format!("/api/v0/add?{raw}")
        .parse()
        .map_err(|e| TestCaseError::fail(format!("{raw:?}: {e}")))?;
    let query = Query::new(&uri, Vec::new());
    prop_assert_eq!(query.bool(&["pin"], default).ok(), kubo_bool(text), "{:?}", text);
    prop_assert_eq!(query.bool(&["other"], default).ok(), Some(default));
    let _ = (query.uint(&["pin"]), query.int(&["pin"]), query.args());
    Ok(())
}

/// Texts near kubo's spellings in every case mix, and anything.
fn bool_text() -> impl Strategy<Value = String> {
    let words = vec![
        "true", "false", "t", "f", "1", "0", "", "yes", "no", "on", "2", " true", "tru",
    ];
    prop_oneof![
        4 => (prop::sample::select(words), any::<u64>()).prop_map(|(w, mask)| {
            w.chars()
                .enumerate()
                .map(|(i, c)| if (mask >> (i % 64)) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect()
        }),
        1 => any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ci_config())]

    #[test]
    fn bools_accept_exactly_kubos_spellings(text in bool_text(), default in any::<bool>()) {
        check_bool(&text, default)?;
    }
}

#[test]
fn fuzz_options() {
    long_run("fuzz_options", (bool_text(), any::<bool>()), |(text, default)| {
        check_bool(&text, default)
    });
}
