//! Transport errors.

use std::time::Duration;

use thiserror::Error;

use crate::protocol::ProtocolError;

/// What can go wrong between sending a request and receiving its response.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RemotingError {
    /// No TCP connection could be made.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The peer.
        addr: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// Connecting took longer than the connect timeout.
    #[error("connecting to {addr} timed out after {timeout:?}")]
    ConnectTimeout {
        /// The peer.
        addr: String,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The TLS handshake failed (crate feature `tls`): the peer does not speak TLS, or its
    /// certificate is not trusted or not for this name.
    #[error("TLS handshake with {addr} failed: {source}")]
    Tls {
        /// The peer.
        addr: String,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// No response arrived in time. The request may or may not have been applied.
    #[error("request {code} to {addr} timed out after {timeout:?}")]
    Timeout {
        /// The peer.
        addr: String,
        /// The request code.
        code: i32,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// The connection closed before the response arrived (or was already closed).
    #[error("connection to {addr} closed")]
    ConnectionClosed {
        /// The peer.
        addr: String,
    },
    /// The peer sent bytes that do not decode, or a command could not be encoded.
    #[error("protocol error with {addr}: {source}")]
    Protocol {
        /// The peer.
        addr: String,
        /// What was wrong.
        #[source]
        source: ProtocolError,
    },
}

impl RemotingError {
    /// Whether the request certainly did not reach the peer, so resending cannot duplicate.
    pub fn is_not_sent(&self) -> bool {
        matches!(
            self,
            RemotingError::Connect { .. }
                | RemotingError::ConnectTimeout { .. }
                | RemotingError::Tls { .. }
        )
    }

    /// Whether this is a timeout (as opposed to a refusal or a broken connection).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            RemotingError::Timeout { .. } | RemotingError::ConnectTimeout { .. }
        )
    }
}
