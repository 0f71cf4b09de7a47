//! Unit tests of the node's storage rules below the RPC layer (the RPC API itself is tested
//! through a real `cairn node` process in compat-tests/tests/t40_embedded_node.rs).

use std::sync::Arc;

use bytes::Bytes;
use cid::{Cid, Version};
use futures::future::BoxFuture;

use crate::blockstore::PinMode;
use crate::importer::{AddOptions, Importer, clean_path};
use crate::pins::{self, PinFilter};
use crate::{BlockSource, Blocks, Blockstore, NodeError, dag};

fn store() -> (tempfile::TempDir, Blockstore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Blockstore::open(&dir.path().join("b.redb")).expect("open");
    (dir, store)
}

/// Answers every fetch with the same bytes.
struct Fixed(Bytes);

impl BlockSource for Fixed {
    fn fetch(&self, _cid: Cid) -> BoxFuture<'static, Option<Bytes>> {
        let data = self.0.clone();
        Box::pin(async move { Some(data) })
    }
}

fn raw_cid(data: &[u8]) -> Cid {
    dag::cid_of(Version::V1, dag::RAW, multihash_codetable::Code::Sha2_256, data).expect("cid")
}

#[tokio::test]
async fn a_fetched_block_that_does_not_match_its_cid_is_dropped() {
    let (_dir, store) = store();
    let wanted = raw_cid(b"the real block");
    let blocks = Blocks::new(
        store.clone(),
        Some(Arc::new(Fixed(Bytes::from_static(b"a forgery")))),
    );
    let got = blocks.get(wanted).await;
    assert!(
        matches!(got, Err(NodeError::NotFound(c)) if c == wanted),
        "{got:?}"
    );
    assert_eq!(store.usage().expect("usage"), (0, 0), "nothing was stored");
}

#[tokio::test]
async fn a_fetched_block_that_matches_is_stored() {
    let (_dir, store) = store();
    let data = Bytes::from_static(b"the real block");
    let blocks = Blocks::new(store.clone(), Some(Arc::new(Fixed(data.clone()))));
    assert_eq!(blocks.get(raw_cid(&data)).await.expect("fetched"), data);
    assert!(store.has(&raw_cid(&data)).expect("has"));
}

#[tokio::test]
async fn without_a_source_a_missing_block_fails_at_once() {
    let (_dir, store) = store();
    let missing = raw_cid(b"nowhere");
    let err = Blocks::new(store, None).get(missing).await.expect_err("missing");
    assert!(
        err.to_string()
            .starts_with("block was not found locally (offline)"),
        "{err}"
    );
}

async fn import(store: &Blockstore, data: &[u8]) -> Cid {
    let mut importer = Importer::new(
        AddOptions {
            chunk: 1000,
            ..AddOptions::default()
        },
        store.clone(),
    );
    let mut file = importer.file("f");
    file.push(&mut importer.sink, data, false).await.expect("push");
    let (_, cid, size) = file.finish(&mut importer.sink, false).await.expect("finish");
    importer.file_done("f", cid, size).expect("done");
    let (_, roots) = importer.finish().await.expect("finish import");
    assert_eq!(roots, vec![cid]);
    cid
}

#[tokio::test]
async fn gc_removes_only_what_no_pin_reaches() {
    let (_dir, store) = store();
    let blocks = Blocks::new(store.clone(), None);
    let kept = import(&store, &[1u8; 5000]).await;
    let dropped = import(&store, &[2u8; 5000]).await;
    pins::add(&blocks, kept, PinMode::Recursive, "k", &mut |_| {})
        .await
        .expect("pin");
    let removed = pins::gc(&blocks).await.expect("gc");
    // [2u8; 5000] in 1000-byte chunks: five identical leaves are one block, plus the root.
    assert_eq!(removed.len(), 2, "{removed:?}");
    assert!(removed.contains(&dropped));
    let listed = pins::list(&blocks, PinFilter::All).await.expect("ls");
    assert_eq!(
        listed.len(),
        2,
        "the recursive pin and its one distinct leaf (indirect)"
    );
    assert_eq!(listed[0].kind, "recursive");
    assert_eq!(listed[1].kind, "indirect");
    assert!(
        crate::reader::cat(blocks, kept, 0, None).await.is_ok(),
        "the pinned file is whole"
    );
}

#[tokio::test]
async fn pins_follow_kubo_rules() {
    let (_dir, store) = store();
    let blocks = Blocks::new(store.clone(), None);
    let cid = import(&store, b"hello").await;
    let err = pins::remove(&blocks, cid, true).await.expect_err("not pinned");
    assert_eq!(err.to_string(), "not pinned or pinned indirectly");
    pins::add(&blocks, cid, PinMode::Recursive, "", &mut |_| {})
        .await
        .expect("pin");
    let err = pins::add(&blocks, cid, PinMode::Direct, "", &mut |_| {})
        .await
        .expect_err("direct");
    assert!(err.to_string().ends_with("already pinned recursively"), "{err}");
    let err = pins::remove(&blocks, cid, false)
        .await
        .expect_err("non-recursive rm");
    assert!(err.to_string().ends_with("is pinned recursively"), "{err}");
    let missing = raw_cid(b"not here");
    let err = pins::add(&blocks, missing, PinMode::Recursive, "", &mut |_| {})
        .await
        .expect_err("missing");
    assert!(matches!(err, NodeError::NotFound(_)));
    assert!(
        store.pin(&missing).expect("read").is_none(),
        "a failed pin records nothing"
    );
}

#[test]
fn upload_paths_are_decoded_and_never_escape() {
    assert_eq!(clean_path("dir%2Fsub%2Fa.txt").expect("ok"), "dir/sub/a.txt");
    assert_eq!(clean_path("/a//./b").expect("ok"), "a/b");
    assert_eq!(clean_path("a+b%20c").expect("ok"), "a+b c");
    assert!(clean_path("a/../../etc").is_err());
}

#[tokio::test]
async fn a_block_under_a_recursive_pin_is_found_as_indirect_and_names_survive_a_repin() {
    let (_dir, store) = store();
    let blocks = Blocks::new(store.clone(), None);
    let root = import(&store, &[3u8; 2500]).await;
    let leaf = dag::links(&root, &store.get(&root).expect("get").expect("root"))
        .expect("links")
        .into_iter()
        .next()
        .expect("a leaf");
    pins::add(&blocks, root, PinMode::Recursive, "first", &mut |_| {})
        .await
        .expect("pin");
    assert_eq!(
        pins::indirect_root(&blocks, leaf).await.expect("walk"),
        Some(root)
    );
    assert_eq!(pins::indirect_root(&blocks, root).await.expect("walk"), None);
    pins::add(&blocks, root, PinMode::Recursive, "", &mut |_| {})
        .await
        .expect("repin");
    assert_eq!(store.pin(&root).expect("read").expect("pinned").name, "first");
}

/// A file node whose blocksizes add up past `u64::MAX` (here `[u64::MAX, 1]` over two raw
/// leaves) is refused with an error; rust-unixfs used to overflow adding them (a panic with
/// overflow checks). Found by `props::dag`.
#[tokio::test]
async fn a_file_whose_sizes_overflow_is_an_error_not_a_panic() {
    let (_dir, store) = store();
    let leaves = [raw_cid(b"a"), raw_cid(b"b")];
    store
        .put_many(&[
            (leaves[0], Bytes::from_static(b"a")),
            (leaves[1], Bytes::from_static(b"b")),
        ])
        .expect("put leaves");
    // UnixFS Data { Type: File, filesize: 1, blocksizes: [u64::MAX, 1] }
    let mut data = vec![0x08, 0x02, 0x18, 0x01, 0x20];
    data.extend([0xff; 9]);
    data.extend([0x01, 0x20, 0x01]);
    let links = leaves
        .iter()
        .map(|cid| ipld_dagpb::PbLink {
            cid: *cid,
            name: Some(String::new()),
            size: Some(1),
        })
        .collect();
    let block = ipld_dagpb::PbNode {
        links,
        data: Some(Bytes::from(data)),
    }
    .into_bytes();
    let root = dag::cid_of(
        Version::V1,
        dag::DAG_PB,
        multihash_codetable::Code::Sha2_256,
        &block,
    )
    .expect("cid");
    store.put_many(&[(root, Bytes::from(block))]).expect("put root");
    let err = crate::reader::cat(Blocks::new(store, None), root, 0, None)
        .await
        .expect_err("refused");
    assert!(err.to_string().ends_with("its sizes overflow"), "{err}");
}
