//! Failover: when a peer is down, the pins it held that this peer is the one to move are
//! re-allocated by placement (`allocator::placement`) and committed here, a few at once.
//!
//! # Invariants
//! - Only live peers are added, until rf-min live allocations are reached; the down peer is
//!   dropped. A pin that cannot be re-allocated or committed now stays as it was and is
//!   counted `stuck`, so that the monitor's checker tries it again later.

use futures::StreamExt;
use futures::future::BoxFuture;

use super::{Cluster, ClusterError};
use crate::api::Pin;
use crate::monitor::{Failover, Repinned};
use crate::state::PinOp;

/// Re-allocations committed at once during failover.
const REPIN_CONCURRENCY: usize = 32;

/// What happened to one pin of a down peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Move {
    Moved,
    Kept,
    Stuck,
}

impl Cluster {
    /// Re-allocates the pins of `down` for which this peer is the one to act.
    pub async fn repin_from(&self, down: &str, grace_ns: i64) -> Result<Repinned, ClusterError> {
        let mine = self.placement.pins_to_move(down, grace_ns).await?;
        let outcomes: Vec<Move> = futures::stream::iter(mine)
            .map(|pin| self.move_pin(pin, down))
            .buffer_unordered(REPIN_CONCURRENCY)
            .collect()
            .await;
        let count = |want: Move| outcomes.iter().filter(|m| **m == want).count();
        Ok(Repinned {
            moved: count(Move::Moved),
            stuck: count(Move::Stuck),
        })
    }

    async fn move_pin(&self, pin: Pin, down: &str) -> Move {
        let cid = pin.cid;
        let pin = match self.placement.reallocated(pin, down) {
            Ok(Some(pin)) => pin,
            Ok(None) => return Move::Kept,
            Err(e) => {
                tracing::debug!(%cid, error = %e, "failover: cannot re-allocate");
                return Move::Stuck;
            }
        };
        match self.commit(PinOp::Pin(Box::new(pin))).await {
            Ok(_) => Move::Moved,
            Err(e) => {
                tracing::debug!(%cid, error = %e, "failover: re-allocation not committed");
                Move::Stuck
            }
        }
    }
}

impl Failover for Cluster {
    fn applied(&self) -> Option<u64> {
        self.last_applied()
    }

    fn repin_from<'a>(&'a self, down: &'a str, grace_ns: i64) -> BoxFuture<'a, Result<Repinned, String>> {
        Box::pin(async move {
            Cluster::repin_from(self, down, grace_ns)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
