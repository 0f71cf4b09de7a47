//! Where pins go: allocation before a pin is committed, and failover when a peer goes down
//! (ipfs-cluster's `allocate()` and `repinFromPeer`, shared/reference/ipfs-proxy.md §6).
//!
//! # Invariants
//! - A pin that is not "everywhere" is committed with allocations chosen from the members'
//!   usable metrics, or not at all ("not enough peers to allocate").
//! - For each pin of a down peer exactly one live peer acts: the one whose id hash is closest
//!   (XOR) to the CID's hash; the others leave it alone, so the same pin is not moved twice.
//! - Failover only adds live peers until rf-min live allocations are reached (keeping the
//!   valid ones) and drops the down peer; a pin that cannot be re-allocated stays as it was
//!   and is counted `stuck`, so that the checker tries it again later.

use cid::Cid;
use futures::StreamExt;

use super::{Cluster, ClusterError};
use crate::allocator::{self, Request};
use crate::api::Pin;
use crate::state::PinOp;

/// Re-allocations committed at once during failover.
const REPIN_CONCURRENCY: usize = 32;

impl Cluster {
    /// The allocations `pin` should have, leaving out `blacklist`.
    pub(super) fn allocations_for(
        &self,
        pin: &Pin,
        blacklist: &[String],
    ) -> Result<Vec<String>, ClusterError> {
        let members = self.member_ids();
        let metrics = self
            .allocate_by
            .iter()
            .map(|name| (name.clone(), self.monitor.usable(name, &members)))
            .collect();
        let priority = pin.options.user_allocations.clone().unwrap_or_default();
        let request = Request {
            current: &pin.allocations,
            min: pin.options.replication_factor_min,
            max: pin.options.replication_factor_max,
            blacklist,
            priority: &priority,
            metrics,
        };
        Ok(allocator::allocate(&request)?)
    }

    /// The ids of the current members.
    pub fn member_ids(&self) -> Vec<String> {
        self.members().into_iter().map(|m| m.peer_id).collect()
    }

    /// Re-allocates the pins of `down` for which this peer is the one to act.
    pub async fn repin_from(&self, down: &str, grace_ns: i64) -> Result<Repinned, ClusterError> {
        let live: Vec<String> = self
            .member_ids()
            .into_iter()
            .filter(|m| m != down && self.monitor.alive(m, grace_ns))
            .collect();
        let mine = self.pins_to_move(down, live).await?;
        let blacklist = [down.to_owned()];
        let outcomes: Vec<Move> = futures::stream::iter(mine)
            .map(|pin| self.move_pin(pin, &blacklist))
            .buffer_unordered(REPIN_CONCURRENCY)
            .collect()
            .await;
        let count = |want: Move| outcomes.iter().filter(|m| **m == want).count();
        Ok(Repinned {
            moved: count(Move::Moved),
            stuck: count(Move::Stuck),
        })
    }

    /// Pins allocated to `down` whose closest live peer is this one.
    async fn pins_to_move(&self, down: &str, live: Vec<String>) -> Result<Vec<Pin>, ClusterError> {
        let (pins, me, down) = (self.pins.clone(), self.peer_id.clone(), down.to_owned());
        let scan = tokio::task::spawn_blocking(move || {
            let mut mine = Vec::new();
            for pin in pins.iter()? {
                let pin = pin?;
                if pin.allocations.contains(&down) && closest(&pin.cid, &live).is_some_and(|p| *p == me) {
                    mine.push(pin);
                }
            }
            Ok::<_, ClusterError>(mine)
        });
        scan.await.map_err(|e| ClusterError::Consensus(e.to_string()))?
    }

    async fn move_pin(&self, mut pin: Pin, blacklist: &[String]) -> Move {
        let cid = pin.cid;
        let allocations = match self.allocations_for(&pin, blacklist) {
            Ok(allocations) => allocations,
            Err(e) => {
                tracing::debug!(%cid, error = %e, "failover: cannot re-allocate");
                return Move::Stuck;
            }
        };
        if allocations == pin.allocations {
            return Move::Kept;
        }
        pin.allocations = allocations;
        match self.commit(PinOp::Pin(Box::new(pin))).await {
            Ok(_) => Move::Moved,
            Err(e) => {
                tracing::debug!(%cid, error = %e, "failover: re-allocation not committed");
                Move::Stuck
            }
        }
    }
}

/// What one failover scan of a down peer did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repinned {
    /// Pins re-allocated and committed.
    pub moved: usize,
    /// Pins that could not be re-allocated now (not enough peers, no commit): worth a retry.
    pub stuck: usize,
}

/// What happened to one pin of a down peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Move {
    Moved,
    Kept,
    Stuck,
}

/// The peer whose id hash is XOR-closest to the CID's hash.
fn closest<'a>(cid: &Cid, peers: &'a [String]) -> Option<&'a String> {
    let target = digest(&cid.to_bytes());
    peers
        .iter()
        .min_by_key(|peer| xor(&digest(peer.as_bytes()), &target))
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    use multihash_codetable::{Code, MultihashDigest};
    Code::Sha2_256
        .digest(bytes)
        .digest()
        .try_into()
        .unwrap_or([0; 32])
}

fn xor(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}
