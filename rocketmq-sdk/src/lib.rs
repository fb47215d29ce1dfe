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

#[doc(hidden)]
#[path = "macros_support.rs"]
pub mod __private;

/// The names an application usually needs, macros included: `use rocketmq_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::client::{Client, ClientBuilder};
    pub use crate::consumer::{
        ConsumeContext, ConsumeFrom, Consumers, ListenerExt, OrderlyContext, Outcome, PullConsumer,
        PushConsumer,
    };
    pub use crate::dedupe::memory::MemoryGuard;
    pub use crate::error::{Error, Result};
    pub use crate::producer::{
        Producer, SendReceipt, SendStatus, TransactionProducer, TransactionState,
    };
    pub use crate::protocol::message::{Message, MessageExt, MessageQueue};
    pub use crate::typed::TypedMessage;
    pub use rocketmq_sdk_macros::{Message, listener, selector, transaction_listener};
    pub use serde::{Deserialize, Serialize};
}

pub use rocketmq_sdk_macros::{Message, listener, selector, test, transaction_listener};

pub use client::{Client, ClientBuilder, ClientConfig};
pub use consumer::{
    ConsumeContext, ConsumeResult, OrderlyContext, OrderlyResult, PullConsumer, PushConsumer,
};
pub use error::{Error, Result, RetryHint};
pub use producer::{
    Producer, ProducerBuilder, ProducerConfig, SendReceipt, SendStatus, TransactionListener,
    TransactionProducer, TransactionReceipt, TransactionState,
};
