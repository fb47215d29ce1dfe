//! What a `#[listener]` function returns: `()`, a `Result`, or an explicit [`Outcome`],
//! and how each maps onto the concurrent and orderly consumers' results.

use std::fmt::Display;
use std::time::Duration;

use tracing::warn;

use super::listener::{ConsumeContext, ConsumeResult, OrderlyContext, OrderlyResult};
use crate::protocol::message::MessageExt;

/// An explicit consume outcome, for handlers that need more than success or failure.
///
/// | outcome | concurrent consumer | orderly consumer |
/// |---|---|---|
/// | `Ack` | acknowledged | acknowledged, the queue moves on |
/// | `Retry` | back through `%RETRY%<group>` at delay level 3 + reconsume times | the queue pauses (`suspend_time`), then the same messages again |
/// | `RetryAfter(level)` | as `Retry`, at delay level `level` | as `Retry` (an orderly queue cannot skip ahead; the level is not used) |
/// | `DeadLetter` | straight to `%DLQ%<group>` | straight to `%DLQ%<group>`; the queue moves on |
/// | `Suspend(d)` | as `Retry` (a concurrent consumer has no queue to pause) | the queue pauses for `d`, then the same messages again |
///
/// Each retry counts against `max_reconsume_times`; past it the message is dead-lettered.
/// In broadcasting mode a failed or dead-lettered message is dropped (and logged): there is
/// no per-instance retry or dead-letter topic.
///
/// ```
/// use rocketmq_sdk::consumer::Outcome;
///
/// fn judge(stock: u32) -> Outcome {
///     match stock {
///         0 => Outcome::RetryAfter(5), // 1 minute on the default ladder
///         _ => Outcome::Ack,
///     }
/// }
/// assert_eq!(judge(0), Outcome::RetryAfter(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Consumed.
    Ack,
    /// Not consumed: deliver again later.
    Retry,
    /// Not consumed: deliver again after delay level `n` (1-based, as `messageDelayLevel`).
    RetryAfter(i32),
    /// Never consumable: to the dead-letter queue now.
    DeadLetter,
    /// Orderly: pause the queue for this long, then deliver the same messages again.
    Suspend(Duration),
}

impl Outcome {
    /// Applies the outcome of a concurrent call over `messages`.
    pub(crate) fn into_consume_result(
        self,
        messages: &[MessageExt],
        ctx: &ConsumeContext,
    ) -> ConsumeResult {
        match self {
            Outcome::Ack => ConsumeResult::Success,
            Outcome::Retry | Outcome::Suspend(_) => ConsumeResult::ReconsumeLater,
            Outcome::RetryAfter(level) => {
                ctx.set_delay_level_when_next_consume(level.max(1));
                ConsumeResult::ReconsumeLater
            }
            Outcome::DeadLetter => {
                messages.iter().for_each(|m| ctx.dead_letter(m));
                ConsumeResult::Success
            }
        }
    }

    /// Applies the outcome of an orderly call over `messages`.
    pub(crate) fn into_orderly_result(
        self,
        messages: &[MessageExt],
        ctx: &OrderlyContext,
    ) -> OrderlyResult {
        match self {
            Outcome::Ack => OrderlyResult::Success,
            Outcome::Retry | Outcome::RetryAfter(_) => OrderlyResult::SuspendCurrentQueueAMoment,
            Outcome::Suspend(d) => {
                ctx.set_suspend_time(d);
                OrderlyResult::SuspendCurrentQueueAMoment
            }
            Outcome::DeadLetter => {
                messages.iter().for_each(|m| ctx.dead_letter(m));
                OrderlyResult::Success
            }
        }
    }
}

/// What a listener function may return: `()` (always consumed), `Result<(), E>` (an
/// `Err` is logged and retried), [`Outcome`], or `Result<Outcome, E>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a listener return type",
    label = "a listener returns `()`, `Result<(), E: Display>`, `Outcome` or `Result<Outcome, E: Display>`",
    note = "`Err` values are logged with `Display` and the message is retried"
)]
pub trait IntoOutcome {
    /// The outcome.
    fn into_outcome(self) -> Outcome;
}

impl IntoOutcome for () {
    fn into_outcome(self) -> Outcome {
        Outcome::Ack
    }
}

impl IntoOutcome for Outcome {
    fn into_outcome(self) -> Outcome {
        self
    }
}

impl<E: Display> IntoOutcome for Result<(), E> {
    fn into_outcome(self) -> Outcome {
        self.map(|()| Outcome::Ack).into_outcome()
    }
}

impl<E: Display> IntoOutcome for Result<Outcome, E> {
    fn into_outcome(self) -> Outcome {
        self.unwrap_or_else(|e| {
            warn!(error = %e, "listener failed; the messages will be retried");
            Outcome::Retry
        })
    }
}
