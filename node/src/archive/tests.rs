//! Export order and import checks over temp-dir stores: a directory's blocks come out parent
//! first, links in order, each once (read back with iroh-car's own reader, not ours); what is
//! exported imports elsewhere whole, also wrapped as a CARv2; a forged, oversized or cut
//! block ends the import with kubo's words.

use bytes::Bytes;
use cid::{Cid, Version};
use futures::TryStreamExt;

use super::*;
use crate::importer::{AddOptions, Importer};

fn store() -> (tempfile::TempDir, Blockstore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Blockstore::open(&dir.path().join("b.redb")).expect("open");
    (dir, store)
}

/// Adds `d/a` (5000 bytes in 1000-byte chunks, all distinct) and `d/b` (one chunk); the CIDs
/// of `d`, `d/a` and `d/b`.
async fn add_directory(store: &Blockstore) -> (Cid, Cid, Cid) {
    let mut importer = Importer::new(
        AddOptions {
            chunk: 1000,
            ..AddOptions::default()
        },
        store.clone(),
    );
    importer.directory("d").expect("dir");
    let mut cids = Vec::new();
    for (path, data) in [
        ("d/a", (0..5000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>()),
        ("d/b", b"bee".to_vec()),
    ] {
        let mut file = importer.file(path);
        file.push(&mut importer.sink, &data, false).await.expect("push");
        let (_, cid, size) = file.finish(&mut importer.sink, false).await.expect("finish");
        importer.file_done(path, cid, size).expect("done");
        cids.push(cid);
    }
    let (_, roots) = importer.finish().await.expect("finish import");
    (roots[0], cids[0], cids[1])
}

async fn exported(store: &Blockstore, root: Cid) -> Vec<u8> {
    let pieces: Vec<Bytes> = export(Blocks::new(store.clone(), None), root)
        .try_collect()
        .await
        .expect("export");
    pieces.concat()
}

async fn import_bytes(store: &Blockstore, car: &[u8], max_block: usize) -> Result<Imported, NodeError> {
    let mut imported = Imported::default();
    import(store, car, max_block, &mut imported).await?;
    Ok(imported)
}

#[tokio::test]
async fn an_export_is_parent_first_links_in_order_each_block_once() {
    let (_dir, first) = store();
    let (dir, a, b) = add_directory(&first).await;
    let leaves = dag::links(&a, &first.get(&a).expect("get").expect("a")).expect("links");
    assert_eq!(leaves.len(), 5);
    let car = exported(&first, dir).await;
    let mut reader = iroh_car::CarReader::new(car.as_slice())
        .await
        .expect("iroh-car reads it");
    assert_eq!(reader.header().roots(), &[dir]);
    let mut order = Vec::new();
    while let Some((cid, data)) = reader.next_block().await.expect("block") {
        dag::verify(&cid, &data).expect("each block is its CID's");
        order.push(cid);
    }
    let want: Vec<Cid> = [dir, a].into_iter().chain(leaves).chain([b]).collect();
    assert_eq!(order, want);

    let (_dir2, same) = store();
    let repeated = {
        let mut importer = Importer::new(
            AddOptions {
                chunk: 1000,
                ..AddOptions::default()
            },
            same.clone(),
        );
        let mut file = importer.file("z");
        file.push(&mut importer.sink, &[0u8; 5000], false)
            .await
            .expect("push");
        let (_, cid, size) = file.finish(&mut importer.sink, false).await.expect("finish");
        importer.file_done("z", cid, size).expect("done");
        importer.finish().await.expect("stored");
        cid
    };
    let car = exported(&same, repeated).await;
    let mut reader = iroh_car::CarReader::new(car.as_slice()).await.expect("reads");
    let mut count = 0;
    while reader.next_block().await.expect("block").is_some() {
        count += 1;
    }
    assert_eq!(count, 2, "five links to one leaf: the root and the leaf once");
}

#[tokio::test]
async fn what_one_node_exports_another_imports_whole_as_carv1_and_carv2() {
    let (_dir, source) = store();
    let (dir, _, _) = add_directory(&source).await;
    let car = exported(&source, dir).await;
    let (_dir1, v1_store) = store();
    let v1 = import_bytes(&v1_store, &car, KUBO_MAX_BLOCK)
        .await
        .expect("CARv1");
    assert_eq!((v1.roots.clone(), v1.blocks), (vec![dir], 8));
    assert_eq!(v1_store.usage().expect("usage"), source.usage().expect("usage"));
    assert_eq!(
        v1.bytes,
        source.usage().expect("usage").1,
        "every block once: the bytes the source holds"
    );

    // CARv2: pragma, a header (no characteristics, data at 51, no index), the CARv1 as payload.
    let mut v2 = cairn_kubo::car::V2_PRAGMA.to_vec();
    v2.extend_from_slice(&[0u8; 16]);
    for word in [51u64, car.len() as u64, 0] {
        v2.extend_from_slice(&word.to_le_bytes());
    }
    v2.extend_from_slice(&car);
    let (_dir2, v2_store) = store();
    assert_eq!(
        import_bytes(&v2_store, &v2, KUBO_MAX_BLOCK).await.expect("CARv2"),
        v1
    );
}

#[tokio::test]
async fn a_forged_an_oversized_or_a_cut_block_fails_in_kubos_words() {
    let data = Bytes::from_static(b"the real block");
    let cid = dag::cid_of(Version::V1, dag::RAW, multihash_codetable::Code::Sha2_256, &data).expect("cid");
    let header = cairn_kubo::car::header(&[cid]).expect("header");
    let (_dir, target) = store();

    let forged = [header.clone(), cairn_kubo::car::section(&cid, b"a forgery")].concat();
    let err = import_bytes(&target, &forged, KUBO_MAX_BLOCK)
        .await
        .expect_err("forged");
    assert_eq!(
        err.to_string(),
        format!("import failed at block \"{cid}\": block data does not match its CID (hash mismatch)")
    );

    let whole = [header.clone(), cairn_kubo::car::section(&cid, &data)].concat();
    let err = import_bytes(&target, &whole, 4).await.expect_err("too big");
    assert!(err.to_string().contains("block is over 4 bytes"), "{err}");
    let big = Bytes::from(vec![7u8; KUBO_MAX_BLOCK + 1]);
    let big_cid = dag::cid_of(Version::V1, dag::RAW, multihash_codetable::Code::Sha2_256, &big).expect("cid");
    let over = [header.clone(), cairn_kubo::car::section(&big_cid, &big)].concat();
    let err = import_bytes(&target, &over, KUBO_MAX_BLOCK)
        .await
        .expect_err("over 1 MiB");
    assert!(err.to_string().contains("produced block is over 1MiB"), "{err}");
    assert!(
        import_bytes(&target, &over, cairn_kubo::car::MAX_SECTION)
            .await
            .is_ok(),
        "allow-big-block"
    );

    let two = [whole.to_vec(), cairn_kubo::car::section(&cid, &data).to_vec()].concat();
    let err = import_bytes(&target, &two[..two.len() - 3], KUBO_MAX_BLOCK)
        .await
        .expect_err("cut");
    assert!(
        err.to_string()
            .starts_with(&format!("import failed after block \"{cid}\"")),
        "{err}"
    );
    let err = import_bytes(&target, b"not a car", KUBO_MAX_BLOCK)
        .await
        .expect_err("no car");
    assert!(!err.to_string().is_empty());
}
