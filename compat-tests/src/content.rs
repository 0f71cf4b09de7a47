//! Deterministic test content: byte `i` of a file is `i % 251`, as in the CID fixtures
//! (shared/reference/real-peers.md §3.3), produced in chunks so 256 MiB never sits in memory.

use bytes::Bytes;

use crate::http::{Call, Payload};

/// The first `len` bytes of the pattern.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// The pattern from `offset`, `len` bytes long.
pub fn pattern_at(offset: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| ((offset + i) % 251) as u8).collect()
}

/// The pattern of total size `len` as a stream of chunks of at most `chunk` bytes, each a
/// zero-copy slice of one pattern buffer (so a load generator spends no CPU making bytes).
pub fn chunks(len: u64, chunk: usize) -> impl Iterator<Item = Bytes> {
    let whole = Bytes::from(pattern(chunk + 251));
    let mut offset = 0u64;
    std::iter::from_fn(move || {
        if offset >= len {
            return None;
        }
        let size = chunk.min((len - offset) as usize);
        let start = (offset % 251) as usize;
        let piece = whole.slice(start..start + size);
        offset += size as u64;
        Some(piece)
    })
}

/// `POST target` uploading `len` pattern bytes as one multipart file part, streamed.
pub fn upload(target: &str, len: u64) -> Call {
    let head = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\nContent-Type: application/octet-stream\r\n\r\n";
    let pieces = std::iter::once(Bytes::from(head))
        .chain(chunks(len, 1 << 20))
        .chain(std::iter::once(Bytes::from("\r\n--b--\r\n")));
    let mut call = Call::post(target).header("content-type", "multipart/form-data; boundary=b");
    call.payload = Payload::Stream(Box::new(pieces));
    call
}

/// One part of a multipart upload: a file with its bytes, or a directory.
pub enum Part {
    /// A file (`filename` percent-encoded as clients send it, e.g. `dir%2Fa.txt`).
    File(String, Bytes),
    /// An `application/x-directory` part.
    Dir(String),
}

/// `POST target` with `parts` as a multipart/form-data body.
pub fn form(target: &str, parts: Vec<Part>) -> Call {
    let mut body = Vec::new();
    for part in parts {
        let (name, kind, data) = match part {
            Part::File(name, data) => (name, "application/octet-stream", data),
            Part::Dir(name) => (name, "application/x-directory", Bytes::new()),
        };
        body.extend_from_slice(
            format!("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {kind}\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(&data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--b--\r\n");
    let mut call = Call::post(target).header("content-type", "multipart/form-data; boundary=b");
    call.payload = Payload::Bytes(Bytes::from(body));
    call
}

/// The `Hash` of the last JSON line of an add answer.
pub fn last_hash(body: &[u8]) -> anyhow::Result<String> {
    let text = String::from_utf8_lossy(body);
    let last = text.lines().last().unwrap_or_default();
    let value: serde_json::Value =
        serde_json::from_str(last).map_err(|e| anyhow::anyhow!("last line {last:?} is not JSON: {e}"))?;
    value["Hash"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no Hash in {last:?}"))
}
