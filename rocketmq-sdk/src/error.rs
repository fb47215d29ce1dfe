//! The SDK's error type.

use std::time::Duration;

use thiserror::Error;

use crate::protocol::{ProtocolError, ResponseCode};
use crate::remoting::RemotingError;

/// Result alias for the SDK.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the SDK's public operations can fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is invalid; `field` names the builder field.
    #[error("invalid configuration `{field}`: {reason}")]
    Config {
        /// The builder field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A message was refused before any network call.
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// A broker or name server answered with an error code.
    #[error("{addr} answered {code}: {remark}")]
    Broker {
        /// Who answered.
        addr: String,
        /// The response code.
        code: ResponseCode,
        /// The response remark.
        remark: String,
    },
    /// No route is known for the topic (the name servers do not know it).
    #[error("no route for topic `{0}`")]
    NoRoute(String),
    /// The whole operation (all attempts included) ran out of time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// Transport failure.
    #[error(transparent)]
    Remoting(#[from] RemotingError),
    /// Undecodable data from a peer.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The client or component was shut down.
    #[error("shut down")]
    Shutdown,
}

/// What a caller should do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryHint {
    /// Retrying the same operation cannot help.
    DontRetry,
    /// Retrying may help; prefer another broker.
    RetryOtherBroker,
    /// Retrying later may help.
    RetryLater,
}

impl Error {
    /// Whether the error is a timeout (the request may have been applied).
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Timeout(_) => true,
            Error::Remoting(e) => e.is_timeout(),
            _ => false,
        }
    }

    /// The broker's response code, if the error is a broker answer.
    pub fn response_code(&self) -> Option<ResponseCode> {
        match self {
            Error::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether a broker refused the request for want of credentials or permission: a
    /// NO_PERMISSION answer, or the SYSTEM_ERROR whose remark is a Java `AclException` —
    /// how Java 4.9.x/5.x brokers (and the embedded one) answer an ACL refusal.
    pub fn is_access_denied(&self) -> bool {
        match self {
            Error::Broker { code, remark, .. } => {
                *code == ResponseCode::NO_PERMISSION
                    || (*code == ResponseCode::SYSTEM_ERROR && remark.contains("AclException"))
            }
            _ => false,
        }
    }

    /// The retry advice, following the Java producer's retry list for broker codes.
    pub fn retry_hint(&self) -> RetryHint {
        match self {
            Error::Broker { code, .. } => retry_hint_for(*code),
            Error::Remoting(_) | Error::Timeout(_) => RetryHint::RetryOtherBroker,
            Error::NoRoute(_) => RetryHint::RetryLater,
            _ => RetryHint::DontRetry,
        }
    }
}

/// The Java producer retries (on another broker) on exactly these codes.
pub fn retry_hint_for(code: ResponseCode) -> RetryHint {
    match code {
        ResponseCode::TOPIC_NOT_EXIST
        | ResponseCode::SERVICE_NOT_AVAILABLE
        | ResponseCode::SYSTEM_ERROR
        | ResponseCode::SYSTEM_BUSY
        | ResponseCode::NO_PERMISSION
        | ResponseCode::NO_BUYER_ID
        | ResponseCode::NOT_IN_CURRENT_UNIT
        | ResponseCode::GO_AWAY => RetryHint::RetryOtherBroker,
        _ => RetryHint::DontRetry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_retry_codes() {
        let e = |code| Error::Broker {
            addr: "b".into(),
            code,
            remark: String::new(),
        };
        assert_eq!(
            e(ResponseCode::SYSTEM_BUSY).retry_hint(),
            RetryHint::RetryOtherBroker
        );
        assert_eq!(
            e(ResponseCode::GO_AWAY).retry_hint(),
            RetryHint::RetryOtherBroker
        );
        assert_eq!(
            e(ResponseCode::MESSAGE_ILLEGAL).retry_hint(),
            RetryHint::DontRetry
        );
        assert_eq!(
            e(ResponseCode::INVALID_PARAMETER).retry_hint(),
            RetryHint::DontRetry
        );
        assert!(Error::Timeout(Duration::from_secs(1)).is_timeout());
        let acl = Error::Broker {
            addr: "b".into(),
            code: ResponseCode::SYSTEM_ERROR,
            remark: "org.apache.rocketmq.acl.common.AclException: No accessKey is configured"
                .into(),
        };
        assert!(acl.is_access_denied());
        assert!(e(ResponseCode::NO_PERMISSION).is_access_denied());
        assert!(!e(ResponseCode::SYSTEM_ERROR).is_access_denied());
        assert!(!e(ResponseCode::SYSTEM_BUSY).is_timeout());
    }
}
