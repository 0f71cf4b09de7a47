//! Follower peers (`cairn follow`): a peer that holds a cluster's pinset read-only, fed by
//! the cluster's trusted peers, without being a Raft member.
//!
//! - `pinlog` (a lower module): what a follower and a trusted peer say, and the trusted
//!   peer's side.
//! - `store`: the follower's pinset and applied index.
//! - `stream`: the follower's loop: pull, apply, snapshot, switch trusted peers.
//! - `local`: the follower's read-only view (its REST API and gateway read it); writes are
//!   refused there.
//!
//! # Invariants
//! - A follower never writes to the cluster and is never asked to vote: it costs the trusted
//!   peers one bounded read of their log per answer, not a replication slot.
//! - It takes changes only from `cluster.trusted_peers` and only what they applied.
//!
//! docs/follow.md is the operator's view.

pub mod local;
pub mod node;
pub mod rest;
pub mod store;
pub mod stream;

pub use local::Local;
pub use node::Follower;
pub use store::FollowStore;
pub use stream::{FollowError, Progress, Sources, StreamInputs};
