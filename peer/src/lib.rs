//! cairn-peer: the Cairn cluster peer and the `cairn` command line.
//!
//! # Layout
//! - [`cli`]: clap definitions, config loading, logging and signals for the `cairn` binary.
//!
//! The cluster components (net, consensus, state, tracker, allocator, monitor, rest) arrive
//! with the cluster issue; today the binary runs the gateway alone in front of an upstream.

pub mod api;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod consensus;
pub mod identity;
pub mod net;
pub mod rest;
pub mod state;
