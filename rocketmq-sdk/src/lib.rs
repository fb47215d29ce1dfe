//! # rocketmq-sdk
//!
//! An async (tokio) client for Apache RocketMQ's classic remoting protocol, byte-compatible
//! with the Java client, so it talks to 4.x/5.x name servers and brokers: producers (sync,
//! oneway, batches, ordered sends through selectors, transactions with check-back), push
//! and pull consumers (clustering and broadcasting, concurrent and orderly listeners, the
//! retry ladder and dead letters, rewind by time), dedupe guards that make consumption
//! idempotent, a transactional outbox, and administration calls.
//!
//! # Quick start
//!
//! One [`Client`] per process; producers and consumers are made from it. This runs as is:
//! the `rocketmq-embedded-broker` crate starts a real name server and broker in-process, on
//! an ephemeral loopback port. Against a cluster, pass its name server instead.
//!
//! ```
//! use std::time::Duration;
//!
//! use rocketmq_embedded_broker::EmbeddedBroker;
//! use rocketmq_sdk::Client;
//! use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
//! use rocketmq_sdk::protocol::message::{Message, MessageExt};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let broker = EmbeddedBroker::start().await?; // or a cluster's "host:9876"
//! broker.create_topic("orders", 4).await?;
//!
//! let client = Client::builder()
//!     .name_server(broker.name_server_addr())
//!     .build()
//!     .await?;
//! let producer = client.producer("order-svc").start().await?;
//! let mut order = Message::new("orders", "order 42 created");
//! order.set_tags("created");
//! order.set_keys(["order-42"]);
//! let receipt = producer.send(order).await?;
//!
//! let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
//! let consumer = client
//!     .push_consumer("billing")
//!     .subscribe("orders", "created || paid")
//!     .consume_from(ConsumeFrom::FirstOffset)
//!     .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
//!         let tx = tx.clone();
//!         async move {
//!             for m in msgs {
//!                 let _ = tx.send(m);
//!             }
//!             ConsumeResult::Success // anything else: redelivered later
//!         }
//!     })
//!     .await?;
//! let got = tokio::time::timeout(Duration::from_secs(20), rx.recv())
//!     .await?
//!     .expect("the order is delivered");
//! assert_eq!(got.msg_id(), receipt.msg_id);
//!
//! consumer.shutdown().await;
//! client.shutdown().await;
//! broker.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! The workspace's `examples/` show one feature each (ordered messages, delay levels,
//! broadcasting, pull with rewind, transactions, dedupe on Redis and SQL, the outbox, fault
//! injection, an external cluster); the README lists them with their commands.
//!
//! # Layout
//!
//! Layers only point down: producer and consumer → client → remoting → protocol.
//!
//! * [`protocol`] — the wire, sans I/O: frame codec, [`RemotingCommand`](protocol::RemotingCommand),
//!   request and response codes, typed headers and bodies, message encoding, message ids
//!   and properties. The embedded broker uses this module and nothing else of the SDK.
//! * [`remoting`] — the transport: multiplexed connections, request/response correlation,
//!   timeouts, requests the broker sends to the client, reconnects, TLS.
//! * [`client`] — [`Client`]: name-server routes, broker addresses, heartbeats.
//! * [`producer`] — sends, retries with broker fault avoidance, selectors, transactions.
//! * [`consumer`] — push (concurrent, orderly) and pull consumers, rebalance, offsets,
//!   retries and dead letters, rewind.
//! * [`admin`] — `mqadmin`-style calls: clusters, topics, lookups by key or id, dead
//!   letters and their re-sending (the `rocketmq-admin` binary of the workspace uses them).
//! * [`dedupe`] — exactly-once effects on at-least-once delivery: the `DedupeGuard` trait,
//!   memory, Redis and SQL guards.
//! * `outbox` (feature `sql`) — the transactional outbox: a local message table and its relay.
//! * [`acl`] — ACL 1.0 request signing; [`error`] — the error type; [`typed`] — typed
//!   messages (a Rust type with its topic, tag and keys, sent as JSON).
//!
//! # Crate features
//!
//! * `sql` (off by default): the transactional outbox (module `outbox`) and the SQL dedupe
//!   guard (`dedupe::sql`) on sqlx, for PostgreSQL, MySQL/MariaDB and SQLite.
//! * `redis` (off by default): the Redis dedupe guard, `dedupe::redis`.
//! * `tls` (off by default): TLS on the remoting connection (`remoting::TlsConfig`,
//!   `ClientBuilder::tls`), with rustls and its ring provider. ACL 1.0 signatures
//!   ([`acl`]) need no feature.
//!
//! # Minimum supported Rust version
//!
//! 1.88 (the workspace's `rust-version`).
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
