//! Pins and garbage collection over the blockstore, with kubo's rules and messages.
//!
//! # Invariants
//! - A recursive pin is recorded only after every block below it is present locally (missing
//!   ones are fetched through [`Blocks`], verified, stored); a direct pin needs its one block.
//! - Unpinned blocks stay until [`gc`]; gc never removes a block reachable from a pin. The
//!   caller holds the repo's gc lock exclusively for gc and shared for add/pin, so a fresh add
//!   cannot lose its blocks between storing and pinning.
//! - `indirect` is computed by walking the recursive pins; it is never stored.

use std::collections::HashSet;

use cid::Cid;

use crate::blockstore::{PinMode, PinRecord};
use crate::dag;
use crate::error::NodeError;
use crate::source::Blocks;

/// Which pins `pin/ls` shows (kubo's `type`).
pub use cairn_kubo::pin_type::PinType as PinFilter;

/// One `pin/ls` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The pinned CID.
    pub cid: Cid,
    /// kubo's type text: `recursive`, `direct`, `indirect` or `indirect through <cid>`.
    pub kind: String,
    /// The pin's name (empty when none or indirect).
    pub name: String,
}

/// Pins `cid`; `progress` hears the number of blocks walked so far.
pub async fn add(
    blocks: &Blocks,
    cid: Cid,
    mode: PinMode,
    name: &str,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<(), NodeError> {
    match mode {
        PinMode::Recursive => walk(blocks, cid, Reach::Anywhere, progress).await?,
        PinMode::Direct => drop(blocks.get(cid).await?),
    }
    record(blocks, cid, mode, name).await
}

/// Pins `cid` recursively from local blocks only: a block missing here fails the pin at once
/// (kubo's `dag/import` pins its roots offline, never asking the network).
pub async fn add_local(blocks: &Blocks, cid: Cid, name: &str) -> Result<(), NodeError> {
    walk(blocks, cid, Reach::Local, &mut |_| {}).await?;
    record(blocks, cid, PinMode::Recursive, name).await
}

async fn record(blocks: &Blocks, cid: Cid, mode: PinMode, name: &str) -> Result<(), NodeError> {
    let record = PinRecord {
        mode,
        name: name.to_owned(),
    };
    blocks.store().run(move |s| s.upsert_pin(&cid, &record)).await
}

/// Unpins `cid`; a recursive pin needs `recursive`.
pub async fn remove(blocks: &Blocks, cid: Cid, recursive: bool) -> Result<(), NodeError> {
    let existing = blocks.store().run(move |s| s.pin(&cid)).await?;
    match existing {
        None => Err(NodeError::NotPinned),
        Some(p) if p.mode == PinMode::Recursive && !recursive => {
            Err(NodeError::Unsupported(format!("{cid} is pinned recursively")))
        }
        Some(_) => blocks.store().run(move |s| s.remove_pin(&cid)).await.map(drop),
    }
}

/// Every pin `filter` shows: recursive, then direct, then indirect.
pub async fn list(blocks: &Blocks, filter: PinFilter) -> Result<Vec<Listed>, NodeError> {
    let pins = blocks.store().run(|s| s.pins()).await?;
    let mut out: Vec<Listed> = Vec::new();
    for wanted in [PinMode::Recursive, PinMode::Direct] {
        let shown = pins
            .iter()
            .filter(|(_, p)| p.mode == wanted && filter.shows_pin(p.mode == PinMode::Recursive));
        out.extend(shown.map(|(cid, p)| Listed {
            cid: *cid,
            kind: p.mode.as_str().to_owned(),
            name: p.name.clone(),
        }));
    }
    if filter.shows_indirect() {
        let roots: HashSet<Cid> = recursive_roots(&pins).collect();
        for cid in indirect(blocks, &pins, &roots).await? {
            out.push(Listed {
                cid,
                kind: "indirect".into(),
                name: String::new(),
            });
        }
    }
    Ok(out)
}

/// How `cid` is pinned, as `pin/ls?arg=` reports it; `arg` is the path as the client wrote it.
pub async fn list_one(blocks: &Blocks, cid: Cid, arg: &str, filter: PinFilter) -> Result<Listed, NodeError> {
    let pins = blocks.store().run(|s| s.pins()).await?;
    if let Some((_, p)) = pins
        .iter()
        .find(|(c, p)| *c == cid && filter.shows_pin(p.mode == PinMode::Recursive))
    {
        return Ok(Listed {
            cid,
            kind: p.mode.as_str().to_owned(),
            name: p.name.clone(),
        });
    }
    if filter.shows_indirect() {
        for root in recursive_roots(&pins).filter(|r| *r != cid) {
            if reachable_locally(blocks, root).await?.contains(&cid) {
                return Ok(Listed {
                    cid,
                    kind: format!("indirect through {root}"),
                    name: String::new(),
                });
            }
        }
    }
    Err(NodeError::PathNotPinned(arg.to_owned()))
}

/// Removes every block no pin reaches; returns the removed CIDs.
pub async fn gc(blocks: &Blocks) -> Result<Vec<Cid>, NodeError> {
    let pins = blocks.store().run(|s| s.pins()).await?;
    let mut keep: HashSet<Cid> = pins.iter().map(|(cid, _)| *cid).collect();
    for root in recursive_roots(&pins) {
        keep.extend(reachable_locally(blocks, root).await?);
    }
    blocks
        .store()
        .run(move |s| {
            let doomed: Vec<Cid> = s.cids()?.into_iter().filter(|c| !keep.contains(c)).collect();
            s.remove_many(&doomed)
        })
        .await
}

/// The recursive pin through which `cid` is pinned indirectly, if any.
pub async fn indirect_root(blocks: &Blocks, cid: Cid) -> Result<Option<Cid>, NodeError> {
    let pins = blocks.store().run(|s| s.pins()).await?;
    for root in recursive_roots(&pins).filter(|r| *r != cid) {
        if reachable_locally(blocks, root).await?.contains(&cid) {
            return Ok(Some(root));
        }
    }
    Ok(None)
}

fn recursive_roots(pins: &[(Cid, PinRecord)]) -> impl Iterator<Item = Cid> + '_ {
    pins.iter()
        .filter(|(_, p)| p.mode == PinMode::Recursive)
        .map(|(c, _)| *c)
}

async fn indirect(
    blocks: &Blocks,
    pins: &[(Cid, PinRecord)],
    roots: &HashSet<Cid>,
) -> Result<Vec<Cid>, NodeError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for root in recursive_roots(pins) {
        for cid in reachable_locally(blocks, root).await? {
            if !roots.contains(&cid) && seen.insert(cid) {
                out.push(cid);
            }
        }
    }
    Ok(out)
}

/// The blocks below `root` (not `root` itself) that are stored locally, depth first. A store
/// error aborts (gc must never treat an unreadable block as unreachable).
pub(crate) async fn reachable_locally(blocks: &Blocks, root: Cid) -> Result<Vec<Cid>, NodeError> {
    let mut seen = HashSet::from([root]);
    let mut stack = vec![root];
    let mut out = Vec::new();
    while let Some(cid) = stack.pop() {
        let data = match blocks.get_local(cid).await {
            Ok(data) => data,
            Err(NodeError::NotFound(_)) => continue,
            Err(other) => return Err(other),
        };
        for link in dag::links(&cid, &data)? {
            if seen.insert(link) {
                out.push(link);
                stack.push(link);
            }
        }
    }
    Ok(out)
}

/// Where a walk may find blocks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Here, else from the block source (other peers).
    Anywhere,
    /// Here only.
    Local,
}

/// Makes every block below `root` local (fetching what is missing, unless `reach` is
/// [`Reach::Local`]: then a missing block is an error); reports blocks walked.
async fn walk(
    blocks: &Blocks,
    root: Cid,
    reach: Reach,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<(), NodeError> {
    let mut seen = HashSet::from([root]);
    let mut stack = vec![root];
    let mut walked = 0u64;
    while let Some(cid) = stack.pop() {
        let data = match reach {
            Reach::Anywhere => blocks.get(cid).await?,
            Reach::Local => blocks.get_local(cid).await?,
        };
        walked += 1;
        progress(walked);
        for link in dag::links(&cid, &data)? {
            if seen.insert(link) {
                stack.push(link);
            }
        }
    }
    Ok(())
}
