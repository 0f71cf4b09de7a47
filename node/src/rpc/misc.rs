//! `cat`, `id`, `version`, `resolve`, `dag/get`, and the swarm commands of a node without a
//! swarm (`swarm/peers` and `swarm/addrs/local` empty, `swarm/connect` a clear error).

use std::sync::Arc;

use base64::Engine;
use cid::Cid;
use http::{Response, StatusCode};
use serde_json::{Map, Value, json};

use super::Ctx;
use super::reply::{self, Body};
use super::request::Query;
use crate::dag;
use crate::error::NodeError;
use crate::reader;

pub(super) async fn dispatch(ctx: Arc<Ctx>, command: &str, query: Query) -> Response<Body> {
    let answer = match command {
        "id" => id(&ctx, &query),
        "version" => Ok(version()),
        "resolve" => resolve(&ctx, &query).await,
        "dag/get" => return dag_get(&ctx, &query).await,
        "swarm/peers" => Ok(json!({"Peers": []})),
        "swarm/addrs/local" => Ok(json!({"Strings": []})),
        "swarm/connect" => swarm_connect(&query),
        _ => return reply::plain(StatusCode::NOT_FOUND, "404 page not found\n"),
    };
    match answer {
        Ok(value) => reply::json(&value),
        Err(e) => reply::error(&e),
    }
}

pub(super) async fn cat(ctx: Arc<Ctx>, query: Query) -> Response<Body> {
    let started = async {
        let arg = query.required_arg("ipfs-path")?;
        let offset = query.int(&["offset", "o"])?.unwrap_or(0);
        let length = query.int(&["length", "l"])?;
        if offset < 0 {
            return Err(NodeError::BadOption("cannot specify negative offset".into()));
        }
        if length.is_some_and(|l| l < 0) {
            return Err(NodeError::BadOption("cannot specify negative length".into()));
        }
        let cid = super::pins::resolve_arg(&ctx, &arg).await?;
        reader::cat(ctx.blocks.clone(), cid, offset as u64, length.map(|l| l as u64)).await
    };
    let mut cat = match started.await {
        Ok(cat) => cat,
        Err(e) => return reply::error(&e),
    };
    let (response, stream) = reply::octets(cat.length);
    tokio::spawn(async move {
        while let Some(chunk) = cat.chunks.recv().await {
            match chunk {
                Ok(bytes) => {
                    if !stream.bytes(bytes).await {
                        return;
                    }
                }
                Err(e) => return stream.fail(&e).await,
            }
        }
    });
    response
}

fn id(ctx: &Ctx, query: &Query) -> Result<Value, NodeError> {
    let me = &ctx.identity;
    if let Some(other) = query.args().first().filter(|a| **a != me.peer_id) {
        return Err(NodeError::Unsupported(format!(
            "looking up peer {other}: routing: not found"
        )));
    }
    Ok(json!({
        "ID": me.peer_id,
        "PublicKey": me.public_key,
        "Addresses": [],
        "AgentVersion": crate::AGENT_VERSION,
        "Protocols": [],
    }))
}

/// kubo's version object; `Version` is the kubo release whose RPC behaviour the node follows.
fn version() -> Value {
    json!({
        "Version": crate::KUBO_VERSION,
        "Commit": crate::AGENT_VERSION,
        "Repo": "14",
        "System": format!("{}/{}", std::env::consts::ARCH, std::env::consts::OS),
        "Golang": "none (cairn-node is Rust)",
    })
}

async fn resolve(ctx: &Ctx, query: &Query) -> Result<Value, NodeError> {
    let arg = query.required_arg("name")?;
    if arg.starts_with("/ipns/") {
        return Err(NodeError::Unsupported(format!(
            "cannot resolve {arg}: cairn-node has no IPNS"
        )));
    }
    let cid = super::pins::resolve_arg(ctx, &arg).await?;
    Ok(json!({"Path": format!("/ipfs/{cid}")}))
}

fn swarm_connect(query: &Query) -> Result<Value, NodeError> {
    let address = query.required_arg("address")?;
    let peer = address.rsplit("/p2p/").next().unwrap_or(&address).to_owned();
    Err(NodeError::Unsupported(format!(
        "connect {peer} failure: cairn-node has no swarm; it gets blocks from its cluster peers"
    )))
}

async fn dag_get(ctx: &Ctx, query: &Query) -> Response<Body> {
    let got = async {
        let cid = super::pins::resolve_arg(ctx, &query.required_arg("ref")?).await?;
        let block = ctx.blocks.get(cid).await?;
        dag_json(&cid, block)
    };
    match got.await {
        Ok(value) => reply::json(&value),
        Err(e) => reply::error(&e),
    }
}

/// The DAG-JSON form of a DAG-PB or raw block (kubo's `dag get` default output codec).
fn dag_json(cid: &Cid, block: bytes::Bytes) -> Result<Value, NodeError> {
    let b64 = |data: &[u8]| base64::engine::general_purpose::STANDARD_NO_PAD.encode(data);
    match cid.codec() {
        dag::RAW => Ok(json!({"/": {"bytes": b64(&block)}})),
        dag::DAG_PB => {
            let node = ipld_dagpb::PbNode::from_bytes(block)
                .map_err(|e| NodeError::Unsupported(format!("decoding {cid}: {e}")))?;
            let mut out = Map::new();
            if let Some(data) = &node.data {
                out.insert("Data".into(), json!({"/": {"bytes": b64(data)}}));
            }
            let links: Vec<Value> = node.links.iter().map(pb_link).collect();
            out.insert("Links".into(), Value::Array(links));
            Ok(Value::Object(out))
        }
        other => Err(NodeError::Unsupported(format!(
            "dag/get of codec 0x{other:x} is not supported by cairn-node (dag-pb and raw are)"
        ))),
    }
}

fn pb_link(link: &ipld_dagpb::PbLink) -> Value {
    let mut out = Map::new();
    out.insert("Hash".into(), json!({"/": link.cid.to_string()}));
    if let Some(name) = &link.name {
        out.insert("Name".into(), name.clone().into());
    }
    if let Some(size) = link.size {
        out.insert("Tsize".into(), size.into());
    }
    Value::Object(out)
}
