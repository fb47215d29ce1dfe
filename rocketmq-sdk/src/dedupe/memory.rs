//! An in-process guard: [`MemoryGuard`], with the same semantics as the shared backends
//! (leases, renewal, fencing, retention) on an injectable [`Clock`].
//!
//! It deduplicates only within one process, so it suits tests, single-instance consumers
//! and broadcasting consumers; use the Redis or SQL guard when several processes consume
//! the same group.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use super::guard::{Claim, DedupeError, DedupeGuard, Lease, validate_periods};
use super::key::DedupeKey;
use super::token::new_token;

/// Default lease period of every guard: 30 s.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// Default retention of consumed records of every guard: 24 h.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// A monotonic time source for [`MemoryGuard`].
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Time elapsed since an arbitrary, fixed origin.
    fn now(&self) -> Duration;
}

/// The default clock: tokio's [`Instant`](tokio::time::Instant), so a test runtime with
/// paused time (`#[tokio::test(start_paused = true)]`, `tokio::time::advance`) controls
/// both lease expiry and lease renewal.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        TokioClock {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        TokioClock::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.origin)
    }
}

/// A clock that moves only when told to. Clones share the time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    now: Arc<Mutex<Duration>>,
}

impl ManualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        ManualClock::default()
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.saturating_add(d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Consuming,
    Consumed,
}

#[derive(Debug)]
struct Entry {
    status: Status,
    token: String,
    expires_at: Duration,
}

type Entries = Arc<Mutex<HashMap<DedupeKey, Entry>>>;

#[derive(Debug)]
struct Inner {
    entries: Entries,
    lease: Duration,
    retention: Duration,
    renew_interval: Duration,
    clock: Arc<dyn Clock>,
}

/// An in-memory [`DedupeGuard`]. Cheap to clone; clones share the records.
///
/// Expired records are removed by [`MemoryGuard::cleanup`] and, amortised, while claiming.
#[derive(Debug, Clone)]
pub struct MemoryGuard {
    inner: Arc<Inner>,
}

impl Default for MemoryGuard {
    fn default() -> Self {
        MemoryGuard::new()
    }
}

impl MemoryGuard {
    /// A guard with the defaults: 30 s lease, renewal every lease/3, 24 h retention,
    /// [`TokioClock`].
    pub fn new() -> Self {
        MemoryGuardBuilder::default()
            .build()
            .expect("the defaults are valid")
    }

    /// A builder.
    pub fn builder() -> MemoryGuardBuilder {
        MemoryGuardBuilder::default()
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<DedupeKey, Entry>> {
        self.inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes expired claims and consumed records; returns how many.
    pub fn cleanup(&self) -> usize {
        let now = self.inner.clock.now();
        let mut entries = self.entries();
        let before = entries.len();
        entries.retain(|_, e| e.expires_at > now);
        before - entries.len()
    }

    /// How many records (live or expired, not yet cleaned) the guard holds.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether the guard holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl DedupeGuard for MemoryGuard {
    fn lease_duration(&self) -> Duration {
        self.inner.lease
    }

    fn renew_interval(&self) -> Duration {
        self.inner.renew_interval
    }

    async fn begin(&self, key: &DedupeKey) -> Result<Claim, DedupeError> {
        let now = self.inner.clock.now();
        let mut entries = self.entries();
        if let Some(e) = entries.get(key)
            && e.expires_at > now
        {
            return Ok(match e.status {
                Status::Consumed => Claim::AlreadyConsumed,
                Status::Consuming => Claim::InProgress,
            });
        }
        // Amortised cleanup: sweep expired records whenever the map reaches another
        // multiple of 4096 entries.
        if entries.len() % 4096 == 4095 {
            entries.retain(|_, e| e.expires_at > now);
        }
        let token = new_token();
        entries.insert(
            key.clone(),
            Entry {
                status: Status::Consuming,
                token: token.clone(),
                expires_at: now.saturating_add(self.inner.lease),
            },
        );
        Ok(Claim::Proceed(Lease::new(
            key.clone(),
            token,
            self.inner.lease,
        )))
    }

    async fn renew(&self, lease: &Lease) -> Result<(), DedupeError> {
        let now = self.inner.clock.now();
        let mut entries = self.entries();
        match entries.get_mut(lease.key()) {
            Some(e) if e.token == lease.token() && e.status == Status::Consuming => {
                e.expires_at = now.saturating_add(self.inner.lease);
                Ok(())
            }
            _ => Err(DedupeError::LeaseLost(lease.key().clone())),
        }
    }

    async fn complete(&self, lease: &Lease) -> Result<(), DedupeError> {
        let now = self.inner.clock.now();
        let mut entries = self.entries();
        match entries.get_mut(lease.key()) {
            Some(e) if e.token == lease.token() => {
                e.status = Status::Consumed;
                e.expires_at = now.saturating_add(self.inner.retention);
                Ok(())
            }
            Some(_) => Err(DedupeError::LeaseLost(lease.key().clone())),
            None => {
                entries.insert(
                    lease.key().clone(),
                    Entry {
                        status: Status::Consumed,
                        token: lease.token().to_owned(),
                        expires_at: now.saturating_add(self.inner.retention),
                    },
                );
                Ok(())
            }
        }
    }

    async fn release(&self, lease: &Lease) -> Result<(), DedupeError> {
        let mut entries = self.entries();
        match entries.get(lease.key()) {
            Some(e) if e.token == lease.token() && e.status == Status::Consuming => {
                entries.remove(lease.key());
                Ok(())
            }
            Some(_) => Err(DedupeError::LeaseLost(lease.key().clone())),
            None => Ok(()),
        }
    }
}

/// Builds a [`MemoryGuard`].
#[derive(Debug, Clone)]
pub struct MemoryGuardBuilder {
    lease: Duration,
    retention: Duration,
    renew_interval: Option<Duration>,
    clock: Arc<dyn Clock>,
    entries: Option<Entries>,
}

impl Default for MemoryGuardBuilder {
    fn default() -> Self {
        MemoryGuardBuilder {
            lease: DEFAULT_LEASE,
            retention: DEFAULT_RETENTION,
            renew_interval: None,
            clock: Arc::new(TokioClock::new()),
            entries: None,
        }
    }
}

impl MemoryGuardBuilder {
    /// How long a claim lasts without renewal. Default 30 s; at least 10 ms.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a consumed record is kept. Default 24 h; at least the lease.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// How often a running handler's claim is renewed. Default lease/3.
    pub fn renew_interval(mut self, every: Duration) -> Self {
        self.renew_interval = Some(every);
        self
    }

    /// The time source. Default [`TokioClock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Shares the records of `other` (and its clock) instead of starting empty: guards
    /// with different settings on one store, like consumers of one shared backend.
    /// Default: a new, empty store.
    pub fn shared_with(mut self, other: &MemoryGuard) -> Self {
        self.entries = Some(other.inner.entries.clone());
        self.clock = other.inner.clock.clone();
        self
    }

    /// The guard.
    ///
    /// # Errors
    ///
    /// [`DedupeError::Config`] if the lease is shorter than 10 ms, the retention shorter
    /// than the lease, or the renew interval zero.
    pub fn build(self) -> Result<MemoryGuard, DedupeError> {
        validate_periods(self.lease, self.retention, self.renew_interval)?;
        Ok(MemoryGuard {
            inner: Arc::new(Inner {
                entries: self.entries.unwrap_or_default(),
                lease: self.lease,
                retention: self.retention,
                renew_interval: self.renew_interval.unwrap_or(self.lease / 3),
                clock: self.clock,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> DedupeKey {
        DedupeKey::new("g", k).unwrap()
    }

    #[tokio::test]
    async fn transitions_and_cleanup() {
        let clock = ManualClock::new();
        let g = MemoryGuard::builder()
            .lease(Duration::from_secs(10))
            .retention(Duration::from_secs(100))
            .clock(clock.clone())
            .build()
            .unwrap();
        let Claim::Proceed(lease) = g.begin(&key("a")).await.unwrap() else {
            panic!("free key not claimed")
        };
        assert_eq!(g.begin(&key("a")).await.unwrap(), Claim::InProgress);
        g.complete(&lease).await.unwrap();
        g.complete(&lease).await.unwrap(); // idempotent
        assert_eq!(g.begin(&key("a")).await.unwrap(), Claim::AlreadyConsumed);
        assert!(g.release(&lease).await.unwrap_err().is_lease_lost());
        assert!(g.renew(&lease).await.unwrap_err().is_lease_lost());
        clock.advance(Duration::from_secs(100));
        assert_eq!(g.cleanup(), 1);
        assert!(g.is_empty());
        assert!(matches!(
            g.begin(&key("a")).await.unwrap(),
            Claim::Proceed(_)
        ));
    }

    #[test]
    fn bad_config() {
        assert!(
            MemoryGuard::builder()
                .lease(Duration::from_millis(5))
                .build()
                .is_err()
        );
    }
}
