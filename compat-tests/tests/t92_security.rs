//! Authenticated and encrypted APIs through real `cairn daemon` and `cairn gateway` processes
//! (issue 17): REST basic auth and tokens over TLS, the CLI's auth flags, kubo's
//! `API.Authorizations` on the gateway (intercepted and forwarded routes), credentials towards
//! the upstream instead of the client's.

use std::time::Duration;

use base64::Engine;
use cairn_compat_tests::cluster::cid;
use cairn_compat_tests::http::{Call, self_signed, send, send_tls};
use cairn_compat_tests::process::{Gateway, Peer, init_peer, run_cairn};
use cairn_compat_tests::scratch_dir;
use cairn_compat_tests::stub::Stub;

const DENIED: &str = "Kubo RPC Access Denied: Please provide a valid authorization token as defined in the API.Authorizations configuration.\n";

fn basic(pair: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
}

fn call(method: &str, target: &str, auth: Option<&str>) -> Call {
    let mut call = Call::post(target);
    call.method = method.to_owned();
    match auth {
        Some(auth) => call.header("authorization", auth),
        None => call,
    }
}

/// Runs the `cairn` client command `command` with `flags` against `host`: (exit code,
/// stdout, stderr).
fn cli(
    host: &str,
    command: &[&str],
    flags: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<(i32, String, String)> {
    let mut all = command.to_vec();
    all.extend_from_slice(&["--host", host]);
    all.extend_from_slice(flags);
    run_cairn(&all, env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_over_tls_needs_credentials_and_tokens_expire() -> anyhow::Result<()> {
    let dir = scratch_dir("security")?;
    init_peer(dir.path(), "p0")?;
    let (cert, key) = self_signed(dir.path())?;
    let (cert_text, key_text) = (cert.display().to_string(), key.display().to_string());
    let peer = Peer::start(
        dir.path(),
        &[
            ("CLUSTER_RESTAPI_BASICAUTHCREDENTIALS", "alice:s3cret-pw"),
            ("CLUSTER_RESTAPI_SSLCERTFILE", &cert_text),
            ("CLUSTER_RESTAPI_SSLKEYFILE", &key_text),
            ("CLUSTER_RESTAPI_TOKENLIFETIME", "3s"),
        ],
    )?;
    let rest = |c: Call| send_tls(peer.rest, &cert, c);

    let none = rest(call("GET", "/id", None)).await?;
    assert_eq!(none.status, 401, "{}", none.text());
    assert_eq!(
        none.header("www-authenticate"),
        Some("Basic realm=\"Restricted IPFS Cluster API\"")
    );
    assert_eq!(none.json()?["code"], 401);
    let wrong = rest(call(
        "POST",
        &format!("/pins/{}", cid(1)),
        Some(&basic("alice:nope")),
    ))
    .await?;
    assert_eq!(wrong.status, 401);
    let right = rest(call(
        "POST",
        &format!("/pins/{}", cid(2)),
        Some(&basic("alice:s3cret-pw")),
    ))
    .await?;
    assert_eq!(right.status, 200, "{}", right.text());
    assert!(
        send(peer.rest, call("GET", "/id", None)).await.is_err(),
        "plain HTTP on the TLS port"
    );

    let token = |scope: &str| {
        let target = format!("/token{scope}");
        let c = call("POST", &target, Some(&basic("alice:s3cret-pw")));
        async move {
            anyhow::Ok(
                rest(c).await?.json()?["token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        }
    };
    let full = format!("Bearer {}", token("").await?);
    let read = format!("Bearer {}", token("?scope=read").await?);
    assert_eq!(rest(call("GET", "/id", Some(&full))).await?.status, 200);
    let pinned = rest(call("POST", &format!("/pins/{}", cid(3)), Some(&full))).await?;
    assert_eq!(pinned.status, 200, "{}", pinned.text());
    assert_eq!(rest(call("GET", "/allocations", Some(&read))).await?.status, 200);
    let scoped = rest(call("DELETE", &format!("/pins/{}", cid(3)), Some(&read))).await?;
    assert_eq!(scoped.status, 403, "{}", scoped.text());
    assert_eq!(scoped.json()?["code"], 403);

    tokio::time::sleep(Duration::from_secs(4)).await;
    let expired = rest(call("GET", "/id", Some(&full))).await?;
    assert_eq!(expired.status, 401);
    assert!(expired.text().contains("expired"), "{}", expired.text());

    let log = std::fs::read_to_string(dir.path().join("daemon.log"))?;
    assert!(!log.contains("s3cret-pw"), "the password was logged");
    assert!(
        !log.contains(full.trim_start_matches("Bearer ")),
        "a token was logged"
    );
    cli_flags_say_what_is_missing(&peer.rest_multiaddr())?;
    peer.stop()?;
    Ok(())
}

/// ipfs-cluster-ctl's flags: `--https`, `--no-check-certificate`, `--basic-auth` or
/// `CLUSTER_CREDENTIALS`; a failure names the flag that is missing.
fn cli_flags_say_what_is_missing(host: &str) -> anyhow::Result<()> {
    let tls = ["--https", "--no-check-certificate"];
    let (code, _, err) = cli(host, &["id"], &[], &[])?;
    assert_ne!(code, 0);
    assert!(err.contains("--https"), "plain HTTP to TLS: {err}");
    let (code, _, err) = cli(host, &["id"], &tls, &[])?;
    assert_ne!(code, 0);
    assert!(err.contains("--basic-auth") && err.contains("401"), "{err}");
    let (code, _, err) = cli(
        host,
        &["id"],
        &[&tls[..], &["--basic-auth", "alice:bad"]].concat(),
        &[],
    )?;
    assert!(code != 0 && err.contains("refused the credentials"), "{err}");
    let (code, out, err) = cli(
        host,
        &["id"],
        &[&tls[..], &["--basic-auth", "alice:s3cret-pw"]].concat(),
        &[],
    )?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("p0"), "{out}");
    let env = [("CLUSTER_CREDENTIALS", "alice:s3cret-pw")];
    let (code, out, err) = cli(host, &["pin", "ls"], &tls, &env)?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&cid(2)), "{out}");
    let (code, _, err) = cli(host, &["id"], &["--https"], &env)?;
    assert!(
        code != 0 && err.contains("--no-check-certificate"),
        "untrusted certificate: {err}"
    );
    Ok(())
}

const AUTHORIZATIONS: &str =
    r#"{"app": {"AuthSecret": "bearer:t0k", "AllowedPaths": ["/api/v0/pin", "/api/v0/add", "/api/v0/cat"]}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_enforces_kubos_authorizations_on_every_route() -> anyhow::Result<()> {
    let dir = scratch_dir("security")?;
    init_peer(dir.path(), "p0")?;
    let peer = Peer::start(
        dir.path(),
        &[("CLUSTER_IPFSPROXY_AUTHORIZATIONS", AUTHORIZATIONS)],
    )?;
    let gateway = |c: Call| send(peer.gateway, c);
    let target = format!("/api/v0/pin/add?arg={}", cid(7));

    let denied = gateway(call("POST", &target, None)).await?;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.text(), DENIED);
    assert_eq!(denied.header("content-type"), Some("text/plain; charset=utf-8"));
    let wrong = gateway(call("POST", &target, Some("Bearer nope"))).await?;
    assert_eq!((wrong.status, wrong.text()), (403, DENIED.to_owned()));
    let allocations = |c: String| send(peer.rest, call("GET", &format!("/allocations/{c}"), None));
    assert_eq!(allocations(cid(7)).await?.status, 404, "a denied pin/add pinned");

    let pinned = gateway(call("POST", &target, Some("Bearer t0k"))).await?;
    assert_eq!(pinned.status, 200, "{}", pinned.text());
    assert_eq!(allocations(cid(7)).await?.status, 200);
    let forwarded = gateway(call("POST", "/api/v0/id", Some("Bearer t0k"))).await?;
    assert_eq!(
        (forwarded.status, forwarded.text()),
        (403, DENIED.to_owned()),
        "outside AllowedPaths"
    );
    let version = gateway(call("POST", "/api/v0/version", Some("Bearer t0k"))).await?;
    assert_eq!(
        version.status, 200,
        "kubo always allows version to a valid secret"
    );
    let version = gateway(call("POST", "/api/v0/version", None)).await?;
    assert_eq!(version.status, 403);
    peer.stop()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_sees_its_own_secret_not_the_clients() -> anyhow::Result<()> {
    let stub = Stub::start().await?;
    let env = [
        ("CLUSTER_IPFSPROXY_AUTHORIZATIONS", AUTHORIZATIONS),
        ("CLUSTER_IPFSPROXY_NODEAUTHSECRET", "basic:cairn:upstream-pw"),
    ];
    let gateway = Gateway::start(&stub.multiaddr(), &env)?;
    let sent = send(
        gateway.addr,
        call("POST", "/api/v0/cat?arg=x", Some("Bearer t0k")),
    )
    .await?;
    assert_eq!(sent.status, 200, "{}", sent.text());
    let seen = stub.seen();
    let last = seen.last().expect("the stub saw the request");
    assert_eq!(
        last.header("authorization"),
        Some(basic("cairn:upstream-pw").as_str())
    );

    let plain = Gateway::start(
        &stub.multiaddr(),
        &[("CLUSTER_IPFSPROXY_AUTHORIZATIONS", AUTHORIZATIONS)],
    )?;
    send(plain.addr, call("POST", "/api/v0/cat?arg=y", Some("Bearer t0k"))).await?;
    let seen = stub.seen();
    assert_eq!(
        seen.last().and_then(|s| s.header("authorization")),
        None,
        "the client's secret went upstream"
    );

    let passing = [
        ("CLUSTER_IPFSPROXY_AUTHORIZATIONS", AUTHORIZATIONS),
        ("CLUSTER_IPFSPROXY_FORWARDAUTHORIZATION", "true"),
    ];
    let passing = Gateway::start(&stub.multiaddr(), &passing)?;
    send(
        passing.addr,
        call("POST", "/api/v0/cat?arg=z", Some("Bearer t0k")),
    )
    .await?;
    assert_eq!(
        stub.seen().last().and_then(|s| s.header("authorization")),
        Some("Bearer t0k")
    );
    Ok(())
}

/// Off loopback with no authentication, each API says so at start; with it, it does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_api_off_loopback_is_named_in_a_warning() -> anyhow::Result<()> {
    let dir = scratch_dir("security")?;
    init_peer(dir.path(), "p0")?;
    let wide = [
        ("CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS", "/ip4/0.0.0.0/tcp/0"),
        ("CLUSTER_IPFSPROXY_LISTENMULTIADDRESS", "/ip4/0.0.0.0/tcp/0"),
    ];
    let peer = Peer::start(dir.path(), &wide)?;
    peer.stop()?;
    let log = std::fs::read_to_string(dir.path().join("daemon.log"))?;
    for (api, key) in [
        ("REST API", "api.restapi.basic_auth_credentials"),
        ("gateway", "api.ipfsproxy.authorizations"),
    ] {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("the {api} listens on 0.0.0.0")));
        let line = line.unwrap_or_else(|| panic!("no warning for the {api}:\n{log}"));
        assert!(line.contains("WARN") && line.contains(key), "{line}");
    }

    let quiet = scratch_dir("security")?;
    init_peer(quiet.path(), "p1")?;
    let mut guarded = wide.to_vec();
    guarded.push(("CLUSTER_RESTAPI_BASICAUTHCREDENTIALS", "alice:pw"));
    guarded.push(("CLUSTER_IPFSPROXY_AUTHORIZATIONS", AUTHORIZATIONS));
    Peer::start(quiet.path(), &guarded)?.stop()?;
    let log = std::fs::read_to_string(quiet.path().join("daemon.log"))?;
    assert!(!log.contains("with no authentication"), "{log}");
    Ok(())
}

/// kubo-rpc-client, configured as kubo's `API.Authorizations` users configure it, runs its
/// whole script through a gateway that wants a token; without the token every call fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubo_rpc_client_with_a_token_runs_through_an_authorizing_gateway() -> anyhow::Result<()> {
    let dir = scratch_dir("security")?;
    init_peer(dir.path(), "p0")?;
    let everything = r#"{"app": {"AuthSecret": "bearer:t0k", "AllowedPaths": ["/api/v0"]}}"#;
    let peer = Peer::start(dir.path(), &[("CLUSTER_IPFSPROXY_AUTHORIZATIONS", everything)])?;
    let script = cairn_compat_tests::repo_root().join("compat-tests/js/clients/drive.mjs");
    anyhow::ensure!(
        script
            .with_file_name("node_modules")
            .join("kubo-rpc-client")
            .exists(),
        "kubo-rpc-client is missing: run scripts/test.sh"
    );
    let run = |auth: Option<&str>| {
        let mut command = std::process::Command::new("node");
        command.arg(&script).arg(format!("http://{}", peer.gateway));
        if let Some(auth) = auth {
            command.env("KUBO_AUTHORIZATION", auth);
        }
        command.output()
    };
    let with = run(Some("Bearer t0k"))?;
    let text = String::from_utf8_lossy(&with.stdout).into_owned();
    anyhow::ensure!(
        with.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&with.stderr)
    );
    let failed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ERROR") && !l.contains("not pinned"))
        .collect();
    assert!(failed.is_empty(), "calls failed with the token:\n{text}");
    assert!(text.lines().any(|l| l.starts_with("pin.add")), "{text}");

    let without = run(None)?;
    let text = String::from_utf8_lossy(&without.stdout).into_owned();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "{text}");
    assert!(
        text.contains("Kubo RPC Access Denied"),
        "the client shows kubo's refusal:\n{text}"
    );
    assert!(
        lines.iter().all(|l| l.contains("ERROR")),
        "a call passed without the token:\n{text}"
    );
    peer.stop()?;
    Ok(())
}
