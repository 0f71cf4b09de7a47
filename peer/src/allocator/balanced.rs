//! The balanced order: peers are split into partitions by the first metric (equal values of a
//! partitionable metric, such as a tag, share one; otherwise each peer is its own), partitions
//! are sorted by weight (descending) then value, each is ordered the same way by the next
//! metric, and the result takes one peer from each partition in turn, so that no partition
//! gives a second peer while another still has one.

use std::collections::BTreeMap;

use crate::monitor::Metric;

/// `candidates` (peer → one metric per `allocate_by` name) in allocation order.
pub(super) fn order(candidates: &BTreeMap<String, Vec<Metric>>, levels: usize) -> Vec<String> {
    let peers: Vec<(&String, &Vec<Metric>)> = candidates.iter().collect();
    ordered(peers, 0, levels)
}

fn ordered(peers: Vec<(&String, &Vec<Metric>)>, level: usize, levels: usize) -> Vec<String> {
    if level >= levels || peers.len() <= 1 {
        return peers.into_iter().map(|(p, _)| p.clone()).collect();
    }
    let mut partitions = partition(peers, level);
    partitions.sort_by(|a, b| b.weight.cmp(&a.weight).then_with(|| a.value.cmp(&b.value)));
    let lists: Vec<Vec<String>> = partitions
        .into_iter()
        .map(|p| ordered(p.peers, level + 1, levels))
        .collect();
    round_robin(lists)
}

struct Partition<'a> {
    value: String,
    weight: i128,
    peers: Vec<(&'a String, &'a Vec<Metric>)>,
}

fn partition<'a>(peers: Vec<(&'a String, &'a Vec<Metric>)>, level: usize) -> Vec<Partition<'a>> {
    let mut out: Vec<Partition<'a>> = Vec::new();
    for (peer, metrics) in peers {
        let Some(metric) = metrics.get(level) else {
            continue;
        };
        let key = if metric.partitionable {
            metric.value.clone()
        } else {
            format!("{}\u{0}{peer}", metric.value)
        };
        match out.iter_mut().find(|p| p.value == key) {
            Some(p) => {
                p.weight += i128::from(metric.weight);
                p.peers.push((peer, metrics));
            }
            None => out.push(Partition {
                value: key,
                weight: i128::from(metric.weight),
                peers: vec![(peer, metrics)],
            }),
        }
    }
    out
}

fn round_robin(lists: Vec<Vec<String>>) -> Vec<String> {
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|i| lists.iter().filter_map(move |l| l.get(i).cloned()))
        .collect()
}
