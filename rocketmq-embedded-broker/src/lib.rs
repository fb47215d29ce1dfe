//! # rocketmq-embedded-broker
//!
//! An Apache RocketMQ name server and broker that run inside your process (or as the
//! `rocketmq-embedded-broker` binary), speaking the classic remoting protocol byte for byte,
//! so the SDK in this workspace — and Java, Go or Rust RocketMQ clients — can be tested
//! against it as if it were the real thing.
//!
//! # Quick start
//!
//! This runs as is: it starts a name server and a broker, sends through the SDK, reads
//! what the broker stored, and breaks the next send on purpose.
//!
//! ```
//! use rocketmq_embedded_broker::EmbeddedBroker;
//! use rocketmq_sdk::Client;
//! use rocketmq_sdk::protocol::ResponseCode;
//! use rocketmq_sdk::protocol::message::Message;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A name server and one broker, memory store, ephemeral loopback ports.
//! let broker = EmbeddedBroker::builder()
//!     .delay_levels("10ms 20ms 30ms") // a fast retry ladder for tests
//!     .start()
//!     .await?;
//! broker.create_topic("orders", 4).await?;
//!
//! // The client under test only needs the name server address.
//! let client = Client::builder()
//!     .name_server(broker.name_server_addr())
//!     .build()
//!     .await?;
//! let producer = client.producer("order-svc").retries(1).start().await?;
//! producer.send(Message::new("orders", "order 42")).await?;
//!
//! // Inspect what was stored, without a consumer.
//! let stored = broker.messages("orders")?;
//! assert_eq!(stored.len(), 1);
//! assert_eq!(&stored[0].body[..], b"order 42");
//!
//! // Break it: the next two sends are refused; with one retry, the send fails.
//! broker.faults().fail_next_sends(2, ResponseCode::SYSTEM_BUSY);
//! assert!(producer.send(Message::new("orders", "order 43")).await.is_err());
//!
//! client.shutdown().await;
//! broker.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Durability
//!
//! A send is acknowledged only after its record is in the kernel (`pwrite` of the appended
//! bytes, as upstream's mmap store), in both flush modes: a crash of the broker process loses
//! nothing acknowledged. A crash of the machine may lose what was not yet `fdatasync`ed under
//! ASYNC flush (at most the flush interval), nothing under SYNC flush. The standalone binary
//! stops gracefully on SIGINT and SIGTERM. Details per file: `FORMAT.md`.
//!
//! # Layout
//!
//! The store knows nothing of sockets; processors know nothing of files. The broker uses
//! the SDK's `protocol` module (frames, commands, headers, message formats) and nothing
//! else of the SDK's runtime.
//!
//! * [`EmbeddedBroker`] — the test harness: start, inspect, break (faults, crash), restart
//!   (`embedded.rs`);
//! * [`namesrv`] — the name server role and its route table;
//! * [`server`] — the remoting server (accept loop, connections, dispatch by code);
//! * [`store`] — the message store, in upstream's on-disk formats (`FORMAT.md`);
//! * [`faults`] — injected failures;
//! * [`transaction`] — transactional messages: half and op records, the check service;
//! * [`acl`] — ACL 1.0 (AccessKey/SecretKey signatures and permissions);
//! * [`filter`] — SQL92 selectors over message properties (`MessageSelector.bySql`);
//! * [`replication`] — master/slave replication (SYNC_MASTER, ASYNC_MASTER, SLAVE);
//! * [`inspect`] — per-message timelines (stored, scheduled, retried, dead-lettered,
//!   consumed) for assertions;
//! * private: `broker` (topics, offsets, groups, locks, delay levels, timer messages) and
//!   `processor` (one request processor per concern: send, pull with long polling,
//!   offsets, clients, query, send-back, transactions, locks, admin);
//! * `src/main.rs` — the standalone `rocketmq-embedded-broker` binary (`--help`).
//!
//! The store's byte layout is documented in `FORMAT.md` in the crate's directory.
//!
//! # Crate features
//!
//! * `tls` (off by default): TLS on the name server's and brokers' listeners
//!   (`server::TlsServerConfig`, `EmbeddedBrokerBuilder::tls`, the binary's
//!   `--tls-cert`/`--tls-key`), with rustls and its ring provider.
//!
//! The broker serves SEND_MESSAGE (10, 310, 320), PULL_MESSAGE (11, 361, with long
//! polling, tag filtering and SQL92 property filtering — on by default here, unlike a
//! Java broker's `enablePropertyFilter`; see [`EmbeddedBrokerBuilder::property_filter`]),
//! CHECK_CLIENT_CONFIG (46, the SQL92 check a consumer makes when it starts), consumer
//! offsets (14, 15), queue offsets (29–32), QUERY_MESSAGE (12), VIEW_MESSAGE_BY_ID (33),
//! HEART_BEAT (34), UNREGISTER_CLIENT (35), CONSUMER_SEND_MSG_BACK (36), END_TRANSACTION
//! (37, with the check-back service sending CHECK_TRANSACTION_STATE),
//! GET_CONSUMER_LIST_BY_GROUP (38), LOCK/UNLOCK_BATCH_MQ (41, 42), request-reply
//! (SEND_REPLY_MESSAGE 324/325, pushing PUSH_REPLY_MESSAGE_TO_CLIENT 326 to the requester)
//! and the admin codes mqadmin sends: topics (17 UPDATE_AND_CREATE_TOPIC, 21
//! GET_ALL_TOPIC_CONFIG, 215 DELETE_TOPIC_IN_BROKER, 351 GET_TOPIC_CONFIG), broker config
//! and status (25, 26, 28 GET_BROKER_RUNTIME_INFO), statistics (202 GET_TOPIC_STATS_INFO,
//! 208 GET_CONSUME_STATS, 317 GET_BROKER_CONSUME_STATS, 223), subscription groups (200,
//! 201, 207, 352), connections (203, 204), 300 QUERY_TOPIC_CONSUME_BY_WHO, 314
//! CLONE_GROUP_OFFSET, 222 INVOKE_BROKER_TO_RESET_OFFSET, and relays 307/309 to a
//! consumer. The name server serves routes and registration (103–106, 206, 224), KV
//! config (100–102, 219), 216 DELETE_TOPIC_IN_NAMESRV and its config (318, 319). Other
//! codes — 5.x POP consumption among them; Java 5 clients then pull — get
//! REQUEST_CODE_NOT_SUPPORTED, as from a Java broker that lacks them.
#![deny(missing_docs)]

pub mod acl;
mod broker;
mod embedded;
mod error;
pub mod faults;
pub mod filter;
pub mod inspect;
pub mod namesrv;
mod processor;
pub mod replication;
pub mod request_log;
pub mod server;
pub mod store;
pub mod transaction;

#[doc(hidden)]
#[path = "test_support.rs"]
pub mod __private;

pub use embedded::{BrokerHandle, EmbeddedBroker, EmbeddedBrokerBuilder, FlushMode, StoreLocation};
pub use error::BrokerError;
pub use faults::Faults;
pub use replication::ReplicationMode;
pub use request_log::{RecordedRequest, RequestLog};
pub use transaction::{TransactionInfo, TransactionStatus};
