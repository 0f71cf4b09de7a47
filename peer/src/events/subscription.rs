//! One client's view of this peer's event log: a cursor, a filter, and what it is told when
//! it fell behind.
//!
//! # Invariants
//! - A subscription holds no events of its own beyond one read (at most [`READ`] events): it
//!   reads the shared log after its cursor, so a slow client costs a cursor, not memory. A
//!   client that falls behind the log's oldest event is told once
//!   ([`Out::Missed`], the oldest id still held) and goes on from there.
//! - Events come in log order, each once; a gap notice of a peer (`missed`) passes every
//!   filter, since the client cannot know whether its pins were in the gap.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use tokio::sync::watch;

use super::{Inner, SubscriberGuard};
use crate::eventlog::Event;

/// Events read from the log at a time.
pub const READ: usize = 256;

/// Which events a client wants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only these CIDs (canonical text); `None` = every pin.
    pub cids: Option<HashSet<String>>,
}

impl Filter {
    /// Whether `event` passes.
    pub fn accepts(&self, event: &Event) -> bool {
        event.missed || self.cids.as_ref().is_none_or(|cids| cids.contains(&event.cid))
    }
}

/// What a subscription gives next.
#[derive(Clone, Debug, PartialEq)]
pub enum Out {
    /// An event of the log.
    Event(Arc<Event>),
    /// Events after the client's cursor were dropped from the log; `oldest` is the oldest id
    /// still held, where reading goes on.
    Missed {
        /// The oldest id held.
        oldest: u64,
    },
}

/// An event as itself; a missed notice as `{"missed":true,"oldest":<id>}`.
impl serde::Serialize for Out {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Out::Event(event) => event.serialize(s),
            Out::Missed { oldest } => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("missed", &true)?;
                map.serialize_entry("oldest", oldest)?;
                map.end()
            }
        }
    }
}

impl Out {
    /// Its JSON line, newline included.
    pub fn line(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = serde_json::to_vec(self)?;
        out.push(b'\n');
        Ok(out)
    }

    /// The log id it carries (a missed notice has none).
    pub fn id(&self) -> Option<u64> {
        match self {
            Out::Event(event) => Some(event.id),
            Out::Missed { .. } => None,
        }
    }
}

/// A client's subscription to this peer's log (see the module docs); counts as a subscriber
/// until dropped.
pub struct Subscription {
    inner: Arc<Inner>,
    cursor: u64,
    filter: Filter,
    pending: VecDeque<Out>,
    newest: watch::Receiver<u64>,
    _guard: SubscriberGuard,
}

impl Subscription {
    pub(super) fn new(inner: Arc<Inner>, filter: Filter, since: Option<u64>, guard: SubscriberGuard) -> Self {
        let cursor = since.unwrap_or_else(|| inner.hub.newest());
        let newest = inner.hub.watch();
        Self {
            inner,
            cursor,
            filter,
            pending: VecDeque::new(),
            newest,
            _guard: guard,
        }
    }

    /// The next event or notice, waiting for one (never ends; dropping it is cancel-safe).
    pub async fn next(&mut self) -> Out {
        loop {
            if let Some(out) = self.pending.pop_front() {
                return out;
            }
            let read = self.inner.hub.after(self.cursor, READ);
            if let Some(oldest) = read.missed {
                self.pending.push_back(Out::Missed { oldest });
            }
            let wanted = read.items.into_iter().filter(|e| self.filter.accepts(e));
            self.pending.extend(wanted.map(Out::Event));
            self.cursor = read.cursor;
            if self.pending.is_empty() {
                let cursor = self.cursor;
                // The log's sender lives as long as `inner`, which this holds.
                let _ = self.newest.wait_for(|id| *id > cursor).await;
            }
        }
    }

    /// The id of the last event read from the log (delivered or filtered out).
    pub fn cursor(&self) -> u64 {
        self.cursor
    }
}
