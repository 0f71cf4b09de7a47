//! Client commands about where pins stand and peer health, through a peer's REST API:
//! `cairn status [cid] [--filter F] [--local] [--depth N]`, `cairn sync`, `cairn recover [cid]`,
//! `cairn health alerts`, `cairn health metrics [name]`, `cairn health graph` (`graph`)
//! (ipfs-cluster-ctl's words and text layout; `--enc json` prints the API's JSON).

use serde::Deserialize;
use serde_json::Value;

use crate::api::GlobalPinInfo;
use crate::monitor::{Alert, Metric};

use super::CliError;
use super::client::{Global, Rest, block_on, print};

/// Options of `cairn status`, `cairn sync` and `cairn recover`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Only this CID.
    cid: Option<String>,
    /// Only these statuses (comma-separated; `error` and `queued` name groups).
    #[arg(long)]
    filter: Option<String>,
    /// Only this peer's view.
    #[arg(long)]
    local: bool,
    /// Cluster levels to show: above 1, each peer whose IPFS daemon is a child cluster's
    /// gateway shows that child's peers below it, recursively.
    #[arg(long, default_value_t = 1)]
    depth: u32,
}

/// `cairn health …`.
#[derive(Debug, clap::Subcommand)]
pub enum HealthCommand {
    /// Expired metrics (a down peer shows as an expired `ping`).
    Alerts,
    /// The newest metrics of every peer; without a name, the metric names.
    Metrics {
        /// A metric name (`freespace`, `ping`, `tag:group`, …).
        name: Option<String>,
    },
    /// The cluster's peers and their IPFS daemons as a Graphviz graph (`| dot -Tsvg`).
    Graph,
}

fn query(args: &StatusArgs) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(filter) = &args.filter {
        q.append_pair("filter", filter);
    }
    if args.local {
        q.append_pair("local", "true");
    }
    if args.depth != 1 {
        q.append_pair("depth", &args.depth.to_string());
    }
    q.finish()
}

/// ipfs-cluster-ctl's text for a `GlobalPinInfo`; a peer's child cluster (`--depth`) is shown
/// below that peer, indented one level further.
pub(super) fn status_text(info: &Value) -> String {
    match GlobalPinInfo::deserialize(info) {
        Ok(info) => {
            let mut out = format!("{} | {}:", info.cid, info.name);
            peer_lines(&info, 1, &mut out);
            out
        }
        Err(e) => format!("a status that does not read as a GlobalPinInfo ({e}): {info}"),
    }
}

/// One line per peer of `info`'s peer map at `level`, each followed by its child's peers.
fn peer_lines(info: &GlobalPinInfo, level: usize, out: &mut String) {
    let indent = "    ".repeat(level);
    for (peer, entry) in &info.peer_map {
        let name = Some(entry.peername.as_str())
            .filter(|n| !n.is_empty())
            .unwrap_or(peer);
        let status = entry.status.name().to_uppercase();
        out.push_str(&format!(
            "\n{indent}> {name:<16} : {status} | {} | Attempts: {}",
            entry.timestamp, entry.attempt_count
        ));
        if !entry.error.is_empty() {
            out.push_str(&format!(" | {}", entry.error));
        }
        if let Some(why) = &entry.child_error {
            out.push_str(&format!("\n{indent}    (child cluster: {why})"));
        }
        if let Some(child) = &entry.child {
            peer_lines(child, level + 1, out);
        }
    }
}

async fn show(global: &Global, method: http::Method, path: &str) -> anyhow::Result<()> {
    let values = Rest::new(global)?.call(method, path).await?;
    print(&values, global.enc, status_text);
    Ok(())
}

/// `cairn status`.
pub(super) fn status(global: &Global, args: &StatusArgs) -> Result<(), CliError> {
    let path = match &args.cid {
        Some(cid) => format!("/pins/{cid}?{}", query(args)),
        None => format!("/pins?{}", query(args)),
    };
    block_on(show(global, http::Method::GET, &path))
}

/// `cairn recover`.
pub(super) fn recover(global: &Global, args: &StatusArgs) -> Result<(), CliError> {
    let path = match &args.cid {
        Some(cid) => format!("/pins/{cid}/recover?{}", query(args)),
        None => format!("/pins/recover?{}", query(args)),
    };
    block_on(show(global, http::Method::POST, &path))
}

/// `cairn sync`.
pub(super) fn sync(global: &Global, args: &StatusArgs) -> Result<(), CliError> {
    block_on(show(
        global,
        http::Method::POST,
        &format!("/pins/sync?{}", query(args)),
    ))
}

/// ipfs-cluster-ctl's line for a metric.
fn metric_text(metric: &Value) -> String {
    match Metric::deserialize(metric) {
        Ok(m) => format!(
            "{} | {}: {} | valid: {} | expire: {}",
            m.peer, m.name, m.value, m.valid, m.expire
        ),
        Err(e) => format!("a metric that does not read as one ({e}): {metric}"),
    }
}

/// ipfs-cluster-ctl's line for an alert.
fn alert_text(alert: &Value) -> String {
    match Alert::deserialize(alert) {
        Ok(a) => format!(
            "{} | {} | expired, alert at {}",
            a.metric.peer, a.metric.name, a.triggered_at
        ),
        Err(e) => format!("an alert that does not read as one ({e}): {alert}"),
    }
}

/// `cairn health [alerts|metrics]`.
pub(super) fn health(global: &Global, command: &Option<HealthCommand>) -> Result<(), CliError> {
    block_on(async {
        let rest = Rest::new(global)?;
        let Some(command) = command else {
            rest.call(http::Method::GET, "/health")
                .await
                .map_err(|e| anyhow::anyhow!("unhealthy: {e}"))?;
            println!("healthy");
            return Ok(());
        };
        let (path, text): (String, fn(&Value) -> String) = match command {
            HealthCommand::Graph => return super::graph::show(&rest, global.enc).await,
            HealthCommand::Alerts => ("/health/alerts".into(), alert_text),
            HealthCommand::Metrics { name: Some(name) } => (format!("/monitor/metrics/{name}"), metric_text),
            HealthCommand::Metrics { name: None } => ("/monitor/metrics".into(), |v| v.to_string()),
        };
        let values = rest.call(http::Method::GET, &path).await?;
        let items: Vec<Value> = values
            .into_iter()
            .flat_map(|v| match v {
                Value::Array(items) => items,
                other => vec![other],
            })
            .collect();
        print(&items, global.enc, text);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_cluster_is_shown_under_its_peer_one_level_deeper() {
        let info = serde_json::json!({
            "cid": "QmX", "name": "n",
            "peer_map": {
                "top": {"peername": "top", "status": "pinned", "timestamp": "2026-12-04T10:00:00Z", "attempt_count": 0,
                    "child": {"cid": "QmX", "peer_map": {
                        "leaf": {"peername": "leaf", "status": "remote", "timestamp": "2026-12-04T10:00:00Z", "attempt_count": 0}
                    }}},
                "gone": {"peername": "gone", "status": "pin_error", "timestamp": "2026-12-04T10:00:00Z", "attempt_count": 2,
                    "error": "boom", "child_error": "unreachable"}
            }
        });
        let text = status_text(&info);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "QmX | n:");
        assert!(
            lines.contains(&"    > top              : PINNED | 2026-12-04T10:00:00Z | Attempts: 0"),
            "{text}"
        );
        assert!(
            lines.contains(&"        > leaf             : REMOTE | 2026-12-04T10:00:00Z | Attempts: 0"),
            "{text}"
        );
        assert!(
            lines.contains(&"    > gone             : PIN_ERROR | 2026-12-04T10:00:00Z | Attempts: 2 | boom"),
            "{text}"
        );
        assert!(lines.contains(&"        (child cluster: unreachable)"), "{text}");
    }

    #[test]
    fn a_status_that_is_no_global_pin_info_is_shown_as_it_came() {
        let text = status_text(&serde_json::json!({"cid": 7}));
        assert!(
            text.starts_with("a status that does not read as a GlobalPinInfo"),
            "{text}"
        );
        assert!(text.ends_with(r#"{"cid":7}"#), "{text}");
    }

    #[test]
    fn metrics_and_alerts_read_as_their_types() {
        let metric = Metric::new("freespace", "peerA", "42".into(), 42, std::time::Duration::ZERO);
        let value = serde_json::to_value(&metric).expect("metric");
        assert_eq!(
            metric_text(&value),
            format!("peerA | freespace: 42 | valid: true | expire: {}", metric.expire)
        );
        let alert = serde_json::to_value(Alert {
            metric,
            triggered_at: crate::api::GoTime::default(),
        })
        .expect("alert");
        assert!(
            alert_text(&alert).starts_with("peerA | freespace | expired, alert at 0001-01-01"),
            "{}",
            alert_text(&alert)
        );
        let renamed = serde_json::json!({"peer_id": "peerA"});
        assert!(metric_text(&renamed).starts_with("a metric that does not read as one"));
    }
}
