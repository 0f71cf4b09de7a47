//! The IPFS Pinning Service API (`api.pinsvcapi`) through real `cairn daemon` processes,
//! driven as kubo's `ipfs pin remote` client drives it: `POST /pins` then `GET
//! /pins/{requestid}` until pinned, `GET /pins` with every filter, replace, delete, bearer
//! tokens when auth is on, and the spec's `Failure` on bad input. Written from the spec's
//! objects (Pin, PinStatus, PinResults, Failure), the OpenAPI document not being at hand.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use cairn_compat_tests::cluster::{add_unpinned, cid, rest, three};
use cairn_compat_tests::eventually;
use cairn_compat_tests::http::{Call, Exchange, Payload, send};
use cairn_compat_tests::process::{Peer, init_peer};
use cairn_compat_tests::scratch_dir;
use serde_json::{Value, json};

const PINNED_WITHIN: Duration = Duration::from_secs(60);

fn call(method: &str, target: &str, body: Option<&Value>, auth: Option<&str>) -> Call {
    let mut call = Call::post(target);
    call.method = method.to_owned();
    if let Some(body) = body {
        call.payload = Payload::Bytes(Bytes::from(body.to_string()));
        call = call.header("content-type", "application/json");
    }
    match auth {
        Some(auth) => call.header("authorization", auth),
        None => call,
    }
}

/// The spec's client: every request carries a bearer token (kubo's `--service-auth`).
struct Client {
    addr: SocketAddr,
    auth: String,
}

impl Client {
    fn of(peer: &Peer, token: &str) -> anyhow::Result<Self> {
        let addr = peer
            .pinsvc
            .ok_or_else(|| anyhow::anyhow!("the peer serves no pinning service API"))?;
        Ok(Self {
            addr,
            auth: format!("Bearer {token}"),
        })
    }

    async fn send(&self, method: &str, target: &str, body: Option<&Value>) -> anyhow::Result<Exchange> {
        send(self.addr, call(method, target, body, Some(&self.auth))).await
    }

    async fn add(&self, pin: Value) -> anyhow::Result<Value> {
        let answer = self.send("POST", "/pins", Some(&pin)).await?;
        anyhow::ensure!(
            answer.status == 202,
            "POST /pins: {} {}",
            answer.status,
            answer.text()
        );
        answer.json()
    }

    async fn status(&self, id: &str) -> anyhow::Result<Value> {
        let answer = self.send("GET", &format!("/pins/{id}"), None).await?;
        anyhow::ensure!(
            answer.status == 200,
            "GET /pins/{id}: {} {}",
            answer.status,
            answer.text()
        );
        answer.json()
    }

    /// Polls `GET /pins/{id}` until it says `want` (what `ipfs pin remote add` waits for).
    /// Asked of another peer than the one that took the request, the request may not have
    /// reached that peer's state yet: 404 until then.
    async fn wait_for(&self, id: &str, want: &str) -> anyhow::Result<Value> {
        eventually(&format!("{id} {want}"), PINNED_WITHIN, || async {
            let answer = self.send("GET", &format!("/pins/{id}"), None).await?;
            Ok(answer.status == 200 && answer.json()?["status"] == want)
        })
        .await?;
        self.status(id).await
    }

    /// `GET /pins?query`: (count, request ids in order).
    async fn list(&self, query: &str) -> anyhow::Result<(u64, Vec<String>)> {
        let answer = self.send("GET", &format!("/pins?{query}"), None).await?;
        anyhow::ensure!(
            answer.status == 200,
            "GET /pins?{query}: {} {}",
            answer.status,
            answer.text()
        );
        let page = answer.json()?;
        let ids = page["results"].as_array().into_iter().flatten();
        let ids = ids
            .map(|r| r["requestid"].as_str().unwrap_or_default().to_owned())
            .collect();
        Ok((page["count"].as_u64().unwrap_or(u64::MAX), ids))
    }

    /// The `Failure` answered to `METHOD target`: (status, reason).
    async fn failure(
        &self,
        method: &str,
        target: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, String)> {
        let answer = self.send(method, target, body).await?;
        refusal(&answer)
    }
}

fn refusal(answer: &Exchange) -> anyhow::Result<(u16, String)> {
    anyhow::ensure!(
        answer.header("content-type") == Some("application/json"),
        "{answer:?}"
    );
    let failure = answer.json()?;
    let reason = failure["error"]["reason"].as_str().unwrap_or_default().to_owned();
    anyhow::ensure!(!reason.is_empty(), "not a Failure: {}", answer.text());
    Ok((answer.status, reason))
}

fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn assert_pin_status(status: &Value, cid: &str) {
    assert_eq!(status["requestid"], cid, "the request id is the CID: {status}");
    assert_eq!(status["pin"]["cid"], cid);
    let created = status["created"].as_str().unwrap_or_default();
    assert!(
        created.ends_with('Z') && created.contains('T'),
        "RFC 3339: {created}"
    );
    let delegates = status["delegates"].as_array().cloned().unwrap_or_default();
    assert!((1..=20).contains(&delegates.len()), "{status}");
    assert!(delegates.iter().all(|d| {
        d.as_str()
            .is_some_and(|d| d.starts_with('/') && d.contains("/p2p/"))
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_are_requested_listed_replaced_and_removed_as_the_spec_says() -> anyhow::Result<()> {
    let dir = scratch_dir("pinsvc")?;
    init_peer(dir.path(), "solo")?;
    let peer = Peer::start(dir.path(), &[])?;
    // No auth configured: a client's token is not checked (ipfs-cluster's default).
    let svc = Client::of(&peer, "any-key")?;
    let a = add_unpinned(&peer, b"pinning service photo one").await?;
    let b = add_unpinned(&peer, b"pinning service photo two").await?;
    let c = add_unpinned(&peer, b"pinning service other").await?;

    let added = svc
        .add(json!({ "cid": a, "name": "Photo One", "meta": { "app": "x" } }))
        .await?;
    assert_eq!(added["status"], "queued", "{added}");
    assert_pin_status(&added, &a);
    assert_eq!(added["pin"]["name"], "Photo One");
    let pinned = svc.wait_for(&a, "pinned").await?;
    assert_pin_status(&pinned, &a);
    assert_eq!(pinned["pin"]["meta"]["app"], "x");
    assert_eq!(
        pinned["created"], added["created"],
        "created is the pin's timestamp"
    );
    let rest_view = rest(&peer, "GET", &format!("/allocations/{a}")).await?.json()?;
    assert_eq!(rest_view["name"], "Photo One", "the request is the cluster pin");
    assert_eq!(rest_view["metadata"]["app"], "x");

    for (cid, name, app) in [(&b, "photo two", "y"), (&c, "other", "y")] {
        tokio::time::sleep(Duration::from_millis(20)).await; // distinct `created` times
        svc.add(json!({ "cid": cid, "name": name, "meta": { "app": app } }))
            .await?;
        svc.wait_for(cid, "pinned").await?;
    }
    let missing = cid(1);
    svc.add(json!({ "cid": missing, "name": "no content", "origins": ["/ip4/127.0.0.1/tcp/4001"] }))
        .await?;
    let failed = svc.wait_for(&missing, "failed").await?;
    assert!(
        failed["info"].as_object().is_some_and(|i| !i.is_empty()),
        "why it failed: {failed}"
    );
    assert_eq!(failed["pin"]["origins"], json!(["/ip4/127.0.0.1/tcp/4001"]));

    tracing_phase("GET /pins filters");
    assert_eq!(
        svc.list("").await?,
        (3, ids(&[&c, &b, &a])),
        "pinned only, newest first"
    );
    assert_eq!(
        svc.list("limit=1").await?,
        (3, ids(&[&c])),
        "count is every match"
    );
    assert_eq!(svc.list(&format!("cid={a},{missing}")).await?, (1, ids(&[&a])));
    assert_eq!(
        svc.list(&format!("cid={a},{missing}&status=pinned,failed"))
            .await?
            .0,
        2
    );
    assert_eq!(svc.list("status=failed").await?, (1, vec![missing.clone()]));
    assert_eq!(svc.list("status=queued,pinning,pinned,failed").await?.0, 4);
    assert_eq!(svc.list("name=Photo%20One").await?, (1, ids(&[&a])));
    assert_eq!(
        svc.list("name=photo%20one").await?.0,
        0,
        "exact is case-sensitive"
    );
    assert_eq!(svc.list("name=photo%20one&match=iexact").await?, (1, ids(&[&a])));
    assert_eq!(svc.list("name=photo&match=partial").await?, (1, ids(&[&b])));
    assert_eq!(svc.list("name=PHOTO&match=ipartial").await?, (2, ids(&[&b, &a])));
    let meta = encoded(r#"{"app":"y"}"#);
    assert_eq!(svc.list(&format!("meta={meta}")).await?, (2, ids(&[&c, &b])));
    let created_b = svc.status(&b).await?["created"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let at = encoded(&created_b);
    assert_eq!(
        svc.list(&format!("before={at}")).await?,
        (1, ids(&[&a])),
        "before is strict"
    );
    assert_eq!(
        svc.list(&format!("after={at}")).await?,
        (1, ids(&[&c])),
        "after is strict"
    );

    tracing_phase("replace and delete");
    let d = add_unpinned(&peer, b"pinning service replacement").await?;
    let replaced = svc
        .send(
            "POST",
            &format!("/pins/{a}"),
            Some(&json!({ "cid": d, "name": "replaced" })),
        )
        .await?;
    assert_eq!(replaced.status, 202, "{}", replaced.text());
    assert_pin_status(&replaced.json()?, &d);
    assert_eq!(
        svc.failure("GET", &format!("/pins/{a}"), None).await?,
        (404, "NOT_FOUND".into())
    );
    assert_eq!(svc.wait_for(&d, "pinned").await?["pin"]["name"], "replaced");
    let deleted = svc.send("DELETE", &format!("/pins/{b}"), None).await?;
    assert_eq!(deleted.status, 202, "{}", deleted.text());
    assert_eq!(
        svc.failure("GET", &format!("/pins/{b}"), None).await?,
        (404, "NOT_FOUND".into())
    );
    assert_eq!(svc.failure("DELETE", &format!("/pins/{b}"), None).await?.0, 404);
    assert_eq!(
        svc.failure("POST", &format!("/pins/{b}"), Some(&json!({ "cid": c })))
            .await?
            .0,
        404
    );
    assert_eq!(svc.list("").await?, (2, ids(&[&d, &c])));

    tracing_phase("bad input");
    for query in [
        "limit=0",
        "limit=1001",
        "cid=nope",
        "status=bogus",
        "status=pin_error",
        "match=fuzzy",
        "before=yesterday",
        "meta=%5B1%5D",
    ] {
        let got = svc.failure("GET", &format!("/pins?{query}"), None).await?;
        assert_eq!(got, (400, "BAD_REQUEST".into()), "{query}");
    }
    let eleven = (2..13).map(cid).collect::<Vec<_>>().join(",");
    assert_eq!(
        svc.failure("GET", &format!("/pins?cid={eleven}"), None).await?.0,
        400
    );
    for body in [
        json!({ "cid": "nope" }),
        json!({ "name": "no cid" }),
        json!([1]),
        json!({ "cid": a, "origins": ["x"] }),
    ] {
        assert_eq!(
            svc.failure("POST", "/pins", Some(&body)).await?,
            (400, "BAD_REQUEST".into()),
            "{body}"
        );
    }
    let mut not_json = call("POST", "/pins", None, None);
    not_json.payload = Payload::Bytes(Bytes::from_static(b"{not json"));
    assert_eq!(refusal(&send(svc.addr, not_json).await?)?.0, 400);
    assert_eq!(svc.failure("GET", "/pins/not-a-cid", None).await?.0, 404);
    assert_eq!(svc.failure("GET", "/nowhere", None).await?.0, 404);
    assert_eq!(svc.failure("PUT", "/pins", None).await?.0, 405);
    assert_eq!(peer.stop()?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_users_configured_every_call_needs_a_token_from_post_token() -> anyhow::Result<()> {
    let dir = scratch_dir("pinsvc-auth")?;
    init_peer(dir.path(), "solo")?;
    let peer = Peer::start(
        dir.path(),
        &[("CLUSTER_PINSVCAPI_BASICAUTHCREDENTIALS", "alice:s3cret")],
    )?;
    let addr = peer
        .pinsvc
        .ok_or_else(|| anyhow::anyhow!("no pinning service API"))?;

    let none = send(addr, call("GET", "/pins", None, None)).await?;
    assert_eq!(refusal(&none)?, (401, "UNAUTHORIZED".into()));
    assert!(none.header("www-authenticate").is_some());
    let forged = send(addr, call("GET", "/pins", None, Some("Bearer not.a.token"))).await?;
    assert_eq!(refusal(&forged)?.0, 401);
    let unauthorized_pin = send(addr, call("POST", "/pins", Some(&json!({ "cid": cid(1) })), None)).await?;
    assert_eq!(refusal(&unauthorized_pin)?.0, 401);

    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:s3cret")
    );
    let token = send(addr, call("POST", "/token", None, Some(&basic))).await?;
    assert_eq!(token.status, 200, "{}", token.text());
    let svc = Client::of(&peer, token.json()?["token"].as_str().unwrap_or_default())?;
    assert_eq!(svc.list("").await?, (0, vec![]));
    let added = svc.add(json!({ "cid": cid(2) })).await?;
    assert_eq!(added["requestid"], cid(2));
    assert_eq!(
        rest(&peer, "GET", "/id").await?.status,
        200,
        "api.restapi has its own (here no) users"
    );
    assert_eq!(peer.stop()?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_peer_of_a_cluster_serves_the_same_requests_with_every_peer_as_delegate() -> anyhow::Result<()>
{
    let (_dirs, peers) = three(&[])?;
    let content = add_unpinned(&peers[0], b"pinning service across three peers").await?;
    let first = Client::of(&peers[0], "k")?;
    first.add(json!({ "cid": content, "name": "shared" })).await?;
    let second = Client::of(&peers[1], "k")?;
    let pinned = second.wait_for(&content, "pinned").await?;
    assert_pin_status(&pinned, &content);
    assert_eq!(pinned["pin"]["name"], "shared");
    let delegates = pinned["delegates"].as_array().cloned().unwrap_or_default();
    for peer in &peers {
        assert!(
            delegates
                .iter()
                .any(|d| d.as_str().is_some_and(|d| d.ends_with(&peer.peer_id))),
            "{} (allocated everywhere) is a delegate: {delegates:?}",
            peer.peer_id
        );
    }
    assert_eq!(
        Client::of(&peers[2], "k")?.list("").await?,
        (1, vec![content.clone()])
    );
    let removed = second.send("DELETE", &format!("/pins/{content}"), None).await?;
    assert_eq!(removed.status, 202);
    eventually("the removal reaches the first peer", PINNED_WITHIN, || async {
        Ok(first.send("GET", &format!("/pins/{content}"), None).await?.status == 404)
    })
    .await?;
    assert_eq!(
        first.failure("GET", &format!("/pins/{content}"), None).await?,
        (404, "NOT_FOUND".into())
    );
    Ok(())
}

fn tracing_phase(phase: &str) {
    eprintln!("-- {phase}");
}
