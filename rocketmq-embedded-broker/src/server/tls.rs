//! TLS on the server's listener (crate feature `tls`), with rustls and its ring provider.
//!
//! A TLS server accepts TLS only (upstream's `enforcing` mode): a plaintext client's first
//! frame fails the handshake and its connection is closed; the server goes on serving.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use thiserror::Error;

/// Why a [`TlsServerConfig`] cannot be made. Messages never contain key material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The certificate PEM does not parse or holds no certificate.
    #[error("certificate chain: {0}")]
    Certificate(String),
    /// The key PEM does not parse or holds no private key.
    #[error("private key: {0}")]
    PrivateKey(String),
    /// rustls refused the pair (e.g. the key does not match the certificate).
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A server certificate chain and its private key, ready to accept TLS connections.
/// Cheap to clone; `Debug` shows no key material.
#[derive(Clone)]
pub struct TlsServerConfig {
    config: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for TlsServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServerConfig").finish_non_exhaustive()
    }
}

impl TlsServerConfig {
    /// From a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or
    /// SEC1).
    ///
    /// # Errors
    /// [`TlsSetupError::Certificate`], [`TlsSetupError::PrivateKey`],
    /// [`TlsSetupError::Rustls`].
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsSetupError> {
        let chain = CertificateDer::pem_slice_iter(cert_chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsSetupError::Certificate(e.to_string()))?;
        if chain.is_empty() {
            return Err(TlsSetupError::Certificate(
                "no CERTIFICATE section found".into(),
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| TlsSetupError::PrivateKey(e.to_string()))?;
        Self::build(chain, key)
    }

    /// From PEM files, as the binary's `--tls-cert`/`--tls-key` take them.
    ///
    /// # Errors
    /// [`TlsSetupError::Io`], then as [`from_pem`](Self::from_pem).
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsSetupError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|source| TlsSetupError::Io {
                path: p.to_owned(),
                source,
            })
        };
        Self::from_pem(&read(cert_chain.as_ref())?, &read(key.as_ref())?)
    }

    /// From a DER certificate chain (leaf first) and a DER PKCS#8 private key.
    ///
    /// # Errors
    /// [`TlsSetupError::Rustls`].
    pub fn from_der(cert_chain: Vec<Vec<u8>>, pkcs8_key: Vec<u8>) -> Result<Self, TlsSetupError> {
        let chain = cert_chain.into_iter().map(CertificateDer::from).collect();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8_key));
        Self::build(chain, key)
    }

    fn build(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        Ok(TlsServerConfig {
            config: Arc::new(config),
        })
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }
}
