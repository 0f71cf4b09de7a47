//! ipfs-cluster's `GlobalPinInfo` and `PinInfoShort` JSON, shared by the REST API (`GET /pins`)
//! and the gateway's `cairn/status`, so a parent cluster reads its child's answer in the same
//! shape its own REST API writes.
//!
//! Cairn adds one key to a peer's `PinInfoShort`: `child`, the `GlobalPinInfo` of the child
//! cluster behind that peer (when its IPFS daemon is a Cairn gateway and a depth above 1 was
//! asked), or `child_error` when the child could not be asked. Plain clients ignore both.

use cid::Cid;
use serde_json::{Map, Value, json};

use super::Cluster;
use crate::api::Pin;
use crate::consensus::PeerNode;
use crate::tracker::LocalStatus;

/// What a peer's child cluster said of a pin: its `GlobalPinInfo`, or why it could not say.
pub type ChildInfo = Result<Value, String>;

impl Cluster {
    /// The identifying part of `member`'s `PinInfoShort` (name and IPFS ids from its ping
    /// metric): work it out once per request and member, not once per pin.
    pub fn identity(&self, member: &PeerNode) -> Value {
        let ping = self
            .monitor()
            .latest(crate::monitor::PING, std::slice::from_ref(&member.peer_id));
        let about: Value = ping
            .first()
            .and_then(|m| serde_json::from_str(&m.value).ok())
            .unwrap_or_default();
        let mut entry = json!({ "peername": about["peer_name"].as_str().unwrap_or_default() });
        if member.peer_id == self.peer_id {
            entry["peername"] = json!(self.peername);
        }
        if let Some(id) = about["ipfs_id"].as_str().filter(|id| !id.is_empty()) {
            entry["ipfs_peer_id"] = json!(id);
            entry["ipfs_peer_addresses"] = about["ipfs_addresses"].clone();
        }
        entry
    }
}

/// A member's `PinInfoShort`: its `identity`, where the pin stands, and its child's answer.
pub fn short(identity: &Value, local: &LocalStatus, child: Option<ChildInfo>) -> Value {
    let mut entry = identity.clone();
    for (key, value) in [
        ("status", json!(local.status)),
        ("timestamp", json!(local.timestamp)),
        ("error", json!(local.error)),
        ("attempt_count", json!(local.attempt_count)),
        ("priority_pin", json!(false)),
    ] {
        entry[key] = value;
    }
    match child {
        Some(Ok(info)) => entry["child"] = info,
        Some(Err(why)) => entry["child_error"] = json!(why),
        None => {}
    }
    entry
}

/// `GlobalPinInfo` of `cid` from its pin (if any) and the peer map.
pub fn global(cid: &Cid, pin: Option<&Pin>, peer_map: Map<String, Value>) -> Value {
    json!({
        "cid": cid.to_string(),
        "name": pin.map(|p| p.options.name.clone()).unwrap_or_default(),
        "allocations": pin.map(|p| p.allocations.clone()).unwrap_or_default(),
        "origins": pin.map(|p| p.options.origins.clone()).unwrap_or_default(),
        "created": pin.map(|p| json!(p.timestamp)).unwrap_or_else(|| json!("0001-01-01T00:00:00Z")),
        "metadata": pin.map(|p| json!(p.options.metadata)).unwrap_or_else(|| json!({})),
        "peer_map": peer_map,
    })
}
