//! Single blocks on the daemon: read one (`block/get`), check for one (`block/stat`), and
//! store one under its own CID (`block/put` with the CID's version, codec and hash), which is
//! how a peer copies content into a daemon that cannot fetch it itself (a child cluster's
//! gateway over nodes without bitswap).

use std::time::Duration;

use bytes::Bytes;
use cid::{Cid, Version};

use super::{IpfsClient, IpfsError};
use crate::ipfs::pins::block_form;

/// Whether `data` hashes to `cid`'s multihash (a daemon's answer is checked like a peer's).
fn verified(cid: &Cid, data: &[u8]) -> bool {
    use multihash_codetable::{Code, MultihashDigest};
    Code::try_from(cid.hash().code()).is_ok_and(|code| code.digest(data) == *cid.hash())
}

/// Limit of one block call (a daemon fetching a block it lacks may take this long).
const BLOCK_CALL: Duration = Duration::from_secs(10);

impl IpfsClient {
    /// The block `cid`, or `None` when the daemon does not have it (or cannot answer).
    pub async fn block_get(&self, cid: &Cid) -> Option<Bytes> {
        let call = format!("block/get?arg={cid}");
        let data = self.exchange(&call, None, Bytes::new(), BLOCK_CALL).await.ok()?;
        verified(cid, &data).then_some(data)
    }

    /// Whether the daemon has (or can get) the block `cid`; `None` when it cannot be asked.
    pub async fn has_block(&self, cid: &Cid) -> Option<bool> {
        let call = format!("block/stat?arg={cid}");
        match self.exchange(&call, None, Bytes::new(), BLOCK_CALL).await {
            Ok(_) => Some(true),
            Err(IpfsError::Refused { .. }) => Some(false),
            Err(IpfsError::Unreachable { .. }) => None,
        }
    }

    /// Stores `data` as the block `cid` (raw or dag-pb, sha2-256; v0 or v1).
    pub async fn block_put_as(&self, cid: &Cid, data: Bytes) -> Result<(), IpfsError> {
        let query = match (cid.version(), cid.codec(), cid.hash().code()) {
            (Version::V0, _, _) => "format=v0".to_owned(),
            (Version::V1, 0x55, 0x12) => "cid-codec=raw&mhtype=sha2-256".to_owned(),
            (Version::V1, 0x70, 0x12) => "cid-codec=dag-pb&mhtype=sha2-256".to_owned(),
            _ => return Err(self.refused(400, format!("cannot copy {cid}: unsupported codec or hash"))),
        };
        let (content_type, body) = block_form(data);
        let call = format!("block/put?{query}&pin=false");
        let answer = self
            .exchange(&call, Some(&content_type), body, BLOCK_CALL)
            .await?;
        let first = answer.split(|b| *b == b'\n').next().unwrap_or_default();
        let value: serde_json::Value = serde_json::from_slice(first).unwrap_or_default();
        match value["Key"].as_str() {
            Some(key) if key == cid.to_string() => Ok(()),
            other => Err(self.refused(200, format!("block/put of {cid} stored {other:?}"))),
        }
    }
}
