//! Where pins go on a running peer: the allocations of a new pin, and, when a peer is down,
//! which of its pins this peer re-allocates and where (ipfs-cluster's `allocate()` and
//! `repinFromPeer`, shared/reference/ipfs-proxy.md §6). [`Placement`] reads the members, the
//! monitor's metrics and the pinset; committing what it decides is the cluster's.
//!
//! # Invariants
//! - A pin that is not "everywhere" gets allocations chosen from the members' usable metrics
//!   of every `allocate_by` name, or none ("not enough peers to allocate").
//! - For each pin of a down peer exactly one live peer acts: the one whose id hash is closest
//!   (XOR) to the CID's hash; the others leave it alone, so the same pin is not moved twice.
//! - A re-allocation keeps the valid allocations, adds live peers until rf-min, and drops the
//!   down peer.

use std::sync::Arc;

use cid::Cid;

use super::{AllocateError, Request, allocate};
use crate::api::Pin;
use crate::consensus::MemberList;
use crate::monitor::Monitor;
use crate::state::{PinStore, StateError};

/// What placement reads.
pub struct PlacementInputs {
    /// This peer's libp2p id.
    pub peer_id: String,
    /// The members.
    pub members: Arc<dyn MemberList>,
    /// The members' metrics.
    pub monitor: Monitor,
    /// `allocator.balanced.allocate_by`.
    pub allocate_by: Vec<String>,
    /// The applied pinset.
    pub pins: PinStore,
}

/// The placement component; cheap to clone.
#[derive(Clone)]
pub struct Placement(Arc<PlacementInputs>);

impl Placement {
    /// Over `inputs`.
    pub fn new(inputs: PlacementInputs) -> Self {
        Self(Arc::new(inputs))
    }

    /// The allocations `pin` should have, leaving out `blacklist`.
    pub fn allocations_for(&self, pin: &Pin, blacklist: &[String]) -> Result<Vec<String>, AllocateError> {
        let members = self.0.members.ids();
        let metrics = self
            .0
            .allocate_by
            .iter()
            .map(|name| (name.clone(), self.0.monitor.usable(name, &members)))
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
        allocate(&request)
    }

    /// The pins allocated to `down` that this peer is the one to move: those whose closest
    /// live member (heard from within `grace_ns`) is this peer.
    pub async fn pins_to_move(&self, down: &str, grace_ns: i64) -> Result<Vec<Pin>, StateError> {
        let live: Vec<String> = self
            .0
            .members
            .ids()
            .into_iter()
            .filter(|m| m != down && self.0.monitor.alive(m, grace_ns))
            .collect();
        let (pins, me, down) = (self.0.pins.clone(), self.0.peer_id.clone(), down.to_owned());
        let scan = tokio::task::spawn_blocking(move || {
            let mut mine = Vec::new();
            for pin in pins.iter()? {
                let pin = pin?;
                if pin.allocations.contains(&down) && closest(&pin.cid, &live).is_some_and(|p| *p == me) {
                    mine.push(pin);
                }
            }
            Ok(mine)
        });
        scan.await
            .map_err(|e| StateError::Db(format!("the failover scan stopped: {e}")))?
    }

    /// `pin` re-allocated away from `down`; `None` when its allocations stay as they are.
    pub fn reallocated(&self, mut pin: Pin, down: &str) -> Result<Option<Pin>, AllocateError> {
        let allocations = self.allocations_for(&pin, &[down.to_owned()])?;
        if allocations == pin.allocations {
            return Ok(None);
        }
        pin.allocations = allocations;
        Ok(Some(pin))
    }
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

#[cfg(test)]
mod tests;
