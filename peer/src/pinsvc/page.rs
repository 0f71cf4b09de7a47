//! One page of `GET /pins`: the `limit` newest of the matching requests, and how many
//! matched in all (the spec's `count`).
//!
//! # Invariants
//! - Memory is bounded by the limit, not by the pinset: a [`Page`] keeps at most `limit`
//!   items while it counts every one it is offered.
//! - Results are newest first (`created` descending), ties by CID, so paging with `before`
//!   is stable.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use cid::Cid;

use crate::api::GoTime;

/// The newest `limit` items offered, and how many were offered.
#[derive(Debug)]
pub(super) struct Page<T> {
    limit: usize,
    count: u64,
    /// The kept items; the top is the one to drop first (the oldest).
    kept: BinaryHeap<Reverse<Entry<T>>>,
}

#[derive(Debug)]
struct Entry<T> {
    created: GoTime,
    cid: Cid,
    item: T,
}

impl<T> Entry<T> {
    /// Larger is newer; of equal times, the smaller CID comes first.
    fn key(&self) -> (GoTime, Reverse<Cid>) {
        (self.created, Reverse(self.cid))
    }
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl<T> Page<T> {
    /// An empty page of at most `limit` items.
    pub(super) fn new(limit: usize) -> Self {
        Self {
            limit,
            count: 0,
            kept: BinaryHeap::with_capacity(limit.saturating_add(1)),
        }
    }

    /// Counts a matching item, keeping it while it is among the newest `limit`.
    pub(super) fn offer(&mut self, created: GoTime, cid: Cid, item: T) {
        self.count += 1;
        self.kept.push(Reverse(Entry { created, cid, item }));
        if self.kept.len() > self.limit {
            self.kept.pop();
        }
    }

    /// How many matched, and the kept items newest first.
    pub(super) fn finish(self) -> (u64, Vec<T>) {
        // Ascending in `Reverse` is descending in the key: newest first.
        let items = self
            .kept
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse(e)| e.item)
            .collect();
        (self.count, items)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn time(secs: u64) -> GoTime {
        GoTime::parse(&humantime::format_rfc3339(UNIX_EPOCH + Duration::from_secs(secs)).to_string()).unwrap()
    }

    fn cid(i: u8) -> Cid {
        let digest = multihash_codetable::Code::Sha2_256.digest(&[i]);
        Cid::new_v1(0x55, digest)
    }

    use multihash_codetable::MultihashDigest;

    #[test]
    fn keeps_the_newest_and_counts_them_all() {
        let mut page = Page::new(3);
        for (i, secs) in [5u64, 1, 9, 3, 7, 2].into_iter().enumerate() {
            page.offer(time(secs), cid(i as u8), secs);
        }
        assert_eq!(page.finish(), (6, vec![9, 7, 5]));
    }

    #[test]
    fn ties_are_ordered_by_cid_and_unset_times_come_last() {
        let mut page = Page::new(10);
        let (a, b) = (cid(1).min(cid(2)), cid(1).max(cid(2)));
        page.offer(time(4), b, "b");
        page.offer(GoTime::ZERO, cid(3), "zero");
        page.offer(time(4), a, "a");
        assert_eq!(page.finish(), (3, vec!["a", "b", "zero"]));
    }

    #[test]
    fn fewer_items_than_the_limit_are_all_kept() {
        let mut page = Page::new(1000);
        page.offer(time(1), cid(1), ());
        assert_eq!(page.finish().0, 1);
        assert_eq!(Page::<()>::new(5).finish(), (0, vec![]));
    }
}
