//! The passthrough corpus: each case in `fixtures/passthrough/*.json` is sent once straight to
//! the upstream daemon and once through the gateway, and the two answers must be identical:
//! status, body bytes, trailers, and every header except per-connection ones (`date`,
//! `connection`, `keep-alive`, `transfer-encoding`). The direct answer is also checked against
//! the case's own expectations, so a case cannot pass by both sides failing alike.
//!
//! # Case format
//! `about`, optional `setup` (requests sent before each side, so both see the same state),
//! `request`, `expect` {`status`, `headers`, `body_contains`, `trailers_contain`}.
//! A request has `method` (default POST), `path`, `query`, `headers` ([name, value] pairs) and
//! an optional `multipart` body of `parts` whose `content` is `{"text"}`, `{"file"}` (under
//! `fixtures/files/`) or `{"pattern": bytes}` (streamed, never held whole), or
//! `{"directory": true}`. `{{cid:NAME}}` is replaced by the oracle CID in
//! `fixtures/files/cids.json`; a setup step with `save` keeps a JSON field of its last line
//! as `{{NAME}}`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use serde::Deserialize;

use crate::http::{Call, Exchange, Payload, send};
use crate::{content, fixtures_dir};

/// Headers that legitimately differ per connection and are not compared.
pub const PER_CONNECTION: &[&str] = &["date", "connection", "keep-alive", "transfer-encoding"];

/// One case file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows.
    pub about: String,
    /// Requests sent before each side.
    #[serde(default)]
    pub setup: Vec<Step>,
    /// The request under test.
    pub request: Request,
    /// What the direct answer must look like.
    pub expect: Expect,
    /// What kubo (and so cairn-node, which answers like kubo) answers where that differs
    /// from js-ipfs's `expect`; absent means the same.
    #[serde(default)]
    pub kubo: Option<Expect>,
    /// Interception cases: CIDs every peer's pinset must hold afterwards (placeholders allowed).
    #[serde(default)]
    pub cluster_pins: Vec<String>,
    /// Interception cases: CIDs no peer's pinset may hold afterwards.
    #[serde(default)]
    pub cluster_unpinned: Vec<String>,
}

/// A setup request, optionally saving a field of its answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The request.
    #[serde(flatten)]
    pub request: Request,
    /// `[variable, JSON field]`: saves the field of the answer's last JSON line.
    #[serde(default)]
    pub save: Option<(String, String)>,
}

/// A request as data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// HTTP method (default POST).
    #[serde(default = "post")]
    pub method: String,
    /// Path, e.g. `/api/v0/add`.
    pub path: String,
    /// Query string without `?`.
    #[serde(default)]
    pub query: String,
    /// Extra header lines.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// A multipart body.
    #[serde(default)]
    pub multipart: Option<Multipart>,
}

fn post() -> String {
    "POST".to_owned()
}

/// A multipart/form-data body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Multipart {
    /// Quote the boundary parameter, as ipfshttpclient does.
    #[serde(default)]
    pub quoted_boundary: bool,
    /// The parts, in order.
    pub parts: Vec<Part>,
}

/// One part of a multipart body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    /// The form field name (default `file`).
    #[serde(default)]
    pub name: Option<String>,
    /// The filename, already percent-encoded where clients encode it (`dir%2Fa.txt`).
    #[serde(default)]
    pub filename: String,
    /// Where the bytes come from; absent for a directory part.
    #[serde(default)]
    pub content: Option<Content>,
    /// An `application/x-directory` part.
    #[serde(default)]
    pub directory: bool,
}

/// The bytes of a part.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum Content {
    /// Literal text.
    Text(String),
    /// A file under `fixtures/files/`.
    File(String),
    /// `n` bytes of the `i % 251` pattern, streamed.
    Pattern(u64),
}

/// Expectations on the direct answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The status code.
    pub status: u16,
    /// Headers that must be present with these values.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Texts the body must contain (placeholders allowed).
    #[serde(default)]
    pub body_contains: Vec<String>,
    /// Texts the trailers must contain.
    #[serde(default)]
    pub trailers_contain: Vec<String>,
}

/// Loads every case, sorted by file name.
pub fn load_cases(dir: &Path) -> anyhow::Result<Vec<(String, Case)>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(path)?;
            let case = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid case", path.display()))?;
            Ok((name, case))
        })
        .collect()
}

/// Placeholder values: oracle CIDs and values saved by setup steps.
#[derive(Debug, Clone, Default)]
pub struct Vars(BTreeMap<String, String>);

impl Vars {
    /// The oracle CIDs from `fixtures/files/cids.json`, as `cid:NAME`.
    pub fn with_oracle_cids() -> anyhow::Result<Self> {
        let path = fixtures_dir().join("files/cids.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let cids: BTreeMap<String, String> = serde_json::from_str(&text)?;
        Ok(Self(
            cids.into_iter().map(|(k, v)| (format!("cid:{k}"), v)).collect(),
        ))
    }

    /// `text` with every `{{NAME}}` replaced; an unknown name is an error.
    pub fn fill(&self, text: &str) -> anyhow::Result<String> {
        let mut out = text.to_owned();
        while let Some(start) = out.find("{{") {
            let end = out[start..].find("}}").context("unclosed {{")? + start;
            let name = &out[start + 2..end];
            let value = self
                .0
                .get(name)
                .with_context(|| format!("unknown placeholder {{{{{name}}}}}"))?;
            out.replace_range(start..end + 2, value);
        }
        Ok(out)
    }
}

const BOUNDARY: &str = "cairn-corpus-boundary-7f3a";

fn part_head(part: &Part, vars: &Vars) -> anyhow::Result<String> {
    let name = part.name.as_deref().unwrap_or("file");
    let kind = if part.directory {
        "application/x-directory"
    } else {
        "application/octet-stream"
    };
    let filename = vars.fill(&part.filename)?;
    Ok(format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {kind}\r\n\r\n"
    ))
}

fn part_body(content: &Option<Content>) -> anyhow::Result<Box<dyn Iterator<Item = Bytes> + Send>> {
    Ok(match content {
        None => Box::new(std::iter::empty()),
        Some(Content::Text(text)) => Box::new(std::iter::once(Bytes::from(text.clone()))),
        Some(Content::File(name)) => {
            let bytes = std::fs::read(fixtures_dir().join("files").join(name))
                .with_context(|| format!("fixture file {name}"))?;
            Box::new(std::iter::once(Bytes::from(bytes)))
        }
        Some(Content::Pattern(len)) => Box::new(content::chunks(*len, 256 * 1024)),
    })
}

fn multipart_body(form: &Multipart, vars: &Vars) -> anyhow::Result<Payload> {
    let mut pieces: Box<dyn Iterator<Item = Bytes> + Send> = Box::new(std::iter::empty());
    for part in &form.parts {
        let head = Bytes::from(part_head(part, vars)?);
        pieces = Box::new(
            pieces
                .chain(std::iter::once(head))
                .chain(part_body(&part.content)?)
                .chain(std::iter::once(Bytes::from_static(b"\r\n"))),
        );
    }
    let end = Bytes::from(format!("--{BOUNDARY}--\r\n"));
    Ok(Payload::Stream(Box::new(pieces.chain(std::iter::once(end)))))
}

/// Builds the wire request for `request`, filling placeholders.
pub fn to_call(request: &Request, vars: &Vars) -> anyhow::Result<Call> {
    let query = vars.fill(&request.query)?;
    let path = vars.fill(&request.path)?;
    let target = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    let mut headers = request
        .headers
        .iter()
        .map(|(n, v)| Ok((n.clone(), vars.fill(v)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let payload = match &request.multipart {
        None => Payload::Empty,
        Some(form) => {
            let boundary = if form.quoted_boundary {
                format!("\"{BOUNDARY}\"")
            } else {
                BOUNDARY.to_owned()
            };
            headers.push((
                "content-type".into(),
                format!("multipart/form-data; boundary={boundary}"),
            ));
            multipart_body(form, vars)?
        }
    };
    Ok(Call {
        method: request.method.clone(),
        target,
        headers,
        payload,
    })
}

/// Runs the setup steps against `addr`, saving values into `vars`.
pub async fn run_setup(addr: SocketAddr, steps: &[Step], vars: &mut Vars) -> anyhow::Result<()> {
    for step in steps {
        let answer = send(addr, to_call(&step.request, vars)?).await?;
        ensure!(
            answer.status < 300,
            "setup {} answered {}: {}",
            step.request.path,
            answer.status,
            answer.text()
        );
        if let Some((name, field)) = &step.save {
            vars.0.insert(name.clone(), last_line_field(&answer, field)?);
        }
    }
    Ok(())
}

fn last_line_field(answer: &Exchange, field: &str) -> anyhow::Result<String> {
    let text = answer.text();
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .context("empty answer")?;
    let value: serde_json::Value = serde_json::from_str(line)?;
    value[field]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no string field {field} in {line}"))
}

/// Runs one case: setup + request direct, setup + request through the gateway, then compares.
pub async fn run_case(
    case: &Case,
    direct: SocketAddr,
    gateway: SocketAddr,
    oracle: &Vars,
) -> anyhow::Result<()> {
    let (mut direct_vars, mut gateway_vars) = (oracle.clone(), oracle.clone());
    run_setup(direct, &case.setup, &mut direct_vars)
        .await
        .context("setup (direct)")?;
    let want = send(direct, to_call(&case.request, &direct_vars)?)
        .await
        .context("direct request")?;
    run_setup(gateway, &case.setup, &mut gateway_vars)
        .await
        .context("setup (through the gateway)")?;
    let got = send(gateway, to_call(&case.request, &gateway_vars)?)
        .await
        .context("request through the gateway")?;
    check_expectations(&case.expect, &want, &direct_vars)
        .context("the direct answer does not meet the case's expectations")?;
    compare(&want, &got)
}

/// Runs one case straight against a kubo-shaped daemon (cairn-node): setup, request, and
/// the case's `kubo` expectations (or `expect` when it has none).
pub async fn run_case_kubo(case: &Case, daemon: SocketAddr, oracle: &Vars) -> anyhow::Result<Vars> {
    let mut vars = oracle.clone();
    run_setup(daemon, &case.setup, &mut vars).await.context("setup")?;
    let answer = send(daemon, to_call(&case.request, &vars)?)
        .await
        .context("request")?;
    check_expectations(case.kubo.as_ref().unwrap_or(&case.expect), &answer, &vars)?;
    Ok(vars)
}

fn check_expectations(expect: &Expect, answer: &Exchange, vars: &Vars) -> anyhow::Result<()> {
    ensure!(
        answer.status == expect.status,
        "status {} (want {}), body {}",
        answer.status,
        expect.status,
        answer.text()
    );
    for (name, value) in &expect.headers {
        ensure!(
            answer.header(name) == Some(value.as_str()),
            "header {name}: {:?} (want {value:?})",
            answer.header(name)
        );
    }
    for text in &expect.body_contains {
        let text = vars.fill(text)?;
        ensure!(
            answer.text().contains(&text),
            "body lacks {text:?}: {}",
            answer.text()
        );
    }
    let trailers = format!("{:?}", answer.trailers);
    for text in &expect.trailers_contain {
        ensure!(
            trailers.contains(text.as_str()),
            "trailers lack {text:?}: {trailers}"
        );
    }
    Ok(())
}

/// The headers compared between the two answers.
pub fn comparable(answer: &Exchange) -> Vec<(String, String)> {
    answer
        .headers
        .iter()
        .filter(|(n, _)| !PER_CONNECTION.contains(&n.as_str()))
        .cloned()
        .collect()
}

fn compare(direct: &Exchange, gateway: &Exchange) -> anyhow::Result<()> {
    if direct.status != gateway.status {
        bail!(
            "status: direct {} vs gateway {} ({})",
            direct.status,
            gateway.status,
            gateway.text()
        );
    }
    ensure!(
        comparable(direct) == comparable(gateway),
        "headers differ:\n direct  {:?}\n gateway {:?}",
        comparable(direct),
        comparable(gateway)
    );
    ensure!(
        direct.trailers == gateway.trailers,
        "trailers differ: {:?} vs {:?}",
        direct.trailers,
        gateway.trailers
    );
    if direct.body != gateway.body {
        bail!(
            "bodies differ ({} vs {} bytes):\n direct  {:.400}\n gateway {:.400}",
            direct.body.len(),
            gateway.body.len(),
            direct.text(),
            gateway.text()
        );
    }
    Ok(())
}
