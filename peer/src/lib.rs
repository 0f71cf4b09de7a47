//! cairn-peer: the Cairn cluster peer and the `cairn` command line.
//!
//! # Layout
//! - [`api`]: the Pin object and its validation (ipfs-cluster's shapes and messages).
//! - [`state`]: the pinset in redb; [`consensus`]: openraft over the redb stores.
//! - [`net`]: the private libp2p network; [`cluster`]: membership, pin operations, blocks
//!   between peers, and the gateway's `Cluster` trait.
//! - [`ipfs`]: the client of this peer's own IPFS daemon.
//! - [`rest`]: ipfs-cluster's REST API; [`config`], [`identity`]; [`cli`]: the `cairn` binary.
//! - [`pinsvc`]: the IPFS Pinning Service API (ipfs-cluster's `pinsvcapi`).
//! - [`files`]: the secret files (0600, refused when others may use them), the directories
//!   cairn creates (0700).
//!
//! - [`tracker`]: makes this peer's IPFS daemon hold what the pinset allocates to it.
//! - [`eventlog`], [`events`]: the pin event stream (`GET /pins/events`; docs/events.md).
//! - [`metrics`]: the Prometheus endpoint (`observations.metrics`; docs/operations.md).
//!
//! Allocator and monitor arrive with their issue.

pub mod allocator;
pub mod api;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod consensus;
pub mod eventlog;
pub mod events;
pub mod exchange;
pub mod failpoint;
pub mod files;
pub mod follow;
pub mod identity;
pub mod integrity;
pub mod ipfs;
pub mod listing;
pub mod metrics;
pub mod monitor;
pub mod net;
pub mod peer;
pub mod pinlog;
pub mod pinsvc;
pub mod rest;
pub mod rpc;
pub mod state;
pub mod status;
pub mod tracker;
