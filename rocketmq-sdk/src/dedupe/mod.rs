//! Idempotent consumption: a [`DedupeGuard`] makes sure a message's handler takes effect
//! once even though RocketMQ delivers at least once.
//!
//! # Semantics
//!
//! Every message maps to a [`DedupeKey`] (its `UNIQ_KEY` by default, see [`KeySource`]),
//! namespaced by consumer group and topic. Before the handler runs, the guard **claims**
//! the key ([`DedupeGuard::begin`]):
//!
//! | state of the key | outcome of a delivery |
//! |---|---|
//! | free (never seen, or its record expired) | the handler runs under a [`Lease`] |
//! | claimed by a live consumer | [`ConsumeOutcome::RetryLater`] (`InProgress`): retried later, never dropped, never run concurrently |
//! | consumed (within the retention period, 24 h by default) | [`ConsumeOutcome::AlreadyConsumed`]: acknowledged without running the handler |
//!
//! * A handler that succeeds **completes** the lease: the key becomes *consumed* for the
//!   retention period. A handler that fails (or panics, or is cancelled) **releases** the
//!   key, so the redelivery runs the handler again.
//! * A claim lasts one lease period (30 s by default) and is **renewed** in the background
//!   every lease/3 while the handler runs ([`lease::LeaseKeeper`]), so a slow handler keeps
//!   its claim for as long as it runs — there is no fixed-expiry hole through which a
//!   duplicate could run concurrently. A consumer that dies stops renewing; its claim
//!   expires after one lease period and the message is taken over by the next delivery.
//! * Every claim carries a random **fencing token**. Renew, complete and release are
//!   compare-and-set on that token, so a stale holder whose claim was taken over can
//!   neither complete nor release the new holder's claim ([`DedupeError::LeaseLost`]).
//! * **Backend errors fail closed**, identically for every backend: when the guard cannot
//!   tell whether a key was consumed, the delivery is not run and is retried later
//!   ([`RetryReason::Backend`]), with an `error` log line. (When the handler already
//!   succeeded and only the consumed-marker write fails, the delivery is acknowledged — a
//!   retry would risk running the handler twice — and the failure is logged.)
//!
//! For handlers whose whole effect is database writes, `sql::SqlGuard::run_in_transaction` (feature `sql`)
//! goes further: the handler receives an open transaction and the consumed-marker commits
//! in that same transaction, so the business writes and the marker commit or roll back
//! together — an exactly-once effect even across crashes.
//!
//! # Backends
//!
//! | backend | feature | notes |
//! |---|---|---|
//! | [`memory::MemoryGuard`] | always | one process; tests; injectable [`memory::Clock`] |
//! | `redis::RedisGuard` | `redis` | `SET NX PX` claim, Lua compare-and-set transitions, TTL retention |
//! | `sql::SqlGuard` | `sql` | PostgreSQL, MySQL/MariaDB, SQLite via sqlx; `migrate()`, `cleanup()`, same-transaction mode |
//!
//! Both `redis` and `sql` are crate features, off by default.
//!
//! # Using it
//!
//! [`Deduplicator`] runs a handler under a guard and returns a [`ConsumeOutcome`] that a
//! consumer maps to acknowledge (`Consumed`, `AlreadyConsumed`) or retry (`RetryLater`,
//! `Failed`):
//!
//! ```
//! use rocketmq_sdk::dedupe::{ConsumeOutcome, Deduplicator, memory::MemoryGuard};
//! use rocketmq_sdk::protocol::message::{Message, MessageExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let dedupe = Deduplicator::builder(MemoryGuard::new(), "billing").build().unwrap();
//!
//! let mut msg = MessageExt::from(Message::new("orders", "order 42 paid"));
//! msg.set_uniq_key("7F0000010000000000000042");
//!
//! let first = dedupe
//!     .run_message(&msg, || async { Ok::<_, std::io::Error>(()) /* charge the card */ })
//!     .await;
//! assert!(matches!(first, ConsumeOutcome::Consumed));
//!
//! // The redelivery is acknowledged without running the handler.
//! let again = dedupe
//!     .run_message(&msg, || async { unreachable!("not run twice"); #[allow(unreachable_code)] Ok::<_, std::io::Error>(()) })
//!     .await;
//! assert!(matches!(again, ConsumeOutcome::AlreadyConsumed));
//! assert!(again.is_ack());
//! # }
//! ```
//!
//! Wiring into a push consumer: `.dedupe(deduplicator)` on the builder
//! ([`PushConsumerDedupeExt`]) or [`Deduplicated::new`] around a concurrent or orderly
//! listener. Elsewhere, call [`Deduplicator::run_message`] (one message) or
//! [`Deduplicator::run_batch`] (stops at the first message that is not acknowledged) and
//! acknowledge when [`ConsumeOutcome::is_ack`] (or [`BatchOutcome::is_ack`]) holds.

mod guard;
pub mod key;
pub mod lease;
mod listener;
pub mod memory;
#[cfg(feature = "redis")]
pub mod redis;
mod runner;
#[cfg(feature = "sql")]
pub mod sql;
mod token;

/// The attribute [`DedupeGuard`] implementations need (the trait is an `async_trait`).
#[doc(no_inline)]
pub use async_trait::async_trait;
pub use guard::{Claim, DedupeError, DedupeGuard, Lease};
pub use key::{DedupeKey, KeySource};
pub use listener::{DedupedPushConsumerBuilder, Deduplicated, PushConsumerDedupeExt};
pub use runner::{
    BatchOutcome, ConsumeOutcome, DEFAULT_OP_TIMEOUT, Deduplicator, DeduplicatorBuilder,
    MissingKeyPolicy, RetryReason,
};
