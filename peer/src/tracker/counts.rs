//! How many tracked pins stand in each status: what the metrics read at scrape time.
//!
//! # Invariants
//! - The status lock is held for one page of [`PAGE`] pins at a time, never for the whole
//!   map: a scrape of a million pins does not stall the workers. The counts are therefore
//!   the statuses as each page stood when it was read, not one instant's.
//! - Pins of the pinset the tracker has not reconciled yet are not counted (they are
//!   `pin_queued` or `remote` to [`Tracker::status`], but no operation exists for them).

use super::{Status, Tracker};

/// Tracked pins counted per hold of the status lock.
const PAGE: usize = 4096;

/// Tracked pins per status (statuses with none are absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusCounts(Vec<(Status, u64)>);

impl StatusCounts {
    /// Pins in `status`.
    pub fn of(&self, status: Status) -> u64 {
        self.0.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n)
    }

    /// Every (status, count) with a count, in first-seen order.
    pub fn iter(&self) -> impl Iterator<Item = (Status, u64)> + '_ {
        self.0.iter().copied()
    }

    fn add(&mut self, status: Status) {
        match self.0.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => self.0.push((status, 1)),
        }
    }
}

/// Counts each status given (a reading assembled by hand, in tests).
impl FromIterator<Status> for StatusCounts {
    fn from_iter<I: IntoIterator<Item = Status>>(statuses: I) -> Self {
        let mut counts = Self::default();
        statuses.into_iter().for_each(|status| counts.add(status));
        counts
    }
}

impl Tracker {
    /// Tracked pins per status, counted a page at a time (see the module docs).
    pub fn counts(&self) -> StatusCounts {
        use std::ops::Bound::{Excluded, Unbounded};
        let mut counts = StatusCounts::default();
        let mut after = None;
        loop {
            let states = self.inner.lock();
            let start = after.map_or(Unbounded, Excluded);
            let mut last = None;
            for (cid, state) in states.range((start, Unbounded)).take(PAGE) {
                counts.add(state.status);
                last = Some(*cid);
            }
            drop(states);
            match last {
                Some(cid) => after = Some(cid),
                None => return counts,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_per_status_and_absent_statuses_are_zero() {
        let counts: StatusCounts = [Status::Pinned, Status::PinError, Status::Pinned]
            .into_iter()
            .collect();
        assert_eq!(counts.of(Status::Pinned), 2);
        assert_eq!(counts.of(Status::PinError), 1);
        assert_eq!(counts.of(Status::Pinning), 0);
        let listed: Vec<_> = counts.iter().collect();
        assert_eq!(listed, [(Status::Pinned, 2), (Status::PinError, 1)]);
    }
}
