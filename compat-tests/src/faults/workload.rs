//! Clients of a [`super::FaultCluster`]: each adds fresh CIDs, removes some of its own, and
//! reads, through a random live peer's REST API or gateway, recording every operation in a
//! [`History`].
//!
//! # Invariants
//! - Outcomes are what the answer proves: `Ok` for success; `Fail` only when nothing can
//!   have been applied (the connection was refused, a 4xx, kubo's "not pinned"); anything
//!   else (timeout, reset, 5xx) is `Info`, which may have been applied.
//! - A client only removes and reads CIDs it added itself, so the clients' CIDs never
//!   collide, and every CID in a final pinset must come from some client's add.
//! - The schedule is seeded: the same seed gives every client the same choices.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Addrs, Live};
use crate::cluster::cid;
use crate::history::{History, Kind, Outcome};
use crate::http::{Call, Exchange, send};

/// A small seeded generator (xorshift64*), enough for schedules.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded with `seed` (0 is replaced).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// What the clients do.
#[derive(Clone, Copy, Debug)]
pub struct Mix {
    /// Percent of operations that add a fresh CID.
    pub add: u32,
    /// Percent that remove one of the client's CIDs.
    pub rm: u32,
    /// Percent that move one of the client's pins to a fresh CID (the gateway's
    /// `pin/update?unpin=true`: an add of the new CID and a removal of the old, each recorded
    /// over the call's interval).
    pub update: u32,
    /// Whether reads are linearizable (`consistency=linearizable`).
    pub linearizable_reads: bool,
    /// How long one request may take before it is `Info`.
    pub timeout: Duration,
}

impl Default for Mix {
    fn default() -> Self {
        Self {
            add: 65,
            rm: 15,
            update: 5,
            linearizable_reads: true,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Which API an operation goes through.
#[derive(Clone, Copy, Debug)]
enum Via {
    Rest,
    Gateway,
}

/// Runs `clients` clients until `stop` is set or each did `ops` operations.
pub async fn run(
    live: Live,
    history: History,
    clients: usize,
    ops: usize,
    mix: Mix,
    seed: u64,
    stop: Arc<AtomicBool>,
) {
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let client = Client {
                id: c,
                rng: Rng::new(seed.wrapping_add(c as u64 * 7919)),
                live: live.clone(),
                history: history.clone(),
                mix,
                mine: Vec::new(),
                next: 0,
            };
            tokio::spawn(client.run(ops, stop.clone()))
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

struct Client {
    id: usize,
    rng: Rng,
    live: Live,
    history: History,
    mix: Mix,
    /// CIDs this client added (acknowledged or not) and has not removed.
    mine: Vec<String>,
    next: u64,
}

impl Client {
    async fn run(mut self, ops: usize, stop: Arc<AtomicBool>) {
        for _ in 0..ops {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let Some((peer, addrs)) = self.pick_peer() else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let via = if self.rng.below(2) == 0 {
                Via::Rest
            } else {
                Via::Gateway
            };
            let roll = self.rng.below(100) as u32;
            if roll < self.mix.add || self.mine.is_empty() {
                self.add(peer, addrs, via).await;
            } else if roll < self.mix.add + self.mix.rm {
                self.rm(peer, addrs, via).await;
            } else if roll < self.mix.add + self.mix.rm + self.mix.update {
                self.update(peer, addrs).await;
            } else {
                self.read(peer, addrs, via).await;
            }
        }
    }

    fn pick_peer(&mut self) -> Option<(usize, Addrs)> {
        let live: Vec<(usize, Addrs)> = match self.live.read() {
            Ok(all) => all
                .iter()
                .enumerate()
                .filter_map(|(i, a)| a.map(|a| (i, a)))
                .collect(),
            Err(_) => return None,
        };
        let n = live.len();
        (n > 0).then(|| live[self.rng.below(n)])
    }

    async fn add(&mut self, peer: usize, addrs: Addrs, via: Via) {
        let cid = cid(self.id as u64 * 10_000_000 + self.next);
        self.next += 1;
        let pending = self.history.invoke(self.id, peer, Kind::Add, &cid);
        let call = match via {
            Via::Rest => (addrs.rest, Call::post(&format!("/pins/{cid}"))),
            Via::Gateway => (addrs.gateway, Call::post(&format!("/api/v0/pin/add?arg={cid}"))),
        };
        let outcome = write_outcome(self.send(call).await, via);
        if outcome != Outcome::Fail {
            self.mine.push(cid);
        }
        self.history.complete(pending, outcome, None);
    }

    async fn rm(&mut self, peer: usize, addrs: Addrs, via: Via) {
        let cid = self.mine.swap_remove(self.rng.below(self.mine.len()));
        let pending = self.history.invoke(self.id, peer, Kind::Rm, &cid);
        let mut call = match via {
            Via::Rest => (addrs.rest, Call::post(&format!("/pins/{cid}"))),
            Via::Gateway => (addrs.gateway, Call::post(&format!("/api/v0/pin/rm?arg={cid}"))),
        };
        if let Via::Rest = via {
            call.1.method = "DELETE".into();
        }
        let outcome = write_outcome(self.send(call).await, via);
        if outcome == Outcome::Fail {
            self.mine.push(cid);
        }
        self.history.complete(pending, outcome, None);
    }

    async fn update(&mut self, peer: usize, addrs: Addrs) {
        let from = self.mine.swap_remove(self.rng.below(self.mine.len()));
        let to = cid(self.id as u64 * 10_000_000 + self.next);
        self.next += 1;
        let added = self.history.invoke(self.id, peer, Kind::Add, &to);
        let removed = self.history.invoke(self.id, peer, Kind::Rm, &from);
        let target = format!("/api/v0/pin/update?arg={from}&arg={to}&unpin=true");
        let outcome = write_outcome(
            self.send((addrs.gateway, Call::post(&target))).await,
            Via::Gateway,
        );
        // A failed update may have pinned the new CID and not yet removed the old one.
        let (add, rm) = match outcome {
            Outcome::Fail => (Outcome::Fail, Outcome::Fail),
            other => (other, other),
        };
        if add != Outcome::Fail {
            self.mine.push(to);
        }
        if rm != Outcome::Ok {
            self.mine.push(from);
        }
        self.history.complete(added, add, None);
        self.history.complete(removed, rm, None);
    }

    async fn read(&mut self, peer: usize, addrs: Addrs, via: Via) {
        let cid = self.mine[self.rng.below(self.mine.len())].clone();
        let linearizable = self.mix.linearizable_reads;
        let pending = self
            .history
            .invoke(self.id, peer, Kind::Read { linearizable }, &cid);
        let consistency = if linearizable {
            "consistency=linearizable"
        } else {
            ""
        };
        let call = match via {
            Via::Rest => (
                addrs.rest,
                Call::post(&format!("/allocations/{cid}?{consistency}")),
            ),
            Via::Gateway => (
                addrs.gateway,
                Call::post(&format!("/api/v0/pin/ls?arg={cid}&{consistency}")),
            ),
        };
        let mut call = call;
        if let Via::Rest = via {
            call.1.method = "GET".into();
        }
        let (outcome, present) = read_outcome(self.send(call).await);
        self.history.complete(pending, outcome, present);
    }

    async fn send(&self, (addr, call): (std::net::SocketAddr, Call)) -> Sent {
        match tokio::time::timeout(self.mix.timeout, send(addr, call)).await {
            Err(_) => Sent::Lost,
            Ok(Err(e)) if e.to_string().starts_with("connect ") => Sent::Refused,
            Ok(Err(_)) => Sent::Lost,
            Ok(Ok(answer)) => Sent::Answered(answer),
        }
    }
}

/// What became of a request.
enum Sent {
    /// The connection was refused: nothing was sent.
    Refused,
    /// Timeout or connection lost after sending.
    Lost,
    /// An answer.
    Answered(Exchange),
}

fn not_pinned(answer: &Exchange) -> bool {
    let text = answer.text();
    text.contains("not pinned") || text.contains("not part of the pinset")
}

fn write_outcome(sent: Sent, via: Via) -> Outcome {
    match sent {
        Sent::Refused => Outcome::Fail,
        Sent::Lost => Outcome::Info,
        Sent::Answered(answer) => match (answer.status, via) {
            (200, _) => Outcome::Ok,
            (400..=499, _) => Outcome::Fail,
            (500, Via::Gateway) if not_pinned(&answer) => Outcome::Fail,
            _ => Outcome::Info,
        },
    }
}

fn read_outcome(sent: Sent) -> (Outcome, Option<bool>) {
    match sent {
        Sent::Refused => (Outcome::Fail, None),
        Sent::Lost => (Outcome::Info, None),
        Sent::Answered(answer) => match answer.status {
            200 => (Outcome::Ok, Some(true)),
            404 => (Outcome::Ok, Some(false)),
            500 if not_pinned(&answer) => (Outcome::Ok, Some(false)),
            _ => (Outcome::Info, None),
        },
    }
}
