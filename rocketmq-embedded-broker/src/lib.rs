//! # rocketmq-embedded-broker
//!
//! An Apache RocketMQ name server and broker that run inside your process (or as the
//! `rocketmq-embedded-broker` binary), speaking the classic remoting protocol byte for byte,
//! so the SDK in this workspace — and Java, Go or Rust RocketMQ clients — can be tested
//! against it as if it were the real thing.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rocketmq_embedded_broker::BrokerError> {
//! use rocketmq_embedded_broker::EmbeddedBroker;
//! use rocketmq_sdk::protocol::{RequestCode, ResponseCode};
//!
//! let broker = EmbeddedBroker::start().await?; // name server + one broker, memory store
//! let name_server = broker.name_server_addr(); // give this to the client under test
//! broker.faults().fail_next(RequestCode::SEND_MESSAGE_V2, 1, ResponseCode::SYSTEM_BUSY);
//! // ... run the client ...
//! let stored = broker.messages("orders")?;
//! # Ok(()) }
//! ```
//!
//! What is here:
//! * [`EmbeddedBroker`] — the test harness: start, inspect, break (faults, crash), restart;
//! * [`namesrv`] — the name server role and its route table;
//! * [`server`] — the remoting server (accept loop, connections, dispatch by code);
//! * [`store`] — the message store, in upstream's on-disk formats (`FORMAT.md`);
//! * [`faults`] — injected failures;
//! * [`transaction`] — transactional messages: half and op records, the check service;
//! * [`acl`] — ACL 1.0 (AccessKey/SecretKey signatures and permissions);
//! * [`filter`] — SQL92 selectors over message properties (`MessageSelector.bySql`).
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
//! HEART_BEAT (34), UNREGISTER_CLIENT (35), END_TRANSACTION (37, with the check-back
//! service sending CHECK_TRANSACTION_STATE), GET_CONSUMER_LIST_BY_GROUP (38),
//! LOCK/UNLOCK_BATCH_MQ (41, 42), UPDATE_AND_CREATE_TOPIC (17), GET_ALL_TOPIC_CONFIG (21)
//! and INVOKE_BROKER_TO_RESET_OFFSET (222); other codes get REQUEST_CODE_NOT_SUPPORTED, as
//! from a Java broker that lacks them.
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
pub mod server;
pub mod store;
pub mod transaction;

#[doc(hidden)]
#[path = "test_support.rs"]
pub mod __private;

pub use embedded::{BrokerHandle, EmbeddedBroker, EmbeddedBrokerBuilder, FlushMode, StoreLocation};
pub use error::BrokerError;
pub use faults::Faults;
pub use transaction::{TransactionInfo, TransactionStatus};
