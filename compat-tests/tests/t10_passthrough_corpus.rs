//! Every case in `fixtures/passthrough/` answers the same through the gateway as straight from
//! a real js-ipfs 0.66.1 daemon: status, headers, body bytes and trailers.
//!
//! One js-ipfs daemon and one `cairn gateway` process serve all cases, run one at a time so
//! that cases that read global state (`pin/ls`, `repo/stat`) see the same state on both sides.
//!
//! The same cases also run straight against the embedded node (`cairn node`) with kubo's
//! expectations (`node::<case>`): a case's `kubo` block where kubo differs from js-ipfs.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use cairn_compat_tests::corpus::{self, Case, Vars};
use cairn_compat_tests::process::{Gateway, JsIpfs, Node};
use cairn_compat_tests::{fixtures_dir, trial};
use libtest_mimic::Trial;

struct Env {
    upstream: JsIpfs,
    gateway: Gateway,
    node: Node,
    oracle: Vars,
}

fn environment() -> anyhow::Result<Env> {
    let upstream = JsIpfs::start("t10").context("starting js-ipfs")?;
    let gateway = Gateway::start(&upstream.multiaddr(), &[]).context("starting cairn gateway")?;
    let node = Node::start("t10-node").context("starting cairn node")?;
    Ok(Env {
        upstream,
        gateway,
        node,
        oracle: Vars::with_oracle_cids()?,
    })
}

fn main() -> ExitCode {
    let cases = match corpus::load_cases(&fixtures_dir().join("passthrough")) {
        Ok(cases) => cases,
        Err(err) => return trial::run(trial::all_failing(vec!["load_corpus".into()], &err), true),
    };
    let names = cases
        .iter()
        .flat_map(|(name, _)| [format!("passthrough::{name}"), format!("node::{name}")])
        .collect();
    let env = match environment() {
        Ok(env) => Arc::new(env),
        Err(err) => return trial::run(trial::all_failing(names, &err), true),
    };
    let runtime = trial::runtime();
    let trials = cases.into_iter().flat_map(|(name, case): (String, Case)| {
        let (env, runtime) = (env.clone(), runtime.clone());
        let (node_env, node_runtime, node_case) = (env.clone(), runtime.clone(), case.clone());
        let passthrough = Trial::test(format!("passthrough::{name}"), move || {
            let run = corpus::run_case(&case, env.upstream.api, env.gateway.addr, &env.oracle);
            trial::outcome(runtime.block_on(run).with_context(|| case.about.clone()))
        });
        let node = Trial::test(format!("node::{name}"), move || {
            let run = corpus::run_case_kubo(&node_case, node_env.node.api, &node_env.oracle);
            let outcome = node_runtime
                .block_on(run)
                .map(drop)
                .with_context(|| node_case.about.clone());
            trial::outcome(outcome)
        });
        [passthrough, node]
    });
    let code = trial::run(trials.collect(), true);
    drop(env);
    code
}
