//! Every case in `fixtures/intercept/` through the gateway of a 3-peer cluster (separate
//! `cairn daemon` processes, embedded nodes): the answer meets the case's kubo-shaped
//! expectations, and afterwards every peer's pinset holds (or lacks) the CIDs the case names.
//!
//! Cases run one at a time, in file order, against one cluster: later cases may rely on the
//! pins of earlier ones only where they say so in their setup.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cairn_compat_tests::cluster::{Dirs, rest};
use cairn_compat_tests::corpus::{self, Case, Vars};
use cairn_compat_tests::process::Peer;
use cairn_compat_tests::{eventually, fixtures_dir, trial};
use libtest_mimic::Trial;

struct Env {
    _dirs: Dirs,
    peers: Vec<Peer>,
    oracle: Vars,
}

fn environment() -> anyhow::Result<Env> {
    let dirs = Dirs::init(3)?;
    let peers = dirs.start_all()?;
    Ok(Env {
        _dirs: dirs,
        peers,
        oracle: Vars::with_oracle_cids()?,
    })
}

async fn holds(peer: &Peer, cid: &str) -> anyhow::Result<bool> {
    Ok(rest(peer, "GET", &format!("/allocations/{cid}")).await?.status == 200)
}

async fn check_pinsets(env: &Env, case: &Case, vars: &Vars) -> anyhow::Result<()> {
    for (cids, want) in [(&case.cluster_pins, true), (&case.cluster_unpinned, false)] {
        for cid in cids {
            let cid = vars.fill(cid)?;
            for (i, peer) in env.peers.iter().enumerate() {
                let what = format!("peer {i} {} {cid}", if want { "holds" } else { "lacks" });
                eventually(&what, Duration::from_secs(10), || async {
                    Ok(holds(peer, &cid).await? == want)
                })
                .await?;
            }
        }
    }
    Ok(())
}

async fn run(env: &Env, case: &Case) -> anyhow::Result<()> {
    let vars = corpus::run_case_kubo(case, env.peers[0].gateway, &env.oracle).await?;
    check_pinsets(env, case, &vars).await
}

fn main() -> ExitCode {
    let cases = match corpus::load_cases(&fixtures_dir().join("intercept")) {
        Ok(cases) => cases,
        Err(err) => return trial::run(trial::all_failing(vec!["load_corpus".into()], &err), true),
    };
    let names = cases
        .iter()
        .map(|(name, _)| format!("intercept::{name}"))
        .collect();
    let env = match environment() {
        Ok(env) => Arc::new(env),
        Err(err) => return trial::run(trial::all_failing(names, &err), true),
    };
    let runtime = trial::runtime();
    let trials = cases.into_iter().map(|(name, case): (String, Case)| {
        let (env, runtime) = (env.clone(), runtime.clone());
        Trial::test(format!("intercept::{name}"), move || {
            trial::outcome(
                runtime
                    .block_on(run(&env, &case))
                    .with_context(|| case.about.clone()),
            )
        })
    });
    let code = trial::run(trials.collect(), true);
    drop(env);
    code
}
