//! The relay: claims due rows, sends them, records the outcome.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::alert::{OutboxAlert, TracingAlert};
use super::config::{Backoff, RelayConfig};
use super::error::{OutboxError, OutboxResult};
use super::record::{OutboxRecord, OutboxStatus};
use super::store::{Arg, Claim};
use super::{Outbox, OutboxDatabase};
use crate::error::Error;
use crate::producer::{Producer, SelectByHash, SendStatus};
use crate::protocol::message::id::now_ms;

const TARGET: &str = "rocketmq_sdk::outbox";
/// `last_error` is cut to this many characters.
const MAX_ERROR_CHARS: usize = 2000;
/// Tries of a row update after a send before giving up (the lease then expires and the
/// row is sent again).
const UPDATE_TRIES: u32 = 3;

/// Builds and starts an [`OutboxRelay`]; see [`RelayConfig`] for every default.
pub struct OutboxRelayBuilder<DB: OutboxDatabase> {
    outbox: Outbox<DB>,
    producer: Producer,
    config: RelayConfig,
    alert: Arc<dyn OutboxAlert>,
}

impl<DB: OutboxDatabase> std::fmt::Debug for OutboxRelayBuilder<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRelayBuilder")
            .field("outbox", &self.outbox)
            .field("producer", &self.producer)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<DB: OutboxDatabase> OutboxRelayBuilder<DB> {
    /// A relay of `outbox` sending with `producer`, with [`RelayConfig::default`] and the
    /// [`TracingAlert`].
    pub fn new(outbox: Outbox<DB>, producer: Producer) -> Self {
        OutboxRelayBuilder {
            outbox,
            producer,
            config: RelayConfig::default(),
            alert: Arc::new(TracingAlert),
        }
    }

    /// Poll interval when not notified (default 1 s).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.config.poll_interval = every;
        self
    }

    /// Rows claimed per round (default 64).
    pub fn batch_size(mut self, rows: u32) -> Self {
        self.config.batch_size = rows;
        self
    }

    /// Sends in flight at once (default 16).
    pub fn concurrency(mut self, sends: usize) -> Self {
        self.config.concurrency = sends;
        self
    }

    /// Attempts before a row is parked (default 5).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.config.max_attempts = attempts;
        self
    }

    /// Backoff between attempts (default 5 s doubling to 5 min, 20 % jitter).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// How long a claim reserves its rows (default 60 s; must exceed the producer's send
    /// timeout × ⌈`batch_size` / `concurrency`⌉).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.config.lease = lease;
        self
    }

    /// Also count `status` as sent (by default only SEND_OK is).
    pub fn accept_status(mut self, status: SendStatus) -> Self {
        if !self.config.sent_statuses.contains(&status) {
            self.config.sent_statuses.push(status);
        }
        self
    }

    /// Whether a parked row holds back the later rows of its key (default true).
    pub fn parked_blocks_key(mut self, blocks: bool) -> Self {
        self.config.parked_blocks_key = blocks;
        self
    }

    /// How often the counts are logged; `None` turns it off (default 60 s).
    pub fn metrics_interval(mut self, every: Option<Duration>) -> Self {
        self.config.metrics_interval = every;
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: RelayConfig) -> Self {
        self.config = config;
        self
    }

    /// The hook called for each parked row (default [`TracingAlert`]).
    pub fn alert(mut self, alert: impl OutboxAlert) -> Self {
        self.alert = Arc::new(alert);
        self
    }

    /// The same, for an alert already shared.
    pub fn alert_arc(mut self, alert: Arc<dyn OutboxAlert>) -> Self {
        self.alert = alert;
        self
    }

    /// Validates the settings and starts the relay on the current tokio runtime. It
    /// looks for due rows at once, then every poll interval and on every
    /// [`notify`](OutboxRelay::notify).
    ///
    /// # Errors
    /// [`OutboxError::Sdk`] with [`crate::Error::Config`] naming a bad setting, a lease
    /// included that does not exceed the producer's send timeout ×
    /// ⌈`batch_size` / `concurrency`⌉;
    /// [`OutboxError::RelayTask`] when called outside a tokio runtime.
    pub fn start(self) -> OutboxResult<OutboxRelay> {
        self.config.validate()?;
        // A claimed row may wait for the sends ahead of it in its round before its own:
        // the lease must cover every wave of the round.
        let send_timeout = self.producer.inner.config.send_timeout;
        let waves = (self.config.batch_size as usize).div_ceil(self.config.concurrency);
        let needed = send_timeout.saturating_mul(u32::try_from(waves).unwrap_or(u32::MAX));
        if self.config.lease <= needed {
            return Err(crate::client::config_error(
                "lease",
                format!(
                    "must exceed {needed:?}: the producer's send timeout ({send_timeout:?}) \
                     times ceil(batch_size / concurrency) ({waves})"
                ),
            )
            .into());
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            OutboxError::RelayTask("start() must be called within a tokio runtime".into())
        })?;
        let wake = Arc::new(Notify::new());
        let (stop_tx, stop_rx) = watch::channel(false);
        let table = self.outbox.table();
        let worker = Worker {
            table: table.clone(),
            outbox: self.outbox,
            producer: self.producer,
            config: self.config,
            alert: self.alert,
            wake: Arc::clone(&wake),
            stop: stop_rx,
        };
        tracing::info!(target: TARGET, table = %table, "outbox relay started");
        let task = runtime.spawn(worker.run());
        Ok(OutboxRelay {
            table,
            wake,
            stop: stop_tx,
            task: Some(task),
        })
    }
}

/// A running relay. Dropping it stops it after the batch in flight, like
/// [`shutdown`](Self::shutdown) without the wait.
pub struct OutboxRelay {
    table: String,
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for OutboxRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRelay")
            .field("table", &self.table)
            .field("running", &self.is_running())
            .finish()
    }
}

impl OutboxRelay {
    /// Starts building a relay of `outbox` sending with `producer` (as
    /// [`Outbox::relay`]).
    pub fn builder<DB: OutboxDatabase>(
        outbox: Outbox<DB>,
        producer: Producer,
    ) -> OutboxRelayBuilder<DB> {
        OutboxRelayBuilder::new(outbox, producer)
    }

    /// Wakes the relay now: call it after committing a transaction that enqueued, for
    /// low latency. Wake-ups coalesce; a wake-up during a round runs another round.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// A cheap handle that can only [`notify`](OutboxNotifier::notify), for the code
    /// that commits.
    pub fn notifier(&self) -> OutboxNotifier {
        OutboxNotifier {
            wake: Arc::clone(&self.wake),
        }
    }

    /// Whether the relay task is still running.
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the relay: the round in flight finishes (its sends complete and their
    /// outcomes are recorded), no new round starts.
    ///
    /// # Errors
    /// [`OutboxError::RelayTask`] when the relay task panicked.
    ///
    /// # Cancel safety
    /// Cancel safe: the stop is requested before the first await; dropping the future
    /// only stops waiting for the task to finish.
    pub async fn shutdown(mut self) -> OutboxResult<()> {
        self.stop.send_replace(true);
        match self.task.take() {
            Some(task) => task
                .await
                .map_err(|e| OutboxError::RelayTask(e.to_string())),
            None => Ok(()),
        }
    }
}

impl Drop for OutboxRelay {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Wakes a relay (see [`OutboxRelay::notify`]). Cheap to clone.
#[derive(Debug, Clone)]
pub struct OutboxNotifier {
    wake: Arc<Notify>,
}

impl OutboxNotifier {
    /// Wakes the relay now.
    pub fn notify(&self) {
        self.wake.notify_one();
    }
}

struct Worker<DB: OutboxDatabase> {
    table: String,
    outbox: Outbox<DB>,
    producer: Producer,
    config: RelayConfig,
    alert: Arc<dyn OutboxAlert>,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
}

/// What one round did.
#[derive(Debug, Default)]
struct Round {
    claimed: usize,
    sent: usize,
    retried: usize,
    parked: usize,
    unrecorded: usize,
    /// The earliest retry this round scheduled (ms since the epoch).
    next_retry_ms: Option<i64>,
}

enum Outcome {
    Sent,
    Retry(i64),
    Parked,
    /// The row's update failed or the lease was lost: another relay (or this one, after
    /// the lease) takes it from here.
    Unrecorded,
}

enum Failure {
    /// Retried later, until the attempts run out.
    Transient(String),
    /// Can never succeed: parked at once.
    Permanent(String),
}

impl<DB: OutboxDatabase> Worker<DB> {
    async fn run(mut self) {
        let mut earliest_retry: Option<i64> = None;
        let mut next_metrics = self.config.metrics_interval.map(|_| Instant::now());
        loop {
            if *self.stop.borrow() {
                break;
            }
            let mut wait = self.config.poll_interval;
            let mut more = false;
            match self.round().await {
                Ok(round) => {
                    if round.claimed > 0 {
                        tracing::debug!(
                            target: TARGET,
                            table = %self.table,
                            claimed = round.claimed,
                            sent = round.sent,
                            retried = round.retried,
                            parked = round.parked,
                            unrecorded = round.unrecorded,
                            "outbox relay round"
                        );
                        // Sending a row may have released the next row of its key.
                        more = true;
                    }
                    if let Some(t) = round.next_retry_ms {
                        earliest_retry = Some(earliest_retry.map_or(t, |e| e.min(t)));
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        target: TARGET,
                        table = %self.table,
                        error = %e,
                        "outbox relay round failed; trying again after the poll interval"
                    );
                }
            }
            if let (Some(at), Some(every)) = (next_metrics, self.config.metrics_interval)
                && Instant::now() >= at
            {
                self.log_counts().await;
                next_metrics = Some(Instant::now() + every);
            }
            if more {
                continue;
            }
            if let Some(t) = earliest_retry {
                let until = t.saturating_sub(now_ms());
                if until <= 0 {
                    earliest_retry = None;
                    continue;
                }
                wait = wait.min(Duration::from_millis(until.unsigned_abs()));
            }
            if let Some(at) = next_metrics {
                wait = wait.min(at.saturating_duration_since(Instant::now()));
            }
            tokio::select! {
                _ = self.stop.changed() => {}
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            if earliest_retry.is_some_and(|t| t <= now_ms()) {
                earliest_retry = None;
            }
        }
        tracing::info!(target: TARGET, table = %self.table, "outbox relay stopped");
    }

    async fn log_counts(&self) {
        match self.outbox.counts().await {
            Ok(c) => tracing::info!(
                target: TARGET,
                table = %self.table,
                pending = c.pending,
                sent = c.sent,
                parked = c.parked,
                discarded = c.discarded,
                "outbox counts"
            ),
            Err(e) => tracing::warn!(
                target: TARGET,
                table = %self.table,
                error = %e,
                "outbox counts unavailable"
            ),
        }
    }

    async fn round(&self) -> OutboxResult<Round> {
        let now = now_ms();
        let lease_ms = i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX);
        let claim = Claim {
            now_ms: now,
            lease_until_ms: now.saturating_add(lease_ms),
            token: random_u64() as i64,
            limit: i64::from(self.config.batch_size),
            parked_blocks_key: self.config.parked_blocks_key,
        };
        let rows = DB::claim(self.outbox.pool(), self.outbox.statements(), claim).await?;
        let mut round = Round {
            claimed: rows.len(),
            ..Round::default()
        };
        let outcomes: Vec<Outcome> = futures::stream::iter(rows)
            .map(|row| self.deliver(row, claim.token))
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Outcome::Sent => round.sent += 1,
                Outcome::Retry(at) => {
                    round.retried += 1;
                    round.next_retry_ms = Some(round.next_retry_ms.map_or(at, |t| t.min(at)));
                }
                Outcome::Parked => round.parked += 1,
                Outcome::Unrecorded => round.unrecorded += 1,
            }
        }
        Ok(round)
    }

    /// Sends one claimed row and records the outcome.
    async fn deliver(&self, mut row: OutboxRecord, token: i64) -> Outcome {
        let attempts = row.attempts.saturating_add(1);
        let failure = match self.send(&row).await {
            Ok(msg_id) => {
                let st = self.outbox.statements();
                let args = [
                    Arg::I32(clamp_i32(attempts)),
                    Arg::I64(now_ms()),
                    Arg::Str(&msg_id),
                    Arg::I64(row.id),
                    Arg::I64(token),
                ];
                return match self.update(&st.mark_sent, &args, row.id).await {
                    Some(true) => {
                        tracing::debug!(target: TARGET, id = row.id, attempts, "outbox row sent");
                        Outcome::Sent
                    }
                    _ => Outcome::Unrecorded,
                };
            }
            Err(f) => f,
        };
        let (error, permanent) = match failure {
            Failure::Transient(e) => (e, false),
            Failure::Permanent(e) => (e, true),
        };
        let error = truncate(&error, MAX_ERROR_CHARS);
        let st = self.outbox.statements();
        if permanent || attempts >= self.config.max_attempts {
            let args = [
                Arg::I32(clamp_i32(attempts)),
                Arg::Str(&error),
                Arg::I64(row.id),
                Arg::I64(token),
            ];
            if self.update(&st.mark_parked, &args, row.id).await != Some(true) {
                return Outcome::Unrecorded;
            }
            row.status = OutboxStatus::Parked;
            row.attempts = attempts;
            row.last_error = Some(error);
            let alert = Arc::clone(&self.alert);
            let table = self.table.clone();
            // A panicking alert must not take the relay down with it.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                alert.parked(&table, &row);
            }));
            if outcome.is_err() {
                tracing::error!(target: TARGET, id = row.id, "the outbox alert hook panicked");
            }
            Outcome::Parked
        } else {
            let delay = self.config.backoff.delay(attempts, random_unit());
            let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            let next = now_ms().saturating_add(delay_ms);
            tracing::warn!(
                target: TARGET,
                table = %self.table,
                id = row.id,
                attempts,
                max_attempts = self.config.max_attempts,
                retry_in_ms = delay_ms,
                error = %error,
                "outbox send failed; will retry"
            );
            let args = [
                Arg::I32(clamp_i32(attempts)),
                Arg::I64(next),
                Arg::Str(&error),
                Arg::I64(row.id),
                Arg::I64(token),
            ];
            match self.update(&st.mark_retry, &args, row.id).await {
                Some(true) => Outcome::Retry(next),
                _ => Outcome::Unrecorded,
            }
        }
    }

    /// Sends the row; the client message id on success.
    async fn send(&self, row: &OutboxRecord) -> Result<String, Failure> {
        let message = row
            .message()
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        let sent = match row.shard_key.as_deref() {
            Some(key) => {
                self.producer
                    .send_with_selector(message, &SelectByHash, key)
                    .await
            }
            None => self.producer.send(message).await,
        };
        match sent {
            Ok(receipt) if self.config.counts_as_sent(receipt.status) => Ok(receipt.msg_id),
            Ok(receipt) => Err(Failure::Transient(format!(
                "the broker answered {:?} (stored as {}), not counted as sent",
                receipt.status, receipt.msg_id
            ))),
            Err(e @ Error::InvalidMessage(_)) => Err(Failure::Permanent(e.to_string())),
            Err(e) => Err(Failure::Transient(e.to_string())),
        }
    }

    /// Runs a lease-guarded row update: `Some(true)` when it applied, `Some(false)` when
    /// the lease was lost, `None` when the database kept failing.
    async fn update(&self, sql: &str, args: &[Arg<'_>], id: i64) -> Option<bool> {
        let mut tries = 0;
        loop {
            tries += 1;
            match DB::execute(self.outbox.pool(), sql, args).await {
                Ok(1) => return Some(true),
                Ok(_) => {
                    tracing::warn!(
                        target: TARGET,
                        table = %self.table,
                        id,
                        "outbox row lease lost before its outcome was recorded \
                         (the lease is shorter than a send?)"
                    );
                    return Some(false);
                }
                Err(e) if tries < UPDATE_TRIES => {
                    tracing::warn!(
                        target: TARGET,
                        table = %self.table,
                        id,
                        error = %e,
                        "recording an outbox outcome failed; trying again"
                    );
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(tries))).await;
                }
                Err(e) => {
                    tracing::error!(
                        target: TARGET,
                        table = %self.table,
                        id,
                        error = %e,
                        "recording an outbox outcome failed; the row is retried when its \
                         lease runs out"
                    );
                    return None;
                }
            }
        }
    }
}

fn clamp_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((cut, _)) => s[..cut].to_owned(),
        None => s.to_owned(),
    }
}

// A small xorshift seeded from the std hasher's random keys: enough for lease tokens and
// jitter, and no extra dependency.
fn random_u64() -> u64 {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0x2545_F491_4F6C_DD1D);
            h.finish() | 1
        });
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

/// A random number in `0.0..1.0`.
fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_cut_on_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("hi", 5), "hi");
    }

    #[test]
    fn random_unit_stays_in_range() {
        for _ in 0..1000 {
            let u = random_unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_ne!(random_u64(), random_u64());
    }
}
