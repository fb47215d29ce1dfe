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
//! # Features
//!
//! | feature | default | what it enables |
//! |---|---|---|
//! | `redis` | off | the Redis dedupe guard, `dedupe::redis` (redis-rs, tokio) |
//! | `sql` | off | the SQL dedupe guard, `dedupe::sql`, for PostgreSQL, MySQL/MariaDB and SQLite (sqlx) |
#![deny(missing_docs)]

pub mod client;
pub mod consumer;
pub mod dedupe;
pub mod error;
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
