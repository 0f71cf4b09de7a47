//! `swarm/connect` (the cluster keeps its peers' IPFS daemons connected, so that content moves
//! between them) and `resolve` (a path to its CID).

use bytes::Bytes;
use cid::Cid;
use serde_json::Value;

use super::{IpfsClient, IpfsError};

impl IpfsClient {
    /// `swarm/connect?arg=<addr>` for each address; the daemon's refusal is returned as is
    /// (an offline or embedded daemon has no swarm and says so).
    pub async fn swarm_connect(&self, addrs: &[String]) -> Result<(), IpfsError> {
        if addrs.is_empty() {
            return Ok(());
        }
        let args: Vec<String> = addrs
            .iter()
            .map(|a| {
                format!(
                    "arg={}",
                    form_urlencoded::byte_serialize(a.as_bytes()).collect::<String>()
                )
            })
            .collect();
        let call = format!("swarm/connect?{}", args.join("&"));
        self.exchange(&call, None, Bytes::new(), self.timeouts().request)
            .await?;
        Ok(())
    }

    /// `resolve?arg=<path>`: the CID an `/ipfs/…` or `/ipns/…` path ends at.
    pub async fn resolve(&self, path: &str) -> Result<Cid, IpfsError> {
        let arg: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
        let call = format!("resolve?arg={arg}");
        let body = self
            .exchange(&call, None, Bytes::new(), self.timeouts().request)
            .await?;
        let value: Value = serde_json::from_slice(&body).unwrap_or_default();
        let text = value["Path"].as_str().unwrap_or_default();
        let cid = text
            .trim_start_matches("/ipfs/")
            .split('/')
            .next()
            .unwrap_or_default();
        cid.parse()
            .map_err(|e| self.refused(200, format!("resolve answered {text:?}: {e}")))
    }
}
