//! # rocketmq-sdk
//!
//! An async (tokio) client for Apache RocketMQ's classic remoting protocol.
//!
//! This release contains the protocol layer ([`protocol`]): the frame codec, remoting
//! commands, typed headers and bodies, and the message formats, byte-compatible with the
//! Java implementation. The producer and consumer runtimes are being built on top of it;
//! the README's status table says what is there.
//!
//! # Crate features
//!
//! * `sql` (off by default): the transactional outbox (module `outbox`) on sqlx, for
//!   PostgreSQL, MySQL/MariaDB and SQLite.
//! * `tls` (off by default): TLS on the remoting connection (`remoting::TlsConfig`,
//!   `ClientBuilder::tls`), with rustls and its ring provider. ACL 1.0 signatures
//!   ([`acl`]) need no feature.
#![deny(missing_docs)]

pub mod acl;
pub mod client;
pub mod consumer;
pub mod error;
#[cfg(feature = "sql")]
pub mod outbox;
pub mod producer;
pub mod protocol;
pub mod remoting;
pub mod typed;

pub use client::{Client, ClientBuilder, ClientConfig};
pub use consumer::{
    ConsumeContext, ConsumeResult, OrderlyContext, OrderlyResult, PullConsumer, PushConsumer,
};
pub use error::{Error, Result, RetryHint};
pub use producer::{
    Producer, ProducerBuilder, ProducerConfig, SendReceipt, SendStatus, TransactionListener,
    TransactionProducer, TransactionReceipt, TransactionState,
};
