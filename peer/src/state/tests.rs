use super::testing::pin_of;
use super::*;

fn apply_all(db: &Database, ops: &[PinOp]) -> Vec<Applied> {
    let txn = db.begin_write().unwrap();
    let out = ops.iter().map(|op| apply(&txn, op).unwrap()).collect();
    txn.commit().unwrap();
    out
}

#[test]
fn pins_unpins_and_lists_in_one_stream() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir.path().join("state.redb")).unwrap();
    let store = PinStore::new(db.clone());
    let ops: Vec<_> = (0..100).map(|n| PinOp::Pin(Box::new(pin_of(n)))).collect();
    assert!(apply_all(&db, &ops).iter().all(|a| *a == Applied::Pinned));
    assert_eq!(store.len().unwrap(), 100);
    let gone = pin_of(7).cid;
    assert_eq!(
        apply_all(&db, &[PinOp::Unpin(gone), PinOp::Unpin(gone)]),
        vec![Applied::Unpinned, Applied::NotPinned]
    );
    assert_eq!(store.get(&gone).unwrap(), None);
    assert_eq!(
        store.get(&pin_of(8).cid).unwrap().map(|p| p.cid),
        Some(pin_of(8).cid)
    );
    assert_eq!(store.iter().unwrap().count(), 99);
}

#[test]
fn export_then_import_restores_the_same_pinset() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir.path().join("a.redb")).unwrap();
    apply_all(
        &db,
        &(0..20)
            .map(|n| PinOp::Pin(Box::new(pin_of(n))))
            .collect::<Vec<_>>(),
    );
    let mut out = Vec::new();
    assert_eq!(PinStore::new(db).export(&mut out).unwrap(), 20);

    let other = open(&dir.path().join("b.redb")).unwrap();
    let ops: Vec<_> = read_export(out.as_slice())
        .map(|p| PinOp::Pin(Box::new(p.unwrap())))
        .collect();
    apply_all(&other, &ops);
    let mut again = Vec::new();
    PinStore::new(other).export(&mut again).unwrap();
    assert_eq!(out, again);
}

#[test]
fn a_newer_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let db = open(&path).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(META)
        .unwrap()
        .insert(VERSION_KEY, (FORMAT_VERSION + 1).to_be_bytes().as_slice())
        .unwrap();
    txn.commit().unwrap();
    drop(db);
    let err = open(&path).unwrap_err().to_string();
    assert!(err.contains("newer than this cairn supports"), "{err}");
}

#[test]
fn clear_empties_the_pinset_and_bad_lines_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir.path().join("state.redb")).unwrap();
    apply_all(&db, &[PinOp::Pin(Box::new(pin_of(1)))]);
    let txn = db.begin_write().unwrap();
    clear(&txn).unwrap();
    txn.commit().unwrap();
    assert!(PinStore::new(db).is_empty().unwrap());
    assert!(read_export(&b"{not json}\n"[..]).next().unwrap().is_err());
}
