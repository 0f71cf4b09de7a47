//! Issue 14.6: the CI smoke of the history-checked fault suite. Every nemesis once (kill of
//! the leader, of a random peer and of all peers, a paused leader, an isolated leader, a
//! bridge partition, slow and lossy links, a full disk, a membership change), a fixed seed,
//! six clients; the checker must find nothing LOST, PHANTOM, DIVERGENT or STALE after every
//! round. Needs root (network namespaces, tc, tmpfs), as CI has; fails clearly without it.

use cairn_compat_tests::faults::suite::{self, Nemesis, Options};

#[tokio::test(flavor = "multi_thread")]
async fn every_nemesis_once_loses_nothing() -> anyhow::Result<()> {
    let keep = cairn_compat_tests::scratch_dir("suite")?;
    let options = Options {
        peers: 3,
        rounds: 1,
        ops: 300,
        nemeses: Nemesis::ALL.to_vec(),
        seed: 8401,
        clients: 6,
        keep: keep.path().join("failing-history.jsonl"),
    };
    let rounds = suite::run(&options).await?;
    println!("{}", suite::summary(&rounds));
    assert_eq!(rounds.len(), Nemesis::ALL.len());
    for round in &rounds {
        assert!(round.faults >= 1, "{:?} injected nothing", round.nemesis);
        assert!(round.report.is_ok(), "{:?}: {}", round.nemesis, round.report);
    }
    let last = &rounds[rounds.len() - 1].report;
    assert!(
        last.acknowledged > 500,
        "too few acknowledged writes to judge: {last}"
    );
    Ok(())
}
