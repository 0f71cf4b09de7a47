//! Following the pinset change by change (the state machine's feed), so that a committed pin
//! reaches the daemon without rereading the whole pinset.
//!
//! What a change cannot tell (whether the daemon still holds a pin it had, a kind upgrade of a
//! pin already held) the next full comparison finds.

use std::sync::Arc;

use super::{Inner, Status, Work, allocated, enqueue, kind_of, start_unpin};
use crate::state::Change;

/// Acts on `changes`; false when they call for a full comparison instead (a snapshot).
pub(super) fn apply(inner: &Arc<Inner>, changes: &[Change]) -> bool {
    for change in changes {
        match change {
            Change::Reset => return false,
            Change::Pinned(pin) if allocated(pin, &inner.me) => {
                let held_or_coming = matches!(
                    inner.status_of(&pin.cid),
                    Some(Status::Pinned | Status::Pinning | Status::PinQueued)
                );
                if !held_or_coming {
                    enqueue(inner, pin.cid, Work::Pin(kind_of(pin)), false);
                }
            }
            Change::Pinned(pin) => unpin_if_tracked(inner, &pin.cid),
            Change::Unpinned(cid) => unpin_if_tracked(inner, cid),
        }
    }
    true
}

/// A pin this peer tracked is no longer its to hold (removed, or allocated elsewhere).
fn unpin_if_tracked(inner: &Arc<Inner>, cid: &cid::Cid) {
    if inner.status_of(cid).is_some() {
        start_unpin(inner, *cid);
    }
}
