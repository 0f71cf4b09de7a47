//! `--loglevel` (ipfs-cluster-service's habit) turned into a `tracing` filter.
//!
//! A spec is a comma-separated list: a bare level applies to Cairn's own events (every
//! target starting with `cairn`), `component:level` to one of ipfs-cluster's log facilities
//! (`raft`, `pintracker`, `restapi`, …, mapped to the Cairn modules and dependencies doing
//! that work here) or to any `tracing` target (`openraft:info`, `cairn_peer::cluster:debug`).
//! Dependencies stay at `warn` unless a component names them.
//!
//! # Invariants
//! - The default ([`DEFAULT`]) shows Cairn's own INFO events and dependencies' warnings only.
//! - A spec either parses whole or is refused with the part that is wrong; nothing is guessed.

/// The filter when neither `--loglevel` nor `RUST_LOG` is given.
pub const DEFAULT: &str = "warn,cairn=info";

/// Consensus: Cairn's log store and state machine, and openraft.
const RAFT: &[&str] = &["cairn_peer::consensus", "openraft"];
/// The cluster's swarm: Cairn's net and the libp2p stack.
const P2P: &[&str] = &["cairn_peer::net", "libp2p", "yamux", "multistream_select"];

/// ipfs-cluster's log facilities, and the targets that do their work in Cairn.
const COMPONENTS: &[(&str, &[&str])] = &[
    (
        "cluster",
        &["cairn_peer::cluster", "cairn_peer::peer", "cairn_peer::status"],
    ),
    ("raft", RAFT),
    ("consensus", RAFT),
    ("crdt", RAFT),
    ("restapi", &["cairn_peer::rest"]),
    ("restapilog", &["cairn::restapi"]),
    ("pinsvcapi", &["cairn_peer::pinsvc"]),
    ("pinsvcapilog", &["cairn::pinsvcapi"]),
    ("ipfsproxy", &["cairn_gateway"]),
    ("ipfsproxylog", &["cairn::access"]),
    ("ipfshttp", &["cairn_peer::ipfs"]),
    ("pintracker", &["cairn_peer::tracker"]),
    ("monitor", &["cairn_peer::monitor"]),
    ("pubsubmon", &["cairn_peer::monitor"]),
    ("allocator", &["cairn_peer::allocator"]),
    ("balanced", &["cairn_peer::allocator"]),
    ("metrics", &["cairn_peer::metrics"]),
    ("p2p", P2P),
    ("libp2p", P2P),
    ("node", &["cairn_node"]),
    ("config", &["cairn_peer::config"]),
];

/// What is wrong with a `--loglevel` spec.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LevelsError {
    /// A level word no logger knows.
    #[error("--loglevel: {0:?} is not a level (trace, debug, info, warn, error, off)")]
    Level(String),
    /// A component that is neither a facility nor a valid target.
    #[error("--loglevel: {0:?} is neither a component ({components}) nor a tracing target", components = component_names())]
    Component(String),
}

fn component_names() -> String {
    COMPONENTS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `tracing` filter directives for `spec` (`EnvFilter` syntax).
pub fn directives(spec: &str) -> Result<String, LevelsError> {
    let mut own = "info";
    let mut components = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.rsplit_once(':') {
            None => own = level(part)?,
            Some((component, word)) => {
                let level = level(word)?;
                for target in targets(component)? {
                    components.push(format!("{target}={level}"));
                }
            }
        }
    }
    let mut out = vec!["warn".to_owned(), format!("cairn={own}")];
    out.extend(components);
    Ok(out.join(","))
}

/// `word` as a `tracing` level, with go-log's names (`dpanic`, `panic`, `fatal`) as `error`.
fn level(word: &str) -> Result<&'static str, LevelsError> {
    Ok(match word.to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "error" | "dpanic" | "panic" | "fatal" => "error",
        "off" | "none" => "off",
        _ => return Err(LevelsError::Level(word.to_owned())),
    })
}

/// The targets of a component: a facility's, or the name itself when it is a target.
fn targets(component: &str) -> Result<Vec<&str>, LevelsError> {
    if let Some((_, targets)) = COMPONENTS.iter().find(|(name, _)| *name == component) {
        return Ok(targets.to_vec());
    }
    let is_target = !component.is_empty()
        && !component.ends_with(':')
        && component
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-'));
    match is_target {
        true => Ok(vec![component]),
        false => Err(LevelsError::Component(component.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_level_is_cairns_own_and_dependencies_stay_at_warn() {
        assert_eq!(directives("debug").unwrap(), "warn,cairn=debug");
        assert_eq!(directives("").unwrap(), DEFAULT);
        assert_eq!(directives("ERROR").unwrap(), "warn,cairn=error");
    }

    #[test]
    fn facilities_map_to_their_targets_and_other_names_are_targets() {
        assert_eq!(
            directives("info,raft:debug").unwrap(),
            "warn,cairn=info,cairn_peer::consensus=debug,openraft=debug"
        );
        assert_eq!(
            directives("cairn_peer::cluster:trace,hyper:info").unwrap(),
            "warn,cairn=info,cairn_peer::cluster=trace,hyper=info"
        );
        assert_eq!(
            directives("ipfsproxylog:off").unwrap(),
            "warn,cairn=info,cairn::access=off"
        );
    }

    #[test]
    fn bad_levels_and_components_are_refused_by_name() {
        assert_eq!(directives("loud"), Err(LevelsError::Level("loud".into())));
        assert_eq!(directives("raft:loud"), Err(LevelsError::Level("loud".into())));
        assert_eq!(
            directives("no such:debug"),
            Err(LevelsError::Component("no such".into()))
        );
        let message = directives("x y:info").unwrap_err().to_string();
        assert!(message.contains("pintracker"), "{message}");
    }

    #[test]
    fn every_directive_set_is_one_env_filter_accepts() {
        for spec in ["info", "debug,p2p:info", "warn,openraft:trace,node:debug", "off"] {
            let filter = directives(spec).unwrap();
            assert!(
                tracing_subscriber::EnvFilter::try_new(&filter).is_ok(),
                "{spec} → {filter}"
            );
        }
    }
}
