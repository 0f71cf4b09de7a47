//! `add` through a real node's HTTP API: generated uploads ([`upload`](super::upload)) must
//! import or end in kubo's error, never panic or hang, never name anything outside the add,
//! and a well-formed one reads back byte for byte.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use bytes::Bytes;
use cid::Cid;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use proptest::prelude::*;
use serde::Deserialize;

use super::upload::{self, Entry, Upload};
use super::{Harness, Tally, ci_config, long_run};
use crate::blockstore::PinMode;
use crate::{Blocks, Node, NodeConfig, NodeIdentity, dag, reader};

/// The node every add goes to (one per test process).
struct Served {
    _dir: tempfile::TempDir,
    root: PathBuf,
    addr: SocketAddr,
    blocks: Blocks,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    Harness::get(&HARNESS, "add")
}

fn served() -> &'static Served {
    static SERVED: OnceLock<Served> = OnceLock::new();
    SERVED.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().join("repo");
        let harness = harness();
        let node = Node::open(&repo, None).expect("open node");
        let config = NodeConfig {
            repo,
            listen: "127.0.0.1:0".parse().expect("addr"),
            identity: NodeIdentity {
                peer_id: "12D3KooWProps".into(),
                public_key: String::new(),
            },
            extra_origins: Vec::new(),
            storage_max: crate::DEFAULT_STORAGE_MAX,
        };
        let server = harness.runtime.block_on(node.bind(config)).expect("bind");
        let addr = server.local_addr().expect("addr");
        harness.runtime.spawn(server.serve(std::future::pending()));
        Served {
            root: dir.path().to_owned(),
            _dir: dir,
            addr,
            blocks: node.blocks().clone(),
        }
    })
}

/// One line of kubo's `add` output.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Line {
    name: String,
    hash: Option<String>,
    bytes: Option<u64>,
    size: Option<String>,
}

/// What the node answered.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    lines: Vec<Line>,
    /// The `X-Stream-Error` trailer, or the body of an answer that is not 200.
    error: Option<String>,
}

async fn post(addr: SocketAddr, upload: &Upload) -> Result<Answer, TestCaseError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| TestCaseError::fail(format!("{what}: {e}"));
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| fail("connect", &e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| fail("handshake", &e))?;
    tokio::spawn(conn);
    let mut request = Request::post(format!("/api/v0/add?{}", upload.query))
        .header(header::HOST, addr.to_string())
        .header(header::CONTENT_TYPE, upload.content_type.as_str());
    if upload.trailers {
        request = request.header(header::TE, "trailers");
    }
    let request = request
        .body(Full::new(Bytes::from(upload.body.clone())))
        .map_err(|e| fail("request", &e))?;
    let response = sender.send_request(request).await.map_err(|e| fail("send", &e))?;
    let status = response.status();
    let body = match response.into_body().collect().await {
        Ok(body) => body,
        // Without `TE: trailers` a failed stream is a broken one.
        Err(e) if !upload.trailers => {
            return Ok(Answer {
                status,
                lines: Vec::new(),
                error: Some(format!("broken stream: {e}")),
            });
        }
        Err(e) => return Err(fail("answer body", &e)),
    };
    let trailer = body
        .trailers()
        .and_then(|t| t.get("x-stream-error"))
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let text = body.to_bytes();
    if status != StatusCode::OK {
        return Ok(Answer {
            status,
            lines: Vec::new(),
            error: Some(String::from_utf8_lossy(&text).into_owned()),
        });
    }
    let mut lines = Vec::new();
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let parsed = serde_json::from_slice(line)
            .map_err(|e| fail(&format!("line {:?}", String::from_utf8_lossy(line)), &e))?;
        lines.push(parsed);
    }
    Ok(Answer {
        status,
        lines,
        error: trailer,
    })
}

/// A name the add reports: `""` (the wrapping directory), a CID (a nameless file) or a
/// relative path without empty, `.` or `..` segments.
fn is_inside(name: &str) -> bool {
    name.is_empty() || Cid::try_from(name).is_ok() || name.split('/').all(|s| !matches!(s, "" | "." | ".."))
}

/// The added CIDs by name.
fn added(answer: &Answer) -> Result<BTreeMap<String, Cid>, TestCaseError> {
    let mut out = BTreeMap::new();
    for line in &answer.lines {
        if let Some(hash) = &line.hash {
            let cid =
                Cid::try_from(hash.as_str()).map_err(|e| TestCaseError::fail(format!("{hash:?}: {e}")))?;
            prop_assert!(line.bytes.is_none(), "{:?}", line);
            out.insert(line.name.clone(), cid);
        } else {
            prop_assert!(line.size.is_none(), "a progress line with a size: {:?}", line);
        }
    }
    Ok(out)
}

/// Every link name below `root` (stored blocks only) is one clean path segment.
async fn check_names_below(blocks: &Blocks, root: Cid) -> Result<(), TestCaseError> {
    let mut stack = vec![root];
    let mut seen = BTreeSet::new();
    while let Some(cid) = stack.pop() {
        if !seen.insert(cid) {
            continue;
        }
        let block = blocks
            .get_local(cid)
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let links = dag::named_links(&cid, block).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (name, link) in links {
            prop_assert!(
                !name.contains('/') && name != "." && name != "..",
                "link {:?} in {}",
                name,
                cid
            );
            stack.push(link);
        }
    }
    Ok(())
}

/// The length `cat` announces and the bytes it sends for a range.
async fn cat(
    blocks: &Blocks,
    cid: Cid,
    offset: u64,
    length: Option<u64>,
) -> Result<(u64, Vec<u8>), crate::NodeError> {
    let mut cat = reader::cat(blocks.clone(), cid, offset, length).await?;
    let mut out = Vec::new();
    while let Some(chunk) = cat.chunks.recv().await {
        out.extend_from_slice(&chunk?);
    }
    Ok((cat.length, out))
}

/// Whole and ranged reads of an imported file give its bytes.
async fn check_reads(blocks: &Blocks, path: &str, cid: Cid, data: &[u8]) -> Result<(), TestCaseError> {
    let n = data.len() as u64;
    let ranges = [
        (0, None),
        (n / 3, Some(n / 2)),
        (n / 2, None),
        (n, None),
        (n + 5, Some(3)),
        (1, Some(0)),
    ];
    for (offset, length) in ranges {
        let (told, read) = cat(blocks, cid, offset, length)
            .await
            .map_err(|e| TestCaseError::fail(format!("cat {path:?} at {offset}: {e}")))?;
        let start = offset.min(n) as usize;
        let end = length.map_or(n, |l| (offset + l).min(n)) as usize;
        let want = &data[start..end.max(start)];
        prop_assert!(
            read == want,
            "{:?} at {}+{:?}: {} bytes, not {}",
            path,
            offset,
            length,
            read.len(),
            want.len()
        );
        prop_assert_eq!(told, want.len() as u64, "{:?} at {}+{:?}", path, offset, length);
    }
    Ok(())
}

/// A well-formed upload imported: every name once, every file byte for byte.
async fn check_expected(
    blocks: &Blocks,
    upload: &Upload,
    tree: &BTreeMap<String, Entry>,
    added: &BTreeMap<String, Cid>,
) -> Result<(), TestCaseError> {
    let mut names: BTreeSet<String> = tree.keys().cloned().collect();
    if upload.wrap {
        names.insert(String::new());
    }
    prop_assert_eq!(added.keys().cloned().collect::<BTreeSet<_>>(), names);
    if upload.only_hash {
        return Ok(());
    }
    for (path, entry) in tree {
        let (root, rest) = match (upload.wrap, path.split_once('/')) {
            (true, _) => (added[""], path.as_str()),
            (false, Some((top, rest))) => (added[top], rest),
            (false, None) => (added[path], ""),
        };
        let segments: Vec<String> = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let found = reader::resolve(blocks, root, &segments)
            .await
            .map_err(|e| TestCaseError::fail(format!("resolving {path:?}: {e}")))?;
        prop_assert_eq!(found, added[path], "{:?}", path);
        if let Entry::File(data) = entry {
            check_reads(blocks, path, found, data).await?;
        }
    }
    Ok(())
}

/// The properties of one upload.
/// What an upload came to (the long run's tally).
const OUTCOMES: [&str; 5] = [
    "read back as uploaded",
    "imported",
    "failed in the trailer",
    "failed as a broken stream",
    "refused before output",
];

/// The properties of one upload; returns its [`OUTCOMES`] slot.
async fn check_upload(served: &'static Served, upload: Upload) -> Result<usize, TestCaseError> {
    let answer = post(served.addr, &upload).await?;
    prop_assert!(
        matches!(answer.status.as_u16(), 200 | 400 | 500),
        "status {}",
        answer.status
    );
    for line in &answer.lines {
        prop_assert!(
            is_inside(&line.name),
            "{:?} names something outside the add",
            line.name
        );
    }
    let entries: Vec<_> = std::fs::read_dir(&served.root)
        .and_then(|d| d.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(
        entries,
        vec![std::ffi::OsString::from("repo")],
        "the add wrote outside its repo"
    );
    let added = added(&answer)?;
    if let Some(error) = &answer.error {
        prop_assert!(upload.expect.is_none(), "a well-formed upload failed: {}", error);
        return Ok(match answer.status {
            StatusCode::OK if error.starts_with("broken stream") => 3,
            StatusCode::OK => 2,
            _ => 4,
        });
    }
    if !upload.only_hash {
        let store = served.blocks.store();
        for (name, cid) in &added {
            prop_assert!(
                store.has(cid).unwrap_or(false),
                "{:?} ({}) is not stored: {:?}",
                name,
                cid,
                answer
            );
            check_names_below(&served.blocks, *cid).await?;
            let root = if upload.wrap {
                name.is_empty()
            } else {
                !name.contains('/')
            };
            if upload.pin && root {
                let pin = store.pin(cid).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(
                    pin.map(|p| p.mode),
                    Some(PinMode::Recursive),
                    "root {:?} not pinned",
                    name
                );
            }
        }
    }
    if let Some(tree) = &upload.expect {
        check_expected(&served.blocks, &upload, tree, &added).await?;
        return Ok(0);
    }
    Ok(1)
}

fn check(upload: Upload) -> Result<usize, TestCaseError> {
    // Outside the runtime: the first call binds the node.
    let served = served();
    harness().run(check_upload(served, upload))
}

proptest! {
    #![proptest_config(ci_config())]

    #[test]
    fn well_formed_uploads_read_back(upload in upload::well_formed()) {
        check(upload)?;
    }

    #[test]
    fn hostile_names_are_refused_or_cleaned(upload in upload::hostile()) {
        check(upload)?;
    }

    #[test]
    fn mangled_bodies_import_or_fail_cleanly(upload in upload::mangled()) {
        check(upload)?;
    }

    #[test]
    fn junk_bodies_fail_cleanly(upload in upload::junk()) {
        check(upload)?;
    }
}

/// An add that fails after its first line (the second part repeats the first's path) ends
/// in `X-Stream-Error` for a client that sent `TE: trailers`, and in a broken stream for one
/// that did not: it used to end like a success for those (hyper drops their trailers; found
/// by these properties).
#[test]
fn a_failed_add_never_ends_like_a_success() {
    let part = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d%2F%C3%A9\"\r\n\r\nx\r\n";
    let served = served();
    for trailers in [true, false] {
        let upload = Upload {
            query: "pin=false".into(),
            content_type: "multipart/form-data; boundary=b".into(),
            body: format!("{part}{part}--b--\r\n").into_bytes(),
            wrap: false,
            only_hash: false,
            pin: false,
            trailers,
            expect: None,
        };
        let answer = harness()
            .runtime
            .block_on(post(served.addr, &upload))
            .expect("answer");
        let error = answer.error.expect("the add failed");
        if trailers {
            assert!(error.contains("path exists already: \"d/\u{e9}\""), "{error}");
        } else {
            assert!(error.starts_with("broken stream"), "{error}");
        }
    }
}

#[test]
fn fuzz_add() {
    let tally = Tally::new(&OUTCOMES);
    long_run("fuzz_add", upload::any_upload(), |upload| {
        tally.count(check(upload)?);
        Ok(())
    });
    tally.report("fuzz_add");
}
