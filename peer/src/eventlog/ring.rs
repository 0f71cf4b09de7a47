//! A bounded ring of items numbered by consecutive ids, read after a cursor.
//!
//! # Invariants
//! - At most `capacity` items are held; pushing onto a full ring drops the oldest.
//! - Ids are consecutive: the item at position `i` has id `first + i`, and the next push gets
//!   `next` (one above the newest). Ids only grow, so a cursor is just the last id read.
//! - Reading after a cursor that fell out of the ring says so ([`After::missed`], the oldest id
//!   still held) and goes on from the oldest item: a reader learns it lost items, never loses
//!   them silently. A cursor above the newest id (one from a later ring, or a clock that went
//!   back) is reported the same way, and reading goes on from the newest.

use std::collections::VecDeque;

/// What a read after a cursor found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct After<T> {
    /// `Some(oldest id held)` when items after the cursor were dropped before this read.
    pub missed: Option<u64>,
    /// The items after the cursor, oldest first.
    pub items: Vec<T>,
    /// The cursor for the next read: the id of the last item returned (or considered).
    pub cursor: u64,
}

/// See the module docs.
#[derive(Debug)]
pub struct Ring<T> {
    items: VecDeque<T>,
    /// The id of `items[0]` (equal to `next` when empty).
    first: u64,
    capacity: usize,
}

impl<T: Clone> Ring<T> {
    /// An empty ring of at most `capacity` items whose first id will be `base` (at least 1).
    pub fn new(capacity: usize, base: u64) -> Self {
        Self {
            items: VecDeque::with_capacity(capacity.clamp(1, 1024)),
            first: base.max(1),
            capacity: capacity.max(1),
        }
    }

    /// The id the next push gets.
    pub fn next_id(&self) -> u64 {
        self.first + self.items.len() as u64
    }

    /// The newest id given (one below the first id while nothing was pushed).
    pub fn newest(&self) -> u64 {
        self.next_id() - 1
    }

    /// The oldest id held (the next id when empty).
    pub fn oldest(&self) -> u64 {
        self.first
    }

    /// How many items are held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Appends the item `make` builds for its id; that id.
    pub fn push(&mut self, make: impl FnOnce(u64) -> T) -> u64 {
        let id = self.next_id();
        if self.items.len() == self.capacity {
            self.items.pop_front();
            self.first += 1;
        }
        self.items.push_back(make(id));
        id
    }

    /// Up to `limit` items after `cursor` (see the module docs for a cursor out of range).
    pub fn after(&self, cursor: u64, limit: usize) -> After<T> {
        let newest = self.newest();
        if cursor > newest {
            return After {
                missed: Some(self.oldest()),
                items: Vec::new(),
                cursor: newest,
            };
        }
        let (missed, start) = match cursor.checked_add(1) {
            Some(wanted) if wanted >= self.first => (None, wanted),
            _ => (Some(self.first), self.first),
        };
        let skip = usize::try_from(start - self.first).unwrap_or(usize::MAX);
        let items: Vec<T> = self.items.iter().skip(skip).take(limit).cloned().collect();
        let cursor = match items.len() {
            0 => start - 1,
            n => start + n as u64 - 1,
        };
        After {
            missed,
            items,
            cursor,
        }
    }

    /// The id just before the first item `keep` accepts (the newest id when none does):
    /// a cursor from which reading returns that item and the ones after it.
    pub fn cursor_before(&self, keep: impl Fn(&T) -> bool) -> u64 {
        match self.items.iter().position(keep) {
            Some(i) => self.first + i as u64 - 1,
            None => self.newest(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(capacity: usize, pushes: u64) -> Ring<u64> {
        let mut ring = Ring::new(capacity, 100);
        for _ in 0..pushes {
            ring.push(|id| id);
        }
        ring
    }

    #[test]
    fn ids_are_consecutive_from_the_base_and_reads_go_after_the_cursor() {
        let ring = ring(10, 5);
        assert_eq!((ring.oldest(), ring.newest()), (100, 104));
        let read = ring.after(101, 10);
        assert_eq!(read.items, vec![102, 103, 104]);
        assert_eq!((read.missed, read.cursor), (None, 104));
        let again = ring.after(read.cursor, 10);
        assert!(again.items.is_empty());
        assert_eq!((again.missed, again.cursor), (None, 104));
    }

    #[test]
    fn a_limit_leaves_the_cursor_on_the_last_item_returned() {
        let ring = ring(10, 5);
        let first = ring.after(99, 2);
        assert_eq!((first.items, first.cursor), (vec![100, 101], 101));
        let rest = ring.after(first.cursor, 10);
        assert_eq!(rest.items, vec![102, 103, 104]);
    }

    #[test]
    fn a_full_ring_drops_the_oldest_and_a_reader_behind_it_is_told() {
        let ring = ring(3, 6);
        assert_eq!((ring.oldest(), ring.newest(), ring.len()), (103, 105, 3));
        let read = ring.after(100, 10);
        assert_eq!(read.missed, Some(103));
        assert_eq!(read.items, vec![103, 104, 105]);
        // Exactly at the edge nothing was lost.
        assert_eq!(ring.after(102, 10).missed, None);
        assert_eq!(ring.after(0, 10).missed, Some(103));
    }

    #[test]
    fn a_cursor_from_the_future_is_missed_and_goes_on_from_the_newest() {
        let ring = ring(3, 2);
        let read = ring.after(500, 10);
        assert_eq!(read.missed, Some(100));
        assert!(read.items.is_empty());
        assert_eq!(read.cursor, 101);
        let empty: Ring<u64> = Ring::new(3, 7);
        assert_eq!(empty.after(6, 10).missed, None, "the newest of an empty ring");
        assert_eq!(empty.after(3, 10).missed, Some(7));
    }

    #[test]
    fn a_cursor_before_an_item_reads_from_it() {
        let ring = ring(10, 5);
        let cursor = ring.cursor_before(|v| *v >= 103);
        assert_eq!(ring.after(cursor, 10).items, vec![103, 104]);
        assert_eq!(ring.cursor_before(|_| false), 104);
    }
}
