//! Which access logs `service.json` sends to files (ipfs-cluster's `ipfsproxy.log_file`,
//! `restapi.http_log_file`, `pinsvcapi.http_log_file`), for a peer and a follower alike.

use std::path::{Path, PathBuf};

use crate::config::ServiceConfig;

/// The access logs `service.json` sends to files, relative to the config directory.
pub struct LogFiles {
    gateway: Option<PathBuf>,
    rest: Option<PathBuf>,
    pinsvc: Option<PathBuf>,
}

impl LogFiles {
    /// What `config` in the directory `dir` routes to files.
    pub fn of(dir: &Path, config: &ServiceConfig) -> Self {
        let file = |name: &str| Some(name).filter(|n| !n.is_empty()).map(|n| dir.join(n));
        Self {
            gateway: config.ipfsproxy.log_file.as_ref().map(|p| dir.join(p)),
            rest: file(&config.restapi.http_log_file),
            pinsvc: (config.pinsvcapi.as_ref()).and_then(|s| file(&s.http_log_file)),
        }
    }

    /// The routes, for `logging::init`.
    pub fn routed(&self) -> Vec<super::Routed<'_>> {
        use cairn_gateway::access_log::{PINSVC_TARGET, REST_TARGET, TARGET};
        [
            (TARGET, &self.gateway),
            (REST_TARGET, &self.rest),
            (PINSVC_TARGET, &self.pinsvc),
        ]
        .into_iter()
        .filter_map(|(target, file)| file.as_deref().map(|file| super::Routed { target, file }))
        .collect()
    }
}
