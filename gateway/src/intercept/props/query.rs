//! [`Query`] and [`cid_arg`] against kubo's reading of a query: Go's `url.ParseQuery` (pairs
//! with `;` or a bad escape are dropped), go-ipfs-cmds' options (`arg` repeats; any other
//! option takes one value) and its bool converter (`""` is true, else `strconv.ParseBool` of
//! the lowercased text).

use cid::Cid;
use cid::multihash::Multihash;
use http::Uri;
use proptest::prelude::*;

use cairn_kubo::fuzz::{bool_text, kubo_bool};

use super::{Tally, ci_config, long_run};
use crate::intercept::query::{Query, cid_arg};

/// Go's `url.QueryUnescape`: `+` is a space, every `%` starts two hex digits.
fn go_query_unescape(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

/// Go's `url.ParseQuery`, pairs in order.
fn go_parse_query(raw: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty() && !pair.contains(';'))
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((go_query_unescape(key)?, go_query_unescape(value)?))
        })
        .collect()
}

/// Whether kubo's `block/put` (or `dag/put`) pins: `Some(pin)`, `None` for its 400.
fn kubo_pins(raw: &str) -> Option<bool> {
    let values: Vec<Vec<u8>> = go_parse_query(raw)
        .into_iter()
        .filter(|(k, _)| k == b"pin")
        .map(|(_, v)| v)
        .collect();
    match values.as_slice() {
        [] => Some(false),
        [one] => kubo_bool(std::str::from_utf8(one).ok()?),
        _ => None,
    }
}

fn query_of(raw: &str) -> Option<Query> {
    let uri: Uri = format!("/api/v0/block/put?{raw}").parse().ok()?;
    Some(Query::new(&uri, Vec::new()))
}

/// Raw query strings: no panic, and a put the gateway forwards unpinned is one kubo does not
/// pin either (the gateway may refuse more, never forward a pin).
fn check_raw_query(raw: &str) -> Result<(), TestCaseError> {
    let Some(query) = query_of(raw) else {
        return Ok(());
    };
    let _ = (query.args(), query.options(), query.string(&["arg", "pin"]));
    let forwarded = query.bool(&["pin"], false) == Ok(false);
    if forwarded {
        prop_assert_ne!(
            kubo_pins(raw),
            Some(true),
            "{:?} is forwarded unpinned, kubo pins it",
            raw
        );
    }
    Ok(())
}

/// Well-formed queries: `arg`s in order after the path ones, the other pairs as options,
/// the first value of an option, bools exactly as kubo reads them.
fn check_pairs(path_args: &[String], pairs: &[(String, String)]) -> Result<(), TestCaseError> {
    let raw = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let uri: Uri = format!("/?{raw}")
        .parse()
        .map_err(|e| TestCaseError::fail(format!("{raw:?} is not a URI query: {e}")))?;
    let query = Query::new(&uri, path_args.to_vec());
    let args: Vec<String> = path_args
        .iter()
        .cloned()
        .chain(pairs.iter().filter(|(k, _)| k == "arg").map(|(_, v)| v.clone()))
        .collect();
    prop_assert_eq!(query.args(), args);
    let options: Vec<_> = pairs.iter().filter(|(k, _)| k != "arg").cloned().collect();
    prop_assert_eq!(query.options(), options);
    for (key, _) in pairs {
        let first = pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        prop_assert_eq!(query.string(&[key.as_str()]), first);
        let read = query.bool(&[key.as_str()], false);
        prop_assert_eq!(read.ok(), first.and_then(kubo_bool), "{:?}={:?}", key, first);
    }
    Ok(())
}

/// A CID argument: `<cid>`, `/ipfs/<cid>` and trailing slashes name the CID; deeper paths
/// are refused; nothing panics.
fn check_cid_arg(arg: &str, cid: &Cid) -> Result<(), TestCaseError> {
    let _ = cid_arg(arg);
    for spelling in [cid.to_string(), format!("/ipfs/{cid}"), format!("/ipfs/{cid}//")] {
        prop_assert_eq!(cid_arg(&spelling).ok(), Some(*cid), "{:?}", spelling);
    }
    let deeper = format!("/ipfs/{cid}/{arg}x");
    prop_assert!(cid_arg(&deeper).is_err(), "{:?} names a CID", deeper);
    Ok(())
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["arg", "pin", "recursive", "w", "wrap-with-directory", "progress"])
            .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn pairs() -> impl Strategy<Value = (Vec<String>, Vec<(String, String)>)> {
    (
        prop::collection::vec("[A-Za-z0-9/]{1,8}", 0..2),
        prop::collection::vec((key(), bool_text()), 0..6),
    )
}

/// Raw queries from the tokens kubo's and the gateway's parsers could disagree on.
fn raw_query() -> impl Strategy<Value = String> {
    let tokens = vec![
        "pin", "pin", "arg", "=", "=", "&", "&", ";", "%", "%7", "%70", "%3D", "%26", "%3B", "+", "true",
        "false", "TRUE", "tRuE", "F", "1", "0", "%74rue", "%zz", "%FF", "QmX", "p", "in",
    ];
    let keys = vec![
        "pin", "pin", "pin", "p%69n", "pin;", "PIN", "pin%00", "arg", "x", "pi+n",
    ];
    let values = vec![
        "true", "false", "1", "0", "", "t", "F", "fAlSe", "tRuE", "%66alse", "false;", "true%zz", "yes",
        "+true",
    ];
    let separators = vec!["&", "&", "&", "&&", ";", "&;"];
    let pair = (
        prop::sample::select(keys),
        prop::sample::select(vec!["=", "=", "=", ""]),
        prop::sample::select(values),
        prop::sample::select(separators),
    )
        .prop_map(|(k, eq, v, sep)| format!("{k}{eq}{v}{sep}"));
    prop_oneof![
        4 => prop::collection::vec(pair, 0..5).prop_map(|p| p.concat()),
        4 => prop::collection::vec(prop::sample::select(tokens), 0..12).prop_map(|t| t.concat()),
        1 => "[ -~]{0,24}",
        1 => any::<String>(),
    ]
}

fn cid() -> impl Strategy<Value = Cid> {
    (
        any::<[u8; 32]>(),
        any::<bool>(),
        prop::sample::select(vec![0x55u64, 0x70, 0x71]),
    )
        .prop_map(|(digest, v0, codec)| {
            let hash = Multihash::<64>::wrap(0x12, &digest).expect("32 bytes fit");
            if v0 {
                Cid::new_v0(hash).expect("sha2-256")
            } else {
                Cid::new_v1(codec, hash)
            }
        })
}

proptest! {
    #![proptest_config(ci_config())]

    #[test]
    fn raw_queries_never_panic_nor_forward_a_pin(raw in raw_query()) {
        check_raw_query(&raw)?;
    }

    #[test]
    fn pairs_read_back_and_bools_are_kubos((path_args, pairs) in pairs()) {
        check_pairs(&path_args, &pairs)?;
    }

    #[test]
    fn cid_arguments_parse_back(arg in any::<String>(), cid in cid()) {
        check_cid_arg(&arg, &cid)?;
    }
}

#[test]
fn fuzz_query_raw() {
    let tally = Tally::new(&["forwarded unpinned", "served pinned", "refused", "no URI"]);
    long_run("fuzz_query_raw", raw_query(), |raw| {
        tally.count(match query_of(&raw).map(|q| q.bool(&["pin"], false)) {
            Some(Ok(false)) => 0,
            Some(Ok(true)) => 1,
            Some(Err(_)) => 2,
            None => 3,
        });
        check_raw_query(&raw)
    });
    tally.report("fuzz_query_raw");
}

#[test]
fn fuzz_query_pairs() {
    long_run("fuzz_query_pairs", pairs(), |(path_args, pairs)| {
        check_pairs(&path_args, &pairs)
    });
}

#[test]
fn fuzz_query_cid_args() {
    long_run("fuzz_query_cid_args", (any::<String>(), cid()), |(arg, cid)| {
        check_cid_arg(&arg, &cid)
    });
}
