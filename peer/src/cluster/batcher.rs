//! Group commit at the proposal level: concurrent writes on the leader are proposed together.
//!
//! The batcher collects every write that arrives while earlier proposals are committing and
//! proposes them as one [`PinOp::Batch`] entry: one log entry and one fsync per batch instead
//! of per pin. Up to [`IN_FLIGHT`] proposals commit at once, so the replication round trip
//! of one batch overlaps the collection and fsync of the next (openraft sends them to the
//! followers in one AppendEntries when they queue up). Each caller still gets its own
//! outcome, after its batch is committed and applied; writes from different callers carry
//! no order between them, exactly as if they had arrived over separate connections.

use cairn_gateway::stats::Histogram;
use openraft::error::{ClientWriteError, RaftError};
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::ClusterError;
use crate::consensus::{PeerNode, Raft};
use crate::state::{Applied, PinOp};

/// Writes waiting for the batcher.
const QUEUE: usize = 4096;
/// Most operations in one proposal.
const MAX_BATCH: usize = 1024;
/// Most bytes in one proposal ([`PinOp::encoded_bound`]): a log entry stays far below the
/// network's message limit, so that appends can always be split to fit (`rpc::raft`).
pub(crate) const MAX_BATCH_BYTES: usize = 512 * 1024;
/// Most proposals committing at once.
const IN_FLIGHT: usize = 2;
/// Bucket bounds of the writes-per-proposal histogram: powers of two up to [`MAX_BATCH`].
const SIZE_BOUNDS: [u64; 11] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/// What a write's caller learns.
pub(super) enum Outcome {
    /// Committed and applied at this log index.
    Applied(Option<Applied>, u64),
    /// This peer is not the leader; the write should go to `leader`.
    NotLeader(Option<PeerNode>),
}

type Reply = oneshot::Sender<Result<Outcome, ClusterError>>;

/// Handle to the batcher task.
#[derive(Clone, Debug)]
pub(super) struct Batcher {
    queue: mpsc::Sender<(PinOp, Reply)>,
    /// Writes per proposal, as proposed (the `cairn_raft_proposal_writes` histogram).
    sizes: Arc<Histogram>,
}

impl Batcher {
    /// Starts the batcher over `raft`.
    pub(super) fn spawn(raft: Raft) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let sizes = Arc::new(Histogram::new(&SIZE_BOUNDS));
        tokio::spawn(run(raft, rx, sizes.clone()));
        Self { queue, sizes }
    }

    /// How many writes each proposal carried.
    pub(super) fn sizes(&self) -> Arc<Histogram> {
        self.sizes.clone()
    }

    /// Proposes `op` (with whatever else is waiting) and returns its outcome.
    pub(super) async fn propose(&self, op: PinOp) -> Result<Outcome, ClusterError> {
        let (reply, outcome) = oneshot::channel();
        let stopped = || ClusterError::Consensus("consensus has stopped".into());
        self.queue.send((op, reply)).await.map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

async fn run(raft: Raft, mut rx: mpsc::Receiver<(PinOp, Reply)>, sizes: Arc<Histogram>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut carried = None;
    loop {
        let first = match carried.take() {
            Some(first) => first,
            None => match rx.recv().await {
                Some(first) => first,
                None => return,
            },
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (batch, next) = drain_into(first, &mut rx);
        sizes.observe(batch.len() as u64);
        carried = next;
        let raft = raft.clone();
        tokio::spawn(async move {
            commit(&raft, batch).await;
            drop(slot);
        });
    }
}

type Waiting = (PinOp, Reply);

/// `first` and whatever is already waiting, up to [`MAX_BATCH`] operations and
/// [`MAX_BATCH_BYTES`]; the operation that did not fit starts the next batch.
fn drain_into(first: Waiting, rx: &mut mpsc::Receiver<Waiting>) -> (Vec<Waiting>, Option<Waiting>) {
    let mut bytes = first.0.encoded_bound();
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        let Ok(next) = rx.try_recv() else { break };
        bytes += next.0.encoded_bound();
        if bytes > MAX_BATCH_BYTES {
            return (batch, Some(next));
        }
        batch.push(next);
    }
    (batch, None)
}

/// Proposes `batch` as one entry and answers each caller.
async fn commit(raft: &Raft, batch: Vec<(PinOp, Reply)>) {
    let (mut ops, replies): (Vec<PinOp>, Vec<Reply>) = batch.into_iter().unzip();
    let proposal = if ops.len() == 1 {
        ops.remove(0)
    } else {
        PinOp::Batch(ops)
    };
    let outcomes = propose(raft, proposal, replies.len()).await;
    for (reply, outcome) in replies.into_iter().zip(outcomes) {
        let _ = reply.send(outcome);
    }
}

/// Proposes one entry and splits its result into `count` per-caller outcomes.
async fn propose(raft: &Raft, proposal: PinOp, count: usize) -> Vec<Result<Outcome, ClusterError>> {
    match raft.client_write(proposal).await {
        Ok(written) => match (written.data, written.log_id.index) {
            (Some(Applied::Batch(each)), index) if each.len() == count => each
                .into_iter()
                .map(|a| Ok(Outcome::Applied(Some(a), index)))
                .collect(),
            (single, index) if count == 1 => vec![Ok(Outcome::Applied(single, index))],
            (other, _) => (0..count)
                .map(|_| {
                    Err(ClusterError::Consensus(format!(
                        "unexpected batch result {other:?}"
                    )))
                })
                .collect(),
        },
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(to))) => (0..count)
            .map(|_| Ok(Outcome::NotLeader(to.leader_node.clone())))
            .collect(),
        Err(RaftError::Fatal(fatal)) => (0..count)
            .map(|_| {
                Err(ClusterError::Unhealthy(format!(
                    "this peer's consensus stopped: {fatal}"
                )))
            })
            .collect(),
        Err(e) => (0..count)
            .map(|_| Err(ClusterError::Consensus(e.to_string())))
            .collect(),
    }
}
