//! Whether a committed pin has really landed on its allocations' IPFS daemons: what a child
//! cluster's gateway waits for before it answers a parent's `pin/add?progress=true`.
//!
//! # Rules
//! - A pin with allocations has landed when rf-min of them (at most as many as it has) report
//!   `pinned`; it has failed when every allocation reports an error (`pin_error`,
//!   `unexpectedly_unpinned`, or `cluster_error` for a member that does not answer).
//! - A replication -1 pin has landed when every member that answers reports `pinned`.

use cairn_gateway::intercept::Landing;
use cid::Cid;

use super::{StatusError, Statuses};
use crate::api::Pin;
use crate::tracker::{LocalStatus, Status};

impl Statuses {
    /// Where the pin of `cid` stands (see the module docs).
    pub async fn landing(&self, cid: Cid) -> Result<Landing, StatusError> {
        let Some(pin) = self.0.pins.get(&cid)? else {
            return Ok(Landing::Missing);
        };
        let answers = self.status_everywhere(&cid).await;
        let statuses: Vec<(String, Result<LocalStatus, String>)> = answers
            .into_iter()
            .filter(|(member, _)| pin.allocations.is_empty() || pin.allocations.contains(&member.peer_id))
            .map(|(member, status)| (member.peer_id, status))
            .collect();
        Ok(judge(&pin, &statuses))
    }
}

fn failed(status: &Result<LocalStatus, String>) -> Option<String> {
    match status {
        Err(why) => Some(why.clone()),
        Ok(s) if matches!(s.status, Status::PinError | Status::UnexpectedlyUnpinned) => Some(s.error.clone()),
        Ok(_) => None,
    }
}

fn judge(pin: &Pin, statuses: &[(String, Result<LocalStatus, String>)]) -> Landing {
    let pinned = statuses
        .iter()
        .filter(|(_, s)| s.as_ref().is_ok_and(|s| s.status == Status::Pinned))
        .count();
    let failures: Vec<String> = statuses
        .iter()
        .filter_map(|(peer, s)| failed(s).map(|why| format!("{peer}: {why}")))
        .collect();
    let needed = if pin.is_everywhere() {
        statuses.iter().filter(|(_, s)| s.is_ok()).count().max(1)
    } else {
        usize::try_from(pin.options.replication_factor_min)
            .unwrap_or(1)
            .clamp(1, statuses.len().max(1))
    };
    if pinned >= needed {
        Landing::Pinned
    } else if !statuses.is_empty() && failures.len() == statuses.len() {
        Landing::Failed(failures.join("; "))
    } else {
        Landing::Pending { pinned, needed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::PinOptions;

    fn pin(min: i32, max: i32) -> Pin {
        let options = PinOptions {
            replication_factor_min: min,
            replication_factor_max: max,
            ..PinOptions::default()
        };
        let mut pin = Pin::new(Cid::default(), options);
        if min > 0 {
            pin.allocations = vec!["a".into(), "b".into(), "c".into()];
        }
        pin
    }

    fn at(status: Status) -> Result<LocalStatus, String> {
        Ok(LocalStatus::now(status, "why".into(), 0))
    }

    fn peers(statuses: Vec<Result<LocalStatus, String>>) -> Vec<(String, Result<LocalStatus, String>)> {
        statuses
            .into_iter()
            .enumerate()
            .map(|(i, s)| (format!("p{i}"), s))
            .collect()
    }

    #[test]
    fn rf_min_pinned_allocations_are_enough() {
        let statuses = peers(vec![at(Status::Pinned), at(Status::Pinned), at(Status::Pinning)]);
        assert_eq!(judge(&pin(2, 3), &statuses), Landing::Pinned);
        let statuses = peers(vec![
            at(Status::Pinned),
            at(Status::PinQueued),
            at(Status::PinError),
        ]);
        assert_eq!(
            judge(&pin(2, 3), &statuses),
            Landing::Pending { pinned: 1, needed: 2 }
        );
    }

    #[test]
    fn errors_on_every_allocation_fail_and_one_pending_keeps_waiting() {
        let all_failed = peers(vec![
            at(Status::PinError),
            Err("down".into()),
            at(Status::PinError),
        ]);
        assert!(matches!(judge(&pin(2, 3), &all_failed), Landing::Failed(why) if why.contains("down")));
        let one_left = peers(vec![
            at(Status::PinError),
            at(Status::Pinning),
            at(Status::PinError),
        ]);
        assert!(matches!(judge(&pin(2, 3), &one_left), Landing::Pending { .. }));
    }

    #[test]
    fn everywhere_waits_for_every_answering_peer() {
        let statuses = peers(vec![at(Status::Pinned), Err("down".into()), at(Status::Pinned)]);
        assert_eq!(judge(&pin(-1, -1), &statuses), Landing::Pinned);
        let statuses = peers(vec![at(Status::Pinned), at(Status::Pinning)]);
        assert_eq!(
            judge(&pin(-1, -1), &statuses),
            Landing::Pending { pinned: 1, needed: 2 }
        );
    }
}
