//! The history-checked fault suite: rounds of a workload under one nemesis each, judged by the
//! history checker after every round (what `cairn-torture` and the CI smoke run).
//!
//! # Invariants
//! - One history spans every round, so a round is judged with everything before it (a CID
//!   pinned in round 1 and found in round 3 is explained by round 1's add).
//! - A round ends with every fault healed, every member up and unpaused, and the cluster
//!   settled (one leader, one applied index everywhere); then every member's pinset is read
//!   and checked. Any LOST, PHANTOM, DIVERGENT or STALE fails the run, and the history is
//!   written to a file named with the seed that reproduces the schedule.
//! - The schedule (victims, waits, partitions) comes from the seed alone.
//! - A follower (`witness`) follows the cluster through every round; once the members
//!   settle it must reach their applied index, and its pinset is judged with theirs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::workload::{self, Mix, Rng};
use super::{FaultCluster, Layout};
use crate::history::{self, History, Report};

/// What a round does to the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nemesis {
    /// `kill -9` of the leader, restarted after a while.
    KillLeader,
    /// `kill -9` of a random member.
    KillRandom,
    /// `kill -9` of every member at once, then all restarted.
    KillAll,
    /// SIGSTOP of the leader for longer than an election, then SIGCONT.
    PauseLeader,
    /// The leader cut off from the other members.
    PartitionLeader,
    /// A bridge: one member sees both halves, which do not see each other.
    PartitionBridge,
    /// Slow and lossy links on every member (`tc netem`).
    Netem,
    /// Peer 0's disk filled, then freed and peer 0 restarted.
    Disk,
    /// A member added and another removed while clients write.
    Membership,
}

impl Nemesis {
    /// Every nemesis, in the order the smoke runs them.
    pub const ALL: [Nemesis; 9] = [
        Nemesis::KillLeader,
        Nemesis::KillRandom,
        Nemesis::KillAll,
        Nemesis::PauseLeader,
        Nemesis::PartitionLeader,
        Nemesis::PartitionBridge,
        Nemesis::Netem,
        Nemesis::Disk,
        Nemesis::Membership,
    ];

    /// Parses a name (`kill-leader`, `pause`, `partition`, `bridge`, `netem`, `disk`, …).
    pub fn parse(name: &str) -> Option<Vec<Nemesis>> {
        Some(match name {
            "kill-leader" => vec![Nemesis::KillLeader],
            "kill-random" | "kill" => vec![Nemesis::KillRandom],
            "kill-all" => vec![Nemesis::KillAll],
            "pause" | "pause-leader" => vec![Nemesis::PauseLeader],
            "partition" => vec![Nemesis::PartitionLeader, Nemesis::PartitionBridge],
            "partition-leader" => vec![Nemesis::PartitionLeader],
            "bridge" => vec![Nemesis::PartitionBridge],
            "netem" => vec![Nemesis::Netem],
            "disk" => vec![Nemesis::Disk],
            "membership" => vec![Nemesis::Membership],
            "all" => Nemesis::ALL.to_vec(),
            _ => return None,
        })
    }

    fn needs_network(self) -> bool {
        matches!(
            self,
            Nemesis::PartitionLeader | Nemesis::PartitionBridge | Nemesis::Netem
        )
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Voters.
    pub peers: usize,
    /// Rounds of each nemesis.
    pub rounds: usize,
    /// Operations per round (at least; a round also lasts at least one fault).
    pub ops: usize,
    /// The nemeses, each run `rounds` times in turn.
    pub nemeses: Vec<Nemesis>,
    /// The seed of the schedule and the workload.
    pub seed: u64,
    /// Concurrent clients.
    pub clients: usize,
    /// Where a failing history is written.
    pub keep: std::path::PathBuf,
}

/// One round's figures.
#[derive(Clone, Debug)]
pub struct Round {
    /// The nemesis.
    pub nemesis: Nemesis,
    /// Faults injected.
    pub faults: usize,
    /// Terms that passed (elections).
    pub elections: u64,
    /// From the heal to a settled cluster.
    pub recovery: Duration,
    /// The checker's report over the whole history so far.
    pub report: Report,
}

/// Runs the suite; every round's figures, or the first failure (with the history kept).
pub async fn run(options: &Options) -> anyhow::Result<Vec<Round>> {
    let layout = Layout {
        peers: options.peers,
        spares: usize::from(options.nemeses.contains(&Nemesis::Membership)),
        isolated: options.nemeses.iter().any(|n| n.needs_network()),
        disk_mib: options.nemeses.contains(&Nemesis::Disk).then_some(96),
    };
    let history = History::new();
    let env = [
        ("CLUSTER_RAFT_SNAPSHOTTHRESHOLD", "200"),
        ("CLUSTER_RAFT_TRAILINGLOGS", "50"),
        ("CLUSTER_MONITORPINGINTERVAL", "2s"),
    ];
    let mut cluster = FaultCluster::start_with(layout, &env, history.clone()).await?;
    let witness = super::witness::Witness::start(&cluster)?;
    let mut rng = Rng::new(options.seed);
    let mut rounds = Vec::new();
    for n in 0..options.rounds {
        for nemesis in &options.nemeses {
            let seed = options.seed.wrapping_add((n * 131 + rounds.len()) as u64);
            let round = one_round(
                &mut cluster,
                &witness,
                &history,
                *nemesis,
                options,
                seed,
                &mut rng,
            )
            .await?;
            println!(
                "round {:>3} {:<16} faults={} elections={} recovery={:.1}s {}",
                rounds.len() + 1,
                format!("{nemesis:?}"),
                round.faults,
                round.elections,
                round.recovery.as_secs_f64(),
                round.report.to_string().lines().next().unwrap_or_default()
            );
            if !round.report.is_ok() {
                history.write_jsonl(&options.keep, options.seed)?;
                anyhow::bail!(
                    "round {} ({nemesis:?}) failed:\n{}\nhistory written to {} (seed {})",
                    rounds.len() + 1,
                    round.report,
                    options.keep.display(),
                    options.seed
                );
            }
            rounds.push(round);
        }
    }
    Ok(rounds)
}

async fn max_term(cluster: &FaultCluster) -> u64 {
    cluster.terms().await.into_iter().max().unwrap_or(0)
}

async fn one_round(
    cluster: &mut FaultCluster,
    witness: &super::witness::Witness,
    history: &History,
    nemesis: Nemesis,
    options: &Options,
    seed: u64,
    rng: &mut Rng,
) -> anyhow::Result<Round> {
    let term_before = max_term(cluster).await;
    let ops_before = history.ops().len();
    let stop = Arc::new(AtomicBool::new(false));
    let clients = tokio::spawn(workload::run(
        cluster.live(),
        history.clone(),
        options.clients,
        usize::MAX,
        Mix::default(),
        seed,
        stop.clone(),
    ));
    let mut faults = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(1000 + rng.below(1500) as u64)).await;
        inject(cluster, nemesis, rng).await?;
        faults += 1;
        tokio::time::sleep(Duration::from_millis(3000 + rng.below(3000) as u64)).await;
        recover(cluster, nemesis).await?;
        if history.ops().len() - ops_before >= options.ops {
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    clients.await?;
    let healed = Instant::now();
    cluster.settle(Duration::from_secs(180)).await?;
    let recovery = healed.elapsed();
    let mut finals = cluster.finals().await?;
    let applied = cluster.applied().await;
    finals.push(witness.final_pinset(applied, Duration::from_secs(120)).await?);
    let report = history::check(&history.ops(), &finals);
    let elections = max_term(cluster).await.saturating_sub(term_before);
    Ok(Round {
        nemesis,
        faults,
        elections,
        recovery,
        report,
    })
}

async fn leader_or_random(cluster: &FaultCluster, rng: &mut Rng) -> usize {
    let members = cluster.member_indexes();
    match cluster.leader().await {
        Some(leader) => leader,
        None => members[rng.below(members.len())],
    }
}

/// Injects one fault of `nemesis`.
async fn inject(cluster: &mut FaultCluster, nemesis: Nemesis, rng: &mut Rng) -> anyhow::Result<()> {
    let members = cluster.member_indexes();
    match nemesis {
        Nemesis::KillLeader => {
            let victim = leader_or_random(cluster, rng).await;
            cluster.kill(victim)
        }
        Nemesis::KillRandom => cluster.kill(members[rng.below(members.len())]),
        Nemesis::KillAll => cluster.kill_all(),
        Nemesis::PauseLeader => {
            let victim = leader_or_random(cluster, rng).await;
            cluster.pause(victim)
        }
        Nemesis::PartitionLeader => {
            let leader = leader_or_random(cluster, rng).await;
            let rest: Vec<usize> = members.iter().copied().filter(|m| *m != leader).collect();
            cluster.partition(&[leader], &rest, "isolated leader")
        }
        Nemesis::PartitionBridge => {
            let bridge = members[rng.below(members.len())];
            let others: Vec<usize> = members.iter().copied().filter(|m| *m != bridge).collect();
            let (left, right) = others.split_at(others.len() / 2);
            cluster.partition(left, right, &format!("bridge p{bridge}"))
        }
        Nemesis::Netem => cluster.slow_all("delay 75ms 50ms loss 20%"),
        Nemesis::Disk => cluster.fill_disk(),
        Nemesis::Membership => {
            let spare = (0..cluster.len()).find(|i| !cluster.is_member(*i));
            match spare {
                Some(spare) => cluster.add_member(spare),
                None => Ok(()),
            }
        }
    }
}

/// Undoes one fault of `nemesis`: every member up, unpaused, connected.
async fn recover(cluster: &mut FaultCluster, nemesis: Nemesis) -> anyhow::Result<()> {
    cluster.heal()?;
    if nemesis == Nemesis::Disk {
        cluster.free_disk()?;
        // A peer that hit the full disk stopped its consensus; it needs a restart.
        cluster.kill(0)?;
    }
    if nemesis == Nemesis::Membership {
        membership_swap(cluster).await?;
    }
    for i in cluster.member_indexes() {
        if cluster.is_paused(i) {
            cluster.resume(i)?;
        }
        if !cluster.is_up(i) {
            cluster.restart(i)?;
        }
    }
    Ok(())
}

/// After a spare joined: waits until it is a voter, then removes the member before it, so the
/// voter count returns to what it was.
async fn membership_swap(cluster: &mut FaultCluster) -> anyhow::Result<()> {
    let members = cluster.member_indexes();
    if members.len() <= 3 {
        return Ok(());
    }
    cluster.settle(Duration::from_secs(120)).await?;
    let newest = members[members.len() - 1];
    let removed = members[0].max(1).min(newest - 1);
    let via = members.iter().copied().find(|m| *m != removed).unwrap_or(0);
    cluster.remove_member(removed, via).await
}

/// The figures of a finished run in one paragraph (rounds, operations, faults, elections, the
/// four counts, the slowest recovery).
pub fn summary(rounds: &[Round]) -> String {
    let Some(last) = rounds.last() else {
        return "no rounds".into();
    };
    let faults: usize = rounds.iter().map(|r| r.faults).sum();
    let elections: u64 = rounds.iter().map(|r| r.elections).sum();
    let slowest = rounds.iter().map(|r| r.recovery).max().unwrap_or_default();
    format!(
        "rounds={} ops={} acknowledged={} indeterminate={} faults={faults} elections={elections} LOST={} PHANTOM={} DIVERGENT={} STALE={} slowest recovery={:.1}s",
        rounds.len(),
        last.report.ops,
        last.report.acknowledged,
        last.report.indeterminate,
        last.report.lost.len(),
        last.report.phantom.len(),
        last.report.divergent.len(),
        last.report.stale.len(),
        slowest.as_secs_f64()
    )
}
