//! Generated `add` uploads: well-formed trees encoded as kubo's client encodes them
//! (go-ipfs-files' multipart reader: directories as `application/x-directory` parts,
//! percent-encoded `filename`s), the same with hostile names, and mangled bodies.

use std::collections::BTreeMap;

use proptest::prelude::*;

/// One entry of a well-formed upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Entry {
    File(Vec<u8>),
    Dir,
}

/// An upload: the request, and what it must import when it is well-formed.
#[derive(Clone)]
pub(super) struct Upload {
    pub(super) query: String,
    pub(super) content_type: String,
    pub(super) body: Vec<u8>,
    pub(super) wrap: bool,
    pub(super) only_hash: bool,
    pub(super) pin: bool,
    /// Whether the client sends `TE: trailers` (else a failure must break the stream).
    pub(super) trailers: bool,
    /// Paths and entries that must read back (`None` for hostile or mangled uploads).
    pub(super) expect: Option<BTreeMap<String, Entry>>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("query", &self.query)
            .field("content_type", &self.content_type)
            .field("trailers", &self.trailers)
            .field("body", &self.body.escape_ascii().to_string())
            .field("well_formed", &self.expect.is_some())
            .finish()
    }
}

/// The add options of one upload.
#[derive(Clone, Debug)]
struct Options {
    trailers: bool,
    wrap: bool,
    only_hash: bool,
    pin: bool,
    query: String,
}

fn options() -> impl Strategy<Value = Options> {
    (
        any::<bool>(),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.8),
        prop::option::of(0u8..2),
        prop::option::of(any::<bool>()),
        prop::option::of(prop_oneof![1usize..64, 64usize..4096]),
        prop::sample::select(vec!["sha2-256", "sha2-256", "sha2-256", "blake3", "sha2-512"]),
        (any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(wrap, only_hash, pin, version, raw_leaves, chunk, hash, (progress, trailers))| {
                let mut query =
                    format!("wrap-with-directory={wrap}&only-hash={only_hash}&pin={pin}&hash={hash}");
                if let Some(v) = version {
                    query += &format!("&cid-version={v}");
                }
                if let Some(raw) = raw_leaves {
                    query += &format!("&raw-leaves={raw}");
                }
                if let Some(size) = chunk {
                    query += &format!("&chunker=size-{size}");
                }
                if progress {
                    query += "&progress=true";
                }
                Options {
                    trailers,
                    wrap,
                    only_hash,
                    pin,
                    query,
                }
            },
        )
}

/// A path segment the node must keep as it is.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9]{1,6}(\\.[a-z]{1,3})?",
        1 => "[ -~]{1,8}",
        1 => "\\PC{1,4}",
    ]
    .prop_filter("a plain segment", |s| {
        !matches!(s.as_str(), "." | "..") && !s.contains('/')
    })
}

fn content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 0..300),
        1 => prop::collection::vec(any::<u8>(), 300..4000),
        1 => (any::<u8>(), 0usize..3000).prop_map(|(b, n)| vec![b; n]),
    ]
}

/// A consistent tree: every ancestor of an entry is a directory.
fn tree() -> impl Strategy<Value = BTreeMap<String, Entry>> {
    let entry = prop_oneof![4 => content().prop_map(Entry::File), 1 => Just(Entry::Dir)];
    prop::collection::vec((prop::collection::vec(name(), 1..4), entry), 1..7).prop_map(|entries| {
        let mut tree = BTreeMap::new();
        for (segments, entry) in entries {
            for depth in 1..segments.len() {
                tree.insert(segments[..depth].join("/"), Entry::Dir);
            }
            tree.entry(segments.join("/")).or_insert(entry);
        }
        // A path below another makes that one a directory.
        let parents: Vec<String> = tree
            .keys()
            .filter_map(|p| p.rsplit_once('/').map(|(parent, _)| parent.to_owned()))
            .collect();
        for parent in parents {
            tree.insert(parent, Entry::Dir);
        }
        tree
    })
}

/// `path` as kubo's client writes a filename: percent-encoded, `/` kept or encoded.
fn encode_path(path: &str, slash_encoded: bool) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        match b {
            b'/' if !slash_encoded => out.push('/'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// One multipart part.
fn part(boundary: &str, filename: &str, content_type: Option<&str>, content: &[u8]) -> Vec<u8> {
    let mut out =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n");
    if let Some(kind) = content_type {
        out += &format!("Content-Type: {kind}\r\n");
    }
    out += "\r\n";
    let mut out = out.into_bytes();
    out.extend_from_slice(content);
    out.extend_from_slice(b"\r\n");
    out
}

fn boundary() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[0-9A-Za-z'()+_,./:=?-]{0,69}[0-9A-Za-z]",
        1 => Just("-----------------------------1234567890".to_owned()),
    ]
}

fn content_type_for(boundary: &str, quoted: bool) -> String {
    let token = boundary
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"'+_-.".contains(&b));
    if quoted || !token {
        format!("multipart/form-data; boundary=\"{boundary}\"")
    } else {
        format!("multipart/form-data; boundary={boundary}")
    }
}

/// Well-formed uploads of a generated tree, parts in kubo's order (a directory before what
/// is inside it).
pub(super) fn well_formed() -> impl Strategy<Value = Upload> {
    (
        options(),
        tree(),
        boundary(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(opts, tree, boundary, quoted, slash_encoded, typed)| {
            let mut body = Vec::new();
            for (path, entry) in &tree {
                let filename = encode_path(path, slash_encoded);
                match entry {
                    Entry::Dir => {
                        body.extend(part(&boundary, &filename, Some("application/x-directory"), b""))
                    }
                    Entry::File(data) => {
                        let kind = typed.then_some("application/octet-stream");
                        body.extend(part(&boundary, &filename, kind, data));
                    }
                }
            }
            body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            Upload {
                query: opts.query,
                content_type: content_type_for(&boundary, quoted),
                body,
                wrap: opts.wrap,
                only_hash: opts.only_hash,
                pin: opts.pin,
                trailers: opts.trailers,
                expect: Some(tree),
            }
        })
        .prop_filter("no part's content holds the delimiter", |u| {
            let delimiter = format!("\r\n--{}", boundary_of(&u.content_type));
            u.expect.iter().flat_map(|t| t.values()).all(|e| match e {
                Entry::File(data) => !data.windows(delimiter.len()).any(|w| w == delimiter.as_bytes()),
                Entry::Dir => true,
            })
        })
}

fn boundary_of(content_type: &str) -> &str {
    let value = content_type.split("boundary=").nth(1).unwrap_or("");
    value.trim_matches('"')
}

/// Filenames that must be refused or cleaned: `..` in every spelling, rooted, doubled and
/// dot segments, empty, odd bytes.
fn hostile_name() -> impl Strategy<Value = String> {
    let names = vec![
        "..",
        "../x",
        "a/../../b",
        "%2E%2E/x",
        "a/%2e%2E",
        "a%2F..%2F..%2Fb",
        "/abs",
        "//x",
        "./a",
        "a/./b",
        "",
        "a//b",
        "a/",
        "%00",
        "a\\..\\b",
        "../\u{e9}",
        "%C3%A9/..",
        "..%2F",
        "%2E%2E",
        ".%2E/",
        "a/..",
        "+",
        "%",
        "%zz",
        "dir%2Fsub",
    ];
    prop_oneof![
        3 => prop::sample::select(names).prop_map(str::to_owned),
        1 => "[./%2Ea]{1,10}",
    ]
}

/// A well-formed upload with one hostile filename added (files or directories).
pub(super) fn hostile() -> impl Strategy<Value = Upload> {
    (
        well_formed(),
        hostile_name(),
        any::<bool>(),
        content(),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut upload, name, dir, data, at)| {
            let boundary = boundary_of(&upload.content_type).to_owned();
            let extra = if dir {
                part(&boundary, &name, Some("application/x-directory"), b"")
            } else {
                part(&boundary, &name, None, &data)
            };
            let starts = part_starts(&upload.body, &boundary);
            let at = starts[at.index(starts.len())];
            upload.body.splice(at..at, extra);
            upload.expect = None;
            upload
        })
}

/// Where each part (and the closing delimiter) starts.
fn part_starts(body: &[u8], boundary: &str) -> Vec<usize> {
    let delimiter = format!("--{boundary}");
    let mut starts: Vec<usize> = (0..body.len())
        .filter(|&i| body[i..].starts_with(delimiter.as_bytes()) && (i == 0 || body[..i].ends_with(b"\r\n")))
        .collect();
    if starts.is_empty() {
        starts.push(0);
    }
    starts
}

/// A mangling of an upload's bytes.
#[derive(Clone, Debug)]
enum Mangle {
    Truncate(prop::sample::Index),
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    Header(String),
    ContentType(String),
    /// A part sent twice (a duplicate path).
    Duplicate(prop::sample::Index),
}

fn mangle() -> impl Strategy<Value = Mangle> {
    let inserts = vec![
        "\r\n",
        "\r\n\r\n",
        "--",
        "\"",
        "Content-Type: application/x-directory\r\n",
        "Content-Type: application/symlink\r\n",
        "Content-Type: multipart/mixed; boundary=x\r\n",
        "Content-Disposition: form-data; name=\"file\"; filename=\"../../etc/passwd\"\r\n",
        "Content-Disposition: attachment\r\n",
        "filename*=UTF-8''%2E%2E",
        ";",
        "\0",
    ];
    prop_oneof![
        1 => any::<prop::sample::Index>().prop_map(Mangle::Truncate),
        2 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mangle::Flip(i, b)),
        2 => (any::<prop::sample::Index>(), prop_oneof![
            prop::sample::select(inserts).prop_map(|s| s.as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..16),
        ]).prop_map(|(i, bytes)| Mangle::Insert(i, bytes)),
        1 => prop::sample::select(vec![
            "Content-Disposition: form-data; name=\"file\"", "Content-Disposition: form-data",
            "Content-Type: text/plain", "X: y", "",
        ]).prop_map(|h| Mangle::Header(h.to_owned())),
        2 => any::<prop::sample::Index>().prop_map(Mangle::Duplicate),
        1 => prop::sample::select(vec![
            "multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=\"\"",
            "multipart/mixed; boundary=b", "text/plain", "", "multipart/form-data; boundary=other",
        ]).prop_map(|c| Mangle::ContentType(c.to_owned())),
    ]
}

fn apply(upload: &mut Upload, mangle: &Mangle) {
    let body = &mut upload.body;
    match mangle {
        Mangle::Truncate(at) => body.truncate(at.index(body.len() + 1)),
        Mangle::Flip(at, b) if !body.is_empty() => {
            let i = at.index(body.len());
            body[i] ^= b.max(&1);
        }
        Mangle::Flip(..) => {}
        Mangle::Insert(at, bytes) => {
            let i = at.index(body.len() + 1);
            body.splice(i..i, bytes.iter().copied());
        }
        Mangle::Header(header) => {
            if let Some(i) = body.windows(2).position(|w| w == b"\r\n") {
                body.splice(i + 2..i + 2, format!("{header}\r\n").into_bytes());
            }
        }
        Mangle::ContentType(kind) => upload.content_type = kind.clone(),
        Mangle::Duplicate(which) => {
            let starts = part_starts(body, boundary_of(&upload.content_type));
            if starts.len() > 1 {
                let i = which.index(starts.len() - 1);
                let part = body[starts[i]..starts[i + 1]].to_vec();
                body.splice(starts[i]..starts[i], part);
            }
        }
    }
}

/// A well-formed or hostile upload with a few manglings of its bytes.
pub(super) fn mangled() -> impl Strategy<Value = Upload> {
    (
        prop_oneof![well_formed(), hostile()],
        prop::collection::vec(mangle(), 1..4),
    )
        .prop_map(|(mut upload, mangles)| {
            for m in &mangles {
                apply(&mut upload, m);
            }
            upload.expect = None;
            upload
        })
}

/// Bodies that are no multipart at all.
pub(super) fn junk() -> impl Strategy<Value = Upload> {
    let parts = (
        boundary(),
        prop::collection::vec(any::<u8>(), 0..512),
        any::<bool>(),
    );
    parts.prop_map(|(boundary, body, trailers)| Upload {
        query: String::new(),
        content_type: content_type_for(&boundary, false),
        body,
        wrap: false,
        only_hash: false,
        pin: true,
        trailers,
        expect: None,
    })
}

/// Every kind of upload.
pub(super) fn any_upload() -> impl Strategy<Value = Upload> {
    prop_oneof![3 => well_formed(), 2 => hostile(), 3 => mangled(), 1 => junk()]
}
