//! The peer-to-peer RPC: what peers say to each other ([`protocol`]) and how it is carried
//! over the generic transport (`net`): CBOR-encoded, Raft's requests on the Raft lane and the
//! rest on the cluster lane.
//!
//! # Where it sits
//! Above `net` (bytes between peers) and the types it carries (consensus's Raft messages, the
//! pinset's operations, the tracker's statuses); below every component that talks to other
//! peers (Raft's [`Network`], `exchange`, `cluster`), all through [`Client`]. The answering side
//! is `cluster::inbound`, which decodes with [`decode_request`] and dispatches to the components.
//!
//! # Invariants
//! - A request that does not decode is answered with [`Response::Refused`], never a panic
//!   (the property tests in `props` feed it arbitrary and damaged bytes).
//! - A refusal by the receiving network (queue full, request dropped) reaches the caller as
//!   [`Response::Refused`], as a refusal by the receiving peer does.

#[cfg(test)]
mod props;
mod protocol;
mod raft;

use bytes::Bytes;
use libp2p::{Multiaddr, PeerId};

use crate::net::{Lane, Net, NetError};
pub use protocol::{ClusterReply, ClusterRequest, NestedStatus, RaftRequest, Request, Response};
pub use raft::{MAX_APPEND_BYTES, Network, address_of};

/// Why a message could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("peer RPC message: {0}")]
pub struct CodecError(String);

/// Encodes a request or a response.
pub fn encode<T: serde::Serialize>(message: &T) -> Result<Bytes, CodecError> {
    cbor4ii::serde::to_vec(Vec::new(), message)
        .map(Bytes::from)
        .map_err(|e| CodecError(e.to_string()))
}

/// Decodes a request from another peer.
pub fn decode_request(bytes: &[u8]) -> Result<Request, CodecError> {
    cbor4ii::serde::from_slice(bytes).map_err(|e| CodecError(e.to_string()))
}

fn decode_response(bytes: &[u8]) -> Result<Response, CodecError> {
    cbor4ii::serde::from_slice(bytes).map_err(|e| CodecError(e.to_string()))
}

/// The lane a request travels on.
fn lane_of(request: &Request) -> Lane {
    match request {
        Request::Raft(_) => Lane::Raft,
        _ => Lane::Cluster,
    }
}

/// Sends peer RPCs over the cluster network; cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    net: Net,
}

impl Client {
    /// Over `net`.
    pub fn new(net: Net) -> Self {
        Self { net }
    }

    /// Sends `request` to `peer` (dialling `addrs` if not connected) and awaits its answer.
    pub async fn request(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: Request,
    ) -> Result<Response, NetError> {
        let bytes = match encode(&request) {
            Ok(bytes) => bytes,
            Err(e) => return Ok(Response::Refused(e.to_string())),
        };
        match self.net.request(peer, addrs, lane_of(&request), bytes).await {
            Ok(answer) => Ok(decode_response(&answer).unwrap_or_else(|e| Response::Refused(e.to_string()))),
            Err(NetError::Refused { reason, .. }) => Ok(Response::Refused(reason)),
            Err(e) => Err(e),
        }
    }
}
