//! TLS with rustls (ring provider): the server side of a listener (`ssl_cert_file` /
//! `ssl_key_file`) and the client side towards an `https` upstream.
//!
//! # Invariants
//! - Certificates and keys are read and checked when a server binds or a client is built,
//!   never later: a bad file is a startup error naming the file.
//! - A client trusts the OS's store plus an optional CA file; certificate checks are skipped
//!   only when a caller asks for it explicitly ([`ClientTls::insecure`], the CLI's
//!   `--no-check-certificate`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the certificate, key or settings.
    #[error("TLS settings")]
    Rustls(#[source] rustls::Error),
}

/// The certificate chain and key a listener serves (`ssl_cert_file`, `ssl_key_file`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let fail = |reason: String| TlsError::File {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no PEM certificate in the file".into()));
    }
    Ok(certs)
}

/// Reads `files` into a server configuration (HTTP/1.1 only).
pub fn server_config(files: &ServerFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = certs(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::File {
        path: files.key.clone(),
        reason: e.to_string(),
    })?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Rustls)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Rustls)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// How a client checks an `https` server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// Extra trust anchors (PEM), besides the OS's store.
    pub ca_file: Option<PathBuf>,
    /// Skip certificate checks (the CLI's `--no-check-certificate`).
    pub insecure: bool,
}

impl ClientTls {
    /// Builds the rustls client configuration.
    pub fn config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Rustls)?;
        let config = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoCheck(provider())))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(self.roots()?)
                .with_no_client_auth()
        };
        Ok(Arc::new(config))
    }

    fn roots(&self) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        // Unreadable entries of the OS store are skipped; an empty store only means that
        // public servers fail to verify, which the handshake reports.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = &self.ca_file {
            for cert in certs(path)? {
                roots.add(cert).map_err(TlsError::Rustls)?;
            }
        }
        Ok(roots)
    }
}

/// The name a client checks the server's certificate against (an IP literal or a DNS name).
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_owned()).map_err(|e| {
        TlsError::File {
            path: PathBuf::from(host),
            reason: format!("not a valid server name: {e}"),
        }
    })
}

/// Accepts any certificate (still checks the handshake's signatures).
#[derive(Debug)]
struct NoCheck(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile_dir();
        let missing = ServerFiles {
            cert: dir.join("nope.pem"),
            key: dir.join("nope.key"),
        };
        let err = server_config(&missing).unwrap_err().to_string();
        assert!(err.contains("nope.pem"), "{err}");
        std::fs::write(dir.join("empty.pem"), "not pem").unwrap();
        let empty = ServerFiles {
            cert: dir.join("empty.pem"),
            key: dir.join("nope.key"),
        };
        let err = server_config(&empty).unwrap_err().to_string();
        assert!(err.contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn a_generated_pair_loads() {
        let dir = tempfile_dir();
        let files = write_pair(&dir);
        server_config(&files).expect("server config");
        let client = ClientTls {
            ca_file: Some(files.cert.clone()),
            insecure: false,
        };
        client.config().expect("client config");
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("[::1]").is_ok());
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "cairn-tls-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A self-signed pair for 127.0.0.1 and localhost.
    pub(crate) fn write_pair(dir: &Path) -> ServerFiles {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        let files = ServerFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.cert, cert.cert.pem()).unwrap();
        std::fs::write(&files.key, cert.key_pair.serialize_pem()).unwrap();
        files
    }
}
