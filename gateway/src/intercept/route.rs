//! Which requests the gateway serves itself: kubo's path rules, so no spelling of a pin route
//! reaches the upstream daemon's own pin commands.
//!
//! kubo (Go's `http.ServeMux` in front of go-ipfs-cmds) percent-decodes the path, redirects
//! `//`, `.` and `..` to the cleaned path, takes a trailing non-command segment as an `arg`,
//! and reads repeated `arg`s. Here a path whose decoded, cleaned form names an intercepted
//! command is served as that command when it is spelled plainly, and refused (400) when it
//! is not (an encoded `/` or letter, `//`, dot segments): such a spelling is never forwarded,
//! so an upstream that cleans paths differently can never pin behind the cluster's back.

/// An intercepted kubo command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `add`.
    Add,
    /// `pin/add`.
    PinAdd,
    /// `pin/rm`.
    PinRm,
    /// `pin/ls`.
    PinLs,
    /// `pin/update`.
    PinUpdate,
    /// `repo/stat`.
    RepoStat,
    /// `repo/gc`.
    RepoGc,
    /// `block/put` (served only with `pin=true`).
    BlockPut,
    /// `dag/put` (served only with `pin=true`).
    DagPut,
    /// `dag/import` (served unless `pin-roots=false`).
    DagImport,
    /// `cairn/status`: Cairn's extension, where pins stand across the cluster (docs/composite.md).
    Status,
    /// `cairn/events`: Cairn's extension, the cluster's pin event stream (docs/events.md).
    Events,
}

/// Every intercepted spelling, kubo's aliases included (`stats/repo` is `repo/stat`).
const COMMANDS: &[(&str, Command)] = &[
    ("pin/add", Command::PinAdd),
    ("pin/rm", Command::PinRm),
    ("pin/ls", Command::PinLs),
    ("pin/update", Command::PinUpdate),
    ("repo/stat", Command::RepoStat),
    ("stats/repo", Command::RepoStat),
    ("repo/gc", Command::RepoGc),
    ("block/put", Command::BlockPut),
    ("dag/put", Command::DagPut),
    ("dag/import", Command::DagImport),
    ("cairn/status", Command::Status),
    ("cairn/events", Command::Events),
    ("add", Command::Add),
];

/// What to do with a request path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Not an intercepted command: to the upstream unchanged.
    Forward,
    /// An intercepted command, with the arguments found in the path.
    Serve(Command, Vec<String>),
    /// An intercepted command spelled in a way kubo would clean or decode first.
    Ambiguous,
}

/// Classifies the raw (still percent-encoded) request path.
pub fn classify(raw: &str) -> Route {
    let decoded = percent_decode(raw);
    let cleaned = clean(&decoded);
    let Some(rest) = cleaned.strip_prefix("/api/v0/") else {
        return Route::Forward;
    };
    let Some((name, command)) = COMMANDS.iter().find(|(name, _)| names(rest, name)) else {
        return Route::Forward;
    };
    let plain = format!("/api/v0/{name}");
    if !raw.starts_with(&plain) || is_unclean(raw) {
        return Route::Ambiguous;
    }
    let args = rest[name.len()..]
        .split('/')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    Route::Serve(*command, if args.is_empty() { Vec::new() } else { vec![args] })
}

/// Whether `rest` is `command` or `command/…`.
fn names(rest: &str, command: &str) -> bool {
    rest.strip_prefix(command)
        .is_some_and(|after| after.is_empty() || after.starts_with('/'))
}

fn is_unclean(raw: &str) -> bool {
    let head = raw.split('/').take(5).collect::<Vec<_>>().join("/");
    raw.contains("//") || raw.split('/').any(|s| s == "." || s == "..") || head.contains('%')
}

/// Percent-decodes `raw` (invalid escapes stay as they are; invalid UTF-8 is replaced).
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Go's `path.Clean` for absolute paths: no empty, `.` or `..` segments.
fn clean(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_spellings_are_served_with_path_args() {
        assert_eq!(classify("/api/v0/pin/add"), Route::Serve(Command::PinAdd, vec![]));
        assert_eq!(
            classify("/api/v0/pin/add/"),
            Route::Serve(Command::PinAdd, vec![])
        );
        assert_eq!(
            classify("/api/v0/pin/add/QmX"),
            Route::Serve(Command::PinAdd, vec!["QmX".into()])
        );
        assert_eq!(classify("/api/v0/add"), Route::Serve(Command::Add, vec![]));
        assert_eq!(
            classify("/api/v0/cairn/status"),
            Route::Serve(Command::Status, vec![])
        );
        assert_eq!(
            classify("/api/v0/stats/repo"),
            Route::Serve(Command::RepoStat, vec![])
        );
        assert_eq!(classify("/api/v0/stats%2frepo"), Route::Ambiguous);
    }

    #[test]
    fn other_commands_and_look_alikes_are_forwarded() {
        for path in [
            "/api/v0/cat",
            "/api/v0/pin",
            "/api/v0/pinx/add",
            "/api/v0/addx",
            "/api/v0/pin/verify",
            "/webui",
        ] {
            assert_eq!(classify(path), Route::Forward, "{path}");
        }
    }

    #[test]
    fn every_bypass_spelling_is_refused() {
        for path in [
            "//api/v0/pin/add",
            "/api/v0//pin/add",
            "/api/v0/pin//add",
            "/api/v0/pin%2Fadd",
            "/api/v0/pin%2fadd",
            "/api/v0/./pin/add",
            "/api/v0/x/../pin/add",
            "/api/v0/pin/%61dd",
            "/api/%76%30/pin/add",
            "/api/v0/pin/add/./",
        ] {
            assert_eq!(classify(path), Route::Ambiguous, "{path}");
        }
    }
}
