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
    println!("cairn initialised in {}: peer {}", dir.display(), me.peer_id);
    Ok(())
}
