//! `cairn gateway` configuration through the real binary: service.json, CLUSTER_IPFSPROXY_*
//! overrides, flags, and refusal of bad values (exit 64, the key named, nothing bound).

use cairn_compat_tests::http::{Call, send};
use cairn_compat_tests::process::{Gateway, run_cairn};
use cairn_compat_tests::scratch_dir;
use cairn_compat_tests::stub::Stub;

fn config_dir(service_json: &str) -> anyhow::Result<tempfile::TempDir> {
    let dir = scratch_dir("config")?;
    std::fs::write(dir.path().join("service.json"), service_json)?;
    Ok(dir)
}

fn gateway_with(dir: &tempfile::TempDir, env: &[(&str, &str)]) -> anyhow::Result<(i32, String)> {
    let config = dir.path().to_string_lossy().into_owned();
    let (code, _, stderr) = run_cairn(&["gateway", "--config", &config], env)?;
    Ok((code, stderr))
}

#[test]
fn a_bad_value_in_service_json_exits_64_naming_the_key_before_binding() -> anyhow::Result<()> {
    let dir = scratch_dir("config")?;
    let socket = dir.path().join("gw.sock");
    let json = format!(
        r#"{{"api":{{"ipfsproxy":{{"listen_multiaddress":"/unix{}","read_header_timeout":"5 parsecs"}}}}}}"#,
        socket.display()
    );
    std::fs::write(dir.path().join("service.json"), json)?;
    let (code, stderr) = gateway_with(&dir, &[])?;
    assert_eq!(code, 64, "{stderr}");
    assert!(stderr.contains("api.ipfsproxy.read_header_timeout"), "{stderr}");
    assert!(
        !socket.exists(),
        "nothing may be bound when the config is invalid"
    );
    Ok(())
}

#[test]
fn each_kind_of_bad_input_names_what_is_wrong() -> anyhow::Result<()> {
    let cases = [
        (
            r#"{"api":{"ipfsproxy":{"max_header_bytes":100}}}"#,
            vec![],
            "api.ipfsproxy.max_header_bytes",
        ),
        (
            r#"{"api":{"ipfsproxy":{"node_multiaddress":"localhost:5001"}}}"#,
            vec![],
            "api.ipfsproxy.node_multiaddress",
        ),
        (
            r#"{"api":{"ipfsproxy":{"listen_multiaddres":"/ip4/127.0.0.1/tcp/0"}}}"#,
            vec![],
            "api.ipfsproxy.listen_multiaddres: unknown key",
        ),
        (r#"{"api":{"ipfsproxy":"#, vec![], "is not valid JSON"),
        (
            "{}",
            vec![("CLUSTER_IPFSPROXY_IDLETIMEOUT", "soon")],
            "CLUSTER_IPFSPROXY_IDLETIMEOUT (api.ipfsproxy.idle_timeout)",
        ),
        (
            "{}",
            vec![("CLUSTER_IPFSPROXY_MAXCONNECTIONS", "0")],
            "api.ipfsproxy.max_connections",
        ),
    ];
    for (json, env, named) in cases {
        let dir = config_dir(json)?;
        let (code, stderr) = gateway_with(&dir, &env)?;
        assert_eq!(code, 64, "{json} {env:?}: {stderr}");
        assert!(
            stderr.contains(named),
            "{json} {env:?}: {stderr:?} should name {named}"
        );
    }
    let (code, _, stderr) = run_cairn(&["gateway", "--upstream", "not-a-multiaddr"], &[])?;
    assert_eq!(code, 64);
    assert!(stderr.contains("--upstream"), "{stderr}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn service_json_then_env_then_flags_decide_where_requests_go() -> anyhow::Result<()> {
    let (from_file, from_flag) = (Stub::start().await?, Stub::start().await?);
    let json = format!(
        r#"{{"api":{{"ipfsproxy":{{"node_multiaddress":"{}","listen_multiaddress":"/ip4/127.0.0.1/tcp/1"}}}}}}"#,
        from_file.multiaddr()
    );
    let dir = config_dir(&json)?;
    let config = dir.path().to_string_lossy().into_owned();
    // The env override replaces the file's unusable listen port; no --upstream: the file's upstream.
    let env = [
        ("CLUSTER_IPFSPROXY_LISTENMULTIADDRESS", "/ip4/127.0.0.1/tcp/0"),
        ("CAIRN_PATH", config.as_str()),
    ];
    let gateway = Gateway::start_with_args(&[], &env)?;
    assert_eq!(
        send(gateway.addr, Call::post("/api/v0/version")).await?.status,
        200
    );
    assert_eq!(
        from_file.seen().len(),
        1,
        "service.json's node_multiaddress is used"
    );
    drop(gateway);
    let gateway = Gateway::start_with_args(&["--upstream", &from_flag.multiaddr()], &env)?;
    assert_eq!(
        send(gateway.addr, Call::post("/api/v0/version")).await?.status,
        200
    );
    assert_eq!(
        (from_file.seen().len(), from_flag.seen().len()),
        (1, 1),
        "--upstream wins over the file"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn log_file_receives_the_access_log() -> anyhow::Result<()> {
    let stub = Stub::start().await?;
    let dir = config_dir(r#"{"api":{"ipfsproxy":{"log_file":"access.log"}}}"#)?;
    let config = dir.path().to_string_lossy().into_owned();
    let env = [("CAIRN_PATH", config.as_str())];
    let gateway = Gateway::start_with_args(
        &[
            "--upstream",
            &stub.multiaddr(),
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
        ],
        &env,
    )?;
    send(gateway.addr, Call::post("/api/v0/id")).await?;
    let log = dir.path().join("access.log");
    cairn_compat_tests::eventually("access.log line", std::time::Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        std::future::ready(Ok(text.contains("path=/api/v0/id") && text.contains("status=200")))
    })
    .await
}
