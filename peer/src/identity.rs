//! The peer's identity: an ed25519 key pair in `identity.json`, as ipfs-cluster keeps it
//! (`{"id": "<peer id>", "private_key": "<base64 protobuf>"}`).
//!
//! # Invariants
//! - The file is created with mode 0600 and written whole ([`files::write_private`]).
//! - [`Identity::load`] refuses a file that its group or others may read or write
//!   ([`files::Exposed`]), before reading the key.

use std::io::Read;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libp2p_identity::{Keypair, PeerId};
use serde::{Deserialize, Serialize};

use crate::files;

/// Why `identity.json` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a valid identity.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Its group or others may read or write it; the key was not read.
    #[error(transparent)]
    Exposed(#[from] files::Exposed),
    /// It could not be written.
    #[error(transparent)]
    Write(files::FileError),
}

#[derive(Serialize, Deserialize)]
struct File {
    id: String,
    private_key: String,
}

/// A peer's key pair and the peer id derived from it.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The key pair.
    pub keypair: Keypair,
    /// Its peer id.
    pub peer_id: PeerId,
}

impl Identity {
    /// A fresh ed25519 identity.
    pub fn generate() -> Self {
        let keypair = Keypair::generate_ed25519();
        Self {
            peer_id: keypair.public().to_peer_id(),
            keypair,
        }
    }

    /// Writes `identity.json`, readable by its owner only from its first byte.
    pub fn save(&self, path: &Path) -> Result<(), IdentityError> {
        let bytes = self
            .keypair
            .to_protobuf_encoding()
            .map_err(|e| IdentityError::Invalid {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        let file = File {
            id: self.peer_id.to_base58(),
            private_key: STANDARD.encode(bytes),
        };
        let text = serde_json::to_string_pretty(&file).unwrap_or_default() + "\n";
        files::write_private(path, text.as_bytes()).map_err(IdentityError::Write)
    }

    /// Reads `identity.json`, refusing it when others may read or write it, and checks that
    /// its id matches its key.
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        let name = path.display().to_string();
        let invalid = |reason: String| IdentityError::Invalid {
            path: name.clone(),
            reason,
        };
        let io = |source| IdentityError::Io {
            path: name.clone(),
            source,
        };
        let mut opened = std::fs::File::open(path).map_err(io)?;
        files::check_mode(path, &opened.metadata().map_err(io)?)?;
        let mut text = String::new();
        opened.read_to_string(&mut text).map_err(io)?;
        let file: File = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let bytes = STANDARD
            .decode(file.private_key.trim())
            .map_err(|e| invalid(format!("private_key: {e}")))?;
        let keypair =
            Keypair::from_protobuf_encoding(&bytes).map_err(|e| invalid(format!("private_key: {e}")))?;
        let peer_id = keypair.public().to_peer_id();
        if peer_id.to_base58() != file.id {
            return Err(invalid(format!(
                "id {} does not match private_key (which is {peer_id})",
                file.id
            )));
        }
        Ok(Self { keypair, peer_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_round_trips_and_a_wrong_id_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.json");
        let identity = Identity::generate();
        identity.save(&path).unwrap();
        assert_eq!(Identity::load(&path).unwrap().peer_id, identity.peer_id);

        let other = Identity::generate().peer_id.to_base58();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace(&identity.peer_id.to_base58(), &other);
        std::fs::write(&path, text).unwrap();
        assert!(
            Identity::load(&path)
                .unwrap_err()
                .to_string()
                .contains("does not match")
        );
    }

    #[test]
    fn an_identity_is_saved_0600_and_refused_once_others_may_read_it() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.json");
        Identity::generate().save(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o7777, 0o600);

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Identity::load(&path).unwrap_err();
        assert!(matches!(err, IdentityError::Exposed(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "{0} is readable by others (mode 0644): run chmod 600 {0}",
                path.display()
            )
        );
    }
}
