//! The Redis guard: [`RedisGuard`] (feature `redis`).
//!
//! # Data model
//!
//! One string per key, `<prefix><group>:<key>` (the default prefix is
//! `rocketmq:dedupe:`), whose value is `CONSUMING:<token>` while a consumer holds the claim
//! and `CONSUMED:<token>` once it completed. Expiry is Redis's own TTL: the lease period
//! for a claim, the retention period for a consumed record; nothing needs cleaning.
//!
//! # Operations
//!
//! * **claim** — `SET key CONSUMING:<token> NX PX <lease ms>`: atomic; on a miss a `GET`
//!   tells `CONSUMED:*` (already consumed) from `CONSUMING:*` (in progress).
//! * **renew**, **complete**, **release** — Lua scripts ([`RENEW_SCRIPT`],
//!   [`COMPLETE_SCRIPT`], [`RELEASE_SCRIPT`]), each a compare-and-set on the token, run
//!   atomically by Redis (`EVALSHA`, loaded on first use). Every script takes
//!   `KEYS[1]` = the record key and `ARGV[1]` = the token, so it works on Redis Cluster.
//!
//! Keys live in one slot each; the guard works with any
//! [`ConnectionLike`] connection that is `Clone` —
//! [`ConnectionManager`] (reconnects by itself; the default) or a
//! [`MultiplexedConnection`](::redis::aio::MultiplexedConnection).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager};
use ::redis::{Script, cmd};
use async_trait::async_trait;

use super::guard::{Claim, DedupeError, DedupeGuard, Lease, millis, validate_periods};
use super::key::DedupeKey;
use super::memory::{DEFAULT_LEASE, DEFAULT_RETENTION};
use super::token::new_token;

/// The redis-rs crate this guard is built on, for building connections of the same
/// version.
pub use ::redis as client;

/// Default key prefix: `rocketmq:dedupe:`.
pub const DEFAULT_PREFIX: &str = "rocketmq:dedupe:";

/// Renew: `KEYS[1]` record key, `ARGV[1]` token, `ARGV[2]` lease in ms. Extends the TTL to
/// the lease if the value is `CONSUMING:<token>`. Returns 1 if renewed, 0 if the claim is
/// gone or someone else's.
pub const RENEW_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == 'CONSUMING:' .. ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// Complete: `KEYS[1]` record key, `ARGV[1]` token, `ARGV[2]` retention in ms. If the
/// value is `CONSUMING:<token>` or `CONSUMED:<token>` (a repeated complete), or the key is
/// absent (the claim expired and nobody claimed since), sets `CONSUMED:<token>` with the
/// retention as TTL and returns 1; returns 0 if another claim holds the key.
pub const COMPLETE_SCRIPT: &str = r"
local v = redis.call('GET', KEYS[1])
if v == false or v == 'CONSUMING:' .. ARGV[1] or v == 'CONSUMED:' .. ARGV[1] then
  redis.call('SET', KEYS[1], 'CONSUMED:' .. ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

/// Release: `KEYS[1]` record key, `ARGV[1]` token. Deletes the key if the value is
/// `CONSUMING:<token>` and returns 1; returns 2 if the key is absent, 0 if another claim
/// holds it or it was completed.
pub const RELEASE_SCRIPT: &str = r"
local v = redis.call('GET', KEYS[1])
if v == false then
  return 2
end
if v == 'CONSUMING:' .. ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

const CONSUMING: &str = "CONSUMING:";
const CONSUMED: &str = "CONSUMED:";

struct Scripts {
    renew: Script,
    complete: Script,
    release: Script,
}

struct Config {
    prefix: String,
    lease: Duration,
    retention: Duration,
    renew_interval: Duration,
    scripts: Scripts,
}

/// A [`DedupeGuard`] on Redis. Cheap to clone.
#[derive(Clone)]
pub struct RedisGuard<C = ConnectionManager> {
    conn: C,
    config: Arc<Config>,
}

impl<C> fmt::Debug for RedisGuard<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisGuard")
            .field("prefix", &self.config.prefix)
            .field("lease", &self.config.lease)
            .field("retention", &self.config.retention)
            .field("renew_interval", &self.config.renew_interval)
            .finish_non_exhaustive()
    }
}

impl RedisGuard<ConnectionManager> {
    /// Connects to `url` (e.g. `redis://127.0.0.1:6379/`) with a [`ConnectionManager`] and
    /// returns a builder on it.
    ///
    /// # Errors
    ///
    /// [`DedupeError::Redis`] if the URL is invalid or the server cannot be reached.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn connect(url: &str) -> Result<RedisGuardBuilder<ConnectionManager>, DedupeError> {
        let client = ::redis::Client::open(url)?;
        let conn = client.get_connection_manager().await?;
        Ok(RedisGuard::builder(conn))
    }
}

impl<C> RedisGuard<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// A builder on `conn`.
    pub fn builder(conn: C) -> RedisGuardBuilder<C> {
        RedisGuardBuilder {
            conn,
            prefix: DEFAULT_PREFIX.to_owned(),
            lease: DEFAULT_LEASE,
            retention: DEFAULT_RETENTION,
            renew_interval: None,
        }
    }

    /// The Redis key of `key`: `<prefix><group>:<key>`.
    pub fn redis_key(&self, key: &DedupeKey) -> String {
        let mut k = String::with_capacity(
            self.config.prefix.len() + key.group().len() + 1 + key.key().len(),
        );
        k.push_str(&self.config.prefix);
        k.push_str(key.group());
        k.push(':');
        k.push_str(key.key());
        k
    }
}

#[async_trait]
impl<C> DedupeGuard for RedisGuard<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    fn lease_duration(&self) -> Duration {
        self.config.lease
    }

    fn renew_interval(&self) -> Duration {
        self.config.renew_interval
    }

    async fn begin(&self, key: &DedupeKey) -> Result<Claim, DedupeError> {
        let rkey = self.redis_key(key);
        let mut conn = self.conn.clone();
        // A claim can vanish between the failed SET and the GET (released or expired):
        // try again a few times, then answer "in progress" (retry later).
        for _ in 0..3 {
            let token = new_token();
            let set: Option<String> = cmd("SET")
                .arg(&rkey)
                .arg(format!("{CONSUMING}{token}"))
                .arg("NX")
                .arg("PX")
                .arg(millis(self.config.lease))
                .query_async(&mut conn)
                .await?;
            if set.is_some() {
                return Ok(Claim::Proceed(Lease::new(
                    key.clone(),
                    token,
                    self.config.lease,
                )));
            }
            let current: Option<String> = cmd("GET").arg(&rkey).query_async(&mut conn).await?;
            match current {
                None => continue,
                Some(v) if v.starts_with(CONSUMED) => return Ok(Claim::AlreadyConsumed),
                Some(v) if v.starts_with(CONSUMING) => return Ok(Claim::InProgress),
                Some(v) => {
                    return Err(DedupeError::Corrupt(format!(
                        "redis key `{rkey}` holds `{v}`"
                    )));
                }
            }
        }
        Ok(Claim::InProgress)
    }

    async fn renew(&self, lease: &Lease) -> Result<(), DedupeError> {
        let mut conn = self.conn.clone();
        let done: i64 = self
            .config
            .scripts
            .renew
            .key(self.redis_key(lease.key()))
            .arg(lease.token())
            .arg(millis(self.config.lease))
            .invoke_async(&mut conn)
            .await?;
        match done {
            1 => Ok(()),
            _ => Err(DedupeError::LeaseLost(lease.key().clone())),
        }
    }

    async fn complete(&self, lease: &Lease) -> Result<(), DedupeError> {
        let mut conn = self.conn.clone();
        let done: i64 = self
            .config
            .scripts
            .complete
            .key(self.redis_key(lease.key()))
            .arg(lease.token())
            .arg(millis(self.config.retention))
            .invoke_async(&mut conn)
            .await?;
        match done {
            1 => Ok(()),
            _ => Err(DedupeError::LeaseLost(lease.key().clone())),
        }
    }

    async fn release(&self, lease: &Lease) -> Result<(), DedupeError> {
        let mut conn = self.conn.clone();
        let done: i64 = self
            .config
            .scripts
            .release
            .key(self.redis_key(lease.key()))
            .arg(lease.token())
            .invoke_async(&mut conn)
            .await?;
        match done {
            1 | 2 => Ok(()),
            _ => Err(DedupeError::LeaseLost(lease.key().clone())),
        }
    }
}

/// Builds a [`RedisGuard`].
pub struct RedisGuardBuilder<C> {
    conn: C,
    prefix: String,
    lease: Duration,
    retention: Duration,
    renew_interval: Option<Duration>,
}

impl<C> fmt::Debug for RedisGuardBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisGuardBuilder")
            .field("prefix", &self.prefix)
            .field("lease", &self.lease)
            .field("retention", &self.retention)
            .field("renew_interval", &self.renew_interval)
            .finish_non_exhaustive()
    }
}

impl<C> RedisGuardBuilder<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// Prefix of every Redis key. Default `rocketmq:dedupe:`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a claim lasts without renewal (the claim's TTL). Default 30 s; at least
    /// 10 ms.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a consumed record is kept (its TTL). Default 24 h; at least the lease.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// How often a running handler's claim is renewed. Default lease/3.
    pub fn renew_interval(mut self, every: Duration) -> Self {
        self.renew_interval = Some(every);
        self
    }

    /// The guard.
    ///
    /// # Errors
    ///
    /// [`DedupeError::Config`] if the lease is shorter than 10 ms, the retention shorter
    /// than the lease, or the renew interval zero.
    pub fn build(self) -> Result<RedisGuard<C>, DedupeError> {
        validate_periods(self.lease, self.retention, self.renew_interval)?;
        Ok(RedisGuard {
            conn: self.conn,
            config: Arc::new(Config {
                prefix: self.prefix,
                lease: self.lease,
                retention: self.retention,
                renew_interval: self.renew_interval.unwrap_or(self.lease / 3),
                scripts: Scripts {
                    renew: Script::new(RENEW_SCRIPT),
                    complete: Script::new(COMPLETE_SCRIPT),
                    release: Script::new(RELEASE_SCRIPT),
                },
            }),
        })
    }
}
