//! # rocketmq-sdk
//!
//! An async (tokio) client for Apache RocketMQ's classic remoting protocol.
//!
//! This release contains the protocol layer ([`protocol`]): the frame codec, remoting
//! commands, typed headers and bodies, and the message formats, byte-compatible with the
//! Java implementation. The producer and consumer runtimes are being built on top of it;
//! the README's status table says what is there.
//!
//! [`dedupe`] makes consumption idempotent (exactly one effect per message despite
//! at-least-once delivery) with in-memory, Redis and SQL guards.
//!
//! # Crate features
//!
//! * `sql` (off by default): the transactional outbox (module `outbox`) and the SQL dedupe
//!   guard (`dedupe::sql`) on sqlx, for PostgreSQL, MySQL/MariaDB and SQLite.
//! * `redis` (off by default): the Redis dedupe guard, `dedupe::redis`.
//! * `tls` (off by default): TLS on the remoting connection (`remoting::TlsConfig`,
//!   `ClientBuilder::tls`), with rustls and its ring provider. ACL 1.0 signatures
//!   ([`acl`]) need no feature.
#![deny(missing_docs)]

pub mod acl;
pub mod admin;
pub mod client;
pub mod consumer;
pub mod dedupe;
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
