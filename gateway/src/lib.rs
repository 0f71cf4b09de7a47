//! cairn-gateway: the tower stack that answers like an IPFS daemon's RPC API.
//!
//! Users point `ipfs --api`, kubo RPC clients and IPFS apps at this gateway instead of the
//! daemon. Requests it does not intercept are forwarded to the upstream daemon byte for byte,
//! streaming both ways, trailers included; the cluster-facing interception arrives in later
//! layers and plugs into [`stack`].
//!
//! # Layout
//! - [`config`]: the `api.ipfsproxy` section of `service.json`, env overrides, validation.
//! - [`duration`]: Go-style duration strings (`"5s"`, `"1m0s"`) as ipfs-cluster writes them.
//! - [`upstream`]: the upstream daemon's multiaddr and the connector that dials it.
//! - [`intercept`]: the kubo calls served from the cluster (pins, adds, repo stat/gc), through
//!   the [`intercept::Cluster`] trait the peer implements.
//! - [`forward`]: the pooled client that relays requests upstream; hop-by-hop headers in [`hop`].
//! - [`rescue`]: the one place that turns errors into kubo-style HTTP answers.
//! - [`access_log`], [`deadline`]: per-request log line and body deadlines.
//! - [`stats`]: requests by route class and status, latency, upstream failures, in atomics
//!   (the peer exports them; this crate knows no metrics library).
//! - [`stack`]: the only place that orders the layers.
//! - [`server`]: listeners, connection limits, hyper's hardening settings, idle timeout.
//!
//! # Not here
//! Cluster state, consensus and the embedded node: this crate depends on no other workspace crate.

pub mod access_log;
pub mod authorize;
pub mod config;
pub mod connection;
pub mod deadline;
pub mod duration;
pub mod forward;
pub mod hop;
pub mod intercept;
pub mod kubo_error;
pub mod rescue;
pub mod server;
pub mod stack;
pub mod stall;
pub mod stats;
pub mod tls;
pub mod trailers;
pub mod upstream;

/// The error type that travels through the stack; [`rescue`] turns it into an HTTP answer.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of every request and response inside the stack.
pub type Body = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, BoxError>;

/// Boxes any body whose error converts into [`BoxError`] into the stack's [`Body`].
pub fn boxed<B>(body: B) -> Body
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    use http_body_util::BodyExt;
    body.map_err(Into::into).boxed_unsync()
}

pub use config::ProxyConfig;
pub use server::Server;
