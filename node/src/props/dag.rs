//! Arbitrary DAG-PB blocks in a blockstore: random bytes, PB nodes with random `Data`, and
//! UnixFS nodes whose sizes, types and links lie, linked into small DAGs. Walking them
//! (`links`, recursive pins, `pin/ls`, gc), resolving paths and `cat` must end in a value or
//! a kubo-style error: no panic, no hang; gc keeps every block a pin reaches.

use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

use bytes::Bytes;
use cid::{Cid, Version};
use ipld_dagpb::{PbLink, PbNode};
use multihash_codetable::Code;
use proptest::prelude::*;
use proptest::sample::Index;

use super::{Harness, Tally, ci_config, long_run};
use crate::blockstore::PinMode;
use crate::pins::{self, PinFilter};
use crate::{Blocks, Blockstore, dag, reader};

/// One block of a generated DAG.
#[derive(Clone, Debug)]
enum Spec {
    /// Bytes stored under a raw CID.
    Raw(Vec<u8>),
    /// Any bytes stored under a DAG-PB CID.
    Junk(Vec<u8>),
    /// A well-encoded PB node, its `Data` a UnixFS message or anything.
    Pb {
        data: Option<Data>,
        links: Vec<LinkSpec>,
        v0: bool,
    },
}

#[derive(Clone, Debug)]
enum Data {
    Bytes(Vec<u8>),
    UnixFs(UnixFs),
}

/// A UnixFS `Data` message, every field free.
#[derive(Clone, Debug)]
struct UnixFs {
    kind: u64,
    data: Option<Vec<u8>>,
    filesize: Option<u64>,
    blocksizes: Vec<u64>,
    /// Blocksizes as many as the node's links (rust-unixfs refuses other counts early).
    match_links: bool,
    packed: bool,
    hash_type: Option<u64>,
    fanout: Option<u64>,
    mode: Option<u64>,
    mtime: Option<(u64, Option<u32>)>,
}

#[derive(Clone, Debug)]
struct LinkSpec {
    target: Target,
    name: Option<String>,
    tsize: Option<u64>,
}

#[derive(Clone, Debug)]
enum Target {
    /// A block made before this one.
    Earlier(Index),
    /// A CID whose block is nowhere.
    Missing([u8; 32]),
    /// An earlier block's bytes under a raw CID (stored too).
    RawOf(Index),
}

/// What to do with the DAG once stored.
#[derive(Clone, Debug)]
struct Ops {
    offset: u64,
    length: Option<u64>,
    path: Vec<String>,
    other: Index,
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_varint(out: &mut Vec<u8>, field: u64, v: u64) {
    varint(out, field << 3);
    varint(out, v);
}

fn field_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, (field << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn encode_unixfs(fs: &UnixFs, links: usize) -> Vec<u8> {
    let mut out = Vec::new();
    field_varint(&mut out, 1, fs.kind);
    if let Some(data) = &fs.data {
        field_bytes(&mut out, 2, data);
    }
    if let Some(size) = fs.filesize {
        field_varint(&mut out, 3, size);
    }
    let mut sizes = fs.blocksizes.clone();
    if fs.match_links {
        sizes.resize(links, 1);
    }
    if fs.packed && !sizes.is_empty() {
        let mut packed = Vec::new();
        sizes.iter().for_each(|s| varint(&mut packed, *s));
        field_bytes(&mut out, 4, &packed);
    } else {
        sizes.iter().for_each(|s| field_varint(&mut out, 4, *s));
    }
    for (field, value) in [(5, fs.hash_type), (6, fs.fanout), (7, fs.mode)] {
        if let Some(v) = value {
            field_varint(&mut out, field, v);
        }
    }
    if let Some((seconds, nanos)) = fs.mtime {
        let mut time = Vec::new();
        field_varint(&mut time, 1, seconds);
        if let Some(n) = nanos {
            varint(&mut time, (2 << 3) | 5);
            time.extend_from_slice(&n.to_le_bytes());
        }
        field_bytes(&mut out, 8, &time);
    }
    out
}

fn sha256(codec: u64, v0: bool, bytes: &[u8]) -> Cid {
    let version = if v0 && codec == dag::DAG_PB {
        Version::V0
    } else {
        Version::V1
    };
    dag::cid_of(version, codec, Code::Sha2_256, bytes).expect("sha2-256 CID")
}

/// Stores the DAG of `specs` (each may link to the ones before it); returns every block.
fn build(specs: &[Spec]) -> Vec<(Cid, Bytes)> {
    let mut built: Vec<(Cid, Bytes)> = Vec::new();
    for spec in specs {
        let (cid, block) = match spec {
            Spec::Raw(bytes) => (sha256(dag::RAW, false, bytes), Bytes::from(bytes.clone())),
            Spec::Junk(bytes) => (sha256(dag::DAG_PB, false, bytes), Bytes::from(bytes.clone())),
            Spec::Pb { data, links, v0 } => {
                let links: Vec<PbLink> = links.iter().map(|l| link(l, &mut built)).collect();
                let data = data.as_ref().map(|d| match d {
                    Data::Bytes(b) => Bytes::from(b.clone()),
                    Data::UnixFs(fs) => Bytes::from(encode_unixfs(fs, links.len())),
                });
                let block = PbNode { links, data }.into_bytes();
                (sha256(dag::DAG_PB, *v0, &block), Bytes::from(block))
            }
        };
        built.push((cid, block));
    }
    built
}

fn link(spec: &LinkSpec, built: &mut Vec<(Cid, Bytes)>) -> PbLink {
    let cid = match (&spec.target, built.is_empty()) {
        (Target::Missing(digest), _) => sha256(dag::RAW, false, digest),
        (_, true) => sha256(dag::RAW, false, b"nothing before"),
        (Target::Earlier(i), false) => built[i.index(built.len())].0,
        (Target::RawOf(i), false) => {
            let bytes = built[i.index(built.len())].1.clone();
            let cid = sha256(dag::RAW, false, &bytes);
            built.push((cid, bytes));
            cid
        }
    };
    PbLink {
        cid,
        name: spec.name.clone(),
        size: spec.tsize,
    }
}

/// The stored blocks reachable from `root` (itself included), by the node's own `links`.
fn reachable(store: &Blockstore, root: Cid) -> Result<BTreeSet<Cid>, TestCaseError> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(cid) = stack.pop() {
        let Some(block) = store.get(&cid).map_err(fail)? else {
            continue;
        };
        if seen.insert(cid) {
            stack.extend(dag::links(&cid, &block).unwrap_or_default());
        }
    }
    Ok(seen)
}

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// Reads all of a `cat`: the bytes, whether the stream ended in an error, the length told.
async fn cat(blocks: &Blocks, cid: Cid, ops: &Ops) -> Option<(u64, bool, u64)> {
    let mut cat = reader::cat(blocks.clone(), cid, ops.offset, ops.length)
        .await
        .ok()?;
    let (mut read, mut failed) = (0u64, false);
    while let Some(chunk) = cat.chunks.recv().await {
        match chunk {
            Ok(bytes) => read += bytes.len() as u64,
            Err(_) => failed = true,
        }
    }
    Some((read, failed, cat.length))
}

/// The properties of one DAG.
/// What a DAG came to (the long run's tally): how `cat` of its root went, and its pin.
const OUTCOMES: [&str; 6] = [
    "read + pinned",
    "read failed midway + pinned",
    "read refused + pinned",
    "read + pin refused",
    "read failed midway + pin refused",
    "read refused + pin refused",
];

/// The properties of one DAG; returns its [`OUTCOMES`] slot.
async fn check_dag(specs: Vec<Spec>, ops: Ops) -> Result<usize, TestCaseError> {
    let dir = tempfile::tempdir().map_err(fail)?;
    let store = Blockstore::open(&dir.path().join("b.redb")).map_err(fail)?;
    let built = build(&specs);
    store.put_many(&built).map_err(fail)?;
    let blocks = Blocks::new(store.clone(), None);
    for (cid, block) in &built {
        let _ = dag::links(cid, block);
        let _ = dag::named_links(cid, block.clone());
    }
    let root = built.last().map(|(c, _)| *c).ok_or_else(|| fail("no blocks"))?;
    let other = built[ops.other.index(built.len())].0;
    let mut read = 2;
    for cid in [other, root] {
        let outcome = cat(&blocks, cid, &ops).await;
        if let Some((sent, _, length)) = outcome {
            prop_assert!(
                sent <= length,
                "cat {} sent {} bytes of {} told",
                cid,
                sent,
                length
            );
        }
        read = outcome.map_or(2, |(_, failed, _)| usize::from(failed));
        let _ = reader::resolve(&blocks, cid, &ops.path).await;
    }
    let pinned = pins::add(&blocks, root, PinMode::Recursive, "p", &mut |_| {}).await;
    let record = store.pin(&root).map_err(fail)?;
    prop_assert_eq!(
        record.is_some(),
        pinned.is_ok(),
        "pinned {:?}, recorded {:?}",
        pinned,
        record
    );
    let _ = pins::add(&blocks, other, PinMode::Direct, "", &mut |_| {}).await;
    let _ = pins::list(&blocks, PinFilter::All).await;
    let _ = pins::list_one(&blocks, other, "arg", PinFilter::All).await;
    let kept = reachable(&store, root)?;
    let before: HashSet<Cid> = store.cids().map_err(fail)?.into_iter().collect();
    match pins::gc(&blocks).await {
        Ok(_) if pinned.is_ok() => {
            for cid in &kept {
                prop_assert!(
                    store.has(cid).map_err(fail)?,
                    "gc removed {} below the pin {}",
                    cid,
                    root
                );
            }
        }
        Ok(_) => {}
        Err(_) => {
            let after: HashSet<Cid> = store.cids().map_err(fail)?.into_iter().collect();
            prop_assert_eq!(after, before, "a failed gc removed blocks");
        }
    }
    Ok(read + if pinned.is_ok() { 0 } else { 3 })
}

fn check(specs: Vec<Spec>, ops: Ops) -> Result<usize, TestCaseError> {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    Harness::get(&HARNESS, "dag").run(check_dag(specs, ops))
}

fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..2048,
        1 => any::<u64>(),
        1 => (u64::MAX - 2048)..=u64::MAX,
    ]
}

fn unixfs() -> impl Strategy<Value = UnixFs> {
    (
        prop_oneof![6 => 0u64..6, 1 => any::<u64>()],
        prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
        prop::option::of(size()),
        prop::collection::vec(size(), 0..4),
        prop::bool::weighted(0.8),
        any::<bool>(),
        prop::option::weighted(0.1, prop_oneof![Just(0x22u64), any::<u64>()]),
        prop::option::weighted(0.1, prop_oneof![Just(256u64), any::<u64>()]),
        prop::option::weighted(0.1, any::<u64>()),
        prop::option::weighted(0.1, (any::<u64>(), prop::option::of(any::<u32>()))),
    )
        .prop_map(
            |(kind, data, filesize, blocksizes, match_links, packed, hash_type, fanout, mode, mtime)| {
                UnixFs {
                    kind,
                    data,
                    filesize,
                    blocksizes,
                    match_links,
                    packed,
                    hash_type,
                    fanout,
                    mode,
                    mtime,
                }
            },
        )
}

fn link_spec() -> impl Strategy<Value = LinkSpec> {
    (
        prop_oneof![
            6 => any::<Index>().prop_map(Target::Earlier),
            1 => any::<[u8; 32]>().prop_map(Target::Missing),
            2 => any::<Index>().prop_map(Target::RawOf),
        ],
        prop::option::of(prop_oneof![
            "[a-c]{1,2}",
            Just(String::new()),
            "\\PC{0,4}",
            Just("..".into())
        ]),
        prop::option::of(size()),
    )
        .prop_map(|(target, name, tsize)| LinkSpec { target, name, tsize })
}

fn spec() -> impl Strategy<Value = Spec> {
    let data = prop_oneof![
        4 => unixfs().prop_map(Data::UnixFs),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Data::Bytes),
    ];
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..128).prop_map(Spec::Raw),
        2 => prop::collection::vec(any::<u8>(), 0..128).prop_map(Spec::Junk),
        6 => (prop::option::weighted(0.9, data), prop::collection::vec(link_spec(), 0..5), any::<bool>())
            .prop_map(|(data, links, v0)| Spec::Pb { data, links, v0 }),
    ]
}

fn ops() -> impl Strategy<Value = Ops> {
    (
        prop_oneof![4 => 0u64..64, 1 => any::<u64>()],
        prop::option::of(prop_oneof![4 => 0u64..64, 1 => any::<u64>()]),
        prop::collection::vec(
            prop_oneof!["[a-c]{1,2}", Just(String::new()), Just("..".into())],
            0..3,
        ),
        any::<Index>(),
    )
        .prop_map(|(offset, length, path, other)| Ops {
            offset,
            length,
            path,
            other,
        })
}

fn dags() -> impl Strategy<Value = (Vec<Spec>, Ops)> {
    (prop::collection::vec(spec(), 1..7), ops())
}

proptest! {
    #![proptest_config(ci_config())]

    #[test]
    fn any_dag_walks_resolves_and_reads_without_panic((specs, ops) in dags()) {
        check(specs, ops)?;
    }
}

#[test]
fn fuzz_dag() {
    let tally = Tally::new(&OUTCOMES);
    long_run("fuzz_dag", dags(), |(specs, ops)| {
        tally.count(check(specs, ops)?);
        Ok(())
    });
    tally.report("fuzz_dag");
}
