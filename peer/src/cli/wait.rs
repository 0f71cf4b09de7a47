//! Waiting for a pin to be pinned, for `cairn pin add --wait` and `cairn add --wait`.
//!
//! # Invariants
//! - A pin counts as done when `pinned` on enough of its allocations: its `replication_factor_min`
//!   of them (all of them when that is 0 or above their number), or on every peer that tracks it
//!   when it is allocated everywhere (replication -1, no allocations).
//! - A `pin_error` on any allocation ends the wait with an error naming the peer and its message.
//! - The wait never outlasts `timeout`; its error says how far the pin got.

// Called by `cairn pin add --wait` and `cairn add --wait`, which land separately.
#![allow(dead_code)]

use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use super::client::Rest;
use crate::api::{GlobalPinInfo, Pin, TrackerStatus};

/// How often the status is read.
const POLL: Duration = Duration::from_millis(250);

/// Waits until `cid` is pinned on its allocations (see the module's invariants), reading
/// `GET /pins/{cid}` every 250 ms; its last status on success.
pub(super) async fn until_pinned(rest: &Rest, cid: &str, timeout: Duration) -> anyhow::Result<GlobalPinInfo> {
    let deadline = tokio::time::Instant::now() + timeout;
    let wanted = tokio::time::timeout_at(deadline, wanted(rest, cid))
        .await
        .map_err(|_| anyhow::anyhow!("timed out after {timeout:?} reading the pin {cid}"))??;
    loop {
        let info = status(rest, cid).await?;
        let last = match progress(&info, &wanted)? {
            Progress::Done => return Ok(info),
            Progress::Pending(text) => text,
        };
        if tokio::time::Instant::now() + POLL > deadline {
            bail!("timed out after {timeout:?} waiting for {cid} to be pinned ({last})");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Which peers must hold the pin, and how many of them.
#[derive(Debug)]
pub(super) struct Wanted {
    /// Its allocations; empty = every peer.
    pub(super) allocations: Vec<String>,
    /// How many of them must be `pinned`; `None` = all.
    pub(super) min: Option<usize>,
}

impl Wanted {
    pub(super) fn of(pin: &Pin) -> Self {
        let min = usize::try_from(pin.options.replication_factor_min)
            .ok()
            .filter(|m| *m > 0 && *m < pin.allocations.len());
        Self {
            allocations: pin.allocations.clone(),
            min,
        }
    }
}

/// The pin as the cluster holds it.
pub(super) async fn wanted(rest: &Rest, cid: &str) -> anyhow::Result<Wanted> {
    let values = rest
        .call(http::Method::GET, &format!("/allocations/{cid}"))
        .await
        .with_context(|| format!("reading the pin {cid}"))?;
    let value = values
        .into_iter()
        .next()
        .with_context(|| format!("no pin {cid} in the pinset"))?;
    let pin = Pin::deserialize(&value).with_context(|| format!("the pin {cid} does not read as a pin"))?;
    Ok(Wanted::of(&pin))
}

/// Its status on every peer.
pub(super) async fn status(rest: &Rest, cid: &str) -> anyhow::Result<GlobalPinInfo> {
    let values = rest
        .call(http::Method::GET, &format!("/pins/{cid}"))
        .await
        .with_context(|| format!("reading the status of {cid}"))?;
    let value = values
        .into_iter()
        .next()
        .with_context(|| format!("no status for {cid}"))?;
    GlobalPinInfo::deserialize(&value).with_context(|| format!("the status of {cid} does not read as one"))
}

/// How far a pin got.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Progress {
    /// Pinned where it must be.
    Done,
    /// Not yet; a short account of where it stands.
    Pending(String),
}

/// Where `info` stands against `wanted`; an error on a `pin_error` of a peer that must hold it.
pub(super) fn progress(info: &GlobalPinInfo, wanted: &Wanted) -> anyhow::Result<Progress> {
    let peers: Vec<&String> = match wanted.allocations.is_empty() {
        true => info
            .peer_map
            .iter()
            .filter(|(_, e)| e.status != TrackerStatus::Remote)
            .map(|(p, _)| p)
            .collect(),
        false => wanted.allocations.iter().collect(),
    };
    let mut pinned = 0;
    let mut states = Vec::new();
    for peer in &peers {
        let Some(entry) = info.peer_map.get(*peer) else {
            states.push(format!("{peer}: unknown"));
            continue;
        };
        let name = Some(entry.peername.as_str())
            .filter(|n| !n.is_empty())
            .unwrap_or(peer);
        match entry.status {
            TrackerStatus::Pinned => pinned += 1,
            TrackerStatus::PinError => bail!(
                "{} could not be pinned on {name}: {}",
                info.cid,
                Some(entry.error.as_str())
                    .filter(|e| !e.is_empty())
                    .unwrap_or("pin_error")
            ),
            other => states.push(format!("{name}: {}", other.name())),
        }
    }
    let need = wanted.min.unwrap_or(peers.len()).max(1);
    match pinned >= need && !peers.is_empty() {
        true => Ok(Progress::Done),
        false => Ok(Progress::Pending(format!(
            "pinned on {pinned} of {need} needed; {}",
            states.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(entries: &[(&str, &str, &str)]) -> GlobalPinInfo {
        let mut map = serde_json::Map::new();
        for (peer, status, error) in entries {
            map.insert(
                (*peer).into(),
                serde_json::json!({"peername": peer, "status": status, "error": error,
                    "timestamp": "2026-12-04T10:00:00Z", "attempt_count": 0}),
            );
        }
        serde_json::from_value(serde_json::json!({"cid": "QmX", "peer_map": map})).expect("info")
    }

    #[test]
    fn rf_min_of_the_allocations_is_enough() {
        let wanted = Wanted {
            allocations: vec!["a".into(), "b".into(), "c".into()],
            min: Some(2),
        };
        let one = info(&[("a", "pinned", ""), ("b", "pinning", ""), ("c", "pin_queued", "")]);
        assert!(matches!(
            progress(&one, &wanted).expect("ok"),
            Progress::Pending(_)
        ));
        let two = info(&[("a", "pinned", ""), ("b", "pinned", ""), ("c", "pinning", "")]);
        assert_eq!(progress(&two, &wanted).expect("ok"), Progress::Done);
    }

    #[test]
    fn everywhere_means_every_tracking_peer_and_an_error_fails() {
        let wanted = Wanted {
            allocations: vec![],
            min: None,
        };
        let some = info(&[("a", "pinned", ""), ("b", "pinning", "")]);
        assert!(matches!(
            progress(&some, &wanted).expect("ok"),
            Progress::Pending(_)
        ));
        let all = info(&[("a", "pinned", ""), ("b", "pinned", "")]);
        assert_eq!(progress(&all, &wanted).expect("ok"), Progress::Done);
        let failed = info(&[("a", "pinned", ""), ("b", "pin_error", "no space")]);
        let e = progress(&failed, &wanted).expect_err("error");
        assert!(e.to_string().contains("on b: no space"), "{e}");
    }
}
