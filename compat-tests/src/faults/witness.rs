//! A follower in the fault suite (`cairn follow`): started with the cluster from what its
//! first peer publishes, it follows through every round's faults; after each round it must
//! have applied what the settled members applied, and its pinset is judged with theirs (so a
//! follower that lost, invented or kept a pin is LOST, PHANTOM or DIVERGENT like a member).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::FaultCluster;
use crate::follow::{Follower, init, publish};

/// The suite's follower and its folder.
pub struct Witness {
    /// The running follower.
    pub follower: Follower,
    _base: tempfile::TempDir,
}

impl Witness {
    /// A follower of `cluster`, initialised from what peer 0 publishes.
    pub fn start(cluster: &FaultCluster) -> anyhow::Result<Self> {
        let base = crate::scratch_dir("witness")?;
        let publisher = cluster
            .peer(0)
            .ok_or_else(|| anyhow::anyhow!("p0 is down: nobody publishes the follower configuration"))?;
        let published = publish(publisher, base.path(), &[])?;
        init(base.path(), "witness", &published.to_string_lossy())?;
        let follower = Follower::run(base.path(), "witness", &[])?;
        Ok(Self {
            follower,
            _base: base,
        })
    }

    /// Its pinset once it has applied `index` (the settled members' applied index).
    pub async fn final_pinset(
        &self,
        index: u64,
        within: Duration,
    ) -> anyhow::Result<(String, BTreeSet<String>)> {
        let until = Instant::now() + within;
        loop {
            let progress = self.follower.progress().await?;
            if progress["applied"].as_u64().unwrap_or(0) >= index {
                break;
            }
            anyhow::ensure!(
                Instant::now() < until,
                "the follower did not reach index {index} within {within:?}: {progress}\n{}",
                self.follower.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok((
            "follower".into(),
            self.follower.listed().await?.into_iter().collect(),
        ))
    }
}
