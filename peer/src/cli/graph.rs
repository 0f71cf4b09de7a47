//! `cairn health graph`: the cluster as ipfs-cluster-ctl's `health graph` draws it, a Graphviz
//! digraph with a node per cluster peer (`C0`, `C1`, …, boxes) and one per peer's IPFS daemon
//! (`I0`, …, ellipses), an edge from each peer to every other member it is joined with, and
//! one to its daemon. Built from `GET /id` (who the asked peer sees) and `GET /peers` (each
//! member's id, name and daemon, as far as the asked peer knows them). `--enc json` prints
//! the same graph as ipfs-cluster's `ConnectGraph` keys.
//!
//! Render it with `cairn health graph | dot -Tsvg > cluster.svg`.

use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::json;

use super::client::{Encoding, Rest};
use crate::api::PeerInfo;

/// The graph: the asked peer and every member, in the order `GET /peers` gave them.
#[derive(Debug)]
pub(super) struct Graph {
    /// The peer that was asked.
    pub(super) asked: String,
    /// Every member.
    pub(super) peers: Vec<PeerInfo>,
    /// The members the asked peer sees (its `cluster_peers`).
    pub(super) members: Vec<String>,
}

impl Graph {
    /// Edges between members: each member to every other member the asked peer lists.
    fn links(&self) -> Vec<(usize, usize)> {
        let listed = |id: &str| self.members.iter().any(|m| m == id) || id == self.asked;
        let mut out = Vec::new();
        for (i, from) in self.peers.iter().enumerate() {
            for (j, to) in self.peers.iter().enumerate() {
                if i != j && listed(&from.id) && listed(&to.id) {
                    out.push((i, j));
                }
            }
        }
        out
    }

    /// Graphviz dot.
    pub(super) fn dot(&self) -> String {
        let mut out = String::from("digraph cluster {\n");
        out.push_str("  /* The cluster peers */\n  subgraph peers {\n    rank=\"min\"\n");
        for (i, peer) in self.peers.iter().enumerate() {
            let name = peer.peername.as_deref().filter(|n| !n.is_empty());
            let label = match name {
                Some(name) => format!("{}\\n{}", escape(name), escape(&short(&peer.id))),
                None => escape(&short(&peer.id)),
            };
            let color = if peer.id == self.asked {
                "orange"
            } else {
                "darkorange"
            };
            let _ = writeln!(
                out,
                "    C{i} [label=\"{label}\" shape=\"box3d\" style=\"filled\" color=\"{color}\" tooltip=\"{}\"]",
                escape(&peer.id)
            );
        }
        out.push_str("  }\n  /* Each peer's IPFS daemon */\n  subgraph ipfs {\n    rank=\"max\"\n");
        for (i, peer) in self.peers.iter().enumerate() {
            let ipfs = peer.ipfs.as_ref();
            let label = match ipfs.map(|d| d.error.as_str()).filter(|e| !e.is_empty()) {
                Some(error) => format!("IPFS\\n{}", escape(error)),
                None => "IPFS".to_owned(),
            };
            let address = ipfs.and_then(|d| d.addresses.first()).map_or("", String::as_str);
            let _ = writeln!(
                out,
                "    I{i} [label=\"{label}\" shape=\"ellipse\" style=\"filled\" color=\"turquoise\" tooltip=\"{}\"]",
                escape(address)
            );
        }
        out.push_str("  }\n  /* Members joined with each other, and each peer with its daemon */\n");
        for (from, to) in self.links() {
            let _ = writeln!(out, "  C{from} -> C{to}");
        }
        for i in 0..self.peers.len() {
            let _ = writeln!(out, "  C{i} -> I{i}");
        }
        out.push_str("}\n");
        out
    }

    /// ipfs-cluster's `ConnectGraph` keys: `cluster_id`, `cluster_links`, `cluster_to_ipfs`
    /// (the daemon's first address, as Cairn knows no daemon ids), `ipfs_links` (empty).
    pub(super) fn json(&self) -> serde_json::Value {
        let mut links = serde_json::Map::new();
        for (from, to) in self.links() {
            let entry = links
                .entry(self.peers[from].id.clone())
                .or_insert_with(|| json!([]));
            if let Some(list) = entry.as_array_mut() {
                list.push(json!(self.peers[to].id));
            }
        }
        let to_ipfs: serde_json::Map<String, serde_json::Value> = self
            .peers
            .iter()
            .map(|p| {
                let address = p.ipfs.as_ref().and_then(|d| d.addresses.first()).cloned();
                (p.id.clone(), json!(address.unwrap_or_default()))
            })
            .collect();
        json!({"cluster_id": self.asked, "ipfs_links": {}, "cluster_links": links, "cluster_to_ipfs": to_ipfs})
    }
}

/// The last 6 characters of a peer id, as ipfs-cluster-ctl labels its nodes.
fn short(id: &str) -> String {
    let start = id.char_indices().rev().nth(5).map_or(0, |(i, _)| i);
    format!("…{}", &id[start..])
}

/// A dot string's escapes.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', " ")
}

/// Reads `/id` and `/peers` and prints the graph.
pub(super) async fn show(rest: &Rest, enc: Encoding) -> anyhow::Result<()> {
    let id = rest.call(http::Method::GET, "/id").await?;
    let id = PeerInfo::deserialize(id.first().unwrap_or(&serde_json::Value::Null))?;
    let listed = rest.call(http::Method::GET, "/peers").await?;
    let peers = listed
        .iter()
        .map(PeerInfo::deserialize)
        .collect::<Result<Vec<_>, _>>()?;
    let graph = Graph {
        members: id.cluster_peers.clone().unwrap_or_default(),
        asked: id.id,
        peers,
    };
    match enc {
        Encoding::Text => print!("{}", graph.dot()),
        Encoding::Json => println!("{}", graph.json()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: &str, name: Option<&str>) -> PeerInfo {
        PeerInfo {
            peername: name.map(str::to_owned),
            ..PeerInfo::member(id, &[])
        }
    }

    #[test]
    fn every_member_links_to_the_others_and_to_its_daemon() {
        let graph = Graph {
            asked: "12D3KooWAAAAAAaaaaaa".into(),
            peers: vec![
                peer("12D3KooWAAAAAAaaaaaa", Some("a \"quoted\"")),
                peer("12D3KooWBBBBBBbbbbbb", None),
            ],
            members: vec!["12D3KooWAAAAAAaaaaaa".into(), "12D3KooWBBBBBBbbbbbb".into()],
        };
        let dot = graph.dot();
        assert!(
            dot.starts_with("digraph cluster {\n") && dot.ends_with("}\n"),
            "{dot}"
        );
        for edge in ["C0 -> C1", "C1 -> C0", "C0 -> I0", "C1 -> I1"] {
            assert!(dot.contains(&format!("  {edge}\n")), "{edge}: {dot}");
        }
        assert!(dot.contains(r#"C0 [label="a \"quoted\"\n…aaaaaa""#), "{dot}");
        assert_eq!(
            graph.json()["cluster_links"]["12D3KooWAAAAAAaaaaaa"][0],
            "12D3KooWBBBBBBbbbbbb"
        );
    }

    #[test]
    fn a_peer_the_asked_one_does_not_list_gets_no_member_edges() {
        let graph = Graph {
            asked: "a".into(),
            peers: vec![peer("a", None), peer("stranger", None)],
            members: vec!["a".into()],
        };
        let dot = graph.dot();
        assert!(!dot.contains("C0 -> C1") && dot.contains("C1 -> I1"), "{dot}");
    }
}
