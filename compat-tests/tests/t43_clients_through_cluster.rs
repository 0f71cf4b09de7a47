//! Real clients, unchanged, through the gateway of a `cairn daemon` (embedded node): the
//! jsipfs CLI adds a directory and a 50 MiB file, pins, lists, updates and unpins; the
//! cluster's REST API shows exactly the pins the client made. kubo-rpc-client and
//! ipfshttpclient run their scripts through it without an error.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, ensure};
use cairn_compat_tests::cluster::listed;
use cairn_compat_tests::corpus::Vars;
use cairn_compat_tests::process::{Peer, init_peer, jsipfs_cli};
use cairn_compat_tests::{fixtures_dir, repo_root, scratch_dir};

fn jsipfs(api: &str, cwd: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("node")
        .arg(jsipfs_cli()?)
        .arg("--api")
        .arg(api)
        .args(args)
        .current_dir(cwd)
        .env("IPFS_PATH", cwd.join("no-such-repo"))
        .output()
        .context("running the jsipfs CLI")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "jsipfs {args:?} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(text)
}

fn pin_update(port: u16, from: &str, to: &str) -> anyhow::Result<String> {
    let python = repo_root().join("compat-tests/py/.venv/bin/python");
    ensure!(python.exists(), "ipfshttpclient is missing: run scripts/test.sh");
    let script = "import sys, ipfshttpclient\nc = ipfshttpclient.Client(sys.argv[1])\nprint(c.pin.update(sys.argv[2], sys.argv[3]))";
    let out = Command::new(python)
        .args(["-c", script, &format!("/ip4/127.0.0.1/tcp/{port}/http"), from, to])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "pin.update failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(text)
}

fn write_pattern(path: &Path, len: usize) -> anyhow::Result<()> {
    std::fs::write(path, cairn_compat_tests::content::pattern(len))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_jsipfs_cli_adds_pins_updates_and_unpins_through_the_cluster() -> anyhow::Result<()> {
    let dir = scratch_dir("clients")?;
    init_peer(dir.path(), "clients")?;
    let peer = Peer::start(dir.path(), &[])?;
    let api = format!("/ip4/127.0.0.1/tcp/{}", peer.gateway.port());
    let oracle = Vars::with_oracle_cids()?;
    let cid = |name: &str| oracle.fill(&format!("{{{{cid:{name}}}}}"));
    let (dir_cid, big_cid, hello) = (cid("dir")?, cid("f50m.bin")?, cid("f11.txt")?);
    let files = fixtures_dir().join("files");
    let added = jsipfs(&api, &files, &["add", "-r", "--progress=false", "dir"])?;
    ensure!(added.contains(&format!("added {dir_cid} dir")), "{added}");
    write_pattern(&dir.path().join("f50m.bin"), 50 << 20)?;
    let added = jsipfs(&api, dir.path(), &["add", "--progress=false", "f50m.bin"])?;
    ensure!(added.contains(&format!("added {big_cid} f50m.bin")), "{added}");
    let mut want = vec![dir_cid.clone(), big_cid.clone()];
    want.sort();
    assert_eq!(listed(&peer).await?, want, "the cluster holds both adds");

    let pinned = jsipfs(&api, &files, &["pin", "ls", "--type", "recursive"])?;
    ensure!(
        pinned.contains(&format!("{dir_cid} recursive")) && pinned.contains(&big_cid),
        "{pinned}"
    );
    jsipfs(
        &api,
        &files,
        &["add", "--progress=false", "--pin=false", "f11.txt"],
    )?;
    // The jsipfs CLI has no `pin update`; ipfshttpclient's `pin.update` is the client here.
    let updated = pin_update(peer.gateway.port(), &dir_cid, &hello)?;
    ensure!(updated.contains(&hello), "{updated}");
    let removed = jsipfs(&api, &files, &["pin", "rm", &big_cid])?;
    ensure!(removed.contains(&big_cid), "{removed}");
    assert_eq!(
        listed(&peer).await?,
        vec![hello.clone()],
        "update moved the pin, rm removed the other"
    );
    let one = jsipfs(&api, &files, &["pin", "ls", &hello])?;
    ensure!(one.contains(&format!("{hello} recursive")), "{one}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn kubo_rpc_client_and_ipfshttpclient_run_through_the_cluster() -> anyhow::Result<()> {
    let dir = scratch_dir("clients2")?;
    init_peer(dir.path(), "clients2")?;
    let peer = Peer::start(dir.path(), &[])?;
    let hello = Vars::with_oracle_cids()?.fill("{{cid:f11.txt}}")?;
    let js = repo_root().join("compat-tests/js/clients");
    ensure!(
        js.join("node_modules/kubo-rpc-client").exists(),
        "kubo-rpc-client is missing: run scripts/test.sh"
    );
    let python = repo_root().join("compat-tests/py/.venv/bin/python");
    ensure!(python.exists(), "ipfshttpclient is missing: run scripts/test.sh");
    let gateway = peer.gateway;
    let runs = [
        Command::new("node")
            .arg(js.join("drive.mjs"))
            .arg(format!("http://{gateway}"))
            .output()?,
        Command::new(&python)
            .arg(repo_root().join("compat-tests/py/drive.py"))
            .arg(format!("/ip4/127.0.0.1/tcp/{}/http", gateway.port()))
            .arg(fixtures_dir().join("files"))
            .arg(&hello)
            .output()?,
    ];
    for out in runs {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        ensure!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let unexpected = text
            .lines()
            .any(|l| l.contains("ERROR") && !l.contains("not pinned"));
        ensure!(!unexpected, "a call failed through the cluster:\n{text}");
        ensure!(text.contains(&hello), "{text}");
    }
    ensure!(
        listed(&peer).await?.contains(&hello),
        "the scripts' pin is in the cluster"
    );
    Ok(())
}
