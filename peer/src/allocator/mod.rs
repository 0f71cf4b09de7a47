//! Allocation: which peers should hold a pin (ipfs-cluster's `allocate()` and balanced
//! allocator, shared/reference/ipfs-proxy.md §6.2–6.3).
//!
//! # Where it sits
//! [`placement::Placement`] is the component a running peer uses: `Cluster::pin` asks it for
//! the allocations of a pin that is not "everywhere" (from the monitor's usable metrics of
//! the current members), failover (`cluster::failover`) asks it which pins of a down peer to
//! move and where. [`allocate`] is the pure choice under both.
//!
//! # Invariants
//! - A peer is a candidate only when it has a usable metric for **every** `allocate_by` name.
//! - Valid current allocations are kept; new peers are added only to reach rf-min and taken up
//!   to rf-max; fewer than rf-min qualifying peers is an error and nothing is allocated.
//! - User allocations (priority peers) come before other candidates.
//!
//! # Not here
//! Collecting metrics (monitor), committing (cluster).

mod balanced;
pub mod placement;

use std::collections::{BTreeMap, BTreeSet};

use crate::monitor::Metric;

/// Why no allocation could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocateError {
    /// ipfs-cluster's words.
    #[error(
        "not enough peers to allocate CID. Needed at least: {needed}. Wanted at most: {wanted}. Available candidates: {available}. See logs for more info."
    )]
    NotEnoughPeers {
        /// rf-min still to fill.
        needed: usize,
        /// rf-max still to fill.
        wanted: usize,
        /// Qualifying peers.
        available: usize,
    },
    /// min + max == 0.
    #[error("bad replication factors")]
    BadFactors,
}

/// What an allocation is decided from.
#[derive(Debug, Default)]
pub struct Request<'a> {
    /// The pin's current allocations (empty for a new pin).
    pub current: &'a [String],
    /// rf-min and rf-max (both ≥ 1 here: "everywhere" pins are not allocated).
    pub min: i32,
    /// See `min`.
    pub max: i32,
    /// Peers that must not be chosen (a peer that went down).
    pub blacklist: &'a [String],
    /// The user's preferred peers.
    pub priority: &'a [String],
    /// Usable metrics per `allocate_by` name, most significant first.
    pub metrics: Vec<(String, Vec<Metric>)>,
}

/// The peers that should hold the pin, current valid ones first.
pub fn allocate(request: &Request<'_>) -> Result<Vec<String>, AllocateError> {
    if request.min + request.max == 0 {
        return Err(AllocateError::BadFactors);
    }
    let qualified = qualified(request);
    let current: Vec<String> = request
        .current
        .iter()
        .filter(|p| qualified.contains_key(*p))
        .cloned()
        .collect();
    let needed = usize::try_from(request.min)
        .unwrap_or(0)
        .saturating_sub(current.len());
    let wanted = usize::try_from(request.max)
        .unwrap_or(0)
        .saturating_sub(current.len());
    if current.len() > usize::try_from(request.max).unwrap_or(usize::MAX) {
        return Ok(current[..usize::try_from(request.max).unwrap_or(0)].to_vec());
    }
    if needed == 0 && current.len() == request.current.len() {
        return Ok(current);
    }
    let (priority, candidates) = split_candidates(request, &qualified, &current);
    let chosen = choose(&priority, &candidates, request);
    if chosen.len() < needed {
        return Err(AllocateError::NotEnoughPeers {
            needed,
            wanted,
            available: priority.len() + candidates.len(),
        });
    }
    Ok(current
        .into_iter()
        .chain(chosen.into_iter().take(wanted))
        .collect())
}

/// Peers with a usable metric for every name, not blacklisted: peer → its metrics in order.
fn qualified(request: &Request<'_>) -> BTreeMap<String, Vec<Metric>> {
    let names = request.metrics.len();
    let mut by_peer: BTreeMap<String, Vec<Metric>> = BTreeMap::new();
    for (_, metrics) in &request.metrics {
        for metric in metrics {
            by_peer
                .entry(metric.peer.clone())
                .or_default()
                .push(metric.clone());
        }
    }
    by_peer.retain(|peer, metrics| metrics.len() == names && !request.blacklist.contains(peer));
    by_peer
}

type Candidates = BTreeMap<String, Vec<Metric>>;

fn split_candidates(
    request: &Request<'_>,
    qualified: &Candidates,
    current: &[String],
) -> (Candidates, Candidates) {
    let wanted_first: BTreeSet<&String> = request.priority.iter().collect();
    let (mut priority, mut candidates) = (Candidates::new(), Candidates::new());
    for (peer, metrics) in qualified {
        if current.contains(peer) {
            continue;
        }
        let side = if wanted_first.contains(peer) {
            &mut priority
        } else {
            &mut candidates
        };
        side.insert(peer.clone(), metrics.clone());
    }
    (priority, candidates)
}

fn choose(priority: &Candidates, candidates: &Candidates, request: &Request<'_>) -> Vec<String> {
    let first = balanced::order(priority, request.metrics.len());
    let rest = balanced::order(candidates, request.metrics.len());
    first.into_iter().chain(rest).collect()
}

#[cfg(test)]
mod tests;
