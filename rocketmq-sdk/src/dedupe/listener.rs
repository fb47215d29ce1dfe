//! Wiring a [`Deduplicator`] into push consumers: [`Deduplicated`] wraps a concurrent or
//! orderly listener, and [`PushConsumerDedupeExt::dedupe`] does it on the builder.
//!
//! ```no_run
//! # async fn demo(client: rocketmq_sdk::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use rocketmq_sdk::consumer::ConsumeContext;
//! use rocketmq_sdk::dedupe::{Deduplicator, PushConsumerDedupeExt, memory::MemoryGuard};
//! use rocketmq_sdk::protocol::message::MessageExt;
//!
//! let dedupe = Deduplicator::builder(MemoryGuard::new(), "billing").build()?;
//! let consumer = client
//!     .push_consumer("billing")
//!     .subscribe("orders", "*")
//!     .dedupe(dedupe)
//!     .start(|msgs: Vec<MessageExt>, _ctx: ConsumeContext| async move {
//!         // Runs once per message, whatever the redeliveries.
//!         # let _ = msgs;
//!         Ok::<(), std::io::Error>(())
//!     })
//!     .await?;
//! # consumer.shutdown().await; Ok(()) }
//! ```

use async_trait::async_trait;

use crate::consumer::{
    ConsumeContext, ConsumeResult, MessageListener, OrderlyContext, OrderlyListener, OrderlyResult,
    PushConsumer, PushConsumerBuilder,
};
use crate::error::Result;
use crate::protocol::message::MessageExt;

use super::runner::Deduplicator;

/// A listener whose messages run through a [`Deduplicator`].
///
/// Each message of a call is run on its own, in order, under the guard: the inner
/// listener is called with a one-message slice (and the call's context) for every message
/// not consumed before. The call stops at the first message that is not acknowledged — the
/// inner listener failed, the key is in progress on another consumer, or the guard's
/// backend failed (fail closed) — and answers `ReconsumeLater` (concurrent) or
/// `SuspendCurrentQueueAMoment` (orderly); the messages consumed before it are recorded, so
/// the redelivered batch skips them.
///
/// A duplicate that finds its key in progress elsewhere goes back on the consumer's normal
/// retry ladder (each retry counts against `max_reconsume_times`), never dropped.
#[derive(Debug, Clone)]
pub struct Deduplicated<L> {
    listener: L,
    dedupe: Deduplicator,
}

impl<L> Deduplicated<L> {
    /// Wraps `listener`.
    pub fn new(listener: L, dedupe: Deduplicator) -> Self {
        Deduplicated { listener, dedupe }
    }

    /// The deduplicator.
    pub fn deduplicator(&self) -> &Deduplicator {
        &self.dedupe
    }

    /// The wrapped listener.
    pub fn into_inner(self) -> L {
        self.listener
    }
}

/// The inner listener did not consume a message.
#[derive(Debug)]
struct NotConsumed;

#[async_trait]
impl<L: MessageListener> MessageListener for Deduplicated<L> {
    async fn consume(&self, messages: &[MessageExt], context: &ConsumeContext) -> ConsumeResult {
        let outcome = self
            .dedupe
            .run_batch(messages, |m| async move {
                match self
                    .listener
                    .consume(std::slice::from_ref(m), context)
                    .await
                {
                    ConsumeResult::Success => Ok(()),
                    _ => Err(NotConsumed),
                }
            })
            .await;
        if outcome.is_ack() {
            ConsumeResult::Success
        } else {
            ConsumeResult::ReconsumeLater
        }
    }
}

#[async_trait]
impl<L: OrderlyListener> OrderlyListener for Deduplicated<L> {
    async fn consume(&self, messages: &[MessageExt], context: &OrderlyContext) -> OrderlyResult {
        let outcome = self
            .dedupe
            .run_batch(messages, |m| async move {
                match self
                    .listener
                    .consume(std::slice::from_ref(m), context)
                    .await
                {
                    OrderlyResult::Success => Ok(()),
                    _ => Err(NotConsumed),
                }
            })
            .await;
        if outcome.is_ack() {
            OrderlyResult::Success
        } else {
            OrderlyResult::SuspendCurrentQueueAMoment
        }
    }
}

/// Adds `.dedupe(deduplicator)` to [`PushConsumerBuilder`].
pub trait PushConsumerDedupeExt {
    /// Runs every message the consumer's listener gets through `dedupe` (see
    /// [`Deduplicated`]). The deduplicator's group namespaces the keys; use the consumer
    /// group.
    fn dedupe(self, dedupe: Deduplicator) -> DedupedPushConsumerBuilder;
}

impl PushConsumerDedupeExt for PushConsumerBuilder {
    fn dedupe(self, dedupe: Deduplicator) -> DedupedPushConsumerBuilder {
        DedupedPushConsumerBuilder {
            builder: self,
            dedupe,
        }
    }
}

/// A [`PushConsumerBuilder`] whose listener will be [`Deduplicated`].
#[derive(Debug)]
pub struct DedupedPushConsumerBuilder {
    builder: PushConsumerBuilder,
    dedupe: Deduplicator,
}

impl DedupedPushConsumerBuilder {
    /// [`PushConsumerBuilder::start`] with the listener deduplicated.
    ///
    /// # Errors
    ///
    /// As [`PushConsumerBuilder::start`].
    ///
    /// # Cancel safety
    ///
    /// As [`PushConsumerBuilder::start`].
    pub async fn start<L: MessageListener>(self, listener: L) -> Result<PushConsumer> {
        self.builder
            .start(Deduplicated::new(listener, self.dedupe))
            .await
    }

    /// [`PushConsumerBuilder::start_orderly`] with the listener deduplicated.
    ///
    /// # Errors
    ///
    /// As [`PushConsumerBuilder::start_orderly`].
    ///
    /// # Cancel safety
    ///
    /// As [`PushConsumerBuilder::start_orderly`].
    pub async fn start_orderly<L: OrderlyListener>(self, listener: L) -> Result<PushConsumer> {
        self.builder
            .start_orderly(Deduplicated::new(listener, self.dedupe))
            .await
    }
}
