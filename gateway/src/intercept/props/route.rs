//! [`classify`] against a model of kubo's reading of a request path: Go's strict
//! `url.PathUnescape`, then `path.Clean`, then the command tree (go-ipfs-cmds `parseRequest`).

use http::Uri;
use proptest::prelude::*;

use super::{Tally, ci_config, long_run};
use crate::intercept::route::{Command, Route, classify};

/// The intercepted commands as kubo's command tree spells them.
const INTERCEPTED: [(&str, Command); 10] = [
    ("pin/add", Command::PinAdd),
    ("pin/rm", Command::PinRm),
    ("pin/ls", Command::PinLs),
    ("pin/update", Command::PinUpdate),
    ("repo/stat", Command::RepoStat),
    ("repo/gc", Command::RepoGc),
    ("block/put", Command::BlockPut),
    ("dag/put", Command::DagPut),
    ("cairn/status", Command::Status),
    ("add", Command::Add),
];

/// What kubo makes of a path.
#[derive(Debug, PartialEq, Eq)]
enum Kubo {
    /// Go refuses the escapes (400 before any command runs).
    Refused,
    /// The decoded, cleaned path.
    Path(Vec<u8>),
}

impl Kubo {
    fn read(raw: &str) -> Self {
        let rooted = if raw.starts_with('/') {
            raw.to_owned()
        } else {
            format!("/{raw}")
        };
        go_unescape(&rooted).map_or(Self::Refused, |bytes| Self::Path(go_clean(&bytes)))
    }

    /// The intercepted command the path runs, and the path after it.
    fn command(&self) -> Option<(Command, &[u8])> {
        let Self::Path(path) = self else { return None };
        let rest = path.strip_prefix(b"/api/v0/")?;
        INTERCEPTED.iter().find_map(|(name, command)| {
            let after = rest.strip_prefix(name.as_bytes())?;
            (after.is_empty() || after.starts_with(b"/")).then_some((*command, after))
        })
    }
}

/// Go's `url.PathUnescape`: every `%` must start two hex digits.
fn go_unescape(raw: &str) -> Option<Vec<u8>> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
        let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        out.push(digit(hex[0])? * 16 + digit(hex[1])?);
        i += 3;
    }
    Some(out)
}

/// A port of Go's `path.Clean` (lexical, byte by byte) for rooted paths.
fn go_clean(path: &[u8]) -> Vec<u8> {
    let mut out = vec![b'/'];
    let (mut r, n, dotdot) = (1, path.len(), 1);
    let ends = |i: usize| i == n || path[i] == b'/';
    while r < n {
        if path[r] == b'/' || (path[r] == b'.' && ends(r + 1)) {
            r += 1;
        } else if path[r] == b'.' && r + 1 < n && path[r + 1] == b'.' && ends(r + 2) {
            r += 2;
            if out.len() > dotdot {
                out.pop();
                while out.len() > dotdot && out[out.len() - 1] != b'/' {
                    out.pop();
                }
                if out.len() > dotdot {
                    out.pop();
                }
            }
        } else {
            if out.len() != 1 {
                out.push(b'/');
            }
            while r < n && path[r] != b'/' {
                out.push(path[r]);
                r += 1;
            }
        }
    }
    out
}

/// Whether `raw` is the plain spelling of `command`: literal name, no `%` before its
/// arguments, no `//`, no dot segments.
fn is_plain(raw: &str, command: Command) -> bool {
    let Some((name, _)) = INTERCEPTED.iter().find(|(_, c)| *c == command) else {
        return false;
    };
    let head = format!("/api/v0/{name}");
    raw.strip_prefix(&head)
        .is_some_and(|after| after.is_empty() || after.starts_with('/'))
        && !raw.contains("//")
        && !raw.split('/').any(|s| s == "." || s == "..")
}

/// The properties of one path.
fn check_path(raw: &str) -> Result<(), TestCaseError> {
    let kubo = Kubo::read(raw);
    match classify(raw) {
        Route::Forward => prop_assert!(
            kubo.command().is_none(),
            "{raw:?} is forwarded but kubo runs {:?}",
            kubo.command()
        ),
        Route::Serve(command, args) => {
            prop_assert!(is_plain(raw, command), "{raw:?} served but not plainly spelled");
            if let Some((read, rest)) = kubo.command() {
                prop_assert_eq!(read, command, "{:?}", raw);
                let rest = String::from_utf8_lossy(rest.strip_prefix(b"/").unwrap_or(rest));
                let want: Vec<String> = if rest.is_empty() {
                    vec![]
                } else {
                    vec![rest.into_owned()]
                };
                prop_assert_eq!(args, want, "{:?}", raw);
            } else {
                prop_assert_eq!(kubo, Kubo::Refused, "{:?} served, kubo runs no such command", raw);
            }
        }
        Route::Ambiguous => prop_assert!(
            kubo.command().is_some() || kubo == Kubo::Refused,
            "{raw:?} refused but kubo reads it as {kubo:?}, no intercepted command"
        ),
    }
    Ok(())
}

/// The properties of one request target as hyper hands it over: the path the gateway
/// classifies is the path the upstream receives when it is forwarded (as `forward` sends it).
fn check_target(target: &str) -> Result<(), TestCaseError> {
    let Ok(uri) = target.parse::<Uri>() else {
        return Ok(());
    };
    check_path(uri.path())?;
    if classify(uri.path()) == Route::Forward {
        let sent = uri.path_and_query().map_or("/", |pq| pq.as_str());
        let sent_path = sent.split('?').next().unwrap_or("");
        prop_assert!(
            Kubo::read(sent_path).command().is_none(),
            "{target:?} forwarded as {sent:?}, which kubo runs as an intercepted command"
        );
    }
    Ok(())
}

/// Segments that name, nearly name, or clean to commands.
fn segment() -> impl Strategy<Value = String> {
    let words = vec![
        "api", "v0", "pin", "add", "rm", "ls", "update", "repo", "stat", "gc", "block", "put", "dag",
        "cairn", "status", "cat", "addx", "x", "QmX", ".", "..", "", "%2e", "%2E%2e", ".%2E", "%2F", "%2f",
        "%", "%g0", "%7", "%252F", "%00", "#", "?", ";",
    ];
    prop_oneof![
        2 => (prop::sample::select(words[..19].to_vec()), any::<u32>()).prop_map(|(w, mask)| encode_some(w, mask)),
        6 => prop::sample::select(words).prop_map(str::to_owned),
        1 => "[a-z0-9%./?#;A-F]{0,6}",
        1 => any::<String>().prop_map(|s| s.chars().take(6).collect()),
    ]
}

/// `word` with the bytes picked by `mask` percent-encoded (hex case picked too).
fn encode_some(word: &str, mask: u32) -> String {
    let upper = mask & 1 == 0;
    word.bytes()
        .enumerate()
        .map(|(i, b)| match (mask >> ((i + 1) % 32)) & 1 {
            1 if upper => format!("%{b:02X}"),
            1 => format!("%{b:02x}"),
            _ => (b as char).to_string(),
        })
        .collect()
}

/// Paths near `/api/v0/<command>`: odd prefixes, separators, dots, escapes.
fn path() -> impl Strategy<Value = String> {
    let prefixes = vec![
        "/api/v0/",
        "/api/v0/",
        "/api/v0",
        "/",
        "//api/v0/",
        "/api/%76%30/",
        "/API/v0/",
        "",
        "/x/../api/v0/",
    ];
    let separators = vec!["/", "/", "/", "/", "//", "%2F", "%2f", "/./", "/../", "\\"];
    (
        prop::sample::select(prefixes),
        prop::collection::vec((segment(), prop::sample::select(separators)), 0..6),
    )
        .prop_map(|(prefix, parts)| {
            let mut out = prefix.to_owned();
            for (i, (segment, separator)) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_str(separator);
                }
                out.push_str(segment);
            }
            out
        })
}

/// An intercepted command's path, mostly plain, with a few kubo-cleanable edits: encoded
/// letters, odd separators, dot segments and detours inserted before segments.
fn near_command() -> impl Strategy<Value = String> {
    let leads = vec!["/", "/", "/", "/", "/", "//", "", "/x/../", "/./"];
    let separators = vec!["//", "%2F", "%2f", "/./", "/x/../"];
    let inserts = vec!["./", "x/../", "%2e/", "../", "x%2F..%2F", "%2E%2E/", "%2F"];
    // (separator, insert, encoding mask): most segments are left plain.
    let edit = prop_oneof![
        12 => Just(("/", "", 1u32)),
        1 => prop::sample::select(separators).prop_map(|s| (s, "", 1)),
        1 => prop::sample::select(inserts).prop_map(|i| ("/", i, 1)),
        1 => any::<u32>().prop_map(|mask| ("/", "", mask | 2)),
    ];
    (
        prop::sample::select(INTERCEPTED.to_vec()),
        prop::collection::vec("[A-Za-z0-9.]{1,6}", 0..3),
        prop::collection::vec(edit, 6),
        prop::sample::select(leads),
    )
        .prop_map(|((name, _), args, edits, lead)| {
            let segments = ["api", "v0"]
                .into_iter()
                .chain(name.split('/'))
                .map(str::to_owned)
                .chain(args);
            let mut out = lead.to_owned();
            for (i, segment) in segments.enumerate() {
                let (separator, insert, mask) = edits[i % edits.len()];
                if i > 0 {
                    out.push_str(separator);
                }
                out.push_str(insert);
                out.push_str(&encode_some(&segment, mask));
            }
            out
        })
}

/// Any path: near commands, the structured ones, random strings, random bytes from a path
/// alphabet.
fn any_path() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => near_command(),
        4 => path(),
        1 => any::<String>(),
        1 => "[/.%a-z0-9A-F]{0,24}",
    ]
}

/// Request targets as clients send them: a path, maybe a query, maybe a fragment, maybe
/// absolute-form.
fn target() -> impl Strategy<Value = String> {
    let heads = vec!["", "", "http://127.0.0.1:9095", "http://h"];
    let tails = vec![
        "",
        "",
        "?arg=QmX",
        "#/../pin/add",
        "?x#y",
        "%23/../pin/add",
        "?/../../pin/add",
    ];
    let path = prop_oneof![near_command(), path()];
    (prop::sample::select(heads), path, prop::sample::select(tails))
        .prop_map(|(head, path, tail)| format!("{head}{path}{tail}"))
}

/// The plainly spelled commands with a path argument or none.
fn plain() -> impl Strategy<Value = (Command, String, Option<String>)> {
    (
        prop::sample::select(INTERCEPTED.to_vec()),
        prop::option::of("[A-Za-z0-9]{1,12}(/[A-Za-z0-9]{1,4})?"),
        any::<bool>(),
    )
        .prop_map(|((name, command), arg, slash)| {
            let mut path = format!("/api/v0/{name}");
            if let Some(arg) = &arg {
                path = format!("{path}/{arg}");
            }
            if slash {
                path.push('/');
            }
            (command, path, arg)
        })
}

proptest! {
    #![proptest_config(ci_config())]

    #[test]
    fn forwarded_paths_never_name_an_intercepted_command(raw in any_path()) {
        check_path(&raw)?;
    }

    #[test]
    fn forwarded_targets_reach_the_upstream_as_classified(target in target()) {
        check_target(&target)?;
    }

    #[test]
    fn plain_spellings_are_served_with_their_argument((command, path, arg) in plain()) {
        prop_assert_eq!(classify(&path), Route::Serve(command, arg.into_iter().collect()));
    }
}

#[test]
fn the_model_reads_paths_as_go() {
    assert_eq!(go_clean(b"/a/b/../../../c/./d//"), b"/c/d");
    assert_eq!(go_clean(b"/.."), b"/");
    assert_eq!(go_clean(b"/a/..b/.c"), b"/a/..b/.c");
    assert_eq!(go_unescape("/%2F%2f%41"), Some(b"///A".to_vec()));
    assert_eq!(go_unescape("/%zz"), None);
    assert_eq!(go_unescape("/%+1"), None);
    assert_eq!(
        Kubo::read("/api/v0/x/%2E%2E/pin//add/Qm").command(),
        Some((Command::PinAdd, &b"/Qm"[..]))
    );
}

/// The tally slot of a path's answer.
fn outcome(raw: &str) -> usize {
    match (classify(raw), Kubo::read(raw)) {
        (Route::Forward, _) => 0,
        (Route::Serve(..), _) => 1,
        (Route::Ambiguous, Kubo::Refused) => 3,
        (Route::Ambiguous, _) => 2,
    }
}

const OUTCOMES: [&str; 4] = [
    "forwarded",
    "served",
    "refused as ambiguous",
    "refused, kubo refuses too",
];

#[test]
fn fuzz_route_paths() {
    let tally = Tally::new(&OUTCOMES);
    long_run("fuzz_route_paths", any_path(), |raw| {
        tally.count(outcome(&raw));
        check_path(&raw)
    });
    tally.report("fuzz_route_paths");
}

#[test]
fn fuzz_route_targets() {
    let tally = Tally::new(&OUTCOMES);
    long_run("fuzz_route_targets", target(), |target| {
        if let Ok(uri) = target.parse::<Uri>() {
            tally.count(outcome(uri.path()));
        }
        check_target(&target)
    });
    tally.report("fuzz_route_targets");
}
