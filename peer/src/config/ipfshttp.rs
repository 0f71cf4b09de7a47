//! The `ipfs_connector.ipfshttp` section: which IPFS daemon this peer pins on (the embedded
//! cairn-node by default, or a daemon's API multiaddr), how long calls to it may take, and how
//! it is reached (TLS, secret, trust anchors), which the gateway in front of it reuses.
//!
//! # Invariants
//! - [`IpfsHttpConfig::upstream`] and [`IpfsHttpConfig::access`] are checked at load, so a
//!   daemon address or secret that does not parse never reaches the connector; errors name
//!   `ipfs_connector.ipfshttp.<key>`.

use cairn_gateway::config::ProxyConfig;
use serde::{Deserialize, Serialize};

use super::GoDuration;

/// `node_multiaddress` value that selects the embedded node (also the default).
pub const EMBEDDED: &str = "embedded";

/// The `ipfs_connector.ipfshttp` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct IpfsHttpConfig {
    /// The IPFS daemon this peer pins on and its gateway fronts: `embedded` (or empty) starts
    /// cairn-node in-process on a free loopback port, its blocks in `<config dir>/ipfs/`;
    /// otherwise a daemon's API multiaddr (as `api.ipfsproxy.node_multiaddress`).
    pub node_multiaddress: String,
    /// A `pin/add?progress=true` that sends nothing for this long fails (each progress line
    /// restarts it).
    pub pin_timeout: GoDuration,
    /// Limit of one `pin/rm`.
    pub unpin_timeout: GoDuration,
    /// Limit of any other call to the daemon (no answer frame for this long). After 3 failed
    /// connections in a row, calls fail at once for 1 s, doubling to 30 s, until the daemon
    /// answers.
    pub ipfs_request_timeout: GoDuration,
    /// *Cairn.* Speak TLS to the daemon (also when `node_multiaddress` ends in `/https`).
    pub node_https: bool,
    /// *Cairn.* The secret presented to the daemon, kubo's `AuthSecret` form
    /// (`basic:<user>:<pass>`, `bearer:<token>`); empty = none. The gateway in `cairn daemon`
    /// presents it too.
    pub node_auth_secret: String,
    /// *Cairn.* PEM trust anchors for an https daemon, besides the OS's store.
    pub node_ca_file: String,
}

impl Default for IpfsHttpConfig {
    fn default() -> Self {
        Self {
            node_multiaddress: EMBEDDED.into(),
            pin_timeout: GoDuration::secs(120),
            unpin_timeout: GoDuration::secs(10800),
            ipfs_request_timeout: GoDuration::secs(300),
            node_https: false,
            node_auth_secret: String::new(),
            node_ca_file: String::new(),
        }
    }
}

impl IpfsHttpConfig {
    /// The daemon to use, or `None` for the embedded node.
    pub fn upstream(&self) -> Result<Option<cairn_gateway::upstream::Target>, String> {
        let text = self.node_multiaddress.trim();
        if text.is_empty() || text == EMBEDDED {
            return Ok(None);
        }
        cairn_gateway::upstream::Target::from_multiaddr(text)
            .map(Some)
            .map_err(|e| format!("ipfs_connector.ipfshttp.node_multiaddress: {e}"))
    }

    /// The daemon's connection settings: TLS, secret, trust anchors.
    pub fn access(&self) -> Result<DaemonAccess, String> {
        let secret = match self.node_auth_secret.is_empty() {
            true => None,
            false => Some(
                cairn_kubo::auth::AuthSecret::parse(&self.node_auth_secret)
                    .map_err(|e| format!("ipfs_connector.ipfshttp.node_auth_secret: {e}"))?,
            ),
        };
        let https =
            self.node_https || cairn_gateway::upstream::multiaddr_wants_tls(self.node_multiaddress.trim());
        Ok(DaemonAccess {
            tls: https.then(|| cairn_gateway::tls::ClientTls {
                ca_file: Some(self.node_ca_file.clone())
                    .filter(|f| !f.is_empty())
                    .map(Into::into),
                insecure: false,
            }),
            secret,
        })
    }
}

/// How this peer reaches its IPFS daemon beyond its address.
#[derive(Clone, Debug, Default)]
pub struct DaemonAccess {
    /// TLS settings, when the daemon speaks https.
    pub tls: Option<cairn_gateway::tls::ClientTls>,
    /// The secret sent as `Authorization`.
    pub secret: Option<cairn_kubo::auth::AuthSecret>,
}

impl DaemonAccess {
    /// Applies the same settings to the gateway that fronts that daemon.
    pub fn onto(&self, gateway: &mut ProxyConfig) {
        gateway.node_https = self.tls.is_some();
        gateway.node_ca_file = self.tls.as_ref().and_then(|t| t.ca_file.clone());
        gateway.node_auth_secret = self.secret.clone();
    }
}
