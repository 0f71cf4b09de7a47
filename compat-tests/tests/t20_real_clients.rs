//! Real third-party clients produce the same output through the gateway as straight from a
//! real js-ipfs daemon: kubo-rpc-client 7.1.0 (npm), ipfshttpclient 0.7.0 (PyPI) and the
//! jsipfs CLI (ipfs-http-client 60) with `--api`, each running an add / cat / pin / block /
//! repo-stat script, unchanged.
//!
//! Each script runs three times against one daemon: once direct to settle the daemon's state,
//! once direct for the record, once through the gateway; the last two must be identical, free
//! of errors, and show the oracle's CIDs.
//!
//! The same scripts also run against the embedded node (`cairn node`), which answers like
//! kubo rather than like js-ipfs: they must run free of errors, read back what they wrote and
//! show the oracle's CIDs.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::Arc;

use anyhow::{Context, bail, ensure};
use cairn_compat_tests::corpus::Vars;
use cairn_compat_tests::process::{Gateway, JsIpfs, Node};
use cairn_compat_tests::{fixtures_dir, repo_root, trial};
use libtest_mimic::Trial;

struct Env {
    upstream: JsIpfs,
    gateway: Gateway,
    node: Node,
    hello: String,
}

/// How one client script is run against an API address (host:port).
type Runner = fn(&Env, std::net::SocketAddr) -> anyhow::Result<String>;

fn output(cmd: &mut Command, what: &str) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "{what} failed ({}): {text}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(text)
}

fn need(path: PathBuf, install: &str) -> anyhow::Result<PathBuf> {
    if !path.exists() {
        bail!(
            "{} is missing: {install} (scripts/test.sh does this)",
            path.display()
        );
    }
    Ok(path)
}

fn kubo_rpc_client(_env: &Env, api: std::net::SocketAddr) -> anyhow::Result<String> {
    let dir = repo_root().join("compat-tests/js/clients");
    need(
        dir.join("node_modules/kubo-rpc-client"),
        "run `npm install` in compat-tests/js/clients",
    )?;
    output(
        Command::new("node")
            .arg(dir.join("drive.mjs"))
            .arg(format!("http://{api}")),
        "kubo-rpc-client",
    )
}

fn ipfshttpclient(env: &Env, api: std::net::SocketAddr) -> anyhow::Result<String> {
    let python = need(
        repo_root().join("compat-tests/py/.venv/bin/python"),
        "create compat-tests/py/.venv from compat-tests/py/requirements.txt",
    )?;
    let addr = format!("/ip4/{}/tcp/{}/http", api.ip(), api.port());
    let script = repo_root().join("compat-tests/py/drive.py");
    output(
        Command::new(python)
            .arg(script)
            .arg(addr)
            .arg(fixtures_dir().join("files"))
            .arg(&env.hello),
        "ipfshttpclient",
    )
}

fn jsipfs_cli(env: &Env, api: std::net::SocketAddr) -> anyhow::Result<String> {
    let cli = cairn_compat_tests::process::jsipfs_cli()?;
    let api = format!("/ip4/{}/tcp/{}", api.ip(), api.port());
    let files = fixtures_dir().join("files");
    let calls: [&[&str]; 7] = [
        &["add", "--progress=false", "f11.txt"],
        &["cat", &env.hello],
        &["pin", "rm", &env.hello],
        &["pin", "add", &env.hello],
        &["pin", "ls", &env.hello],
        &["block", "stat", &env.hello],
        &["repo", "stat"],
    ];
    let mut text = String::new();
    for args in calls {
        let mut cmd = Command::new("node");
        cmd.arg(&cli)
            .arg("--api")
            .arg(&api)
            .args(args)
            .current_dir(&files)
            .env("IPFS_PATH", files.join("no-such-repo"));
        text += &format!("$ jsipfs {}\n{}", args.join(" "), output(&mut cmd, "jsipfs CLI")?);
    }
    Ok(text)
}

fn compare(env: &Env, run: Runner) -> anyhow::Result<()> {
    run(env, env.upstream.api).context("settling run, direct")?;
    let direct = run(env, env.upstream.api).context("direct")?;
    let through = run(env, env.gateway.addr).context("through the gateway")?;
    // The one error a script provokes on purpose: listing a CID right after unpinning it.
    let unexpected = direct
        .lines()
        .any(|l| l.contains("ERROR") && !l.contains("is not pinned"));
    ensure!(!unexpected, "the client failed even direct:\n{direct}");
    ensure!(
        direct.contains(&env.hello),
        "the oracle CID {} is missing:\n{direct}",
        env.hello
    );
    if direct != through {
        bail!("outputs differ\n--- direct\n{direct}\n--- through the gateway\n{through}");
    }
    Ok(())
}

fn against_node(env: &Env, run: Runner) -> anyhow::Result<()> {
    run(env, env.node.api).context("settling run")?;
    let out = run(env, env.node.api).context("against cairn node")?;
    let unexpected = out
        .lines()
        .any(|l| l.contains("ERROR") && !l.contains("not pinned"));
    ensure!(!unexpected, "the client failed against cairn node:\n{out}");
    ensure!(
        out.contains(&env.hello),
        "the oracle CID {} is missing:\n{out}",
        env.hello
    );
    ensure!(
        out.contains("hello world"),
        "cat did not read back the content:\n{out}"
    );
    Ok(())
}

fn environment() -> anyhow::Result<Env> {
    let upstream = JsIpfs::start("t20").context("starting js-ipfs")?;
    let gateway = Gateway::start(&upstream.multiaddr(), &[]).context("starting cairn gateway")?;
    let hello = Vars::with_oracle_cids()?.fill("{{cid:f11.txt}}")?;
    let node = Node::start("t20-node").context("starting cairn node")?;
    Ok(Env {
        upstream,
        gateway,
        node,
        hello,
    })
}

fn main() -> ExitCode {
    let clients: [(&str, Runner); 3] = [
        ("kubo_rpc_client", kubo_rpc_client),
        ("ipfshttpclient", ipfshttpclient),
        ("jsipfs_cli", jsipfs_cli),
    ];
    let names = clients
        .iter()
        .flat_map(|(name, _)| {
            [
                format!("{name}_script_matches_direct"),
                format!("{name}_script_against_embedded_node"),
            ]
        })
        .collect();
    let env = match environment() {
        Ok(env) => Arc::new(env),
        Err(err) => return trial::run(trial::all_failing(names, &err), true),
    };
    let trials = clients.into_iter().flat_map(|(name, run)| {
        let (env, node_env) = (env.clone(), env.clone());
        [
            Trial::test(format!("{name}_script_matches_direct"), move || {
                trial::outcome(compare(&env, run))
            }),
            Trial::test(format!("{name}_script_against_embedded_node"), move || {
                trial::outcome(against_node(&node_env, run))
            }),
        ]
    });
    let code = trial::run(trials.collect(), true);
    drop(env);
    code
}
