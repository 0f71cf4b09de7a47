//! The upload of `cairn add`: files, directories (with `-r`) and stdin as kubo's multipart
//! form, streamed from disk a chunk at a time (never a whole file in memory).
//!
//! Each entry is one part named `file`, its `filename` the path inside the add, percent-encoded
//! (`dir%2Fa.txt`); a directory is an `application/x-directory` part before its entries, which
//! come sorted by name, as go-ipfs-files writes them. Hidden entries (a name starting with
//! `.`) inside a directory are left out unless asked for, as `ipfs add` does.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use hyper::body::Frame;
use tokio::io::AsyncReadExt;

use cairn_gateway::{Body, BoxError};

/// How much of a file one frame carries.
const CHUNK: usize = 256 * 1024;

/// Why the upload could not be assembled.
#[derive(Debug, thiserror::Error)]
pub(super) enum UploadError {
    /// A path could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// A directory without `-r`.
    #[error("{0} is a directory: add it with -r (--recursive)")]
    Directory(String),
    /// Neither a file nor a directory.
    #[error("{0} is neither a file nor a directory")]
    Special(String),
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Source {
    /// A directory part.
    Dir,
    /// A file on disk.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

/// One part of the upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    /// The path inside the add (`dir/a.txt`; `""` for stdin, which the daemon names by CID).
    pub(super) name: String,
    /// Where its bytes come from.
    pub(super) source: Source,
    /// Its length (0 for directories and stdin).
    pub(super) len: u64,
}

/// The entries for `paths` (`-` = stdin), in upload order.
pub(super) fn entries(paths: &[PathBuf], recursive: bool, hidden: bool) -> Result<Vec<Entry>, UploadError> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            out.push(Entry {
                name: String::new(),
                source: Source::Stdin,
                len: 0,
            });
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|e| read_error(path, e))?;
        let name = base_name(path);
        if meta.is_dir() && !recursive {
            return Err(UploadError::Directory(path.display().to_string()));
        }
        walk(path, name, &meta, hidden, &mut out)?;
    }
    Ok(out)
}

fn walk(
    path: &Path,
    name: String,
    meta: &std::fs::Metadata,
    hidden: bool,
    out: &mut Vec<Entry>,
) -> Result<(), UploadError> {
    if meta.is_file() {
        out.push(Entry {
            name,
            source: Source::File(path.to_owned()),
            len: meta.len(),
        });
        return Ok(());
    }
    if !meta.is_dir() {
        return Err(UploadError::Special(path.display().to_string()));
    }
    out.push(Entry {
        name: name.clone(),
        source: Source::Dir,
        len: 0,
    });
    let listing = std::fs::read_dir(path).map_err(|e| read_error(path, e))?;
    let mut children = listing
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read_error(path, e))?;
    children.sort();
    for child in children {
        let child_name = base_name(&child);
        if !hidden && child_name.starts_with('.') {
            continue;
        }
        let child_meta = std::fs::metadata(&child).map_err(|e| read_error(&child, e))?;
        walk(&child, format!("{name}/{child_name}"), &child_meta, hidden, out)?;
    }
    Ok(())
}

fn base_name(path: &Path) -> String {
    let absolute;
    let path = match path.file_name() {
        Some(_) => path,
        // `.` or `..`: the directory's own name.
        None => {
            absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
            &absolute
        }
    };
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read_error(path: &Path, source: std::io::Error) -> UploadError {
    UploadError::Read {
        path: path.display().to_string(),
        source,
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters (`/` too, as go-ipfs-files does).
fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// The head of `entry`'s part.
fn head(boundary: &str, entry: &Entry) -> Bytes {
    let kind = match entry.source {
        Source::Dir => "application/x-directory",
        Source::File(_) | Source::Stdin => "application/octet-stream",
    };
    Bytes::from(format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {kind}\r\n\r\n",
        encode(&entry.name)
    ))
}

/// A boundary that no file's bytes are likely to contain.
pub(super) fn boundary() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("cairn-{nanos:x}-{:x}", std::process::id())
}

/// The body: each entry's part in turn, its bytes read as they are sent; `sent` is told
/// how many content bytes each frame carried (for the progress bar).
pub(super) fn body(boundary: String, entries: Vec<Entry>, sent: Arc<dyn Fn(u64) + Send + Sync>) -> Body {
    let closing = Bytes::from(format!("--{boundary}--\r\n"));
    let parts = futures::stream::iter(entries).flat_map(move |entry| {
        let head = futures::stream::once(futures::future::ready(Ok(head(&boundary, &entry))));
        let content = content(entry.source, sent.clone());
        let tail = futures::stream::once(futures::future::ready(Ok(Bytes::from_static(b"\r\n"))));
        head.chain(content).chain(tail).boxed()
    });
    let all = parts.chain(futures::stream::once(futures::future::ready(Ok(closing))));
    cairn_gateway::boxed(http_body_util::StreamBody::new(
        all.map(|chunk: Result<Bytes, BoxError>| chunk.map(Frame::data)),
    ))
}

/// A file's (or stdin's) bytes, `CHUNK` at a time.
fn content(
    source: Source,
    sent: Arc<dyn Fn(u64) + Send + Sync>,
) -> futures::stream::BoxStream<'static, Result<Bytes, BoxError>> {
    let reader: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>> = match source {
        Source::Dir => return futures::stream::empty().boxed(),
        Source::Stdin => Box::pin(tokio::io::stdin()),
        Source::File(path) => {
            let opened = async move {
                tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| BoxError::from(read_error(&path, e)))
            };
            return futures::stream::once(opened)
                .map(move |file| match file {
                    Ok(file) => chunks(Box::pin(file), sent.clone()),
                    Err(e) => futures::stream::once(futures::future::ready(Err(e))).boxed(),
                })
                .flatten()
                .boxed();
        }
    };
    chunks(reader, sent)
}

fn chunks(
    reader: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>,
    sent: Arc<dyn Fn(u64) + Send + Sync>,
) -> futures::stream::BoxStream<'static, Result<Bytes, BoxError>> {
    futures::stream::unfold(Some(reader), move |reader| {
        let sent = sent.clone();
        async move {
            let mut reader = reader?;
            let mut buffer = vec![0u8; CHUNK];
            match reader.read(&mut buffer).await {
                Ok(0) => None,
                Ok(n) => {
                    buffer.truncate(n);
                    sent(n as u64);
                    Some((Ok(Bytes::from(buffer)), Some(reader)))
                }
                Err(e) => Some((Err(BoxError::from(e)), None)),
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn names_are_percent_encoded_as_go_ipfs_files_writes_them() {
        assert_eq!(encode("dir/a b+c.txt"), "dir%2Fa%20b%2Bc.txt");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[tokio::test]
    async fn a_directory_is_a_sorted_walk_without_hidden_entries_streamed_as_parts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("d");
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        std::fs::write(root.join("b.txt"), b"bee").expect("write");
        std::fs::write(root.join("a.txt"), b"a").expect("write");
        std::fs::write(root.join(".hidden"), b"h").expect("write");
        std::fs::write(root.join("sub/c"), b"c").expect("write");
        let err = entries(std::slice::from_ref(&root), false, false).expect_err("needs -r");
        assert!(err.to_string().contains("-r"), "{err}");
        let listed = entries(std::slice::from_ref(&root), true, false).expect("entries");
        let names: Vec<&str> = listed.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["d", "d/a.txt", "d/b.txt", "d/sub", "d/sub/c"]);
        let with_hidden = entries(std::slice::from_ref(&root), true, true).expect("entries");
        assert_eq!(with_hidden[1].name, "d/.hidden");

        let counted = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen = counted.clone();
        let sent = Arc::new(move |n| {
            seen.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        });
        let bytes = body("B".into(), listed, sent)
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let text = String::from_utf8(bytes.to_vec()).expect("utf-8");
        assert!(text.starts_with("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d\"\r\nContent-Type: application/x-directory\r\n\r\n\r\n--B\r\n"), "{text}");
        assert!(
            text.contains("filename=\"d%2Fb.txt\"\r\nContent-Type: application/octet-stream\r\n\r\nbee\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\n--B--\r\n"), "{text}");
        assert_eq!(counted.load(std::sync::atomic::Ordering::Relaxed), 5);
    }
}
