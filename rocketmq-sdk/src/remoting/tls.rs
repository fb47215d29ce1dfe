//! TLS on the remoting connection (crate feature `tls`), with rustls and its ring provider.
//!
//! Upstream brokers and name servers speak TLS on the same port as plaintext when
//! `tls.server.mode` is `permissive` or `enforcing`; the Java client turns it on with
//! `-Dtls.enable=true`. Here a [`TlsConfig`] on the client builder
//! ([`ClientBuilder::tls`](crate::ClientBuilder::tls)) makes every connection, to name
//! servers and brokers alike, a TLS connection.
//!
//! The server's certificate is verified against the trust anchors you give (there are no
//! built-in roots): a private CA, or — for tests — the server's own self-signed
//! certificate. The name checked is the host of the address connected to (a DNS name or
//! an IP address, which must then be in the certificate's IP SANs), unless
//! [`TlsConfig::server_name`] overrides it.

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use thiserror::Error;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Why a [`TlsConfig`] cannot be turned into a connector.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TlsError {
    /// PEM input could not be parsed, or held no certificate.
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// No trust anchor was configured: nothing could ever be verified.
    #[error(
        "no trusted certificate configured: add a CA (or the server's self-signed certificate)"
    )]
    NoTrustAnchors,
    /// A trust anchor was rejected.
    #[error("certificate not usable as a trust anchor: {0}")]
    BadTrustAnchor(String),
    /// The server name override is neither a DNS name nor an IP address.
    #[error("invalid TLS server name {0:?}")]
    InvalidServerName(String),
    /// rustls refused the configuration.
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Client-side TLS settings: which certificates to trust and which name to check.
///
/// Default: no trust anchors (building a connector then fails with
/// [`TlsError::NoTrustAnchors`]) and the server name taken from the address.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct TlsConfig {
    roots: Vec<CertificateDer<'static>>,
    server_name: Option<String>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("trust_anchors", &self.roots.len())
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl TlsConfig {
    /// Settings with no trust anchor yet; add one with [`add_ca_pem`](Self::add_ca_pem) or
    /// [`add_ca_der`](Self::add_ca_der).
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts every certificate in `pem` (a CA, or a server's self-signed certificate).
    ///
    /// # Errors
    /// [`TlsError::Pem`] when the PEM does not parse or holds no certificate.
    pub fn add_ca_pem(mut self, pem: &[u8]) -> Result<Self, TlsError> {
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            self.roots
                .push(cert.map_err(|e| TlsError::Pem(e.to_string()))?);
            n += 1;
        }
        if n == 0 {
            return Err(TlsError::Pem("no CERTIFICATE section found".into()));
        }
        Ok(self)
    }

    /// Trusts one DER-encoded certificate.
    pub fn add_ca_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.roots.push(CertificateDer::from(der.into()));
        self
    }

    /// Checks the server's certificate for `name` instead of the host of the address
    /// connected to (e.g. when connecting to `127.0.0.1` with a certificate for
    /// `broker.internal`).
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Builds the connector every connection of a client shares.
    ///
    /// # Errors
    /// [`TlsError::NoTrustAnchors`], [`TlsError::BadTrustAnchor`],
    /// [`TlsError::InvalidServerName`], [`TlsError::Rustls`].
    pub fn connector(&self) -> Result<TlsConnector, TlsError> {
        if self.roots.is_empty() {
            return Err(TlsError::NoTrustAnchors);
        }
        let mut store = rustls::RootCertStore::empty();
        for cert in &self.roots {
            store
                .add(cert.clone())
                .map_err(|e| TlsError::BadTrustAnchor(e.to_string()))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(store)
            .with_no_client_auth();
        let server_name = match &self.server_name {
            Some(n) => Some(
                ServerName::try_from(n.clone())
                    .map_err(|_| TlsError::InvalidServerName(n.clone()))?,
            ),
            None => None,
        };
        Ok(TlsConnector {
            inner: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }
}

/// A ready TLS client configuration, shared by a client's connections. Cheap to clone.
#[derive(Clone)]
pub struct TlsConnector {
    inner: tokio_rustls::TlsConnector,
    server_name: Option<ServerName<'static>>,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsConnector {
    /// Runs the TLS handshake over `tcp`, connected to `addr` (`host:port`).
    pub(crate) async fn handshake(
        &self,
        addr: &str,
        tcp: TcpStream,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let name = match &self.server_name {
            Some(n) => n.clone(),
            None => server_name_of(addr)?,
        };
        self.inner.connect(name, tcp).await
    }
}

/// The host of `host:port` (`[v6]:port` too) as a TLS server name.
fn server_name_of(addr: &str) -> std::io::Result<ServerName<'static>> {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{host:?} is not a valid TLS server name"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_from_addresses() {
        assert!(matches!(
            server_name_of("127.0.0.1:10911").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name_of("[::1]:9876").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name_of("broker.internal:10911").unwrap(),
            ServerName::DnsName(_)
        ));
    }

    #[test]
    fn no_roots_is_an_error() {
        assert!(matches!(
            TlsConfig::new().connector(),
            Err(TlsError::NoTrustAnchors)
        ));
        assert!(matches!(
            TlsConfig::new().add_ca_pem(b"not pem"),
            Err(TlsError::Pem(_))
        ));
    }
}
