//! The crate's error type.

use thiserror::Error;

use crate::store::StoreError;

/// Why starting, stopping or inspecting an embedded broker failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// A listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The message store failed to open, read or shut down.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A setting is invalid; `field` names the builder method.
    #[error("invalid setting `{field}`: {reason}")]
    Config {
        /// The builder method or config field.
        field: &'static str,
        /// What is wrong with the value.
        reason: String,
    },
    /// There is no broker with this index in the cluster.
    #[error("no broker #{index}: the cluster has {count}")]
    NoSuchBroker {
        /// The index asked for.
        index: usize,
        /// How many brokers the cluster has.
        count: usize,
    },
    /// The broker has no slave: the harness was built without
    /// [`slave`](crate::EmbeddedBrokerBuilder::slave).
    #[error("broker #{index} has no slave")]
    NoSlave {
        /// The broker's index.
        index: usize,
    },
    /// [`EmbeddedBroker::advance`](crate::EmbeddedBroker::advance) on a harness built
    /// without [`manual_clock`](crate::EmbeddedBrokerBuilder::manual_clock).
    #[error("the harness does not run on a manual clock")]
    NoManualClock,
    /// The broker is stopped or crashed; restart it first.
    #[error("broker {name} is not running")]
    NotRunning {
        /// The broker's name.
        name: String,
    },
    /// A stored record could not be decoded while inspecting the store.
    #[error("stored record cannot be decoded: {0}")]
    Decode(#[from] rocketmq_sdk::protocol::ProtocolError),
}
