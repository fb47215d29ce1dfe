//! What applications implement: [`MessageListener`] for concurrent consumption and
//! [`OrderlyListener`] for orderly consumption, either as a type with an async method or as
//! a closure returning a future.
//!
//! ```
//! use rocketmq_sdk::consumer::{ConsumeContext, ConsumeResult, MessageListener};
//! use rocketmq_sdk::protocol::message::MessageExt;
//!
//! // A closure: owned messages and context; `Ok` acknowledges, `Err` retries later.
//! let closure = |msgs: Vec<MessageExt>, _ctx: ConsumeContext| async move {
//!     if msgs.iter().all(|m| !m.body.is_empty()) { Ok(()) } else { Err("empty body") }
//! };
//!
//! // A type: borrowed messages, explicit result.
//! struct Billing;
//! #[async_trait::async_trait]
//! impl MessageListener for Billing {
//!     async fn consume(&self, msgs: &[MessageExt], ctx: &ConsumeContext) -> ConsumeResult {
//!         if ctx.reconsume_times() > 2 {
//!             ctx.set_delay_level_when_next_consume(5);
//!         }
//!         ConsumeResult::Success
//!     }
//! }
//! # fn takes<L: MessageListener>(_: L) {}
//! # takes(closure);
//! # takes(Billing);
//! ```

use std::fmt::Display;
use std::future::Future;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tracing::warn;

use crate::client::Client;
use crate::protocol::message::{MessageExt, MessageQueue};

/// The outcome of a concurrent listener call (`ConsumeConcurrentlyStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsumeResult {
    /// Consumed: the messages are acknowledged (`CONSUME_SUCCESS`).
    Success,
    /// Not consumed: the messages come back later through `%RETRY%<group>`, on the delay
    /// ladder, up to `max_reconsume_times` times, then go to `%DLQ%<group>`
    /// (`RECONSUME_LATER`). In broadcasting mode a failed message is dropped (logged), as
    /// with the Java client: there is no per-instance retry topic.
    ReconsumeLater,
}

/// The outcome of an orderly listener call (`ConsumeOrderlyStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OrderlyResult {
    /// Consumed: the offset moves past the batch (`SUCCESS`).
    Success,
    /// Not consumed: the queue pauses for the suspend time and the same messages are
    /// delivered again, up to `max_reconsume_times` times
    /// (`SUSPEND_CURRENT_QUEUE_A_MOMENT`).
    SuspendCurrentQueueAMoment,
}

/// What a listener's return value means as a [`ConsumeResult`]: the result itself, or a
/// `Result` whose `Err` (logged) asks for a retry.
pub trait IntoConsumeResult {
    /// The consume result.
    fn into_consume_result(self) -> ConsumeResult;
}

impl IntoConsumeResult for ConsumeResult {
    fn into_consume_result(self) -> ConsumeResult {
        self
    }
}

impl<E: Display> IntoConsumeResult for Result<(), E> {
    fn into_consume_result(self) -> ConsumeResult {
        match self {
            Ok(()) => ConsumeResult::Success,
            Err(e) => {
                warn!(error = %e, "listener failed; the messages will be retried");
                ConsumeResult::ReconsumeLater
            }
        }
    }
}

impl<E: Display> IntoConsumeResult for Result<ConsumeResult, E> {
    fn into_consume_result(self) -> ConsumeResult {
        self.unwrap_or_else(|e| {
            warn!(error = %e, "listener failed; the messages will be retried");
            ConsumeResult::ReconsumeLater
        })
    }
}

/// What a listener's return value means as an [`OrderlyResult`]: the result itself, or
/// a `Result` whose `Err` (logged) suspends the queue.
pub trait IntoOrderlyResult {
    /// The orderly result.
    fn into_orderly_result(self) -> OrderlyResult;
}

impl IntoOrderlyResult for OrderlyResult {
    fn into_orderly_result(self) -> OrderlyResult {
        self
    }
}

impl<E: Display> IntoOrderlyResult for Result<(), E> {
    fn into_orderly_result(self) -> OrderlyResult {
        match self {
            Ok(()) => OrderlyResult::Success,
            Err(e) => {
                warn!(error = %e, "orderly listener failed; the queue is suspended");
                OrderlyResult::SuspendCurrentQueueAMoment
            }
        }
    }
}

impl<E: Display> IntoOrderlyResult for Result<OrderlyResult, E> {
    fn into_orderly_result(self) -> OrderlyResult {
        self.unwrap_or_else(|e| {
            warn!(error = %e, "orderly listener failed; the queue is suspended");
            OrderlyResult::SuspendCurrentQueueAMoment
        })
    }
}

async fn reply_through(
    client: Option<&Client>,
    request: &MessageExt,
    body: bytes::Bytes,
) -> crate::Result<crate::producer::SendReceipt> {
    let Some(client) = client else {
        return Err(crate::client::config_error(
            "context",
            "this context was built by hand and has no client to reply through",
        ));
    };
    crate::producer::Producer::client_inner(client)
        .reply(request, body)
        .await
}

/// The context of a concurrent listener call (`ConsumeConcurrentlyContext`). Cheap to
/// clone; clones share the delay-level choice.
#[derive(Debug, Clone)]
pub struct ConsumeContext(Arc<ConsumeContextInner>);

// One allocation per call; clones (one per message for listener functions) are a count.
#[derive(Debug)]
struct ConsumeContextInner {
    queue: MessageQueue,
    reconsume_times: i32,
    delay_level: AtomicI32,
    dead_letters: DeadLetterMarks,
    /// The consumer's client, for replies; `None` in a context built by hand.
    client: Option<Client>,
}

impl ConsumeContext {
    /// A context for `queue`. The consumer makes one per call; build one yourself to call
    /// a listener directly (in a unit test, say).
    pub fn new(queue: MessageQueue, reconsume_times: i32) -> Self {
        ConsumeContext(Arc::new(ConsumeContextInner {
            queue,
            reconsume_times,
            delay_level: AtomicI32::new(0),
            dead_letters: DeadLetterMarks::default(),
            client: None,
        }))
    }

    /// The context a consumer of `client` makes, able to [reply](ConsumeContext::reply).
    pub(crate) fn for_consumer(queue: MessageQueue, reconsume_times: i32, client: &Client) -> Self {
        ConsumeContext(Arc::new(ConsumeContextInner {
            queue,
            reconsume_times,
            delay_level: AtomicI32::new(0),
            dead_letters: DeadLetterMarks::default(),
            client: Some(client.clone()),
        }))
    }

    /// Answers `request` (one of this call's messages, sent with
    /// [`Producer::request`](crate::producer::Producer::request)) with `body`, through the
    /// consumer's client (producer group `CLIENT_INNER_PRODUCER`). Same as
    /// [`Producer::reply`](crate::producer::Producer::reply) without a producer of your own.
    ///
    /// # Errors
    /// [`Error::InvalidMessage`](crate::Error::InvalidMessage) when `request` is not a
    /// request; [`Error::Config`](crate::Error::Config) for a context built with
    /// [`ConsumeContext::new`] (it has no client); otherwise as
    /// [`Producer::send_reply`](crate::producer::Producer::send_reply).
    ///
    /// # Cancel safety
    /// As [`Producer::send_reply`](crate::producer::Producer::send_reply).
    pub async fn reply(
        &self,
        request: &MessageExt,
        body: impl Into<bytes::Bytes>,
    ) -> crate::Result<crate::producer::SendReceipt> {
        reply_through(self.0.client.as_ref(), request, body.into()).await
    }

    /// Sends `message` (one of this call's) straight to `%DLQ%<group>` once the call
    /// returns, whatever the call's result; the rest of the batch follows the result.
    /// For a message that can never be consumed (it does not decode, say): retrying it
    /// is pointless. In broadcasting mode there is no dead-letter queue: the message is
    /// dropped and logged.
    pub fn dead_letter(&self, message: &MessageExt) {
        self.0.dead_letters.mark(message);
    }

    /// Whether [`ConsumeContext::dead_letter`] was called for `message`.
    pub fn is_dead_lettered(&self, message: &MessageExt) -> bool {
        self.0.dead_letters.contains(message)
    }

    pub(crate) fn dead_letter_marks(&self) -> &DeadLetterMarks {
        &self.0.dead_letters
    }

    /// The queue the messages came from (for a retried message, the retry topic's queue).
    pub fn queue(&self) -> &MessageQueue {
        &self.0.queue
    }

    /// How many times the first message of the batch was delivered before.
    pub fn reconsume_times(&self) -> i32 {
        self.0.reconsume_times
    }

    /// Chooses the delay level of the retry if the call fails
    /// (`delayLevelWhenNextConsume`): 0 (the default) lets the broker use
    /// 3 + reconsume times; a negative level sends the messages straight to the DLQ.
    pub fn set_delay_level_when_next_consume(&self, level: i32) {
        self.0.delay_level.store(level, Ordering::Relaxed);
    }

    /// The delay level chosen for a retry.
    pub fn delay_level_when_next_consume(&self) -> i32 {
        self.0.delay_level.load(Ordering::Relaxed)
    }
}

/// The context of an orderly listener call (`ConsumeOrderlyContext`). Cheap to clone;
/// clones share the suspend-time choice.
#[derive(Debug, Clone)]
pub struct OrderlyContext(Arc<OrderlyContextInner>);

#[derive(Debug)]
struct OrderlyContextInner {
    queue: MessageQueue,
    reconsume_times: i32,
    /// Milliseconds; `u64::MAX` means "the consumer's setting".
    suspend_ms: AtomicU64,
    dead_letters: DeadLetterMarks,
    /// The consumer's client, for replies; `None` in a context built by hand.
    client: Option<Client>,
}

impl OrderlyContext {
    /// A context for `queue`. The consumer makes one per call; build one yourself to call
    /// a listener directly (in a unit test, say).
    pub fn new(queue: MessageQueue, reconsume_times: i32) -> Self {
        OrderlyContext(Arc::new(OrderlyContextInner {
            queue,
            reconsume_times,
            suspend_ms: AtomicU64::new(u64::MAX),
            dead_letters: DeadLetterMarks::default(),
            client: None,
        }))
    }

    /// The context a consumer of `client` makes, able to [reply](OrderlyContext::reply).
    pub(crate) fn for_consumer(queue: MessageQueue, reconsume_times: i32, client: &Client) -> Self {
        OrderlyContext(Arc::new(OrderlyContextInner {
            queue,
            reconsume_times,
            suspend_ms: AtomicU64::new(u64::MAX),
            dead_letters: DeadLetterMarks::default(),
            client: Some(client.clone()),
        }))
    }

    /// Answers `request` with `body`, as [`ConsumeContext::reply`].
    ///
    /// # Errors
    /// As [`ConsumeContext::reply`].
    ///
    /// # Cancel safety
    /// As [`ConsumeContext::reply`].
    pub async fn reply(
        &self,
        request: &MessageExt,
        body: impl Into<bytes::Bytes>,
    ) -> crate::Result<crate::producer::SendReceipt> {
        reply_through(self.0.client.as_ref(), request, body.into()).await
    }

    /// Sends `message` (one of this call's) straight to `%DLQ%<group>` once the call
    /// returns, whatever the call's result, so it no longer holds the queue back. In
    /// broadcasting mode the message is dropped and logged.
    pub fn dead_letter(&self, message: &MessageExt) {
        self.0.dead_letters.mark(message);
    }

    /// Whether [`OrderlyContext::dead_letter`] was called for `message`.
    pub fn is_dead_lettered(&self, message: &MessageExt) -> bool {
        self.0.dead_letters.contains(message)
    }

    pub(crate) fn dead_letter_marks(&self) -> &DeadLetterMarks {
        &self.0.dead_letters
    }

    /// The queue being consumed.
    pub fn queue(&self) -> &MessageQueue {
        &self.0.queue
    }

    /// How many times the first message of the batch was delivered before.
    pub fn reconsume_times(&self) -> i32 {
        self.0.reconsume_times
    }

    /// Overrides how long the queue pauses if this call fails
    /// (`suspendCurrentQueueTimeMillis` of the context).
    pub fn set_suspend_time(&self, time: Duration) {
        let ms = u64::try_from(time.as_millis()).unwrap_or(u64::MAX - 1);
        self.0
            .suspend_ms
            .store(ms.min(u64::MAX - 1), Ordering::Relaxed);
    }

    /// The suspend time chosen by the listener, if any.
    pub fn suspend_time(&self) -> Option<Duration> {
        match self.0.suspend_ms.load(Ordering::Relaxed) {
            u64::MAX => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }
}

/// Messages of one call marked for the dead-letter queue, by queue offset (the messages
/// of a call all come from one queue, so the offset names one of them).
#[derive(Debug, Default)]
pub(crate) struct DeadLetterMarks(Mutex<Vec<i64>>);

impl DeadLetterMarks {
    fn mark(&self, message: &MessageExt) {
        let mut marks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !marks.contains(&message.queue_offset) {
            marks.push(message.queue_offset);
        }
    }

    pub(crate) fn contains(&self, message: &MessageExt) -> bool {
        self.offsets().contains(&message.queue_offset)
    }

    /// The queue offsets marked so far.
    pub(crate) fn offsets(&self) -> Vec<i64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A concurrent listener (`MessageListenerConcurrently`). The messages of one call come
/// from one queue; calls for the same queue may run at the same time.
///
/// A call that panics, or runs past the consumer's `consume_timeout`, counts as
/// [`ConsumeResult::ReconsumeLater`].
#[async_trait]
pub trait MessageListener: Send + Sync + 'static {
    /// Consumes `messages` (at most `consume_batch_max_size`, 1 by default).
    ///
    /// # Cancel safety
    /// The consumer drops the future when the call exceeds `consume_timeout` or the
    /// consumer is dropped without shutdown; the messages are then delivered again, so
    /// work done before the cancellation must be safe to repeat.
    async fn consume(&self, messages: &[MessageExt], context: &ConsumeContext) -> ConsumeResult;
}

#[async_trait]
impl<F, Fut> MessageListener for F
where
    F: Fn(Vec<MessageExt>, ConsumeContext) -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: IntoConsumeResult,
{
    async fn consume(&self, messages: &[MessageExt], context: &ConsumeContext) -> ConsumeResult {
        (self)(messages.to_vec(), context.clone())
            .await
            .into_consume_result()
    }
}

/// An orderly listener (`MessageListenerOrderly`): the messages of a queue are delivered
/// one call at a time, in queue order; a failure holds the queue back until the same
/// messages succeed or exhaust `max_reconsume_times`.
///
/// A call that panics, or runs past the consumer's `consume_timeout`, counts as
/// [`OrderlyResult::SuspendCurrentQueueAMoment`].
#[async_trait]
pub trait OrderlyListener: Send + Sync + 'static {
    /// Consumes `messages` (at most `consume_batch_max_size`, 1 by default).
    ///
    /// # Cancel safety
    /// As [`MessageListener::consume`].
    async fn consume(&self, messages: &[MessageExt], context: &OrderlyContext) -> OrderlyResult;
}

#[async_trait]
impl<F, Fut> OrderlyListener for F
where
    F: Fn(Vec<MessageExt>, OrderlyContext) -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: IntoOrderlyResult,
{
    async fn consume(&self, messages: &[MessageExt], context: &OrderlyContext) -> OrderlyResult {
        (self)(messages.to_vec(), context.clone())
            .await
            .into_orderly_result()
    }
}
