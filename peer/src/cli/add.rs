//! `cairn add PATH…`: ipfs-cluster-ctl's `add`. The files, directories (`-r`) or stdin (`-`)
//! stream to the REST API's `POST /add` as kubo's multipart form (`multipart`), which adds
//! them to the peer's IPFS daemon and pins the roots in the cluster; its ndjson lines are
//! printed as ipfs-cluster-ctl prints them (`added <cid> <name>`; `-q` the CIDs, `-Q` the last
//! one; `--enc json` the API's lines).
//!
//! On a terminal, stderr shows a progress bar of the bytes sent (rate, ETA; a byte count for
//! stdin); elsewhere nothing but the results is written.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use http_body_util::BodyExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::CliError;
use super::client::{Encoding, Global, Rest, block_on};
use super::multipart::{self, Entry, Source};
use super::pin::{FOREVER, PinFlags, flags_query, key_value};

/// `cairn add`'s flags (ipfs-cluster-ctl's names).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files or directories to add; `-` reads standard input.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Add directories and everything below them.
    #[arg(long, short = 'r')]
    recursive: bool,
    /// Include hidden entries (names starting with `.`) of directories.
    #[arg(long, short = 'H')]
    hidden: bool,
    /// Wrap everything in a directory (its CID is the one root).
    #[arg(long, short = 'w')]
    wrap_with_directory: bool,
    /// CID version of the DAG (1 makes raw leaves the default).
    #[arg(long, value_name = "0|1")]
    cid_version: Option<u8>,
    /// Raw blocks for file data (`--raw-leaves=false` to refuse them with CIDv1).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true, value_name = "BOOL")]
    raw_leaves: Option<bool>,
    /// Chunking of files: `size-<bytes>` (the daemon may know others).
    #[arg(long, short = 's', value_name = "CHUNKER")]
    chunker: Option<String>,
    /// Hash function of the blocks (`sha2-256`, `blake2b-256`, …).
    #[arg(long, value_name = "NAME")]
    hash: Option<String>,
    /// Name and expiry of the pins.
    #[command(flatten)]
    pin: PinFlags,
    /// Minimum replication factor.
    #[arg(long, visible_alias = "rmin", allow_hyphen_values = true)]
    replication_min: Option<i32>,
    /// Maximum replication factor.
    #[arg(long, visible_alias = "rmax", allow_hyphen_values = true)]
    replication_max: Option<i32>,
    /// Peers to allocate the roots to first (comma-separated peer ids).
    #[arg(long, visible_alias = "allocs", value_delimiter = ',', value_name = "PEERS")]
    allocations: Vec<String>,
    /// A metadata entry of the pins, `key=value` (repeatable).
    #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
    metadata: Vec<(String, String)>,
    /// Add to the asked peer's daemon only (what Cairn always does; accepted for scripts).
    #[arg(long)]
    local: bool,
    /// Store the blocks, pin nothing.
    #[arg(long)]
    no_pin: bool,
    /// Buffer the output and print it once the add finished.
    #[arg(long)]
    no_stream: bool,
    /// Print only the CIDs.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Print only the last CID (the root of a wrapped or single add).
    #[arg(long, short = 'Q')]
    quieter: bool,
    /// Wait until the last root is pinned on its allocations.
    #[arg(long)]
    wait: bool,
    /// How long --wait waits: a Go duration or seconds; 0 = no limit.
    #[arg(long, visible_alias = "wt", default_value = "0", value_parser = super::client::parse_duration, value_name = "DURATION")]
    wait_timeout: Duration,
}

impl Args {
    /// The REST query of `POST /add`.
    fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        flags_query(&self.pin, &mut q);
        let switches = [
            ("wrap-with-directory", self.wrap_with_directory),
            ("local", self.local),
            ("no-pin", self.no_pin),
        ];
        for (key, on) in switches {
            if on {
                q.append_pair(key, "true");
            }
        }
        if self.no_stream {
            q.append_pair("stream-channels", "false");
        }
        let numbers = [
            ("cid-version", self.cid_version.map(i32::from)),
            ("replication-min", self.replication_min),
            ("replication-max", self.replication_max),
        ];
        for (key, value) in numbers {
            if let Some(value) = value {
                q.append_pair(key, &value.to_string());
            }
        }
        if let Some(raw) = self.raw_leaves {
            q.append_pair("raw-leaves", &raw.to_string());
        }
        for (key, value) in [("chunker", &self.chunker), ("hash", &self.hash)] {
            if let Some(value) = value {
                q.append_pair(key, value);
            }
        }
        if !self.allocations.is_empty() {
            q.append_pair("user-allocations", &self.allocations.join(","));
        }
        for (key, value) in &self.metadata {
            q.append_pair(&format!("meta-{key}"), value);
        }
        q.finish()
    }
}

/// How the results are printed.
struct Printer {
    enc: Encoding,
    quiet: bool,
    quieter: bool,
    buffered: bool,
    bar: Option<ProgressBar>,
    held: Vec<String>,
    last: Option<(String, String)>,
}

impl Printer {
    /// One line of the API's answer (progress lines, without a CID, are not shown).
    fn line(&mut self, value: &Value) {
        let (Some(cid), name) = (value["cid"].as_str(), value["name"].as_str().unwrap_or("")) else {
            return;
        };
        self.last = Some((cid.to_owned(), value.to_string()));
        let text = match (self.enc, self.quiet || self.quieter) {
            (Encoding::Json, _) => value.to_string(),
            (Encoding::Text, true) => cid.to_owned(),
            (Encoding::Text, false) => format!("added {cid} {name}"),
        };
        match self.buffered || self.quieter {
            true => self.held.push(text),
            false => self.out(&text),
        }
    }

    fn out(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| println!("{text}")),
            None => println!("{text}"),
        }
    }

    /// What was held back: everything (`--no-stream`), or the last line (`-Q`).
    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
        let held = std::mem::take(&mut self.held);
        match self.quieter {
            true => {
                if let Some(last) = held.last() {
                    self.out(last);
                }
            }
            false => held.iter().for_each(|line| self.out(line)),
        }
    }
}

/// The progress bar of `entries`, when stderr is a terminal and output is not quiet.
fn progress_bar(entries: &[Entry], quiet: bool) -> Option<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let stdin = entries.iter().any(|e| e.source == Source::Stdin);
    let template = match stdin {
        true => "{spinner} {bytes} sent ({binary_bytes_per_sec}) {elapsed}",
        false => "{bar:40} {percent:>3}% {bytes}/{total_bytes} ({binary_bytes_per_sec}, ETA {eta})",
    };
    let bar = match stdin {
        true => ProgressBar::new_spinner(),
        false => ProgressBar::new(entries.iter().map(|e| e.len).sum()),
    };
    let style = ProgressStyle::with_template(template).ok()?.progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(100));
    Some(bar)
}

/// `cairn add`.
pub(super) fn run(global: &Global, args: &Args) -> Result<(), CliError> {
    let entries =
        multipart::entries(&args.paths, args.recursive, args.hidden).map_err(anyhow::Error::from)?;
    block_on(async {
        let rest = Rest::new(global)?;
        let mut printer = Printer {
            enc: global.enc,
            quiet: args.quiet,
            quieter: args.quieter,
            buffered: args.no_stream,
            bar: progress_bar(&entries, args.quiet || args.quieter),
            held: Vec::new(),
            last: None,
        };
        let path = format!("/add?{}", args.query());
        let exchange = upload(&rest, &path, entries, &mut printer);
        let result = rest.bounded("/add", exchange).await;
        printer.finish();
        result?;
        let Some((cid, _)) = printer.last.take() else {
            bail!("the REST API added nothing");
        };
        if args.wait && !args.no_pin {
            let limit = Some(args.wait_timeout)
                .filter(|t| !t.is_zero())
                .unwrap_or(FOREVER);
            super::wait::until_pinned(&rest, &cid, limit).await?;
        }
        Ok(())
    })
}

/// Sends the upload and prints each line of the answer as it comes.
async fn upload(rest: &Rest, path: &str, entries: Vec<Entry>, printer: &mut Printer) -> anyhow::Result<()> {
    let boundary = multipart::boundary();
    let bar = printer.bar.clone();
    let sent: Arc<dyn Fn(u64) + Send + Sync> = Arc::new(move |n| {
        if let Some(bar) = &bar {
            bar.inc(n);
        }
    });
    let body = multipart::body(boundary.clone(), entries, sent);
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let rsp = rest
        .send(http::Method::POST, path, Some(&content_type), body)
        .await?;
    let mut body = rsp.into_body();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.context("the REST API's answer broke off")?;
        let frame = match frame.into_data() {
            Ok(data) => {
                pending.extend_from_slice(&data);
                while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    answer_line(rest, &line, printer)?;
                }
                continue;
            }
            Err(frame) => frame,
        };
        if let Some(error) = frame
            .trailers_ref()
            .and_then(|t| t.get("x-stream-error"))
            .and_then(|v| v.to_str().ok())
            .filter(|e| !e.is_empty())
        {
            bail!("the add failed: {error}");
        }
    }
    answer_line(rest, &pending, printer)
}

/// One ndjson line (or, with `stream-channels=false`, the JSON array of them all).
fn answer_line(rest: &Rest, line: &[u8], printer: &mut Printer) -> anyhow::Result<()> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    if rest.debug() {
        eprintln!("{text}");
    }
    let value: Value = serde_json::from_str(text).with_context(|| format!("the REST API sent {text:?}"))?;
    match value {
        Value::Array(values) => values.iter().for_each(|v| printer.line(v)),
        value => printer.line(&value),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(line: &[&str]) -> Args {
        let cli = super::super::Cli::try_parse_from(line).expect("parses");
        match cli.command {
            super::super::Command::Add(args) => args,
            other => panic!("not add: {other:?}"),
        }
    }

    #[test]
    fn add_flags_become_the_rest_query() {
        let a = args(&[
            "cairn",
            "add",
            "-rwQ",
            "d",
            "--cid-version",
            "1",
            "--raw-leaves",
            "--chunker",
            "size-1024",
            "--hash",
            "blake2b-256",
            "-n",
            "site",
            "--rmin",
            "1",
            "--rmax",
            "2",
            "--allocs",
            "p1,p2",
            "--metadata",
            "k=v",
            "--no-stream",
            "--local",
        ]);
        assert!(a.recursive && a.wrap_with_directory && a.quieter);
        assert_eq!(
            a.query(),
            "name=site&wrap-with-directory=true&local=true&stream-channels=false&cid-version=1&replication-min=1&replication-max=2&raw-leaves=true&chunker=size-1024&hash=blake2b-256&user-allocations=p1%2Cp2&meta-k=v"
        );
        let b = args(&["cairn", "add", "-", "--raw-leaves=false", "--wait", "--wt", "10"]);
        assert_eq!(b.query(), "raw-leaves=false");
        assert_eq!(b.wait_timeout, Duration::from_secs(10));
        assert!(
            super::super::Cli::try_parse_from(["cairn", "add"]).is_err(),
            "a path is needed"
        );
    }

    #[test]
    fn lines_print_as_ipfs_cluster_ctl_prints_them() {
        let mut printer = Printer {
            enc: Encoding::Text,
            quiet: false,
            quieter: true,
            buffered: false,
            bar: None,
            held: Vec::new(),
            last: None,
        };
        printer.line(&serde_json::json!({"name": "d/a", "cid": "QmA", "size": 3}));
        printer.line(&serde_json::json!({"name": "d", "bytes": 3}));
        printer.line(&serde_json::json!({"name": "d", "cid": "QmD", "allocations": ["p"]}));
        assert_eq!(printer.held, ["QmA", "QmD"]);
        assert_eq!(printer.last.as_ref().map(|l| l.0.as_str()), Some("QmD"));
        printer.quieter = false;
        printer.held.clear();
        printer.buffered = true;
        printer.line(&serde_json::json!({"name": "f", "cid": "QmF"}));
        assert_eq!(printer.held, ["added QmF f"]);
    }
}
