//! The full comparison of the pinset with the daemon's pins: at start, after falling behind
//! the feed, every `sync_interval`, and on recover.
//!
//! The pinset is streamed from its store (never collected); only the daemon's pin list is
//! held, as the daemon sends it. Tracked CIDs that left the pinset are found page by page.

use std::collections::HashMap;
use std::sync::Arc;

use cid::Cid;

use super::{Inner, Status, allocated, kind_of, start_unpin, want_pinned};
use crate::ipfs::PinKind;
use crate::state::StateError;

/// Tracked CIDs checked against the pinset at a time.
const PAGE: usize = 10_000;

/// Compares the pinset with the daemon and starts what is missing; `retry` retries failures.
pub(super) async fn reconcile(inner: &Arc<Inner>, retry: bool) {
    let actual = inner.ipfs.pins().await.map_err(|e| e.to_string());
    let held = actual.as_ref().map_or(0, HashMap::len);
    let this = inner.clone();
    let pass = tokio::task::spawn_blocking(move || compare(&this, &actual, retry));
    match pass.await {
        Ok(Ok(pins)) => tracing::info!(pins, held, "tracker: compared the pinset with the daemon"),
        Ok(Err(e)) => tracing::warn!(error = %e, "tracker: cannot read the pinset"),
        Err(e) => tracing::warn!(error = %e, "tracker: comparison failed"),
    }
}

/// One pass over the pinset; returns how many pins it holds.
fn compare(
    inner: &Arc<Inner>,
    actual: &Result<HashMap<Cid, PinKind>, String>,
    retry: bool,
) -> Result<u64, StateError> {
    let store = inner.pins.clone();
    let me = inner.me.clone();
    let mut count = 0;
    for pin in store.iter()? {
        let pin = pin?;
        count += 1;
        let wanted = allocated(&pin, &me).then(|| kind_of(&pin));
        match actual {
            Ok(actual) => decide(inner, pin.cid, wanted, actual, retry),
            Err(why) => unreachable_daemon(inner, pin.cid, wanted, why),
        }
    }
    if let Ok(actual) = actual {
        drop_gone(inner, &store, actual)?;
    }
    Ok(count)
}

fn decide(
    inner: &Arc<Inner>,
    cid: Cid,
    wanted: Option<PinKind>,
    actual: &HashMap<Cid, PinKind>,
    retry: bool,
) {
    match wanted {
        None if actual.contains_key(&cid) => start_unpin(inner, cid),
        None => inner.forget(&cid, Status::Remote),
        Some(kind) => want_pinned(inner, cid, kind, actual.get(&cid).copied(), retry),
    }
}

/// The daemon cannot be asked: a pin allocated here that is not being worked on is a
/// `pin_error` with the reason (counted once, not again on every comparison).
fn unreachable_daemon(inner: &Arc<Inner>, cid: Cid, wanted: Option<PinKind>, why: &str) {
    let now = inner.status_of(&cid);
    let settled = matches!(now, Some(Status::Pinning | Status::PinQueued | Status::PinError));
    if wanted.is_some() && !settled {
        inner.set(cid, Status::PinError, why.to_owned());
    }
}

/// Tracked CIDs no longer in the pinset: unpinned on the daemon if it holds them, else forgotten.
fn drop_gone(
    inner: &Arc<Inner>,
    store: &crate::state::PinStore,
    actual: &HashMap<Cid, PinKind>,
) -> Result<(), StateError> {
    let mut after = None;
    loop {
        let page: Vec<Cid> = inner.keys_after(after, PAGE);
        let Some(last) = page.last().copied() else {
            return Ok(());
        };
        for cid in page {
            if store.contains(&cid)? {
                continue;
            }
            if actual.contains_key(&cid) {
                start_unpin(inner, cid);
            } else {
                inner.forget(&cid, Status::Unpinned);
            }
        }
        after = Some(last);
    }
}
