//! CAR files (content-addressed archives), what kubo's `dag/import` reads and `dag/export`
//! writes: CARv1 (a dag-cbor header naming the roots, then sections `varint(len) ‖ CID ‖
//! block`) and CARv2 (an 11-byte pragma and a 40-byte header around a CARv1 payload, an
//! optional index after it).
//!
//! # Where it sits
//! The gateway reads only the roots of a `dag/import` upload it forwards, to pin them in the
//! cluster; the embedded node reads every block (`dag/import`) and writes CARv1
//! (`dag/export`). CARv1's framing and its dag-cbor header are n0's `iroh-car`; the CARv2
//! wrapper, which iroh-car does not read, is read here.
//!
//! # Invariants
//! - Untrusted input never panics and never makes a large allocation: iroh-car bounds a
//!   header or a section (CID and block) to [`MAX_SECTION`] bytes, a CARv2 header is fixed,
//!   and its padding is skipped, not held.
//! - An input that ends inside a section, or inside the length of one, or before a CARv2's
//!   declared payload size, is [`CarError::Truncated`], never a shorter valid archive.
//! - The reader does not check that a block hashes to its CID: whoever stores blocks does.
//! - After a CARv2's payload the rest of the source (its index) is left unread.

use std::io::Cursor;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use cid::Cid;
use tokio::io::{AsyncRead, AsyncReadExt, Chain, ReadBuf, Take};

/// The largest header or section iroh-car reads (its bound; CID and block together).
pub const MAX_SECTION: usize = 4 * 1024 * 1024;
/// A CARv2's first 11 bytes: the CARv1-framed dag-cbor `{"version": 2}`.
pub const V2_PRAGMA: [u8; 11] = [0x0a, 0xa1, 0x67, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x02];
/// The CARv2 header after the pragma: characteristics (16), data offset, size, index offset.
const V2_HEADER: usize = 40;

/// Why a CAR could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CarError {
    /// The CARv1 header or a section is malformed (iroh-car's reason).
    #[error("{0}")]
    Format(#[source] iroh_car::Error),
    /// The CARv2 header is inconsistent.
    #[error("invalid CARv2 header: {0}")]
    V2Header(String),
    /// The input ended inside the archive.
    #[error("unexpected EOF: the CAR is truncated")]
    Truncated,
    /// Reading the source failed.
    #[error("reading the CAR: {0}")]
    Io(#[from] std::io::Error),
}

/// The bytes iroh-car reads: a CARv1 (the pragma-sized prefix already read, then the rest),
/// or a CARv2's payload (no prefix, limited to its declared size).
type Payload<R> = Chain<Cursor<Vec<u8>>, Take<R>>;

/// A CAR being read: its roots at once, then its blocks one at a time.
pub struct Reader<R> {
    inner: iroh_car::CarReader<Counted<Payload<R>>>,
    /// Payload bytes read so far (shared with the [`Counted`] source iroh-car owns).
    read: Arc<AtomicU64>,
    /// Where the last complete section (or the header) ended.
    mark: u64,
    /// A CARv2's declared payload size.
    expected: Option<u64>,
    version: u64,
}

impl<R: AsyncRead + Unpin> std::fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("version", &self.version)
            .field("roots", &self.inner.header().roots())
            .finish_non_exhaustive()
    }
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// Reads the header (CARv1, or CARv2 and the CARv1 header of its payload).
    pub async fn new(mut source: R) -> Result<Self, CarError> {
        let mut start = vec![0u8; V2_PRAGMA.len()];
        let got = read_up_to(&mut source, &mut start).await?;
        start.truncate(got);
        let (prefix, limit, version) = if start == V2_PRAGMA {
            (Vec::new(), v2_payload_size(&mut source).await?, 2)
        } else {
            (start, u64::MAX, 1)
        };
        let read = Arc::new(AtomicU64::new(0));
        let payload = Counted {
            inner: Cursor::new(prefix).chain(source.take(limit)),
            read: read.clone(),
        };
        let inner = iroh_car::CarReader::new(payload).await.map_err(format)?;
        let mark = read.load(Ordering::Relaxed);
        Ok(Self {
            inner,
            read,
            mark,
            expected: (version == 2).then_some(limit),
            version,
        })
    }

    /// The roots its (CARv1) header names, in order.
    pub fn roots(&self) -> &[Cid] {
        self.inner.header().roots()
    }

    /// 1 or 2.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The next block, `None` at the end of the archive.
    pub async fn next_block(&mut self) -> Result<Option<(Cid, Bytes)>, CarError> {
        let block = self.inner.next_block().await.map_err(format)?;
        let read = self.read.load(Ordering::Relaxed);
        match block {
            Some((cid, data)) => {
                self.mark = read;
                Ok(Some((cid, Bytes::from(data))))
            }
            // iroh-car takes an end inside a length varint for the end of the archive.
            None if read != self.mark => Err(CarError::Truncated),
            None if self.expected.is_some_and(|size| size != read) => Err(CarError::Truncated),
            None => Ok(None),
        }
    }
}

fn format(err: iroh_car::Error) -> CarError {
    match err {
        iroh_car::Error::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => CarError::Truncated,
        iroh_car::Error::Parsing(text) if text.contains("early eof") => CarError::Truncated,
        other => CarError::Format(other),
    }
}

/// Fills `buf` as far as the source goes; how many bytes it got.
async fn read_up_to<R: AsyncRead + Unpin>(source: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match source.read(&mut buf[got..]).await? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Reads a CARv2 header (after its pragma) and skips to its payload; the payload's size.
async fn v2_payload_size<R: AsyncRead + Unpin>(source: &mut R) -> Result<u64, CarError> {
    let mut header = [0u8; V2_HEADER];
    if read_up_to(source, &mut header).await? < V2_HEADER {
        return Err(CarError::Truncated);
    }
    let (offset, size) = (le_u64(&header, 16), le_u64(&header, 24));
    let start = (V2_PRAGMA.len() + V2_HEADER) as u64;
    let Some(padding) = offset.checked_sub(start) else {
        return Err(CarError::V2Header(format!(
            "data offset {offset} lies inside the {start}-byte header"
        )));
    };
    let skipped = tokio::io::copy(&mut (&mut *source).take(padding), &mut tokio::io::sink()).await?;
    if skipped < padding {
        return Err(CarError::Truncated);
    }
    Ok(size)
}

fn le_u64(bytes: &[u8; V2_HEADER], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// A source that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counted<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let added = (buf.filled().len() - before) as u64;
        self.read.fetch_add(added, Ordering::Relaxed);
        polled
    }
}

/// A CARv1 header naming `roots`, framed (its length first).
pub fn header(roots: &[Cid]) -> Result<Bytes, CarError> {
    let encoded = iroh_car::CarHeader::new_v1(roots.to_vec())
        .encode()
        .map_err(CarError::Format)?;
    let mut out = varint(encoded.len() as u64);
    out.extend_from_slice(&encoded);
    Ok(Bytes::from(out))
}

/// One CARv1 section: `varint(len) ‖ CID ‖ block`.
pub fn section(cid: &Cid, block: &[u8]) -> Bytes {
    let id = cid.to_bytes();
    let mut out = varint((id.len() + block.len()) as u64);
    out.reserve(id.len() + block.len());
    out.extend_from_slice(&id);
    out.extend_from_slice(block);
    Bytes::from(out)
}

/// An unsigned LEB128 varint (multiformats' unsigned-varint).
fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

#[cfg(test)]
mod tests;
