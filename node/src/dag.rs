//! What the node knows about block formats: links, hashes and CID construction.
//!
//! The node walks DAG-PB (UnixFS) links for recursive pins, `refs` and gc; raw blocks have no
//! links. Other codecs are stored and served as opaque blocks: pinning one recursively pins
//! that block only (their links are not followed; kubo would decode dag-cbor and dag-json
//! too, which Cairn does not need for UnixFS content).

use bytes::Bytes;
use cid::{Cid, Version};
use multihash_codetable::{Code, MultihashDigest};

use crate::error::NodeError;

/// The DAG-PB codec (UnixFS nodes).
pub const DAG_PB: u64 = 0x70;
/// The raw codec (UnixFS raw leaves, `block/put` default).
pub const RAW: u64 = 0x55;

/// The CIDs `block` links to (empty for raw and unknown codecs).
pub fn links(cid: &Cid, block: &[u8]) -> Result<Vec<Cid>, NodeError> {
    if cid.codec() != DAG_PB {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    ipld_dagpb::links(block, &mut out).map_err(|e| NodeError::Unsupported(format!("decoding {cid}: {e}")))?;
    Ok(out)
}

/// The named links of a DAG-PB node (for path resolution).
pub fn named_links(cid: &Cid, block: Bytes) -> Result<Vec<(String, Cid)>, NodeError> {
    if cid.codec() != DAG_PB {
        return Ok(Vec::new());
    }
    let node = ipld_dagpb::PbNode::from_bytes(block)
        .map_err(|e| NodeError::Unsupported(format!("decoding {cid}: {e}")))?;
    Ok(node
        .links
        .into_iter()
        .map(|l| (l.name.unwrap_or_default(), l.cid))
        .collect())
}

/// Fails unless `data` hashes to `cid`'s multihash.
pub fn verify(cid: &Cid, data: &[u8]) -> Result<(), NodeError> {
    let expected = cid.hash();
    let code = Code::try_from(expected.code()).map_err(|_| NodeError::HashMismatch(*cid))?;
    if code.digest(data).digest() == expected.digest() {
        Ok(())
    } else {
        Err(NodeError::HashMismatch(*cid))
    }
}

/// The CID of `data` under `version`, `codec` and `hash`.
pub fn cid_of(version: Version, codec: u64, hash: Code, data: &[u8]) -> Result<Cid, NodeError> {
    let digest = hash.digest(data);
    match version {
        Version::V0 => Cid::new_v0(digest).map_err(|e| NodeError::BadOption(e.to_string())),
        Version::V1 => Ok(Cid::new_v1(codec, digest)),
    }
}

/// kubo's multihash names (`hash=` / `mhtype=`) for the hashes the node can compute.
pub fn hash_named(name: &str) -> Result<Code, NodeError> {
    Ok(match name {
        "sha2-256" => Code::Sha2_256,
        "sha2-512" => Code::Sha2_512,
        "sha3-224" => Code::Sha3_224,
        "sha3-256" => Code::Sha3_256,
        "sha3-384" => Code::Sha3_384,
        "sha3-512" => Code::Sha3_512,
        "blake2b-256" => Code::Blake2b256,
        "blake2b-512" => Code::Blake2b512,
        "blake2s-256" => Code::Blake2s256,
        "blake3" => Code::Blake3_256,
        other => {
            return Err(NodeError::BadOption(format!(
                "unrecognized hash function: {other:?}"
            )));
        }
    })
}

/// kubo's codec names (`cid-codec=` / `format=`) for the codecs the node accepts in `block/put`.
pub fn codec_named(name: &str) -> Result<u64, NodeError> {
    Ok(match name {
        "raw" | "v0" => RAW,
        "dag-pb" | "protobuf" => DAG_PB,
        "dag-cbor" | "cbor" => 0x71,
        "dag-json" => 0x0129,
        "json" => 0x0200,
        other => return Err(NodeError::BadOption(format!("unknown multicodec {other:?}"))),
    })
}

/// Parses a CID or an `/ipfs/<cid>[/path]` argument into the CID and the remaining path.
pub fn parse_path(arg: &str) -> Result<(Cid, Vec<String>), NodeError> {
    let trimmed = arg.strip_prefix("/ipfs/").unwrap_or(arg);
    let mut parts = trimmed.split('/').filter(|p| !p.is_empty());
    let invalid = |reason: String| NodeError::InvalidPath {
        arg: arg.to_owned(),
        reason,
    };
    let first = parts
        .next()
        .ok_or_else(|| invalid("path does not have enough components".into()))?;
    let cid = Cid::try_from(first).map_err(|e| invalid(e.to_string()))?;
    Ok((cid, parts.map(str::to_owned).collect()))
}
