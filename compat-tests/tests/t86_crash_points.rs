//! Issue 14.2's disk faults at chosen points: a peer is crashed (abort, as `kill -9`) by a
//! failpoint in the middle of the load — with log entries written but not committed or
//! fsync'd (`log.before_commit`), durable but not yet acknowledged (`log.after_commit`), or
//! applied but not committed (`apply.before_commit`) — on the leader and on a follower, then
//! restarted. The history checker must find nothing lost, phantom, divergent or stale.

use std::time::Duration;

use cairn_compat_tests::faults::{Clients, FaultCluster, judge};
use cairn_compat_tests::history::History;

const SEED: u64 = 8601;
const POINTS: [&str; 3] = ["log.before_commit", "log.after_commit", "apply.before_commit"];

#[tokio::test(flavor = "multi_thread")]
async fn crashes_between_write_fsync_and_acknowledgement_lose_nothing() -> anyhow::Result<()> {
    let history = History::new();
    let env = [
        ("CLUSTER_RAFT_SNAPSHOTTHRESHOLD", "100"),
        ("CLUSTER_RAFT_TRAILINGLOGS", "20"),
    ];
    let mut cluster = FaultCluster::start(3, &env, history.clone()).await?;
    let clients = Clients::start(&cluster, &history, 4, SEED);
    let mut crashes = 0;
    for (n, point) in POINTS.iter().cycle().take(6).enumerate() {
        let leader = cluster.leader().await.unwrap_or(0);
        let victim = if n % 2 == 0 { leader } else { (leader + 1) % 3 };
        cluster.kill(victim)?;
        let spec = format!("{point}=abort({})", 20 + 7 * n);
        cluster.restart_with(victim, &[("CAIRN_FAILPOINTS", &spec)])?;
        let log = cluster.dirs.dirs[victim].path().join("daemon.log");
        let crashed = cairn_compat_tests::eventually(
            &format!("p{victim} crashes at {spec}"),
            Duration::from_secs(60),
            || {
                let log = log.clone();
                let point = point.to_string();
                async move {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    Ok(text.contains(&format!("failpoint {point}: abort")))
                }
            },
        )
        .await;
        crashed?;
        crashes += 1;
        history.event(format!("p{victim} crashed at {spec}"));
        cluster.kill(victim)?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        cluster.restart(victim)?;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    clients.stop().await?;
    let report = judge(&cluster, &history, SEED).await?;
    println!("{crashes} crashes at failpoints; {report}");
    Ok(())
}
