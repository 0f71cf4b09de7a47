//! The peer-to-peer RPC: what peers say to each other ([`protocol`]) and how it is carried
//! over the generic transport (`net`): CBOR-encoded, Raft's requests on the Raft lane and the
//! rest on the cluster lane.
//!
//! # Where it sits
//! Above `net` (bytes between peers) and the types it carries (consensus's Raft messages, the
//! pinset's operations, the tracker's statuses); below every component that talks to other
//! peers (Raft's [`Network`], `exchange`, `cluster`), all through [`Client`], whose methods are
//! typed one per call. The answering side is `cluster::inbound`, which decodes with
//! [`decode_request`] and dispatches to the components.
//!
//! # Invariants
//! - A request that does not decode is answered with [`Response::Refused`], never a panic
//!   (the property tests in `props` feed it arbitrary and damaged bytes).
//! - Who may make which call is decided in one place, [`access`]: every request passes its
//!   [`Gate`] before it is served, and a refused one is answered [`Response::Unauthorized`]
//!   (the caller's [`RpcError::Unauthorized`]).
//! - A refusal by the receiving network (queue full, request dropped) reaches the caller as
//!   [`RpcError::Refused`], as a refusal by the receiving peer does.
//! - A request only the leader serves ([`LeaderRequest`]) is forwarded at most once: the
//!   member that receives it serves it as the leader or answers `NotLeader`, never forwards
//!   it again; the caller decides whether to retry.

pub mod access;
mod append;
mod call;
mod client;
#[cfg(test)]
mod props;
mod protocol;
mod raft;
#[cfg(test)]
mod tests;

use bytes::Bytes;

pub use access::{Access, Call, Gate, Refusal, Rejected, Trusted};
pub use client::{AtLeader, Client, RpcError, Written};
pub use protocol::{
    ClusterReply, ClusterRequest, LeaderRequest, NestedStatus, RaftRequest, Request, Response,
};
pub use raft::Network;

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
