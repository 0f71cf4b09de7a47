//! `cairn-torture`: long runs of the history-checked fault suite (docs/reliability.md).
//!
//! ```text
//! cairn-torture [--peers 3] [--rounds 20] [--ops 10000] [--clients 8]
//!               [--nemesis kill-leader,pause,partition,netem,disk,…|all] [--seed N]
//!               [--keep failing-history.jsonl]
//! ```
//! Runs as root (namespaces, tc, tmpfs); needs the `cairn` binary built beside it
//! (`cargo build --release -p cairn-peer -p cairn-compat-tests`). Exits 1 on the first round
//! the checker fails, with the history written to `--keep`.

use std::process::ExitCode;

use cairn_compat_tests::faults::suite::{self, Nemesis, Options};

fn usage(why: &str) -> ExitCode {
    eprintln!(
        "cairn-torture: {why}\nusage: cairn-torture [--peers N] [--rounds N] [--ops N] [--clients N] [--nemesis a,b,…|all] [--seed N] [--keep FILE]"
    );
    ExitCode::from(64)
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        peers: 3,
        rounds: 20,
        ops: 10_000,
        nemeses: Nemesis::ALL.to_vec(),
        seed: 1,
        clients: 8,
        keep: "failing-history.jsonl".into(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag} {value}: {e}"));
        match flag.as_str() {
            "--peers" => options.peers = number()?,
            "--rounds" => options.rounds = number()?,
            "--ops" => options.ops = number()?,
            "--clients" => options.clients = number()?,
            "--seed" => options.seed = value.parse().map_err(|e| format!("--seed {value}: {e}"))?,
            "--keep" => options.keep = value.into(),
            "--nemesis" => {
                let mut all = Vec::new();
                for name in value.split(',') {
                    all.extend(
                        Nemesis::parse(name.trim()).ok_or_else(|| format!("unknown nemesis {name:?}"))?,
                    );
                }
                options.nemeses = all;
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if options.peers < 3 {
        return Err("--peers must be at least 3".into());
    }
    Ok(options)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(why) => return usage(&why),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return usage(&format!("cannot start a runtime: {e}")),
    };
    println!("cairn-torture: {options:?}");
    match runtime.block_on(suite::run(&options)) {
        Ok(rounds) => {
            println!("cairn-torture: {}", suite::summary(&rounds));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cairn-torture: {e:#}");
            ExitCode::FAILURE
        }
    }
}
