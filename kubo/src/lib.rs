//! kubo's RPC vocabulary (go-ipfs-cmds), written once for Cairn's gateway (intercepted
//! routes) and its embedded node, so that both answer in the same words:
//!
//! - [`car`]: CARv1 and CARv2 archives (`dag/import`, `dag/export`): roots, blocks, framing;
//! - [`args`]: positional `arg`s and typed options with kubo's conversion errors;
//! - [`error`]: the `{"Message","Code","Type"}` error body and the plain-text refusals;
//! - [`stream`]: the headers of kubo's answers, ndjson lines and the `X-Stream-Error` trailer;
//! - [`csrf`]: kubo's Origin / Referer / User-Agent rules;
//! - [`auth`]: kubo's `API.Authorizations` (named secrets and their allowed paths);
//! - [`pin_type`]: the `type` option of `pin/ls`;
//! - [`pin_name`]: pin names (kubo's 255-byte bound) and how `pin/ls` shows and filters them;
//! - [`repo`]: the figures of `repo/stat`;
//! - `fuzz` (feature `fuzz`): the long-run driver of the property tests of those readers.
//!
//! It knows no body type and no server: callers keep their own bodies and errors and convert
//! [`args::ArgError`] into theirs. It depends on no other Cairn crate.

pub mod args;
pub mod auth;
pub mod car;
pub mod csrf;
pub mod error;
#[cfg(feature = "fuzz")]
pub mod fuzz;
pub mod pin_name;
pub mod pin_type;
pub mod repo;
pub mod stream;
