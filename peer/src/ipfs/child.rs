//! A child cluster as this peer's IPFS daemon: whether the daemon is a Cairn gateway, and its
//! `cairn/status` extension (docs/composite.md).
//!
//! A Cairn gateway answers `repo/stat` and `pin/ls` itself and says so in its `Server` header
//! (`cairn-gateway/…`); every answer to those calls updates what this client believes, so a
//! daemon replaced at the same address is noticed at the next informer round. Other calls
//! may be forwarded by a gateway to the daemon behind it and say nothing about who answered.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::api::GlobalPinInfo;
use bytes::Bytes;
use cid::Cid;

use super::{IpfsClient, IpfsError};

/// The `Server` header's prefix on a Cairn gateway's own answers.
const CAIRN_SERVER: &str = "cairn-gateway/";
/// Calls a Cairn gateway always answers itself (never forwards).
const SELF_ANSWERED: [&str; 2] = ["repo/stat", "pin/ls"];

/// Whether the daemon is a Cairn gateway, as its last self-answered reply showed.
#[derive(Debug, Default)]
pub(super) struct ChildKind(AtomicBool);

impl ChildKind {
    /// Notes who answered `call` with these `headers`.
    pub(super) fn observe(&self, call: &str, headers: &http::HeaderMap) {
        if !SELF_ANSWERED.iter().any(|c| call.starts_with(c)) {
            return;
        }
        let server = headers.get(http::header::SERVER).and_then(|v| v.to_str().ok());
        let cairn = server.is_some_and(|s| s.starts_with(CAIRN_SERVER));
        self.0.store(cairn, Ordering::Relaxed);
    }
}

impl IpfsClient {
    /// Whether the daemon is a Cairn gateway (a child cluster), as last seen.
    pub fn is_cairn(&self) -> bool {
        self.child.0.load(Ordering::Relaxed)
    }

    /// The child cluster's `GlobalPinInfo` of each of `cids` at `depth`, the child given
    /// `budget` for each round of asking its peers. CIDs go in requests of at most
    /// [`MAX_ARGS_BYTES`] of arguments (a gateway reads request heads of 8 KiB).
    pub async fn child_status(
        &self,
        cids: &[Cid],
        depth: u32,
        budget: Duration,
    ) -> Result<Vec<GlobalPinInfo>, IpfsError> {
        let mut infos = Vec::with_capacity(cids.len());
        for args in query_args(cids) {
            let call = format!(
                "cairn/status?{args}depth={depth}&timeout={}ms",
                budget.as_millis()
            );
            let body = self.exchange(&call, None, Bytes::new(), budget).await?;
            for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let info = serde_json::from_slice(line);
                infos.push(info.map_err(|e| self.refused(200, format!("cairn/status answered {e}")))?);
            }
        }
        Ok(infos)
    }
}

/// Argument bytes per `cairn/status` request.
const MAX_ARGS_BYTES: usize = 4096;

/// `arg=<cid>&…` query prefixes, each under [`MAX_ARGS_BYTES`] (and at least one CID).
fn query_args(cids: &[Cid]) -> Vec<String> {
    let mut groups = vec![String::new()];
    for cid in cids {
        let arg = format!("arg={cid}&");
        let last = groups
            .last_mut()
            .filter(|g| g.is_empty() || g.len() + arg.len() <= MAX_ARGS_BYTES);
        match last {
            Some(group) => group.push_str(&arg),
            None => groups.push(arg),
        }
    }
    groups.retain(|g| !g.is_empty());
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(server: Option<&str>) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        if let Some(server) = server {
            map.insert(http::header::SERVER, server.parse().unwrap());
        }
        map
    }

    #[test]
    fn only_self_answered_calls_say_whether_the_daemon_is_a_cairn_gateway() {
        let kind = ChildKind::default();
        kind.observe("repo/stat?size-only=true", &headers(Some("cairn-gateway/0.1.0")));
        assert!(kind.0.load(Ordering::Relaxed));
        // `id` is forwarded by a gateway to the daemon behind it: it proves nothing.
        kind.observe("id", &headers(None));
        assert!(kind.0.load(Ordering::Relaxed));
        // A plain daemon now answers at that address.
        kind.observe("pin/ls?type=recursive&stream=true", &headers(Some("kubo/0.22")));
        assert!(!kind.0.load(Ordering::Relaxed));
    }

    #[test]
    fn many_cids_go_in_several_requests_each_under_the_limit() {
        let cid = Cid::try_from("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku").unwrap();
        let groups = query_args(&vec![cid; 200]);
        assert!(groups.len() > 1, "{}", groups.len());
        assert!(groups.iter().all(|g| g.len() <= MAX_ARGS_BYTES));
        let args: usize = groups.iter().map(|g| g.matches("arg=").count()).sum();
        assert_eq!(args, 200);
        assert!(query_args(&[]).is_empty());
    }
}
