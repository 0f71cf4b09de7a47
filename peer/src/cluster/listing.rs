//! Listings of the whole pinset (`pin ls`, `/allocations`, `/pins`, status fan-out): streamed
//! a page at a time, and bounded in number.
//!
//! # Invariants
//! - A listing holds no blocking thread and no read transaction while its consumer is slow:
//!   pages come from `PinStore::pages`, each read in its own short transaction.
//! - At most [`encoders`] listings encode a page at once (REST's `/allocations` and `/pins`
//!   encode whole pages under a permit): readers that each let the kernel buffer a megabyte
//!   or more would otherwise keep every worker thread encoding, and a write beside 200 of
//!   them waited 8–11 s for CPU (debug build). A listing waiting on its socket holds no permit.
//! - At most [`MAX_LISTINGS`] listings run at once; one more is refused with
//!   [`ClusterError::Busy`] (503) instead of queueing, so slow readers cost a bounded amount
//!   of memory (a page each) and never delay writes or point reads. A reader that stops
//!   reading altogether is cut off by the server's write stall limit
//!   (`api.ipfsproxy.write_stall_timeout`), which frees its slot.

use std::sync::Arc;

use bytes::Bytes;
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

/// Listings that may encode a page at once: half the cores, at least one, so the rest of
/// the peer (writes, point reads, Raft) always has CPU however many listings stream.
pub(super) fn encoders() -> Arc<Semaphore> {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    Arc::new(Semaphore::new((cores / 2).max(1)))
}

/// Turns one pin into the bytes of its line (or nothing, when a filter drops it).
pub type Encode = Arc<dyn Fn(&Pin, &mut Vec<u8>) -> Result<(), serde_json::Error> + Send + Sync>;

/// Why an encoded listing stopped.
#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    /// A page could not be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// A pin could not be encoded.
    #[error("encoding a pin: {0}")]
    Encode(#[source] serde_json::Error),
    /// The encoder permits are gone (the peer is shutting down).
    #[error("the peer is shutting down")]
    Closed,
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

    /// The pinset as encoded pages: `encode` writes each pin's line; a page is encoded while
    /// holding an encoder permit (see the module docs). Holds a listing slot until dropped.
    pub fn encoded_listing(
        &self,
        encode: Encode,
    ) -> Result<BoxStream<'static, Result<Bytes, ListingError>>, ClusterError> {
        let slot = self.listings.clone().try_acquire_owned().map_err(|_| {
            ClusterError::Busy(format!(
                "{MAX_LISTINGS} listings of the pinset are being streamed from this peer; retry later"
            ))
        })?;
        let encoders = self.encoders.clone();
        let pages = self.pins.pages().then(move |page| {
            let (encoders, encode) = (encoders.clone(), encode.clone());
            async move {
                let page = page?;
                let _permit = encoders.acquire().await.map_err(|_| ListingError::Closed)?;
                let mut bytes = Vec::new();
                for pin in &page {
                    encode(pin, &mut bytes).map_err(ListingError::Encode)?;
                }
                Ok(Bytes::from(bytes))
            }
        });
        Ok(Box::pin(pages.map(move |page| {
            let _held = &slot;
            page
        })))
    }
}
