//! The CAR reader against the IPLD spec's own CARv1 and CARv2 fixtures (fixtures/car/, their
//! CIDs from the spec's JSON), its writer read back, and malformed input: every cut inside an
//! archive, a corrupt pragma, a bad CARv2 offset and random bytes are errors, never panics.

use multihash_codetable::{Code, MultihashDigest};
use proptest::prelude::*;

use super::*;

const V1: &[u8] = include_bytes!("../../../fixtures/car/carv1-basic.car");
const V1_JSON: &str = include_str!("../../../fixtures/car/carv1-basic.json");
const V2: &[u8] = include_bytes!("../../../fixtures/car/carv2-basic.car");
const V2_JSON: &str = include_str!("../../../fixtures/car/carv2-basic.json");
const CORRUPT_PRAGMA: &[u8] = include_bytes!("../../../fixtures/car/sample-corrupt-pragma.car");

/// What the spec's JSON says of a fixture: roots, block CIDs, where each section ends.
struct Spec {
    roots: Vec<Cid>,
    blocks: Vec<Cid>,
    section_ends: Vec<usize>,
    /// Where the first section starts (the header's end).
    header_end: usize,
}

fn spec(json: &str) -> Spec {
    let value: serde_json::Value = serde_json::from_str(json).expect("fixture json");
    let cid = |v: &serde_json::Value| Cid::try_from(v["/"].as_str().expect("cid text")).expect("cid");
    let roots = value["header"]["roots"]
        .as_array()
        .expect("roots")
        .iter()
        .map(cid)
        .collect();
    let blocks = value["blocks"].as_array().expect("blocks");
    let header_end = blocks[0]["offset"].as_u64().expect("offset") as usize;
    Spec {
        header_end,
        roots,
        blocks: blocks.iter().map(|b| cid(&b["cid"])).collect(),
        section_ends: blocks
            .iter()
            .map(|b| (b["offset"].as_u64().expect("offset") + b["length"].as_u64().expect("length")) as usize)
            .collect(),
    }
}

/// Every block of `bytes` (roots, version, blocks) or the error.
async fn read_all(bytes: &[u8]) -> Result<(Vec<Cid>, u64, Vec<(Cid, Bytes)>), CarError> {
    let mut reader = Reader::new(bytes).await?;
    let (roots, version) = (reader.roots().to_vec(), reader.version());
    let mut blocks = Vec::new();
    while let Some(block) = reader.next_block().await? {
        blocks.push(block);
    }
    Ok((roots, version, blocks))
}

fn cids(blocks: &[(Cid, Bytes)]) -> Vec<Cid> {
    blocks.iter().map(|(cid, _)| *cid).collect()
}

#[tokio::test]
async fn the_spec_fixtures_read_as_the_spec_says() {
    for (bytes, json, version) in [(V1, V1_JSON, 1), (V2, V2_JSON, 2)] {
        let want = spec(json);
        let (roots, got_version, blocks) = read_all(bytes).await.expect("fixture reads");
        assert_eq!(got_version, version);
        assert_eq!(roots, want.roots);
        assert_eq!(cids(&blocks), want.blocks, "CARv{version}: every block, in order");
    }
}

#[tokio::test]
async fn every_cut_inside_an_archive_is_an_error() {
    let v1 = spec(V1_JSON);
    for cut in 0..V1.len() {
        let at_boundary = cut == v1.header_end || v1.section_ends.contains(&cut);
        let result = read_all(&V1[..cut]).await;
        // A CARv1 has no length: cut between sections it is a shorter valid archive.
        assert_eq!(
            result.is_ok(),
            at_boundary,
            "CARv1 cut at {cut}: {:?}",
            result.err()
        );
    }
    let payload_end = 51 + 448; // the fixture's header: data offset 51, data size 448
    for cut in 0..payload_end {
        let result = read_all(&V2[..cut]).await;
        assert!(
            result.is_err(),
            "CARv2 cut at {cut} inside its declared payload was accepted"
        );
    }
    let (_, _, blocks) = read_all(&V2[..payload_end])
        .await
        .expect("the index is not needed");
    assert_eq!(blocks.len(), spec(V2_JSON).blocks.len());
}

#[tokio::test]
async fn a_corrupt_pragma_and_a_bad_v2_offset_are_errors() {
    assert!(read_all(CORRUPT_PRAGMA).await.is_err());
    assert!(read_all(b"").await.is_err(), "an empty upload is no archive");
    let mut bad = V2.to_vec();
    bad[V2_PRAGMA.len() + 16..V2_PRAGMA.len() + 24].copy_from_slice(&10u64.to_le_bytes());
    match read_all(&bad).await {
        Err(CarError::V2Header(text)) => assert!(text.contains("data offset 10"), "{text}"),
        other => panic!("expected a CARv2 header error, got {other:?}"),
    }
}

#[tokio::test]
async fn what_the_writer_writes_reads_back() {
    let blocks: Vec<(Cid, Bytes)> = (0..300u32)
        .map(|n| {
            let data = Bytes::from(vec![n as u8; (n as usize) * 7]);
            (Cid::new_v1(0x55, Code::Sha2_256.digest(&data)), data)
        })
        .collect();
    let roots = vec![blocks[0].0, blocks[299].0];
    let mut car = header(&roots).expect("header").to_vec();
    for (cid, data) in &blocks {
        car.extend_from_slice(&section(cid, data));
    }
    let (got_roots, version, got) = read_all(&car).await.expect("reads back");
    assert_eq!((got_roots, version), (roots, 1));
    assert_eq!(got, blocks);
}

proptest! {
    #[test]
    fn random_bytes_after_a_valid_start_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..600), v2 in any::<bool>()) {
        let start = if v2 { &V2[..51] } else { &V1[..100] };
        let input = [start, &tail].concat();
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let _ = runtime.block_on(read_all(&input));
    }
}
