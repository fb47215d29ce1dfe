//! Relay settings and the retry backoff.

use std::time::Duration;

use crate::client::config_error;
use crate::error::Result;
use crate::producer::SendStatus;

/// Exponential backoff with jitter between the attempts of one row.
///
/// After the `n`-th failed attempt the row waits `min(max, base × 2^(n-1))`, of which a
/// random share of up to `jitter` is taken off, so rows that failed together (a broker
/// outage) do not come back together.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Backoff {
    /// Wait after the first failure. Default 5 s.
    pub base: Duration,
    /// Longest wait. Default 5 min.
    pub max: Duration,
    /// Share of the wait taken off at random, `0.0..=1.0`. Default 0.2 (the wait is 80 %
    /// to 100 % of the nominal one).
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(5),
            max: Duration::from_secs(300),
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// A backoff from `base` doubling up to `max`, with the default jitter (0.2).
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            ..Backoff::default()
        }
    }

    /// The same backoff with `jitter` (`0.0..=1.0`).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// The wait after `failures` failed attempts (1 = the first failure), given a random
    /// number `unit` in `0.0..1.0`.
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let exp = failures.saturating_sub(1);
        let nominal = if exp >= 32 {
            self.max
        } else {
            self.base
                .checked_mul(1u32 << exp)
                .map_or(self.max, |d| d.min(self.max))
        };
        let cut = (self.jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0)).min(1.0);
        nominal.mul_f64(1.0 - cut)
    }

    fn validate(&self) -> Result<()> {
        if self.base.is_zero() {
            return Err(config_error("backoff.base", "must be greater than zero"));
        }
        if self.max < self.base {
            return Err(config_error("backoff.max", "must be at least backoff.base"));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(config_error("backoff.jitter", "must be within 0.0..=1.0"));
        }
        Ok(())
    }
}

/// Settings of an [`OutboxRelay`](super::OutboxRelay).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelayConfig {
    /// How often the relay looks for due rows when nobody calls `notify()`. Default 1 s.
    pub poll_interval: Duration,
    /// Rows claimed per round. Default 64.
    pub batch_size: u32,
    /// Sends in flight at once within a round. Default 16.
    pub concurrency: usize,
    /// Attempts before a row is parked and the alert is raised. Default 5.
    pub max_attempts: u32,
    /// Wait between the attempts of a row. Default [`Backoff::default`] (5 s doubling to
    /// 5 min, 20 % jitter).
    pub backoff: Backoff,
    /// How long a claimed row is reserved for the relay that claimed it. If that relay
    /// dies mid-send, other relays take the row over after this long (and it may then be
    /// sent twice). Must exceed the producer's send timeout × ⌈`batch_size` /
    /// `concurrency`⌉ (the longest a row can wait for its send within a round).
    /// Default 60 s.
    pub lease: Duration,
    /// Store statuses that count as sent. [`SendStatus::SendOk`] always does; by default
    /// it is the only one: a FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT or
    /// SLAVE_NOT_AVAILABLE answer is retried (the broker did store the message, so the
    /// retry is a duplicate carrying the same `UNIQ_KEY`).
    pub sent_statuses: Vec<SendStatus>,
    /// Whether a parked row keeps holding back the later rows of its sharding key until
    /// a human requeues or discards it. Default true: per-key order is never broken.
    pub parked_blocks_key: bool,
    /// How often the relay logs the table's counts (pending, sent, parked) as a tracing
    /// event; `None` turns it off. Default 60 s.
    pub metrics_interval: Option<Duration>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            poll_interval: Duration::from_secs(1),
            batch_size: 64,
            concurrency: 16,
            max_attempts: 5,
            backoff: Backoff::default(),
            lease: Duration::from_secs(60),
            sent_statuses: vec![SendStatus::SendOk],
            parked_blocks_key: true,
            metrics_interval: Some(Duration::from_secs(60)),
        }
    }
}

impl RelayConfig {
    /// Checks every field, naming the first bad one.
    ///
    /// # Errors
    /// [`crate::Error::Config`].
    pub fn validate(&self) -> Result<()> {
        if self.poll_interval.is_zero() {
            return Err(config_error("poll_interval", "must be greater than zero"));
        }
        if self.batch_size == 0 || self.batch_size > 10_000 {
            return Err(config_error("batch_size", "must be 1..=10000"));
        }
        if self.concurrency == 0 {
            return Err(config_error("concurrency", "must be at least 1"));
        }
        if self.max_attempts == 0 || self.max_attempts > i32::MAX as u32 {
            return Err(config_error("max_attempts", "must be at least 1"));
        }
        self.backoff.validate()?;
        if self.lease.is_zero() {
            return Err(config_error("lease", "must be greater than zero"));
        }
        if let Some(every) = self.metrics_interval
            && every.is_zero()
        {
            return Err(config_error(
                "metrics_interval",
                "must be greater than zero (None turns it off)",
            ));
        }
        Ok(())
    }

    /// Whether a receipt with `status` counts as sent.
    pub fn counts_as_sent(&self, status: SendStatus) -> bool {
        status == SendStatus::SendOk || self.sent_statuses.contains(&status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_max_with_jitter_below_nominal() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1)).with_jitter(0.5);
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(100));
        assert_eq!(b.delay(2, 0.0), Duration::from_millis(200));
        assert_eq!(b.delay(3, 0.0), Duration::from_millis(400));
        assert_eq!(b.delay(5, 0.0), Duration::from_secs(1));
        assert_eq!(b.delay(200, 0.0), Duration::from_secs(1));
        assert_eq!(b.delay(1, 1.0), Duration::from_millis(50));
        let d = b.delay(2, 0.5);
        assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(200));
    }

    #[test]
    fn defaults_are_valid_and_bad_values_name_the_field() {
        RelayConfig::default().validate().unwrap();
        let field = |c: RelayConfig| match c.validate() {
            Err(crate::Error::Config { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let c = RelayConfig {
            max_attempts: 0,
            ..RelayConfig::default()
        };
        assert_eq!(field(c), "max_attempts");
        let mut c = RelayConfig::default();
        c.backoff.jitter = 1.5;
        assert_eq!(field(c), "backoff.jitter");
        let mut c = RelayConfig::default();
        c.backoff.max = Duration::from_millis(1);
        assert_eq!(field(c), "backoff.max");
        let c = RelayConfig {
            batch_size: 0,
            ..RelayConfig::default()
        };
        assert_eq!(field(c), "batch_size");
    }

    #[test]
    fn only_send_ok_counts_by_default() {
        let mut c = RelayConfig::default();
        assert!(c.counts_as_sent(SendStatus::SendOk));
        assert!(!c.counts_as_sent(SendStatus::FlushDiskTimeout));
        assert!(!c.counts_as_sent(SendStatus::SlaveNotAvailable));
        c.sent_statuses.push(SendStatus::FlushDiskTimeout);
        assert!(c.counts_as_sent(SendStatus::FlushDiskTimeout));
        c.sent_statuses.clear();
        assert!(c.counts_as_sent(SendStatus::SendOk));
    }
}
