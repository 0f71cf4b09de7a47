//! Issue 13.1: snapshots are one durable view and nothing acknowledged is lost across them.
//! Three real peers snapshot every few dozen entries (keeping a short log margin) while six
//! clients add, remove and read (linearizably) through every peer's REST API and gateway, and
//! random peers — the leader among them — are killed with `kill -9` and restarted, some in the
//! middle of a snapshot build (a failpoint widens that window). Then every peer is killed and
//! restarted at once. The history checker must find nothing LOST, PHANTOM, DIVERGENT or STALE,
//! and the peers' pinsets must be identical.

use std::time::Duration;

use cairn_compat_tests::faults::workload::Rng;
use cairn_compat_tests::faults::{Clients, FaultCluster, judge};
use cairn_compat_tests::history::History;

const SEED: u64 = 8101;
const ENV: [(&str, &str); 4] = [
    ("CLUSTER_RAFT_SNAPSHOTTHRESHOLD", "40"),
    ("CLUSTER_RAFT_TRAILINGLOGS", "10"),
    // Writes that find no leader wait up to 15 s; the clients' own limit is longer.
    ("CLUSTER_RAFT_WAITFORLEADERTIMEOUT", "15s"),
    ("CAIRN_FAILPOINTS", "snapshot.after_durable=sleep(150)"),
];

#[tokio::test(flavor = "multi_thread")]
async fn kills_during_snapshots_lose_no_acknowledged_pin() -> anyhow::Result<()> {
    let history = History::new();
    let mut cluster = FaultCluster::start(3, &ENV, history.clone()).await?;
    let clients = Clients::start(&cluster, &history, 6, SEED);
    let mut rng = Rng::new(SEED);
    for _round in 0..8 {
        tokio::time::sleep(Duration::from_millis(1500 + rng.below(1500) as u64)).await;
        let victim = match cluster.leader().await {
            Some(leader) if rng.below(2) == 0 => leader,
            _ => rng.below(cluster.len()),
        };
        cluster.kill(victim)?;
        tokio::time::sleep(Duration::from_millis(500 + rng.below(1500) as u64)).await;
        cluster.restart(victim)?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    history.event("kill -9 of every peer");
    cluster.kill_all()?;
    for i in 0..cluster.len() {
        cluster.restart(i)?;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    clients.stop().await?;
    let report = judge(&cluster, &history, SEED).await?;
    println!("{report}");
    let snapshots: usize = (0..cluster.len())
        .map(|i| daemon_log(&cluster, i).matches("snapshot").count())
        .sum();
    println!("snapshot mentions in the daemons' logs: {snapshots}");
    Ok(())
}

fn daemon_log(cluster: &FaultCluster, i: usize) -> String {
    std::fs::read_to_string(cluster.dirs.dirs[i].path().join("daemon.log")).unwrap_or_default()
}
