//! What the node checks beside rust-unixfs's file walk, so a lying DAG is an error and
//! never a panic.
//!
//! - Sizes: rust-unixfs adds a node's `filesize` and `blocksizes` to the node's offset with
//!   plain `u64` arithmetic, so a block claiming sizes near `u64::MAX` overflows it (a panic
//!   with overflow checks, nonsense ranges without). [`FileWalk`] keeps an upper bound of every
//!   offset the walk can reach and refuses a block whose sizes, added to it, do not fit in a
//!   `u64`; for a real file the bound stays within a few times its size. The protobuf is read
//!   conservatively (every occurrence of a field counts), whichever one rust-unixfs keeps.
//! - Pending links: when a branch's children all lie outside the range being read (only a
//!   DAG whose children do not cover their parent's range can do that), rust-unixfs returns a
//!   walk with nothing pending whose `pending_links` panics. [`FileWalk`] mirrors the links
//!   rust-unixfs keeps (their ranges, as it computes them) and says when the walk is over.

use std::ops::Range;

use cid::Cid;

use crate::dag;
use crate::error::NodeError;

/// The node's side of one rust-unixfs file walk over the byte range `target`.
#[derive(Clone, Debug)]
pub(crate) struct FileWalk {
    /// An upper bound of the offsets of the nodes still to visit.
    offsets: u64,
    target: Range<u64>,
    /// The ranges of the links rust-unixfs holds, next last.
    pending: Vec<Range<u64>>,
}

impl FileWalk {
    /// A walk reading `target` (normalised as rust-unixfs's `with_target_range` does).
    pub(crate) fn new(target: Range<u64>) -> Self {
        let end = target.end.max(target.start);
        Self {
            offsets: 0,
            target: target.start..end,
            pending: Vec::new(),
        }
    }

    /// Admits the DAG-PB root `block` of `cid`, before rust-unixfs starts on it.
    pub(crate) fn root(&mut self, cid: &Cid, block: &[u8]) -> Result<(), NodeError> {
        self.admit(cid, block)?;
        self.push_links(0, block);
        Ok(())
    }

    /// Admits the next block of the walk (rust-unixfs's first pending link), before
    /// rust-unixfs continues with it.
    pub(crate) fn next(&mut self, cid: &Cid, block: &[u8]) -> Result<(), NodeError> {
        let range = self.pending.pop().unwrap_or(0..0);
        // rust-unixfs reads every block that is not raw as DAG-PB.
        if cid.codec() != dag::RAW {
            self.admit(cid, block)?;
            self.push_links(range.start, block);
        }
        Ok(())
    }

    /// Whether rust-unixfs holds no link any more (its walk, if it returned one, is over).
    pub(crate) fn is_done(&self) -> bool {
        self.pending.is_empty()
    }

    fn admit(&mut self, cid: &Cid, block: &[u8]) -> Result<(), NodeError> {
        let refused = |why: &str| NodeError::Unsupported(format!("cannot read {cid} as a file: {why}"));
        let claims = claims(block).ok_or_else(|| refused("malformed protobuf"))?;
        let offsets = u128::from(self.offsets);
        let links_end = u64::try_from(offsets + claims.blocksizes);
        let data_end = u64::try_from(offsets + u128::from(claims.filesize.max(claims.data)));
        match (links_end, data_end) {
            (Ok(links_end), Ok(_)) => {
                self.offsets = links_end;
                Ok(())
            }
            _ => Err(refused("its sizes overflow")),
        }
    }

    /// Pushes the links of the node at `offset` that rust-unixfs keeps: those whose range
    /// touches the target, in reverse (next last).
    fn push_links(&mut self, offset: u64, block: &[u8]) {
        let Some((links, sizes)) = layout(block) else {
            return;
        };
        let mut start = offset;
        let mut kept = Vec::new();
        for size in sizes.into_iter().take(links) {
            let range = start..start.saturating_add(size);
            start = range.end;
            if range.start.max(self.target.start) <= range.end.min(self.target.end) {
                kept.push(range);
            }
        }
        self.pending.extend(kept.into_iter().rev());
    }
}

/// A PB node's link count and UnixFS blocksizes as rust-unixfs reads them: every `Links`
/// field, and the unpacked `blocksizes` of the last `Data` field.
fn layout(block: &[u8]) -> Option<(usize, Vec<u64>)> {
    let (mut links, mut data) = (0, None);
    for (field, value) in Fields::new(block) {
        match (field, value?) {
            (1, Value::Bytes(bytes)) => data = Some(bytes),
            (2, Value::Bytes(_)) => links += 1,
            _ => {}
        }
    }
    let mut sizes = Vec::new();
    for (field, value) in Fields::new(data.unwrap_or_default()) {
        if let (4, Value::Varint(size)) = (field, value?) {
            sizes.push(size);
        }
    }
    Some((links, sizes))
}

/// What one node claims, maximised (or summed) over every occurrence of each field.
#[derive(Debug, Default, PartialEq, Eq)]
struct Claims {
    filesize: u64,
    /// The sum of the blocksizes (at most 2^64 of them: no overflow in a `u128`).
    blocksizes: u128,
    data: u64,
}

/// The claims of a DAG-PB block's `Data` (a UnixFS message); `None` when malformed.
fn claims(block: &[u8]) -> Option<Claims> {
    let mut out = Claims::default();
    for (field, value) in Fields::new(block) {
        if let (1, Value::Bytes(data)) = (field, value?) {
            let inner = unixfs_claims(data)?;
            out.filesize = out.filesize.max(inner.filesize);
            out.blocksizes = out.blocksizes.max(inner.blocksizes);
            out.data = out.data.max(inner.data);
        }
    }
    Some(out)
}

fn unixfs_claims(data: &[u8]) -> Option<Claims> {
    let mut out = Claims::default();
    for (field, value) in Fields::new(data) {
        match (field, value?) {
            (2, Value::Bytes(bytes)) => out.data = out.data.max(bytes.len() as u64),
            (3, Value::Varint(size)) => out.filesize = out.filesize.max(size),
            (4, Value::Varint(size)) => out.blocksizes += u128::from(size),
            (4, Value::Bytes(packed)) => {
                let mut rest = packed;
                while !rest.is_empty() {
                    let (size, used) = varint(rest)?;
                    out.blocksizes += u128::from(size);
                    rest = &rest[used..];
                }
            }
            _ => {}
        }
    }
    Some(out)
}

/// One protobuf field value.
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The fields of a protobuf message, in order; a malformed one ends the walk with `None`.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn new(message: &'a [u8]) -> Self {
        Self { rest: message }
    }

    fn field(&mut self) -> Option<(u64, Value<'a>)> {
        let (key, used) = varint(self.rest)?;
        self.rest = &self.rest[used..];
        let value = match key & 7 {
            0 => {
                let (v, used) = varint(self.rest)?;
                self.rest = &self.rest[used..];
                Value::Varint(v)
            }
            1 | 5 => {
                let width = if key & 7 == 1 { 8 } else { 4 };
                self.rest = self.rest.get(width..)?;
                Value::Fixed
            }
            2 => {
                let (len, used) = varint(self.rest)?;
                let end = used.checked_add(usize::try_from(len).ok()?)?;
                let bytes = self.rest.get(used..end)?;
                self.rest = &self.rest[end..];
                Value::Bytes(bytes)
            }
            _ => return None,
        };
        Some((key >> 3, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (u64, Option<Value<'a>>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match self.field() {
            Some((field, value)) => Some((field, Some(value))),
            None => {
                self.rest = &[];
                Some((0, None))
            }
        }
    }
}

/// A protobuf varint and the bytes it took (at most ten).
fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().take(10).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PBNode { Data: UnixFs { Type: File, filesize: 10, blocksizes: [4, 6] }, no links }
    const SIZES: [u8; 10] = [0x0a, 0x08, 0x08, 0x02, 0x18, 0x0a, 0x20, 0x04, 0x20, 0x06];

    #[test]
    fn sizes_add_up_across_a_walk() {
        assert_eq!(
            claims(&SIZES),
            Some(Claims {
                filesize: 10,
                blocksizes: 10,
                data: 0
            })
        );
        let cid = Cid::default();
        let mut walk = FileWalk::new(0..u64::MAX);
        walk.root(&cid, &SIZES).expect("fits");
        walk.next(&cid, &SIZES).expect("fits");
        assert_eq!(walk.offsets, 20);
    }

    #[test]
    fn malformed_protobuf_is_refused() {
        let cid = Cid::default();
        for block in [&[0x0a, 0x05, 0x08][..], &[0x0b], &[0xff; 11]] {
            assert!(FileWalk::new(0..1).root(&cid, block).is_err(), "{block:?}");
        }
    }

    #[test]
    fn only_links_touching_the_target_are_pending() {
        // Two links (empty PBLinks) before the Data: ranges 0..4 and 4..10.
        let block = [&[0x12, 0x00, 0x12, 0x00][..], &SIZES].concat();
        let cid = Cid::default();
        let mut walk = FileWalk::new(5..7);
        walk.root(&cid, &block).expect("fits");
        assert_eq!(walk.pending, vec![4..10]);
        let mut walk = FileWalk::new(20..30);
        walk.root(&cid, &block).expect("fits");
        assert!(walk.is_done());
    }
}
