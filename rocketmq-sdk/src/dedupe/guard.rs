//! The backend contract: [`DedupeGuard`], [`Claim`], [`Lease`] and [`DedupeError`].

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;

use super::key::DedupeKey;

/// What [`DedupeGuard::begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// The key was free (or its previous claim or record expired) and is now claimed by
    /// the caller: run the handler, then [`DedupeGuard::complete`] or
    /// [`DedupeGuard::release`] the lease.
    Proceed(Lease),
    /// The key was consumed within the retention period: acknowledge without running the
    /// handler.
    AlreadyConsumed,
    /// Another consumer holds a live claim on the key: retry the delivery later.
    InProgress,
}

/// A claim on a key: the key, the claim's fencing token and the lease period.
///
/// Holding a `Lease` proves nothing by itself: every transition is checked against the
/// token the backend stored, so a lease whose claim was taken over is rejected with
/// [`DedupeError::LeaseLost`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    key: DedupeKey,
    token: String,
    duration: Duration,
}

impl Lease {
    /// A lease on `key` with fencing `token`, for `duration`. Backends build leases;
    /// building one by hand is useful to test fencing.
    pub fn new(key: DedupeKey, token: impl Into<String>, duration: Duration) -> Self {
        Lease {
            key,
            token: token.into(),
            duration,
        }
    }

    /// The claimed key.
    pub fn key(&self) -> &DedupeKey {
        &self.key
    }

    /// The fencing token of this claim: unique per claim (128 random bits plus a
    /// process-wide counter). Downstream systems can store it to reject stale writers.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// How long the claim lasts without renewal.
    pub fn duration(&self) -> Duration {
        self.duration
    }
}

/// Why a guard operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DedupeError {
    /// The lease's claim is gone: it expired and another consumer took the key over, or it
    /// was already completed or released. The holder must not act on it any more.
    #[error("lease on `{0}` was lost: the claim expired and was taken over, or was finished")]
    LeaseLost(DedupeKey),
    /// The message has no dedupe key (for example no `KEYS` with [`super::KeySource::Keys`]).
    #[error("the message has no dedupe key ({0})")]
    MissingKey(&'static str),
    /// A group or key is not acceptable to the backends (empty, too long, bad characters).
    #[error("invalid dedupe key: {0}")]
    InvalidKey(String),
    /// A configuration value is invalid; `field` names the builder field.
    #[error("invalid dedupe configuration `{field}`: {reason}")]
    Config {
        /// The builder field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A backend operation did not finish within the operation timeout.
    #[error("dedupe backend did not answer within {0:?}")]
    Timeout(Duration),
    /// The backend stored something this guard did not write (a corrupt or foreign
    /// record).
    #[error("unexpected dedupe record: {0}")]
    Corrupt(String),
    /// A Redis error.
    #[cfg(feature = "redis")]
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    /// A database error.
    #[cfg(feature = "sql")]
    #[error("database: {0}")]
    Sql(#[from] ::sqlx::Error),
    /// An error of another backend (for custom [`DedupeGuard`] implementations).
    #[error("dedupe backend: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl DedupeError {
    /// Whether the error is [`DedupeError::LeaseLost`].
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, DedupeError::LeaseLost(_))
    }

    /// Whether the error is a backend failure (connection, query, timeout) rather than a
    /// verdict about the claim or a configuration problem.
    pub fn is_backend(&self) -> bool {
        match self {
            DedupeError::Timeout(_) | DedupeError::Backend(_) | DedupeError::Corrupt(_) => true,
            #[cfg(feature = "redis")]
            DedupeError::Redis(_) => true,
            #[cfg(feature = "sql")]
            DedupeError::Sql(_) => true,
            _ => false,
        }
    }
}

/// A dedupe store: claims keys, renews, completes and releases claims.
///
/// Implementations must make [`begin`](DedupeGuard::begin) atomic (two concurrent calls on
/// a free key: exactly one gets [`Claim::Proceed`]) and make
/// [`renew`](DedupeGuard::renew), [`complete`](DedupeGuard::complete) and
/// [`release`](DedupeGuard::release) compare-and-set on the lease's token. The
/// [`Deduplicator`](super::Deduplicator) drives a guard; applications rarely call these
/// methods directly.
#[async_trait]
pub trait DedupeGuard: Send + Sync + fmt::Debug + 'static {
    /// How long a claim lasts without renewal.
    fn lease_duration(&self) -> Duration;

    /// How often a running handler's claim is renewed; lease/3 unless configured.
    fn renew_interval(&self) -> Duration {
        self.lease_duration() / 3
    }

    /// Claims `key` if it is free, its claim expired, or its consumed record expired.
    ///
    /// # Errors
    ///
    /// A backend error; the caller must then treat the key as not claimable (fail closed).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: when dropped after the backend applied the claim, the claim is
    /// left without a holder and blocks the key (as [`Claim::InProgress`]) until the lease
    /// period ends.
    async fn begin(&self, key: &DedupeKey) -> Result<Claim, DedupeError>;

    /// Extends the claim to one lease period from now, if the lease still holds it.
    ///
    /// # Errors
    ///
    /// [`DedupeError::LeaseLost`] if the claim was taken over or finished; a backend error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped, the claim is either extended or left as it was.
    async fn renew(&self, lease: &Lease) -> Result<(), DedupeError>;

    /// Marks the key consumed for the retention period, if the lease still holds the
    /// claim (or nobody claimed the key since it expired). Completing a completed lease
    /// again succeeds.
    ///
    /// # Errors
    ///
    /// [`DedupeError::LeaseLost`] if another claim holds the key; a backend error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped, the key is either marked consumed or left claimed; calling
    /// again is fine.
    async fn complete(&self, lease: &Lease) -> Result<(), DedupeError>;

    /// Frees the key so the next delivery runs the handler, if the lease still holds the
    /// claim. Releasing a key that has no record succeeds.
    ///
    /// # Errors
    ///
    /// [`DedupeError::LeaseLost`] if another claim holds the key or the key was completed;
    /// a backend error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped, the key is either released or left claimed until the lease
    /// expires; calling again is fine.
    async fn release(&self, lease: &Lease) -> Result<(), DedupeError>;
}

#[async_trait]
impl<G: DedupeGuard + ?Sized> DedupeGuard for std::sync::Arc<G> {
    fn lease_duration(&self) -> Duration {
        (**self).lease_duration()
    }

    fn renew_interval(&self) -> Duration {
        (**self).renew_interval()
    }

    async fn begin(&self, key: &DedupeKey) -> Result<Claim, DedupeError> {
        (**self).begin(key).await
    }

    async fn renew(&self, lease: &Lease) -> Result<(), DedupeError> {
        (**self).renew(lease).await
    }

    async fn complete(&self, lease: &Lease) -> Result<(), DedupeError> {
        (**self).complete(lease).await
    }

    async fn release(&self, lease: &Lease) -> Result<(), DedupeError> {
        (**self).release(lease).await
    }
}

/// Checks lease and retention settings shared by the backends' builders.
pub(crate) fn validate_periods(
    lease: Duration,
    retention: Duration,
    renew_interval: Option<Duration>,
) -> Result<(), DedupeError> {
    if lease < Duration::from_millis(10) {
        return Err(DedupeError::Config {
            field: "lease",
            reason: format!("{lease:?} is shorter than 10 ms"),
        });
    }
    if retention < lease {
        return Err(DedupeError::Config {
            field: "retention",
            reason: format!("{retention:?} is shorter than the lease ({lease:?})"),
        });
    }
    if u64::try_from(retention.as_millis()).is_err() {
        return Err(DedupeError::Config {
            field: "retention",
            reason: "too long".into(),
        });
    }
    if let Some(r) = renew_interval
        && r.is_zero()
    {
        return Err(DedupeError::Config {
            field: "renew_interval",
            reason: "zero".into(),
        });
    }
    Ok(())
}

/// Milliseconds of `d`, saturated to `i64::MAX`.
#[cfg_attr(not(any(feature = "redis", feature = "sql")), allow(dead_code))]
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        let s = Duration::from_secs(1);
        assert!(validate_periods(s, s, None).is_ok());
        assert!(validate_periods(Duration::from_millis(1), s, None).is_err());
        assert!(validate_periods(s * 2, s, None).is_err());
        assert!(validate_periods(s, s, Some(Duration::ZERO)).is_err());
        assert_eq!(millis(Duration::from_millis(1500)), 1500);
        assert_eq!(millis(Duration::MAX), i64::MAX);
    }
}
