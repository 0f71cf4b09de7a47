//! Listings of the whole pinset (`pin ls`, `/allocations`, `/pins`, status fan-out): streamed
//! a page at a time, and bounded in number.
//!
//! # Invariants
//! - A listing holds no blocking thread and no read transaction while its consumer is slow:
//!   pages come from `PinStore::pages`, each read in its own short transaction.
//! - At most [`MAX_LISTINGS`] listings run at once; one more is refused with
//!   [`ClusterError::Busy`] (503) instead of queueing, so slow readers cost a bounded amount
//!   of memory (a page each) and never delay writes or point reads. A reader that stops
//!   reading altogether is cut off by the server's write stall limit
//!   (`api.ipfsproxy.write_stall_timeout`), which frees its slot.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::Semaphore;

use super::{Cluster, ClusterError};
use crate::api::Pin;
use crate::state::StateError;

/// Listings streamed at once.
pub const MAX_LISTINGS: usize = 256;

/// The slots listings take.
pub(super) fn slots() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(MAX_LISTINGS))
}

impl Cluster {
    /// Every pin of this peer's pinset, in CID order, holding a listing slot until dropped.
    pub fn listing(&self) -> Result<BoxStream<'static, Result<Pin, StateError>>, ClusterError> {
        let slot = self.listings.clone().try_acquire_owned().map_err(|_| {
            ClusterError::Busy(format!(
                "{MAX_LISTINGS} listings of the pinset are being streamed from this peer; retry later"
            ))
        })?;
        let pins = self.pins.pages().flat_map(|page| {
            let items: Vec<Result<Pin, StateError>> = match page {
                Ok(pins) => pins.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(items)
        });
        Ok(Box::pin(pins.map(move |pin| {
            let _held = &slot;
            pin
        })))
    }
}
