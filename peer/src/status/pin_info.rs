//! Builds ipfs-cluster's `GlobalPinInfo` and `PinInfoShort` ([`crate::api::GlobalPinInfo`])
//! from the pinset, the members' statuses and their ping metrics, for the REST API
//! (`GET /pins`) and the gateway's `cairn/status`, so a parent cluster reads its child's
//! answer in the same type its own REST API writes.

use cid::Cid;

use super::Statuses;
use crate::api::{GlobalPinInfo, PeerIdentity, Pin, PinInfoShort, PingValue};
use crate::consensus::PeerNode;
use crate::tracker::LocalStatus;

/// What a peer's child cluster said of a pin: its `GlobalPinInfo`, or why it could not say.
pub type ChildInfo = Result<GlobalPinInfo, String>;

impl Statuses {
    /// The identifying part of `member`'s `PinInfoShort` (name and IPFS ids from its ping
    /// metric): work it out once per request and member, not once per pin.
    pub fn identity(&self, member: &PeerNode) -> PeerIdentity {
        let ping = self
            .0
            .monitor
            .latest(crate::monitor::PING, std::slice::from_ref(&member.peer_id));
        let about = ping
            .first()
            .map(|m| PingValue::parse(&m.value))
            .unwrap_or_default();
        let own = self.is_me(member).then_some(self.0.peername.as_str());
        PeerIdentity::from_ping(&about, own)
    }
}

/// A member's `PinInfoShort`: its `identity`, where the pin stands, and its child's answer.
pub fn short(identity: &PeerIdentity, local: &LocalStatus, child: Option<ChildInfo>) -> PinInfoShort {
    PinInfoShort::new(
        identity,
        local.status,
        local.timestamp,
        &local.error,
        local.attempt_count,
    )
    .with_child(child)
}

/// `GlobalPinInfo` of `cid` from its pin (if any) and the peer map.
pub fn global(
    cid: &Cid,
    pin: Option<&Pin>,
    peer_map: std::collections::BTreeMap<String, PinInfoShort>,
) -> GlobalPinInfo {
    GlobalPinInfo {
        cid: cid.to_string(),
        name: pin.map(|p| p.options.name.clone()).unwrap_or_default(),
        allocations: pin.map(|p| p.allocations.clone()).unwrap_or_default(),
        origins: pin.map(|p| p.options.origins.clone()).unwrap_or_default(),
        created: pin.map(|p| p.timestamp).unwrap_or_default(),
        metadata: pin.map(|p| p.options.metadata.clone()).unwrap_or_default(),
        peer_map,
    }
}
