//! Cross-site requests from a real browser (issue 17, point 2): a web page on another origin
//! cannot pin or unpin on a Cairn peer, and a page on an allowed origin can.
//!
//! The test serves an "attacker" page from its own HTTP server on 127.0.0.1 (another port, so
//! another origin than the peer's REST API and gateway) and opens it in Debian's headless
//! Chromium. The page's script tries, against a real one-peer `cairn daemon`:
//! - REST `POST /pins/{cid}` in `no-cors` mode (a CORS "simple" request: no preflight) and in
//!   `cors` mode (also simple: no body, no custom header);
//! - REST `DELETE /pins/{cid}` in `no-cors` mode (the browser refuses to send it) and in
//!   `cors` mode (preflighted), each for a CID the test pinned beforehand;
//! - gateway `POST /api/v0/pin/add?arg={cid}` and `POST /api/v0/add` with a `FormData` body,
//!   both in `no-cors` mode;
//!
//! then posts what it saw to the test server's `/report`. The report is diagnostic (and shows
//! that the requests reached the peer); what is asserted is the cluster's pinset, read by the
//! test through REST as a non-browser client (no `Origin`). The second case configures
//! `api.restapi.cors_allowed_origins` / `cors_allowed_methods` and `api.ipfsproxy.allowed_origins`
//! with the page's origin: the same page then pins, unpins with a preflighted DELETE, and reads
//! the REST reply. All hosts are loopback, so Chromium's private/local network access checks do
//! not apply (a page on 127.0.0.1 is already in the most private address space).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use cairn_compat_tests::cluster::{add_unpinned, rest};
use cairn_compat_tests::content::{Part, form, last_hash};
use cairn_compat_tests::http::send;
use cairn_compat_tests::process::{Peer, init_peer};
use cairn_compat_tests::scratch_dir;
use serde_json::{Value, json};
use tokio::sync::mpsc;

const CHROMIUM: &str = "/usr/bin/chromium";

/// How long the page may take, browser start-up included, to report.
const REPORT_WAIT: Duration = Duration::from_secs(60);

/// What the page adds through the gateway's `/api/v0/add`.
const ADD_TEXT: &str = "cairn t91: added by a web page";

/// The page's script; `__NAME__` placeholders are filled by [`page`]. Every attempt is bounded
/// by a 15 s abort, so the page always reports.
const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>t91</title>
<script>
const REST = __REST__, GATEWAY = __GATEWAY__, CIDS = __CIDS__, ADD_TEXT = __ADD_TEXT__;
const opts = (method, mode, body) => ({method, mode, body, signal: AbortSignal.timeout(15000)});
const addForm = () => {
  const data = new FormData();
  data.append("file", new Blob([ADD_TEXT]), "t91.txt");
  return data;
};
const attempts = {
  rest_post_no_cors: () => fetch(REST + "/pins/" + CIDS.post, opts("POST", "no-cors")),
  rest_post_cors: () => fetch(REST + "/pins/" + CIDS.cors_post, opts("POST", "cors")),
  rest_delete_no_cors: () => fetch(REST + "/pins/" + CIDS.kept, opts("DELETE", "no-cors")),
  rest_delete_cors: () => fetch(REST + "/pins/" + CIDS.cors_delete, opts("DELETE", "cors")),
  gateway_pin_add_no_cors: () =>
    fetch(GATEWAY + "/api/v0/pin/add?arg=" + CIDS.gateway_pin, opts("POST", "no-cors")),
  gateway_add_no_cors: () => fetch(GATEWAY + "/api/v0/add", opts("POST", "no-cors", addForm())),
};
(async () => {
  const results = {};
  for (const [name, attempt] of Object.entries(attempts)) {
    try {
      const reply = await attempt();
      const body = reply.type === "opaque" ? null : (await reply.text()).slice(0, 400);
      results[name] = {type: reply.type, status: reply.status, body};
    } catch (e) {
      results[name] = {error: String(e)};
    }
  }
  const report = {origin: location.origin, user_agent: navigator.userAgent, results};
  await fetch("/report", {method: "POST", body: JSON.stringify(report)});
})();
</script>
"#;

/// The CIDs the page works on, all of content the peer's node holds unpinned (or, `add`, of
/// what the page uploads).
struct Cids {
    /// REST `POST /pins`, no-cors.
    post: String,
    /// REST `POST /pins`, cors.
    cors_post: String,
    /// Pinned by the test; REST `DELETE /pins`, no-cors.
    kept: String,
    /// Pinned by the test; REST `DELETE /pins`, cors (preflighted).
    cors_delete: String,
    /// Gateway `pin/add`.
    gateway_pin: String,
    /// The CID of [`ADD_TEXT`] (the gateway's `add`), computed with `only-hash`.
    add: String,
}

impl Cids {
    /// Stores the contents on `peer`'s node unpinned, then pins `kept` and `cors_delete`.
    async fn prepare(peer: &Peer) -> anyhow::Result<Self> {
        let cids = Self {
            post: add_unpinned(peer, b"cairn t91: no-cors POST /pins").await?,
            cors_post: add_unpinned(peer, b"cairn t91: cors POST /pins").await?,
            kept: add_unpinned(peer, b"cairn t91: no-cors DELETE /pins").await?,
            cors_delete: add_unpinned(peer, b"cairn t91: cors DELETE /pins").await?,
            gateway_pin: add_unpinned(peer, b"cairn t91: gateway pin/add").await?,
            add: only_hash(peer, ADD_TEXT).await?,
        };
        for cid in [&cids.kept, &cids.cors_delete] {
            let pinned = rest(peer, "POST", &format!("/pins/{cid}")).await?;
            anyhow::ensure!(pinned.status == 200, "pinning {cid}: {}", pinned.text());
        }
        Ok(cids)
    }

    fn to_json(&self) -> Value {
        json!({
            "post": self.post, "cors_post": self.cors_post, "kept": self.kept,
            "cors_delete": self.cors_delete, "gateway_pin": self.gateway_pin,
        })
    }
}

/// The CID `add` gives `text` (through the gateway with `only-hash=true`: nothing stored).
async fn only_hash(peer: &Peer, text: &'static str) -> anyhow::Result<String> {
    let part = vec![Part::File(
        "t91.txt".into(),
        bytes::Bytes::from_static(text.as_bytes()),
    )];
    let added = send(peer.gateway, form("/api/v0/add?only-hash=true", part)).await?;
    anyhow::ensure!(added.status == 200, "only-hash add: {}", added.text());
    last_hash(&added.body)
}

/// Whether `cid` is in the cluster's pinset (`GET /allocations/{cid}`: 200, or 404 when not).
async fn pinned(peer: &Peer, cid: &str) -> anyhow::Result<bool> {
    let answer = rest(peer, "GET", &format!("/allocations/{cid}")).await?;
    match answer.status {
        200 => Ok(true),
        404 => Ok(false),
        other => anyhow::bail!("GET /allocations/{cid}: {other} {}", answer.text()),
    }
}

/// The page, aimed at `peer`.
fn page(peer: &Peer, cids: &Cids) -> String {
    let origin = |addr: SocketAddr| json!(format!("http://{addr}")).to_string();
    PAGE.replace("__REST__", &origin(peer.rest))
        .replace("__GATEWAY__", &origin(peer.gateway))
        .replace("__CIDS__", &cids.to_json().to_string())
        .replace("__ADD_TEXT__", &json!(ADD_TEXT).to_string())
}

/// The test's own web server: `GET /page.html` (once set) and `POST /report`, whose bodies
/// arrive on `reports`. Its thread stops when this is dropped.
struct PageServer {
    addr: SocketAddr,
    page: Arc<OnceLock<String>>,
    reports: mpsc::Receiver<String>,
    stop: Arc<AtomicBool>,
}

impl PageServer {
    fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let page = Arc::new(OnceLock::new());
        let stop = Arc::new(AtomicBool::new(false));
        let (sender, reports) = mpsc::channel(8);
        let (served, stopped) = (Arc::clone(&page), Arc::clone(&stop));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (page, sender) = (Arc::clone(&served), sender.clone());
                std::thread::spawn(move || {
                    let page = page.get().map_or("", String::as_str);
                    // A connection the browser opened and dropped unused is no error.
                    let quiet = [
                        std::io::ErrorKind::BrokenPipe,
                        std::io::ErrorKind::ConnectionReset,
                    ];
                    match answer(stream, page, &sender) {
                        Err(e) if !quiet.contains(&e.kind()) => eprintln!("t91 page server: {e}"),
                        _ => {}
                    }
                });
            }
        });
        Ok(Self {
            addr,
            page,
            reports,
            stop,
        })
    }

    /// The page's origin, e.g. `http://127.0.0.1:41234`.
    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits for the page's report, or fails after [`REPORT_WAIT`] with the browser's log.
    async fn report(&mut self, browser: &Browser) -> anyhow::Result<Value> {
        match tokio::time::timeout(REPORT_WAIT, self.reports.recv()).await {
            Ok(Some(report)) => serde_json::from_str(&report).context("the page's report is not JSON"),
            _ => anyhow::bail!(
                "the page served at {}/page.html did not report within {REPORT_WAIT:?}; chromium's log:\n{}",
                self.origin(),
                browser.log()
            ),
        }
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// Answers one request (`Connection: close`).
fn answer(mut stream: TcpStream, page: &str, reports: &mpsc::Sender<String>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut words = request_line.split_whitespace();
    let (status, kind, reply) = match (words.next(), words.next()) {
        (Some("GET"), Some("/page.html")) => ("200 OK", "text/html; charset=utf-8", page),
        (Some("POST"), Some("/report")) => {
            let _ = reports.try_send(String::from_utf8_lossy(&body).into_owned());
            ("200 OK", "text/plain", "thanks")
        }
        _ => ("404 Not Found", "text/plain", "not found"),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    )
}

/// A headless Chromium showing one page, in its own process group with a fresh profile;
/// the whole group is killed when this is dropped (also when the test panics).
struct Browser {
    child: Child,
    dir: tempfile::TempDir,
}

impl Browser {
    fn open(url: &str) -> anyhow::Result<Self> {
        use std::os::unix::process::CommandExt;
        anyhow::ensure!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: install chromium (apt-get install chromium); scripts/test.sh does"
        );
        let dir = scratch_dir("chromium")?;
        let profile = dir.path().join("profile");
        let log = std::fs::File::create(dir.path().join("chromium.log"))?;
        let child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {CHROMIUM}"))?;
        Ok(Self { child, dir })
    }

    /// What Chromium printed so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chromium.log")).unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves the page aimed at `peer` from `server`, opens it in Chromium, and returns its report.
async fn run_page(server: &mut PageServer, peer: &Peer, cids: &Cids) -> anyhow::Result<Value> {
    server
        .page
        .set(page(peer, cids))
        .map_err(|_| anyhow::anyhow!("the page was already set"))?;
    let browser = Browser::open(&format!("{}/page.html", server.origin()))?;
    let report = server.report(&browser).await?;
    eprintln!(
        "t91: the page's report:\n{}",
        serde_json::to_string_pretty(&report)?
    );
    anyhow::ensure!(
        report["origin"] == server.origin().as_str(),
        "the page ran on {} instead of {}",
        report["origin"],
        server.origin()
    );
    Ok(report)
}

/// Whether the browser sent `attempt` and got an answer back (opaque in no-cors mode).
fn answered(report: &Value, attempt: &str) -> bool {
    let result = &report["results"][attempt];
    result["error"].is_null() && !result["type"].is_null()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cross_origin_page_can_neither_pin_nor_unpin() -> anyhow::Result<()> {
    let mut server = PageServer::start()?;
    let dir = scratch_dir("t91-peer")?;
    init_peer(dir.path(), "t91")?;
    let peer = Peer::start(dir.path(), &[])?;
    let cids = Cids::prepare(&peer).await?;

    let report = run_page(&mut server, &peer, &cids).await?;

    for attempt in [
        "rest_post_no_cors",
        "gateway_pin_add_no_cors",
        "gateway_add_no_cors",
    ] {
        assert!(
            answered(&report, attempt),
            "the browser did not get {attempt} through to the peer (blocked before it was sent?), \
             so it proves nothing: {}",
            report["results"][attempt]
        );
    }
    let refused = [
        ("REST no-cors POST /pins", &cids.post),
        ("REST cors POST /pins", &cids.cors_post),
        ("gateway no-cors pin/add", &cids.gateway_pin),
        ("gateway no-cors add", &cids.add),
    ];
    let mut committed = Vec::new();
    for (how, cid) in refused {
        if pinned(&peer, cid).await? {
            committed.push(format!("{how} pinned {cid}"));
        }
    }
    for (how, cid) in [
        ("REST no-cors DELETE /pins", &cids.kept),
        ("REST cors DELETE /pins", &cids.cors_delete),
    ] {
        if !pinned(&peer, cid).await? {
            committed.push(format!("{how} unpinned {cid}"));
        }
    }
    assert!(
        committed.is_empty(),
        "a page on another origin ({}) changed the pinset: {}; its report: {}",
        server.origin(),
        committed.join("; "),
        report["results"]
    );
    Ok(())
}

/// `service.json`'s CORS settings: the page's origin allowed on REST and on the gateway.
fn allow_origin(dir: &Path, origin: &str) -> anyhow::Result<()> {
    let path = dir.join("service.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let rest = &mut config["api"]["restapi"];
    rest["cors_allowed_origins"] = json!([origin]);
    rest["cors_allowed_methods"] = json!(["GET", "POST", "DELETE"]);
    config["api"]["ipfsproxy"]["allowed_origins"] = json!([origin]);
    std::fs::write(&path, serde_json::to_vec_pretty(&config)?)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_allowed_origin_pins_and_unpins_through_rest_and_the_gateway() -> anyhow::Result<()> {
    let mut server = PageServer::start()?;
    let dir = scratch_dir("t91-peer")?;
    init_peer(dir.path(), "t91")?;
    allow_origin(dir.path(), &server.origin())?;
    let peer = Peer::start(dir.path(), &[]).context(
        "cairn daemon did not start with api.restapi.cors_allowed_origins / cors_allowed_methods \
         set (an unknown-key error: the REST CORS layer of issue 17 is not in this build; \
         rebuild with cargo build -p cairn-peer)",
    )?;
    let cids = Cids::prepare(&peer).await?;

    let report = run_page(&mut server, &peer, &cids).await?;

    let cors_post = &report["results"]["rest_post_cors"];
    assert_eq!(
        cors_post["status"], 200,
        "the allowed page could not read the REST reply of its cors POST: {cors_post}"
    );
    let mut missing = Vec::new();
    for (how, cid) in [
        ("REST no-cors POST /pins", &cids.post),
        ("REST cors POST /pins", &cids.cors_post),
        ("gateway no-cors pin/add", &cids.gateway_pin),
        ("gateway no-cors add", &cids.add),
    ] {
        if !pinned(&peer, cid).await? {
            missing.push(format!("{how} did not pin {cid}"));
        }
    }
    if pinned(&peer, &cids.cors_delete).await? {
        missing.push(format!(
            "REST cors DELETE /pins (preflighted) did not unpin {}",
            cids.cors_delete
        ));
    }
    assert!(
        missing.is_empty(),
        "a page on an allowed origin ({}): {}; its report: {}",
        server.origin(),
        missing.join("; "),
        report["results"]
    );
    assert!(
        pinned(&peer, &cids.kept).await?,
        "a browser never sends a no-cors DELETE, yet {} was unpinned: {}",
        cids.kept,
        report["results"]["rest_delete_no_cors"]
    );
    Ok(())
}
