//! Runtime support for the code `rocketmq-sdk-macros` generates. Not a public API: the
//! names here may change in any release; the macros are the interface.

use std::future::Future;
use std::marker::PhantomData;

use async_trait::async_trait;
use tracing::{error, warn};

use crate::consumer::{
    ConsumeContext, ConsumeResult, MessageListener, OrderlyContext, OrderlyListener, OrderlyResult,
    Outcome,
};
use crate::protocol::message::MessageExt;

pub use crate::consumer::{
    ConsumeFrom, DedupeKeyKind, Filter, Handler, IntoOutcome, Listener, ListenerSpec,
};
pub use crate::producer::{IntoTransactionState, JavaHashCode, TypedTransactionListener};
pub use crate::typed::TypedMessage;
pub use futures::future::BoxFuture;
pub use serde;
pub use serde_json;

/// What a listener argument can be decoded into: any JSON-deserializable type, or the raw
/// [`MessageExt`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a listener payload",
    label = "not deserializable from a message body",
    note = "derive `serde::Deserialize` for it (JSON bodies), or take the raw `MessageExt`"
)]
pub trait Payload: Sized + Send + 'static {
    /// Decodes `message`.
    ///
    /// # Errors
    /// The decoding error, as text.
    fn decode(message: &MessageExt) -> Result<Self, String>;
}

impl<T: serde::de::DeserializeOwned + Send + 'static> Payload for T {
    fn decode(message: &MessageExt) -> Result<Self, String> {
        serde_json::from_slice(&message.body).map_err(|e| e.to_string())
    }
}

/// The raw message as a listener argument.
///
/// # Errors
/// Never.
pub fn decode_raw(message: &MessageExt) -> Result<MessageExt, String> {
    Ok(message.clone())
}

/// What to do with a message whose body does not decode (`on_decode_error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeErrorPolicy {
    /// Straight to the dead-letter queue (the default: it can never decode).
    DeadLetter,
    /// Retry on the ladder (a consumer deployed before its producer's schema change).
    Retry,
    /// Acknowledge without running the handler.
    Skip,
}

/// The context types listener functions take.
pub trait Context: Clone + Send + Sync + 'static {
    /// Marks `message` for the dead-letter queue.
    fn dead_letter(&self, message: &MessageExt);
}

impl Context for ConsumeContext {
    fn dead_letter(&self, message: &MessageExt) {
        ConsumeContext::dead_letter(self, message);
    }
}

impl Context for OrderlyContext {
    fn dead_letter(&self, message: &MessageExt) {
        OrderlyContext::dead_letter(self, message);
    }
}

/// Decodes with `decode`; on failure applies `policy`, returning the outcome to answer
/// with instead of running the handler.
fn decode_or<T, C: Context>(
    message: &MessageExt,
    ctx: &C,
    policy: DecodeErrorPolicy,
    listener: &str,
    decode: fn(&MessageExt) -> Result<T, String>,
) -> Result<T, Outcome> {
    decode(message).map_err(|e| match policy {
        DecodeErrorPolicy::DeadLetter => {
            error!(listener, msg_id = %message.msg_id(), error = %e, "payload does not decode; dead-lettering it");
            ctx.dead_letter(message);
            Outcome::Ack
        }
        DecodeErrorPolicy::Retry => {
            warn!(listener, msg_id = %message.msg_id(), error = %e, "payload does not decode; retrying it");
            Outcome::Retry
        }
        DecodeErrorPolicy::Skip => {
            warn!(listener, msg_id = %message.msg_id(), error = %e, "payload does not decode; skipping it");
            Outcome::Ack
        }
    })
}

/// A listener function taking one message at a time.
pub struct Single<T, C, F> {
    name: &'static str,
    policy: DecodeErrorPolicy,
    decode: fn(&MessageExt) -> Result<T, String>,
    f: F,
    _c: PhantomData<fn() -> C>,
}

impl<T, C, F> std::fmt::Debug for Single<T, C, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Single")
            .field("name", &self.name)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<T, C, F> Single<T, C, F> {
    /// Wraps `f`, decoding with `decode`.
    pub fn new(
        name: &'static str,
        policy: DecodeErrorPolicy,
        decode: fn(&MessageExt) -> Result<T, String>,
        f: F,
    ) -> Self {
        Single {
            name,
            policy,
            decode,
            f,
            _c: PhantomData,
        }
    }
}

impl<T, C, F, Fut> Single<T, C, F>
where
    T: Send + 'static,
    C: Context,
    F: Fn(T, C) -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: IntoOutcome,
{
    /// Runs the messages one by one; the first that is not acknowledged decides.
    async fn run(&self, messages: &[MessageExt], ctx: &C) -> Outcome {
        for m in messages {
            let outcome = match decode_or(m, ctx, self.policy, self.name, self.decode) {
                Ok(v) => (self.f)(v, ctx.clone()).await.into_outcome(),
                Err(o) => o,
            };
            match outcome {
                Outcome::Ack => {}
                Outcome::DeadLetter => ctx.dead_letter(m),
                other => return other,
            }
        }
        Outcome::Ack
    }
}

#[async_trait]
impl<T, F, Fut> MessageListener for Single<T, ConsumeContext, F>
where
    T: Send + 'static,
    F: Fn(T, ConsumeContext) -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: IntoOutcome,
{
    async fn consume(&self, messages: &[MessageExt], context: &ConsumeContext) -> ConsumeResult {
        let outcome = self.run(messages, context).await;
        outcome.into_consume_result(messages, context)
    }
}

#[async_trait]
impl<T, F, Fut> OrderlyListener for Single<T, OrderlyContext, F>
where
    T: Send + 'static,
    F: Fn(T, OrderlyContext) -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: IntoOutcome,
{
    async fn consume(&self, messages: &[MessageExt], context: &OrderlyContext) -> OrderlyResult {
        let outcome = self.run(messages, context).await;
        outcome.into_orderly_result(messages, context)
    }
}

/// A listener function taking a batch (`Vec<T>`).
#[derive(Debug)]
pub struct Batch<T, C, F> {
    inner: Single<T, C, F>,
}

impl<T, C, F> Batch<T, C, F> {
    /// Wraps `f`, decoding with `decode`.
    pub fn new(
        name: &'static str,
        policy: DecodeErrorPolicy,
        decode: fn(&MessageExt) -> Result<T, String>,
        f: F,
    ) -> Self {
        Batch {
            inner: Single::new(name, policy, decode, f),
        }
    }
}

impl<T, C, F, Fut> Batch<T, C, F>
where
    T: Send + 'static,
    C: Context,
    F: Fn(Vec<T>, C) -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: IntoOutcome,
{
    /// Decodes every message (the policy handles those that fail), then calls the function
    /// once with the rest; its outcome covers the batch (without the dead-lettered ones).
    async fn run(&self, messages: &[MessageExt], ctx: &C) -> (Outcome, Vec<MessageExt>) {
        let s = &self.inner;
        let mut values = Vec::with_capacity(messages.len());
        let mut covered = Vec::with_capacity(messages.len());
        for m in messages {
            match decode_or(m, ctx, s.policy, s.name, s.decode) {
                Ok(v) => {
                    values.push(v);
                    covered.push(m.clone());
                }
                Err(Outcome::Ack) => {}
                Err(other) => return (other, messages.to_vec()),
            }
        }
        if values.is_empty() {
            return (Outcome::Ack, covered);
        }
        ((s.f)(values, ctx.clone()).await.into_outcome(), covered)
    }
}

#[async_trait]
impl<T, F, Fut> MessageListener for Batch<T, ConsumeContext, F>
where
    T: Send + 'static,
    F: Fn(Vec<T>, ConsumeContext) -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: IntoOutcome,
{
    async fn consume(&self, messages: &[MessageExt], context: &ConsumeContext) -> ConsumeResult {
        let (outcome, covered) = self.run(messages, context).await;
        outcome.into_consume_result(&covered, context)
    }
}

#[async_trait]
impl<T, F, Fut> OrderlyListener for Batch<T, OrderlyContext, F>
where
    T: Send + 'static,
    F: Fn(Vec<T>, OrderlyContext) -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: IntoOutcome,
{
    async fn consume(&self, messages: &[MessageExt], context: &OrderlyContext) -> OrderlyResult {
        let (outcome, covered) = self.run(messages, context).await;
        outcome.into_orderly_result(&covered, context)
    }
}

/// A compile-time check the macros place at the user's tokens, so a wrong type is reported
/// there (with the trait's `on_unimplemented` message).
pub fn assert_typed_message<T: TypedMessage>() {}
