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
pub mod signal;
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

/// Derives [`typed::TypedMessage`]: a message type that travels as JSON, with its topic,
/// tag, keys and shard key.
///
/// Container: `#[rocketmq(topic = "...", tag = "...")]` (topic required, checked against
/// RocketMQ's topic rules at compile time; `crate = "..."` names this crate if renamed).
/// Fields: `#[rocketmq(key)]` (any `Display`, or `Option` of one, skipped when `None`)
/// becomes part of the message `KEYS` — indexed by the broker and usable as the dedupe
/// key; `#[rocketmq(shard)]` (one field, a type with a Java `hashCode()`:
/// [`producer::JavaHashCode`]) makes [`Producer::publish`] pick the queue a Java producer
/// with `SelectMessageQueueByHash` picks for the same value, so equal values stay in order.
///
/// ```
/// use rocketmq_sdk::prelude::*;
///
/// #[derive(Serialize, Deserialize, Message)]
/// #[rocketmq(topic = "orders", tag = "created")]
/// struct OrderCreated {
///     #[rocketmq(key)]
///     order_id: String,
///     #[rocketmq(shard)]
///     customer_id: u64,
///     amount_cents: u64,
/// }
///
/// let order = OrderCreated { order_id: "o-1".into(), customer_id: 7, amount_cents: 250 };
/// let message = order.to_message().unwrap();
/// assert_eq!(message.topic, "orders");
/// assert_eq!(message.keys(), Some("o-1"));
/// assert_eq!(order.shard_hash(), Some(7));
/// ```
pub use rocketmq_sdk_macros::Message;

/// Turns an `async fn` into a listener: a unit struct of the same name that implements
/// [`consumer::Listener`] (register it with [`Client::consumers`]) and still calls like
/// the function (`bill(order, ctx).await` in a unit test).
///
/// Options: `topic`, `group` (required); `tag = "a || b"` or `sql = "..."` (one filter;
/// SQL92 over message properties, filtered by the broker — the embedded broker does by
/// default, a Java broker needs `enablePropertyFilter=true` — and checked by it when the
/// listener starts, so an invalid expression fails `start`);
/// `orderly`; `broadcast` (not with `orderly`); `max_reconsume_times = N`;
/// `concurrency = N`; `consume_from = last_offset | first_offset | timestamp | <ms>`;
/// `batch_size = N` (batch listeners; 32 by default); `dedupe` or
/// `dedupe(key = uniq_key | keys)` (then register with `.dedupe(guard)`);
/// `on_decode_error = dead_letter | retry | skip`; `crate = "..."`.
///
/// Arguments: the payload — any `serde::Deserialize` type (the body is JSON),
/// `MessageExt` for the raw message, or a `Vec` of either for a batch — then optionally the
/// context, [`ConsumeContext`] ([`OrderlyContext`] when `orderly`). Returns `()`,
/// `Result<(), E: Display>` (an `Err` is logged and retried), [`consumer::Outcome`] or
/// `Result<Outcome, E>`. A listener's visibility must not exceed its payload type's.
///
/// **Decode errors.** A body that does not decode as the payload type never will, so by
/// default (`on_decode_error = dead_letter`) it goes straight to `%DLQ%<group>` with the
/// error logged, without running the function, and the rest of the batch goes on. `retry`
/// puts it on the retry ladder instead (a consumer deployed before its producer's schema
/// change); `skip` acknowledges it. In broadcasting mode dead-lettered messages are dropped.
///
/// ```no_run
/// use rocketmq_sdk::prelude::*;
///
/// #[derive(Serialize, Deserialize, Message)]
/// #[rocketmq(topic = "orders", tag = "created")]
/// pub struct OrderCreated {
///     #[rocketmq(key)]
///     order_id: String,
/// }
///
/// /// Ok acknowledges; Err comes back on the delay ladder, then goes to %DLQ%billing.
/// #[listener(topic = "orders", group = "billing", tag = "created || paid")]
/// async fn bill(order: OrderCreated, ctx: ConsumeContext) -> Result<(), String> {
///     tracing::info!(order = %order.order_id, attempt = ctx.reconsume_times(), "billing");
///     Ok(())
/// }
///
/// /// One queue at a time, in order; an error pauses the queue, then retries.
/// #[listener(topic = "orders", group = "ledger", orderly, max_reconsume_times = 3)]
/// async fn ledger(order: OrderCreated, ctx: OrderlyContext) -> Outcome {
///     Outcome::Ack
/// }
///
/// # async fn demo() -> rocketmq_sdk::Result<()> {
/// let client = Client::builder().name_server("127.0.0.1:9876").build().await?;
/// let app = client
///     .consumers()
///     .listen(bill)
///     .listen(ledger.dedupe(MemoryGuard::new()))
///     .start()
///     .await?;
/// app.shutdown().await; // drain in-flight calls, persist offsets, unregister
/// # Ok(()) }
/// ```
pub use rocketmq_sdk_macros::listener;

/// Implements a typed transaction listener from an inherent `impl` with
/// `async fn execute(&self, value: &T) -> TransactionState` (the local transaction) and
/// `async fn check(&self, value: &T) -> TransactionState` (the broker's check-back), where
/// `T` derives [`Message`](derive@Message). Each may also take the raw message
/// (`&Message`, `&MessageExt`) and may return `Result<TransactionState, E: Display>`
/// (an `Err` answers UNKNOWN: the broker asks again). The type becomes a
/// [`producer::TransactionListener`] whose sends are [`TransactionProducer::publish`];
/// any number of them can run on one client, one per producer group.
///
/// ```no_run
/// use rocketmq_sdk::prelude::*;
///
/// #[derive(Serialize, Deserialize, Message)]
/// #[rocketmq(topic = "orders")]
/// struct OrderCreated { order_id: String }
///
/// struct CreateOrder;
///
/// #[transaction_listener]
/// impl CreateOrder {
///     async fn execute(&self, order: &OrderCreated) -> TransactionState {
///         TransactionState::Commit // after committing the local DB transaction
///     }
///     async fn check(&self, order: &OrderCreated) -> TransactionState {
///         TransactionState::Commit // if the order row exists, else Rollback
///     }
/// }
///
/// # async fn demo(client: Client) -> rocketmq_sdk::Result<()> {
/// let producer = client.producer("order-svc").start_transactional(CreateOrder).await?;
/// producer.publish(&OrderCreated { order_id: "o-1".into() }).await?;
/// # Ok(()) }
/// ```
pub use rocketmq_sdk_macros::transaction_listener;

/// Turns `fn(queues: &[MessageQueue], message: &Message, arg: &A) -> usize` into a
/// [`producer::MessageQueueSelector<A>`] (a unit struct of the same name, still callable)
/// for [`Producer::send_with_selector`].
///
/// ```
/// use rocketmq_sdk::prelude::*;
///
/// /// Orders of one region stay on one queue.
/// #[selector]
/// fn by_region(queues: &[MessageQueue], _message: &Message, region: &str) -> usize {
///     region.bytes().map(usize::from).sum::<usize>() % queues.len()
/// }
///
/// let queues: Vec<_> = (0..4).map(|i| MessageQueue::new("orders", "broker-a", i)).collect();
/// assert_eq!(by_region(&queues, &Message::new("orders", "x"), "eu"), (101 + 117) % 4);
/// ```
pub use rocketmq_sdk_macros::selector;

/// A `#[test]` on a fresh embedded broker (crate `rocketmq-embedded-broker`, a
/// dev-dependency), in the style of `sqlx::test`: the parameters pick what is started —
/// `broker: EmbeddedBroker`, and/or `client: Client` connected to it. The body runs on a
/// multi-threaded tokio runtime and may return `Result<(), E: Debug>`.
///
/// Options: `store = "memory" | "disk"` (a fresh temporary directory, removed after),
/// `flush = "sync" | "async"` (disk), `brokers = N`, `queues = N` (per auto-created topic),
/// `delay_levels = "10ms 20ms ..."`, `manual_clock` (move time with
/// `EmbeddedBroker::advance`), `auto_create_topics = false`, `transaction_check_ms = N`,
/// `crate = "..."`, `broker_crate = "..."`.
///
/// **Against a real cluster.** With `ROCKETMQ_TEST_NAMESRV=host:port` (several separated
/// by `;`), a test that asks only for a `Client` connects to that cluster instead of
/// starting a broker; a test that needs the embedded broker (an `EmbeddedBroker`
/// parameter, or one of the options above other than `queues`) prints `SKIPPED (not run)`
/// with the reason on stderr and passes.
///
/// ```no_run
/// use rocketmq_embedded_broker::EmbeddedBroker;
/// use rocketmq_sdk::prelude::*;
/// use rocketmq_sdk::protocol::{RequestCode, ResponseCode};
///
/// #[rocketmq_sdk::test(delay_levels = "10ms 20ms 30ms")]
/// async fn survives_a_busy_broker(broker: EmbeddedBroker, client: Client) {
///     broker.faults().fail_next(RequestCode::SEND_MESSAGE_V2, 2, ResponseCode::SYSTEM_BUSY);
///     let producer = client.producer("p").start().await.unwrap();
///     producer.send(Message::new("orders", "x")).await.unwrap(); // retried past the faults
///     assert_eq!(broker.messages("orders").unwrap().len(), 1);
/// }
/// # fn main() {}
/// ```
pub use rocketmq_sdk_macros::test;

pub use client::{Client, ClientBuilder, ClientConfig};
pub use consumer::{
    ConsumeContext, ConsumeResult, OrderlyContext, OrderlyResult, PullConsumer, PushConsumer,
};
pub use error::{Error, Result, RetryHint};
pub use producer::{
    Producer, ProducerBuilder, ProducerConfig, SendReceipt, SendStatus, TransactionListener,
    TransactionProducer, TransactionReceipt, TransactionState,
};
