//! Every case in `fixtures/passthrough/` answers the same through the gateway as straight from
//! a real js-ipfs 0.66.1 daemon: status, headers, body bytes and trailers.
//!
//! One js-ipfs daemon and one `cairn gateway` process serve all cases, run one at a time so
//! that cases that read global state (`pin/ls`, `repo/stat`) see the same state on both sides.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use cairn_compat_tests::corpus::{self, Case, Vars};
use cairn_compat_tests::process::{Gateway, JsIpfs};
use cairn_compat_tests::{fixtures_dir, trial};
use libtest_mimic::Trial;

struct Env {
    upstream: JsIpfs,
    gateway: Gateway,
    oracle: Vars,
}

fn environment() -> anyhow::Result<Env> {
    let upstream = JsIpfs::start("t10").context("starting js-ipfs")?;
    let gateway = Gateway::start(&upstream.multiaddr(), &[]).context("starting cairn gateway")?;
    Ok(Env {
        upstream,
        gateway,
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
        .map(|(name, _)| format!("passthrough::{name}"))
        .collect();
    let env = match environment() {
        Ok(env) => Arc::new(env),
        Err(err) => return trial::run(trial::all_failing(names, &err), true),
    };
    let runtime = trial::runtime();
    let trials = cases.into_iter().map(|(name, case): (String, Case)| {
        let (env, runtime) = (env.clone(), runtime.clone());
        Trial::test(format!("passthrough::{name}"), move || {
            let run = corpus::run_case(&case, env.upstream.api, env.gateway.addr, &env.oracle);
            trial::outcome(runtime.block_on(run).with_context(|| case.about.clone()))
        })
    });
    let code = trial::run(trials.collect(), true);
    drop(env);
    code
}
