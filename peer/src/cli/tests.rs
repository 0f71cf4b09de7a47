//! The command line as ipfs-cluster-ctl users type it: global flags before or after the
//! subcommand, their environment variables, and the peer's own commands unchanged.

use std::time::Duration;

use clap::{CommandFactory, Parser};

use super::client::{DEFAULT_HOST, Encoding};
use super::{Cli, Command};

fn parse(args: &[&str]) -> Cli {
    match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => panic!("{args:?}: {e}"),
    }
}

#[test]
fn global_flags_are_read_before_and_after_the_subcommand() {
    let host = "/ip4/10.0.0.1/tcp/9094";
    let before = parse(&[
        "cairn",
        "--host",
        host,
        "--enc",
        "json",
        "--timeout",
        "5",
        "-d",
        "pin",
        "ls",
    ]);
    let after = parse(&[
        "cairn",
        "pin",
        "ls",
        "--host",
        host,
        "--enc=json",
        "--timeout",
        "5s",
        "--debug",
    ]);
    let between = parse(&[
        "cairn",
        "pin",
        "--host",
        host,
        "ls",
        "-t",
        "5",
        "--encoding",
        "json",
        "-d",
    ]);
    for cli in [&before, &after, &between] {
        assert_eq!(cli.global.host, host);
        assert_eq!(cli.global.enc, Encoding::Json);
        assert_eq!(cli.global.timeout, Duration::from_secs(5));
        assert!(cli.global.debug);
        assert!(matches!(cli.command, Command::Pin { .. }));
    }
    let short = parse(&[
        "cairn",
        "-l",
        host,
        "id",
        "--https",
        "--no-check-certificate",
        "--basic-auth",
        "a:b",
    ]);
    assert_eq!(short.global.host, host);
    assert!(short.global.https && short.global.no_check_certificate);
    assert_eq!(short.global.basic_auth.as_deref(), Some("a:b"));
}

#[test]
fn defaults_are_ipfs_cluster_ctls() {
    let cli = parse(&["cairn", "status"]);
    assert_eq!(cli.global.host, DEFAULT_HOST);
    assert_eq!(cli.global.enc, Encoding::Text);
    assert_eq!(cli.global.timeout, Duration::ZERO, "no limit unless asked");
    assert!(!cli.global.debug && !cli.global.https);
}

#[test]
fn every_global_flag_has_its_cluster_variable() {
    let command = Cli::command();
    let env = |id: &str| {
        let arg = command.get_arguments().find(|a| a.get_id() == id);
        arg.and_then(|a| a.get_env())
            .map(|e| e.to_string_lossy().into_owned())
    };
    for (id, var) in [
        ("host", "CLUSTER_HOST"),
        ("enc", "CLUSTER_ENC"),
        ("basic_auth", "CLUSTER_CREDENTIALS"),
        ("https", "CLUSTER_HTTPS"),
        ("no_check_certificate", "CLUSTER_NO_CHECK_CERTIFICATE"),
        ("timeout", "CLUSTER_TIMEOUT"),
        ("debug", "CLUSTER_DEBUG"),
        ("config", "CAIRN_PATH"),
    ] {
        assert_eq!(env(id).as_deref(), Some(var), "--{id}");
    }
}

#[test]
fn the_peer_commands_keep_their_own_flags_and_positions() {
    let daemon = parse(&[
        "cairn",
        "--config",
        "/tmp/c",
        "daemon",
        "--bootstrap",
        "/ip4/1.2.3.4/tcp/9096/p2p/x",
    ]);
    assert!(matches!(daemon.command, Command::Daemon(_)));
    assert_eq!(daemon.config.as_deref(), Some(std::path::Path::new("/tmp/c")));
    let gateway = parse(&[
        "cairn",
        "gateway",
        "--config",
        "/tmp/c",
        "--upstream",
        "/ip4/127.0.0.1/tcp/5001",
    ]);
    assert!(matches!(gateway.command, Command::Gateway(_)));
    assert!(matches!(
        parse(&["cairn", "init", "--force", "--peername", "p"]).command,
        Command::Init(_)
    ));
    assert!(matches!(
        parse(&["cairn", "state", "export", "-f", "x"]).command,
        Command::State { .. }
    ));
}

#[test]
fn bad_values_are_refused_naming_the_flag() {
    for (args, flag) in [
        (&["cairn", "pin", "ls", "--timeout", "soon"][..], "--timeout"),
        (&["cairn", "--enc", "yaml", "id"][..], "--enc"),
        (
            &["cairn", "pin", "add", "QmX", "--metadata", "novalue"][..],
            "--metadata",
        ),
        (&["cairn", "pin", "add", "QmX", "--mode", "deep"][..], "--mode"),
    ] {
        let err = Cli::try_parse_from(args).expect_err("refused").to_string();
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}

#[test]
fn health_graph_completion_and_man_parse() {
    assert!(matches!(
        parse(&["cairn", "health", "graph", "--host", DEFAULT_HOST]).command,
        Command::Health {
            command: Some(super::status::HealthCommand::Graph)
        }
    ));
    assert!(matches!(
        parse(&["cairn", "completion", "zsh"]).command,
        Command::Completion {
            shell: clap_complete::Shell::Zsh
        }
    ));
    assert!(matches!(
        parse(&["cairn", "man", "--dir", "/tmp/m"]).command,
        Command::Man { dir: Some(_) }
    ));
    Cli::command().debug_assert();
}
