//! The applied pin log as trusted peers serve it to followers (`follow`): what a follower and
//! a trusted peer say (`wire`, carried in the peer RPC) and the trusted peer's side
//! (`source`, over its Raft log and snapshot files).
//!
//! # Invariants
//! - Only applied (committed) entries leave a peer this way, in log order, without gaps.
//! - Serving a follower costs one bounded read of the log per answer, never a Raft
//!   replication slot: a follower is no member.

pub mod source;
pub mod wire;

pub use source::{ServeError, Source};
