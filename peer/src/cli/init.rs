//! `cairn init`: writes `service.json` and `identity.json` into the config directory.
//!
//! Both are created with mode 0600 and written whole (`files::write_private`); the directory,
//! when cairn creates it, has mode 0700.

use std::path::Path;

use anyhow::Context;

use super::CliError;
use crate::config::ServiceConfig;
use crate::files;
use crate::identity::Identity;

/// Arguments of `cairn init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Overwrite an existing configuration and identity.
    #[arg(long)]
    force: bool,
    /// This peer's name (default: the host name).
    #[arg(long)]
    peername: Option<String>,
}

/// Writes a fresh configuration with a generated secret, and a new identity.
pub(super) fn run(dir: &Path, args: Args) -> Result<(), CliError> {
    let (service, identity) = (dir.join("service.json"), dir.join("identity.json"));
    for existing in [&service, &identity] {
        if existing.exists() && !args.force {
            return Err(CliError::Config(format!(
                "{} exists; use --force to overwrite it",
                existing.display()
            )));
        }
    }
    files::create_private_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let json = ServiceConfig::generated(args.peername).map_err(|e| CliError::Run(e.into()))?;
    let text = serde_json::to_string_pretty(&json).context("serialising service.json")? + "\n";
    files::write_private(&service, text.as_bytes()).context("writing service.json")?;
    let me = Identity::generate();
    me.save(&identity).context("writing identity.json")?;
    let default_dir = super::config_dir(None);
    print!(
        "{}",
        summary(dir, &json, &me.peer_id.to_string(), dir == default_dir)
    );
    Ok(())
}

/// What `cairn init` tells the person who ran it: where it wrote what, the peer, where its
/// APIs will listen, and the next command (with `--config` unless `dir` is the default).
fn summary(dir: &Path, service: &serde_json::Value, peer_id: &str, default_dir: bool) -> String {
    let text = |value: &serde_json::Value| match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        _ => "off".to_owned(),
    };
    let api = &service["api"];
    let config = match default_dir {
        true => String::new(),
        false => format!(" --config {}", dir.display()),
    };
    let pinsvc = match &api["pinsvcapi"] {
        serde_json::Value::Object(section) => text(
            section
                .get("http_listen_multiaddress")
                .unwrap_or(&serde_json::Value::Null),
        ),
        _ => "off".to_owned(),
    };
    format!(
        "cairn initialised in {dir}: peer {peer_id}\n\
         \x20 wrote {service_json} (mode 0600): the configuration, with a new cluster secret\n\
         \x20 wrote {identity_json} (mode 0600): this peer's private key\n\
         \x20 peer name {name}; REST API {rest}; IPFS gateway {gateway}; pinning service API {pinsvc}; cluster swarm {swarm}\n\
         next: cairn{config} daemon\n\
         \x20 to join an existing cluster instead: put its cluster.secret into service.json, then\n\
         \x20 cairn{config} daemon --bootstrap /ip4/<host>/tcp/9096/p2p/<its peer id>\n",
        dir = dir.display(),
        service_json = dir.join("service.json").display(),
        identity_json = dir.join("identity.json").display(),
        name = text(&service["cluster"]["peername"]),
        rest = text(&api["restapi"]["http_listen_multiaddress"]),
        gateway = text(&api["ipfsproxy"]["listen_multiaddress"]),
        swarm = text(&service["cluster"]["listen_multiaddress"]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_the_files_the_addresses_and_the_next_command() {
        let service = ServiceConfig::generated(Some("p0".into())).expect("generated");
        let dir = Path::new("/srv/cairn");
        let out = summary(dir, &service, "12D3KooWtest", false);
        assert!(
            out.starts_with("cairn initialised in /srv/cairn: peer 12D3KooWtest\n"),
            "{out}"
        );
        for want in [
            "wrote /srv/cairn/service.json (mode 0600)",
            "wrote /srv/cairn/identity.json (mode 0600)",
            "peer name p0",
            "REST API /ip4/127.0.0.1/tcp/9094",
            "pinning service API /ip4/127.0.0.1/tcp/9097",
            "next: cairn --config /srv/cairn daemon\n",
            "cairn --config /srv/cairn daemon --bootstrap",
        ] {
            assert!(out.contains(want), "{want:?} missing from:\n{out}");
        }
        let default = summary(dir, &service, "12D3KooWtest", true);
        assert!(default.contains("next: cairn daemon\n"), "{default}");
    }
}
