//! [`Deduplicator`]: runs handlers under a [`DedupeGuard`] and says what the consumer
//! should answer.

use std::future::Future;
use std::panic::{AssertUnwindSafe, resume_unwind};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tracing::{debug, error, warn};

use crate::protocol::message::MessageExt;

use super::guard::{Claim, DedupeError, DedupeGuard, Lease};
use super::key::{DedupeKey, KeySource, key_topic};
use super::lease::{RenewalReport, renew_while};

/// Why a delivery should be retried later without (or before) running its handler.
#[derive(Debug)]
#[non_exhaustive]
pub enum RetryReason {
    /// Another consumer is running the handler for the same key right now.
    InProgress,
    /// The guard's backend failed or did not answer; the guard fails closed.
    Backend(DedupeError),
    /// The message has no usable key and the [`MissingKeyPolicy`] is
    /// [`MissingKeyPolicy::RetryLater`].
    InvalidKey(DedupeError),
    /// Same-transaction mode: the claim was taken over while the handler ran, so its
    /// transaction was rolled back.
    LeaseLost,
}

/// What a consumer should do with a delivery after running it through a guard.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConsumeOutcome<E> {
    /// The handler ran and succeeded: acknowledge.
    Consumed,
    /// The key was consumed before: acknowledge without having run the handler.
    AlreadyConsumed,
    /// Not run (or rolled back): retry the delivery later.
    RetryLater(RetryReason),
    /// The handler ran and failed; the key was released so the retry runs it again.
    Failed(E),
}

impl<E> ConsumeOutcome<E> {
    /// Whether the consumer should acknowledge the delivery (`Consumed` or
    /// `AlreadyConsumed`); otherwise it should retry it.
    pub fn is_ack(&self) -> bool {
        matches!(
            self,
            ConsumeOutcome::Consumed | ConsumeOutcome::AlreadyConsumed
        )
    }

    /// Maps the handler error.
    pub fn map_err<F>(self, f: impl FnOnce(E) -> F) -> ConsumeOutcome<F> {
        match self {
            ConsumeOutcome::Consumed => ConsumeOutcome::Consumed,
            ConsumeOutcome::AlreadyConsumed => ConsumeOutcome::AlreadyConsumed,
            ConsumeOutcome::RetryLater(r) => ConsumeOutcome::RetryLater(r),
            ConsumeOutcome::Failed(e) => ConsumeOutcome::Failed(f(e)),
        }
    }
}

/// The outcomes of [`Deduplicator::run_batch`]: one per message run, in order, up to and
/// including the first one that is not acknowledged.
#[derive(Debug)]
pub struct BatchOutcome<E> {
    outcomes: Vec<ConsumeOutcome<E>>,
    len: usize,
}

impl<E> BatchOutcome<E> {
    /// Whether every message of the batch is acknowledged.
    pub fn is_ack(&self) -> bool {
        self.acked() == self.len
    }

    /// How many leading messages are acknowledged (consumed or already consumed).
    pub fn acked(&self) -> usize {
        self.outcomes.iter().take_while(|o| o.is_ack()).count()
    }

    /// The outcome that stopped the batch, if any.
    pub fn failure(&self) -> Option<&ConsumeOutcome<E>> {
        self.outcomes.iter().find(|o| !o.is_ack())
    }

    /// The outcomes, in message order.
    pub fn outcomes(&self) -> &[ConsumeOutcome<E>] {
        &self.outcomes
    }

    /// The outcomes, in message order.
    pub fn into_outcomes(self) -> Vec<ConsumeOutcome<E>> {
        self.outcomes
    }
}

/// What to do with a message that has no usable dedupe key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MissingKeyPolicy {
    /// Do not run it; retry later (it ends in the DLQ once its retries run out) and log an
    /// error. The default: like backend errors, a missing key fails closed.
    #[default]
    RetryLater,
    /// Run the handler without deduplication, with a warning.
    RunUnguarded,
}

#[derive(Debug)]
struct Inner {
    guard: Arc<dyn DedupeGuard>,
    group: String,
    source: KeySource,
    by_topic: bool,
    missing_key: MissingKeyPolicy,
    op_timeout: Duration,
    complete_attempts: u32,
}

/// Runs handlers under a [`DedupeGuard`]: claim the key, run the handler while renewing
/// the claim, then complete (success) or release (failure) it. Cheap to clone.
///
/// Built with [`Deduplicator::builder`]; see the [module docs](super) for the semantics.
#[derive(Debug, Clone)]
pub struct Deduplicator {
    inner: Arc<Inner>,
}

impl Deduplicator {
    /// A builder for consumer group `group` on `guard`.
    pub fn builder(guard: impl DedupeGuard, group: impl Into<String>) -> DeduplicatorBuilder {
        DeduplicatorBuilder {
            guard: Arc::new(guard),
            group: group.into(),
            source: KeySource::UniqKey,
            by_topic: true,
            missing_key: MissingKeyPolicy::default(),
            op_timeout: DEFAULT_OP_TIMEOUT,
            complete_attempts: 3,
        }
    }

    /// The guard.
    pub fn guard(&self) -> &Arc<dyn DedupeGuard> {
        &self.inner.guard
    }

    /// The consumer group keys are namespaced by.
    pub fn group(&self) -> &str {
        &self.inner.group
    }

    /// The dedupe key of `msg`: `<topic>:<key>` in the group (just `<key>` without topic
    /// namespacing), the key from the [`KeySource`], the topic being the original topic
    /// for a retry message.
    ///
    /// # Errors
    ///
    /// [`DedupeError::MissingKey`] or [`DedupeError::InvalidKey`].
    pub fn key_for(&self, msg: &MessageExt) -> Result<DedupeKey, DedupeError> {
        let raw = self.inner.source.raw_key(msg)?;
        if self.inner.by_topic {
            DedupeKey::with_topic(self.inner.group.clone(), key_topic(msg), &raw)
        } else {
            DedupeKey::new(self.inner.group.clone(), raw)
        }
    }

    /// Runs `handler` for `msg` under the guard, keyed by [`Deduplicator::key_for`]; a
    /// message without a usable key is handled by the [`MissingKeyPolicy`].
    ///
    /// # Cancel safety
    ///
    /// As [`Deduplicator::run`].
    pub async fn run_message<F, Fut, E>(&self, msg: &MessageExt, handler: F) -> ConsumeOutcome<E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        match self.key_for(msg) {
            Ok(key) => self.run(&key, handler).await,
            Err(e) => match self.inner.missing_key {
                MissingKeyPolicy::RunUnguarded => {
                    warn!(msg_id = %msg.msg_id(), error = %e, "no dedupe key; running the handler unguarded");
                    match handler().await {
                        Ok(()) => ConsumeOutcome::Consumed,
                        Err(e) => ConsumeOutcome::Failed(e),
                    }
                }
                MissingKeyPolicy::RetryLater => {
                    error!(msg_id = %msg.msg_id(), error = %e, "no dedupe key; failing closed: the message will be retried");
                    ConsumeOutcome::RetryLater(RetryReason::InvalidKey(e))
                }
            },
        }
    }

    /// Runs `handler` for each message of `msgs` in order under the guard, stopping at the
    /// first message that is not acknowledged (a failed handler, a key in progress
    /// elsewhere, a backend error). Messages before it are consumed (or were already), so
    /// when the consumer retries the whole batch they are acknowledged without running.
    ///
    /// # Cancel safety
    ///
    /// As [`Deduplicator::run`].
    pub async fn run_batch<'m, F, Fut, E>(
        &self,
        msgs: &'m [MessageExt],
        mut handler: F,
    ) -> BatchOutcome<E>
    where
        F: FnMut(&'m MessageExt) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let mut outcomes = Vec::with_capacity(msgs.len());
        for msg in msgs {
            let outcome = self.run_message(msg, || handler(msg)).await;
            let stop = !outcome.is_ack();
            outcomes.push(outcome);
            if stop {
                break;
            }
        }
        BatchOutcome {
            outcomes,
            len: msgs.len(),
        }
    }

    /// Runs `handler` under the guard for `key`:
    ///
    /// 1. claim the key; if it was consumed answer [`ConsumeOutcome::AlreadyConsumed`], if
    ///    another consumer holds it [`RetryReason::InProgress`], if the backend fails
    ///    [`RetryReason::Backend`] (fail closed, logged);
    /// 2. run the handler while the claim is renewed every
    ///    [`DedupeGuard::renew_interval`] ([`renew_while`](super::lease::renew_while), in
    ///    the same task);
    /// 3. on `Ok`, complete the claim (retried up to the configured attempts) and answer
    ///    [`ConsumeOutcome::Consumed`] — also when completing fails, which is logged: the
    ///    handler's effect happened, and retrying the delivery could only run it again;
    /// 4. on `Err`, release the claim and answer [`ConsumeOutcome::Failed`]; on a panic,
    ///    release the claim and resume the panic.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while the handler runs stops the renewal and releases the claim
    /// in a spawned task (when a tokio runtime is there) (so the retry runs the handler again); dropped during the claim
    /// itself, a claim may be left that expires after one lease period.
    pub async fn run<F, Fut, E>(&self, key: &DedupeKey, handler: F) -> ConsumeOutcome<E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let lease = match begin(&self.inner.guard, key, self.inner.op_timeout).await {
            Ok(lease) => lease,
            Err(outcome) => return outcome,
        };
        let mut armed = ReleaseOnDrop::new(&self.inner.guard, &lease, self.inner.op_timeout);
        let (result, report) = renew_while(
            &*self.inner.guard,
            &lease,
            self.inner.guard.renew_interval(),
            self.inner.op_timeout,
            AssertUnwindSafe(async { handler().await }).catch_unwind(),
        )
        .await;
        armed.disarm();
        match result {
            Ok(Ok(())) => {
                self.complete(&lease, report).await;
                ConsumeOutcome::Consumed
            }
            Ok(Err(e)) => {
                release(&self.inner.guard, &lease, self.inner.op_timeout).await;
                ConsumeOutcome::Failed(e)
            }
            Err(panic) => {
                release(&self.inner.guard, &lease, self.inner.op_timeout).await;
                resume_unwind(panic)
            }
        }
    }

    async fn complete(&self, lease: &Lease, report: RenewalReport) {
        let attempts = self.inner.complete_attempts.max(1);
        for attempt in 1..=attempts {
            match timed(self.inner.op_timeout, self.inner.guard.complete(lease)).await {
                Ok(()) => return,
                Err(e) if e.is_lease_lost() => {
                    error!(
                        key = %lease.key(),
                        renewals = report.renewals,
                        renewal_failures = report.failures,
                        "the handler succeeded but its dedupe claim expired and was taken over \
                         (renewal failed for a whole lease period): the message may be processed twice"
                    );
                    return;
                }
                Err(e) if attempt < attempts => {
                    warn!(key = %lease.key(), error = %e, attempt, "recording the consumed marker failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50) * attempt).await;
                }
                Err(e) => {
                    error!(
                        key = %lease.key(),
                        error = %e,
                        "the handler succeeded but the consumed marker could not be recorded; \
                         acknowledging anyway (the claim expires after the lease, then a duplicate \
                         delivery would run again)"
                    );
                }
            }
        }
    }
}

/// Default bound on one guard operation: 10 s.
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(10);

/// Claims `key`, mapping everything but `Proceed` to the outcome to return.
pub(crate) async fn begin<E>(
    guard: &Arc<dyn DedupeGuard>,
    key: &DedupeKey,
    op_timeout: Duration,
) -> Result<Lease, ConsumeOutcome<E>> {
    match timed(op_timeout, guard.begin(key)).await {
        Ok(Claim::Proceed(lease)) => Ok(lease),
        Ok(Claim::AlreadyConsumed) => {
            debug!(key = %key, "duplicate delivery of a consumed message; acknowledging");
            Err(ConsumeOutcome::AlreadyConsumed)
        }
        Ok(Claim::InProgress) => {
            debug!(key = %key, "message in progress elsewhere; retrying later");
            Err(ConsumeOutcome::RetryLater(RetryReason::InProgress))
        }
        Err(e) => {
            error!(key = %key, error = %e, "dedupe guard failed; failing closed: the message will be retried");
            Err(ConsumeOutcome::RetryLater(RetryReason::Backend(e)))
        }
    }
}

/// Releases `lease`, logging failures (the claim then expires after the lease).
pub(crate) async fn release(guard: &Arc<dyn DedupeGuard>, lease: &Lease, op_timeout: Duration) {
    match timed(op_timeout, guard.release(lease)).await {
        Ok(()) => {}
        Err(e) if e.is_lease_lost() => {
            warn!(key = %lease.key(), "releasing a dedupe claim that was already taken over");
        }
        Err(e) => {
            warn!(key = %lease.key(), error = %e, "releasing a dedupe claim failed; it expires after the lease period");
        }
    }
}

pub(crate) async fn timed<T>(
    limit: Duration,
    op: impl Future<Output = Result<T, DedupeError>>,
) -> Result<T, DedupeError> {
    match tokio::time::timeout(limit, op).await {
        Ok(r) => r,
        Err(_) => Err(DedupeError::Timeout(limit)),
    }
}

/// Releases a claim in a spawned task if dropped while armed (the run was cancelled).
pub(crate) struct ReleaseOnDrop {
    armed: Option<(Arc<dyn DedupeGuard>, Lease, Duration)>,
}

impl ReleaseOnDrop {
    pub(crate) fn new(guard: &Arc<dyn DedupeGuard>, lease: &Lease, op_timeout: Duration) -> Self {
        ReleaseOnDrop {
            armed: Some((guard.clone(), lease.clone(), op_timeout)),
        }
    }

    pub(crate) fn disarm(&mut self) {
        self.armed = None;
    }
}

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        if let Some((guard, lease, op_timeout)) = self.armed.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            debug!(key = %lease.key(), "dedupe run cancelled; releasing its claim");
            rt.spawn(async move { release(&guard, &lease, op_timeout).await });
        }
    }
}

/// Builds a [`Deduplicator`].
#[derive(Debug)]
pub struct DeduplicatorBuilder {
    guard: Arc<dyn DedupeGuard>,
    group: String,
    source: KeySource,
    by_topic: bool,
    missing_key: MissingKeyPolicy,
    op_timeout: Duration,
    complete_attempts: u32,
}

impl DeduplicatorBuilder {
    /// Where message keys come from. Default [`KeySource::UniqKey`].
    pub fn key_source(mut self, source: KeySource) -> Self {
        self.source = source;
        self
    }

    /// Whether message keys are namespaced by topic (`<topic>:<key>`). Default true.
    pub fn namespace_by_topic(mut self, yes: bool) -> Self {
        self.by_topic = yes;
        self
    }

    /// What to do with a message without a usable key. Default
    /// [`MissingKeyPolicy::RetryLater`].
    pub fn missing_key(mut self, policy: MissingKeyPolicy) -> Self {
        self.missing_key = policy;
        self
    }

    /// Bound on each guard operation (claim, renew, complete, release); an operation that
    /// takes longer counts as a backend error. Default 10 s.
    pub fn op_timeout(mut self, limit: Duration) -> Self {
        self.op_timeout = limit;
        self
    }

    /// How many times recording the consumed marker is tried after the handler succeeded.
    /// Default 3.
    pub fn complete_attempts(mut self, attempts: u32) -> Self {
        self.complete_attempts = attempts;
        self
    }

    /// The deduplicator.
    ///
    /// # Errors
    ///
    /// [`DedupeError::InvalidKey`] if the group is not a valid consumer group name;
    /// [`DedupeError::Config`] if the operation timeout or attempt count is zero.
    pub fn build(self) -> Result<Deduplicator, DedupeError> {
        DedupeKey::new(self.group.clone(), "-")?;
        if self.op_timeout.is_zero() {
            return Err(DedupeError::Config {
                field: "op_timeout",
                reason: "zero".into(),
            });
        }
        if self.complete_attempts == 0 {
            return Err(DedupeError::Config {
                field: "complete_attempts",
                reason: "zero".into(),
            });
        }
        Ok(Deduplicator {
            inner: Arc::new(Inner {
                guard: self.guard,
                group: self.group,
                source: self.source,
                by_topic: self.by_topic,
                missing_key: self.missing_key,
                op_timeout: self.op_timeout,
                complete_attempts: self.complete_attempts,
            }),
        })
    }
}
