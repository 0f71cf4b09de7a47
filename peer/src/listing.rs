//! Listings of the whole pinset (`pin ls`, `/allocations`, `/pins`, status fan-out): streamed
//! a page at a time, and bounded in number. [`Listings`] gets the pinset and nothing else.
//!
//! # Invariants
//! - A listing holds no blocking thread and no read transaction while its consumer is slow:
//!   pages come from `PinStore::pages`, each read in its own short transaction.
//! - At most [`Listings::encoders`] listings encode a page at once (REST's `/allocations` and
//!   `/pins` encode whole pages under a permit): readers that each let the kernel buffer a
//!   megabyte or more would otherwise keep every worker thread encoding, and a write beside
//!   200 of them waited 8–11 s for CPU (debug build). A listing waiting on its socket holds
//!   no permit.
//! - At most [`MAX_LISTINGS`] listings run at once; one more is refused with [`Busy`] (503)
//!   instead of queueing, so slow readers cost a bounded amount of memory (a page each) and
//!   never delay writes or point reads. A reader that stops reading altogether is cut off by
//!   the server's write stall limit (`api.ipfsproxy.write_stall_timeout`), which frees its
//!   slot.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::api::Pin;
use crate::state::{PinStore, StateError};

/// Listings streamed at once.
pub const MAX_LISTINGS: usize = 256;

/// Turns one pin into the bytes of its line (or nothing, when a filter drops it).
pub type Encode = Arc<dyn Fn(&Pin, &mut Vec<u8>) -> Result<(), serde_json::Error> + Send + Sync>;

/// Every listing slot is taken.
#[derive(Debug, thiserror::Error)]
#[error("{MAX_LISTINGS} listings of the pinset are being streamed from this peer; retry later")]
pub struct Busy;

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

/// The pinset's listings; cheap to clone.
#[derive(Clone)]
pub struct Listings {
    pins: PinStore,
    slots: Arc<Semaphore>,
    encoders: Arc<Semaphore>,
}

impl Listings {
    /// Listings of `pins`, [`MAX_LISTINGS`] at once, [`Listings::encoders`] encoding at once.
    pub fn new(pins: PinStore) -> Self {
        Self::bounded(pins, MAX_LISTINGS, Self::encoders())
    }

    fn bounded(pins: PinStore, slots: usize, encoders: usize) -> Self {
        Self {
            pins,
            slots: Arc::new(Semaphore::new(slots)),
            encoders: Arc::new(Semaphore::new(encoders)),
        }
    }

    /// Listings that may encode a page at once: half the cores, at least one, so the rest of
    /// the peer (writes, point reads, Raft) always has CPU however many listings stream.
    pub fn encoders() -> usize {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        (cores / 2).max(1)
    }

    fn slot(&self) -> Result<OwnedSemaphorePermit, Busy> {
        self.slots.clone().try_acquire_owned().map_err(|_| Busy)
    }

    /// Every pin of the pinset, in CID order, holding a listing slot until dropped.
    pub fn pins(&self) -> Result<BoxStream<'static, Result<Pin, StateError>>, Busy> {
        let slot = self.slot()?;
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
    pub fn encoded(&self, encode: Encode) -> Result<BoxStream<'static, Result<Bytes, ListingError>>, Busy> {
        let slot = self.slot()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::{TempPins, pin_of};

    fn cid_line(pin: &Pin, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        out.extend_from_slice(format!("{}\n", pin.cid).as_bytes());
        Ok(())
    }

    #[tokio::test]
    async fn a_listing_streams_every_pin_in_cid_order() {
        let temp = TempPins::with((0..2_500).map(pin_of));
        let listed: Vec<Pin> = Listings::new(temp.store.clone())
            .pins()
            .expect("a slot")
            .map(|pin| pin.expect("read"))
            .collect()
            .await;
        let mut expected: Vec<_> = (0..2_500).map(|n| pin_of(n).cid.to_bytes()).collect();
        expected.sort();
        let got: Vec<_> = listed.iter().map(|p| p.cid.to_bytes()).collect();
        assert_eq!(got, expected);
    }

    #[tokio::test]
    async fn one_listing_more_than_the_slots_is_refused_until_one_ends() {
        let temp = TempPins::with((0..3).map(pin_of));
        let listings = Listings::bounded(temp.store.clone(), 2, 1);
        let first = listings.pins().expect("slot 1");
        let _second = listings.encoded(Arc::new(cid_line)).expect("slot 2");
        assert!(listings.pins().is_err(), "a third listing is refused");
        drop(first);
        assert!(listings.pins().is_ok(), "a slot is free again");
    }

    #[tokio::test]
    async fn an_encoded_listing_writes_each_pins_line() {
        let temp = TempPins::with((0..10).map(pin_of));
        let pages: Vec<Bytes> = Listings::new(temp.store.clone())
            .encoded(Arc::new(cid_line))
            .expect("a slot")
            .map(|page| page.expect("page"))
            .collect()
            .await;
        let text: String = pages
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        assert_eq!(text.lines().count(), 10);
        assert!(text.contains(&pin_of(3).cid.to_string()));
    }
}
