//! The SQL guard: [`SqlGuard`] on PostgreSQL, MySQL/MariaDB or SQLite through sqlx
//! (feature `sql`), with a same-transaction mode.
//!
//! # Table
//!
//! One row per key, created by [`SqlGuard::migrate`] (the statements are
//! [`SqlGuard::ddl`]; the table name defaults to `rocketmq_dedupe`). PostgreSQL:
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS "rocketmq_dedupe" (
//!     consumer_group VARCHAR(255)  NOT NULL,
//!     dedupe_key     VARCHAR(1024) NOT NULL,
//!     status         VARCHAR(16)   NOT NULL,  -- 'CONSUMING' | 'CONSUMED'
//!     token          VARCHAR(64)   NOT NULL,  -- fencing token of the claim
//!     expires_at     BIGINT        NOT NULL,  -- ms since the epoch, database clock
//!     updated_at     BIGINT        NOT NULL,
//!     PRIMARY KEY (consumer_group, dedupe_key)
//! );
//! CREATE INDEX IF NOT EXISTS "rocketmq_dedupe_expires_at" ON "rocketmq_dedupe" (expires_at);
//! ```
//!
//! MySQL/MariaDB uses `VARBINARY(255)` / `VARBINARY(1024)` for the group and key (byte-exact
//! comparison whatever the collation) and an inline `KEY rocketmq_dedupe_expires_at
//! (expires_at)`, `ENGINE = InnoDB`; SQLite uses `TEXT` and `INTEGER`.
//!
//! # Statements
//!
//! Every value is a bound parameter; the table name is validated
//! (`[A-Za-z_][A-Za-z0-9_]*`, optionally `schema.table`) and quoted. Time is the
//! database's clock, so consumers on hosts with skewed clocks agree on expiry.
//!
//! * **claim** — a read answers at once for a live row (`AlreadyConsumed` /
//!   `InProgress`, no write); otherwise one upsert inserts a `CONSUMING` row, or takes over the row if it
//!   expired (an abandoned claim, or a consumed record past retention), atomically under
//!   the row lock: PostgreSQL and SQLite `INSERT … ON CONFLICT … DO UPDATE … WHERE
//!   expires_at <= now RETURNING token`; MySQL `INSERT … ON DUPLICATE KEY UPDATE` with
//!   every assignment conditional on `expires_at <= now`, then a read-back of the token.
//!   If the caller's token did not win, the row's status says `AlreadyConsumed` or
//!   `InProgress`.
//! * **renew** / **complete** / **release** — `UPDATE`/`DELETE … WHERE consumer_group = ?
//!   AND dedupe_key = ? AND token = ?`: compare-and-set on the fencing token.
//! * **cleanup** — `DELETE … WHERE expires_at <= now` ([`SqlGuard::cleanup`], or
//!   periodically with [`SqlGuard::spawn_cleanup`]).
//!
//! # Same-transaction mode
//!
//! [`SqlGuard::run_in_transaction`] hands the handler an open transaction on the guard's
//! pool and writes the consumed marker in that transaction before committing: the business
//! writes and the marker commit together or not at all. The marker write is fenced by the
//! token, so if the claim was taken over meanwhile (renewal failed for a whole lease), the
//! transaction rolls back instead of committing a second effect.

mod dialect;
mod mysql;
mod postgres;
mod sqlite;

use std::fmt;
use std::panic::{AssertUnwindSafe, resume_unwind};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::{Pool, Transaction};
use tokio::task::JoinHandle;
use tracing::{debug, error, warn};

use super::guard::{Claim, DedupeError, DedupeGuard, Lease, millis, validate_periods};
use super::key::DedupeKey;
use super::lease::renew_while;
use super::memory::{DEFAULT_LEASE, DEFAULT_RETENTION};
use super::runner::{self, ConsumeOutcome, DEFAULT_OP_TIMEOUT, ReleaseOnDrop, RetryReason, timed};
use super::token::new_token;
use dialect::{Bind, Dialect, P, Statements, Stmt};

/// The sqlx crate this guard is built on, for building pools of the same version.
pub use ::sqlx as client;

/// Default table name: `rocketmq_dedupe`.
pub const DEFAULT_TABLE: &str = "rocketmq_dedupe";

const CONSUMING: &str = "CONSUMING";
const CONSUMED: &str = "CONSUMED";

mod sealed {
    pub trait Sealed {}
    impl Sealed for sqlx::Postgres {}
    impl Sealed for sqlx::MySql {}
    impl Sealed for sqlx::Sqlite {}
}

/// A database [`SqlGuard`] works on: [`sqlx::Postgres`], [`sqlx::MySql`] (MySQL and
/// MariaDB) or [`sqlx::Sqlite`]. Sealed.
pub trait SqlDialect: Dialect + sealed::Sealed {}

impl SqlDialect for sqlx::Postgres {}
impl SqlDialect for sqlx::MySql {}
impl SqlDialect for sqlx::Sqlite {}

/// A [`SqlGuard`] on PostgreSQL.
pub type PgGuard = SqlGuard<sqlx::Postgres>;
/// A [`SqlGuard`] on MySQL or MariaDB.
pub type MySqlGuard = SqlGuard<sqlx::MySql>;
/// A [`SqlGuard`] on SQLite.
pub type SqliteGuard = SqlGuard<sqlx::Sqlite>;

/// A validated table name, optionally schema-qualified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    schema: Option<String>,
    name: String,
}

impl TableName {
    /// Parses `table` or `schema.table`; each part `[A-Za-z_][A-Za-z0-9_]*`, at most 48
    /// characters (the index name adds a suffix within PostgreSQL's 63).
    ///
    /// # Errors
    ///
    /// [`DedupeError::Config`] for anything else.
    pub fn parse(name: &str) -> Result<Self, DedupeError> {
        let bad = |reason: &str| DedupeError::Config {
            field: "table",
            reason: format!("`{name}`: {reason}"),
        };
        let parts: Vec<&str> = name.split('.').collect();
        if parts.len() > 2 {
            return Err(bad("more than one `.`"));
        }
        for p in &parts {
            let mut bytes = p.bytes();
            match bytes.next() {
                Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
                _ => return Err(bad("each part must start with a letter or `_`")),
            }
            if !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(bad("only letters, digits and `_` are allowed"));
            }
            if p.len() > 48 {
                return Err(bad("a part is longer than 48 characters"));
            }
        }
        Ok(match parts.as_slice() {
            [s, n] => TableName {
                schema: Some((*s).to_owned()),
                name: (*n).to_owned(),
            },
            _ => TableName {
                schema: None,
                name: name.to_owned(),
            },
        })
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

struct Inner<DB: SqlDialect> {
    pool: Pool<DB>,
    table: TableName,
    stmts: Statements,
    lease: Duration,
    retention: Duration,
    renew_interval: Duration,
    op_timeout: Duration,
}

/// A [`DedupeGuard`] on a SQL database. Cheap to clone.
pub struct SqlGuard<DB: SqlDialect> {
    inner: Arc<Inner<DB>>,
}

impl<DB: SqlDialect> Clone for SqlGuard<DB> {
    fn clone(&self) -> Self {
        SqlGuard {
            inner: self.inner.clone(),
        }
    }
}

impl<DB: SqlDialect> fmt::Debug for SqlGuard<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlGuard")
            .field("database", &DB::DISPLAY_NAME)
            .field("table", &self.inner.table.to_string())
            .field("lease", &self.inner.lease)
            .field("retention", &self.inner.retention)
            .field("renew_interval", &self.inner.renew_interval)
            .finish_non_exhaustive()
    }
}

/// Whether a database error is worth retrying at once (deadlock, serialization failure,
/// SQLite busy).
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => matches!(
            db.code().as_deref(),
            Some("40001" | "40P01" | "5" | "6" | "261" | "517")
        ),
        _ => false,
    }
}

impl<DB: SqlDialect> SqlGuard<DB> {
    /// A builder on `pool`.
    pub fn builder(pool: Pool<DB>) -> SqlGuardBuilder<DB> {
        SqlGuardBuilder {
            pool,
            table: DEFAULT_TABLE.to_owned(),
            lease: DEFAULT_LEASE,
            retention: DEFAULT_RETENTION,
            renew_interval: None,
            op_timeout: DEFAULT_OP_TIMEOUT,
        }
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<DB> {
        &self.inner.pool
    }

    /// The table.
    pub fn table(&self) -> &TableName {
        &self.inner.table
    }

    /// The DDL [`SqlGuard::migrate`] runs: `CREATE TABLE IF NOT EXISTS` and the expiry
    /// index, for this guard's database and table.
    pub fn ddl(&self) -> Vec<String> {
        DB::ddl(&self.inner.table)
    }

    /// Creates the table and its index if they do not exist.
    ///
    /// # Errors
    ///
    /// [`DedupeError::Sql`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: every statement is idempotent; run it again.
    pub async fn migrate(&self) -> Result<(), DedupeError> {
        let mut conn = self.inner.pool.acquire().await?;
        for stmt in self.ddl() {
            DB::execute_ddl(&mut conn, &stmt).await?;
        }
        Ok(())
    }

    /// Deletes expired claims and consumed records past retention; returns how many rows.
    ///
    /// # Errors
    ///
    /// [`DedupeError::Sql`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the delete runs or not.
    pub async fn cleanup(&self) -> Result<u64, DedupeError> {
        let mut conn = self.inner.pool.acquire().await?;
        Ok(DB::execute(&mut conn, &self.inner.stmts.cleanup.sql, &[]).await?)
    }

    /// Runs [`SqlGuard::cleanup`] every `every` in a background task (failures are
    /// logged) until the returned handle is dropped. Must be called within a tokio runtime.
    pub fn spawn_cleanup(&self, every: Duration) -> CleanupTask {
        let guard = self.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match guard.cleanup().await {
                    Ok(n) => debug!(rows = n, table = %guard.inner.table, "dedupe cleanup"),
                    Err(e) => {
                        warn!(error = %e, table = %guard.inner.table, "dedupe cleanup failed")
                    }
                }
            }
        });
        CleanupTask { task }
    }

    fn binds<'a>(
        &self,
        stmt: &Stmt,
        key: &'a DedupeKey,
        token: &'a str,
        ms: Duration,
    ) -> Vec<Bind<'a>> {
        stmt.params
            .iter()
            .map(|p| match p {
                P::Group => Bind::Str(key.group()),
                P::Key => Bind::Str(key.key()),
                P::Token => Bind::Str(token),
                P::Ms => Bind::I64(millis(ms)),
            })
            .collect()
    }

    async fn claim_on(
        &self,
        conn: &mut DB::Connection,
        key: &DedupeKey,
    ) -> Result<Claim, DedupeError> {
        let s = &self.inner.stmts;
        let lease = self.inner.lease;
        // Fast path: a live record answers without a write. (A conflicting upsert locks the
        // row, which costs a commit even when it changes nothing.) A stale read is safe:
        // a consumed record only changes by expiring, and "in progress" means retry later.
        let read = self.binds(&s.read, key, "", lease);
        if let Some(r) = DB::fetch_record(conn, &s.read.sql, &read).await?
            && r.expires_at > r.now_ms
        {
            match r.status.as_str() {
                CONSUMED => return Ok(Claim::AlreadyConsumed),
                CONSUMING => return Ok(Claim::InProgress),
                _ => {}
            }
        }
        for attempt in 0..4 {
            let token = new_token();
            let binds = self.binds(&s.claim, key, &token, lease);
            let won = if s.claim_returns_token {
                match DB::fetch_token(conn, &s.claim.sql, &binds).await {
                    Ok(t) => t.is_some_and(|t| t == token),
                    Err(e) if is_transient(&e) && attempt < 3 => continue,
                    Err(e) => return Err(e.into()),
                }
            } else {
                match DB::execute(conn, &s.claim.sql, &binds).await {
                    Ok(_) => false,
                    Err(e) if is_transient(&e) && attempt < 3 => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            if won {
                return Ok(Claim::Proceed(Lease::new(key.clone(), token, lease)));
            }
            let read = self.binds(&s.read, key, &token, lease);
            match DB::fetch_record(conn, &s.read.sql, &read).await? {
                // Released or cleaned between the upsert and the read: claim again.
                None => continue,
                Some(r) if r.token == token && r.status == CONSUMING => {
                    return Ok(Claim::Proceed(Lease::new(key.clone(), token, lease)));
                }
                // Expired between the upsert and the read: claim again.
                Some(r) if r.expires_at <= r.now_ms => continue,
                Some(r) if r.status == CONSUMED => return Ok(Claim::AlreadyConsumed),
                Some(r) if r.status == CONSUMING => return Ok(Claim::InProgress),
                Some(r) => {
                    return Err(DedupeError::Corrupt(format!(
                        "status `{}` for {key} in {}",
                        r.status, self.inner.table
                    )));
                }
            }
        }
        Ok(Claim::InProgress)
    }

    async fn complete_on(
        &self,
        conn: &mut DB::Connection,
        lease: &Lease,
    ) -> Result<(), DedupeError> {
        let s = &self.inner.stmts;
        let retention = self.inner.retention;
        let binds = self.binds(&s.complete, lease.key(), lease.token(), retention);
        if DB::execute(conn, &s.complete.sql, &binds).await? > 0 {
            return Ok(());
        }
        // No row with our token: if there is no row at all (cleaned after expiring, and
        // nobody claimed since), record the key consumed; otherwise it is someone else's.
        let binds = self.binds(&s.insert_consumed, lease.key(), lease.token(), retention);
        if DB::execute(conn, &s.insert_consumed.sql, &binds).await? > 0 {
            return Ok(());
        }
        Err(DedupeError::LeaseLost(lease.key().clone()))
    }

    /// Runs `handler` with an open transaction; the consumed marker is written in that
    /// transaction, so the handler's writes and the marker commit or roll back together.
    ///
    /// 1. The key is claimed as by [`DedupeGuard::begin`] (its own short statement, so a
    ///    concurrent duplicate sees `InProgress` at once instead of waiting on locks);
    ///    `AlreadyConsumed`, `InProgress` and backend errors (fail closed) are answered
    ///    without running the handler.
    /// 2. A transaction is begun on the pool and given to the handler, while the claim is
    ///    renewed in the background.
    /// 3. On `Ok`, the marker is written in the transaction — fenced by the claim's token —
    ///    and the transaction committed: [`ConsumeOutcome::Consumed`]. If the claim was
    ///    taken over meanwhile, the transaction is rolled back instead
    ///    ([`RetryReason::LeaseLost`]); if the marker write or the commit fails, nothing
    ///    was committed, the claim is released and the answer is [`RetryReason::Backend`].
    /// 4. On `Err`, the transaction is rolled back and the claim released:
    ///    [`ConsumeOutcome::Failed`]. On a panic, the same, then the panic resumes.
    ///
    /// The handler must do its writes on the transaction it is given (`&mut **tx` is the
    /// connection) and must not commit it.
    ///
    /// ```no_run
    /// # async fn demo(guard: rocketmq_sdk::dedupe::sql::PgGuard, key: rocketmq_sdk::dedupe::DedupeKey) {
    /// use rocketmq_sdk::dedupe::sql::client as sqlx;
    ///
    /// let outcome = guard
    ///     .run_in_transaction(&key, |tx| {
    ///         Box::pin(async move {
    ///             sqlx::query("UPDATE accounts SET balance = balance - $1 WHERE id = $2")
    ///                 .bind(100_i64)
    ///                 .bind(7_i64)
    ///                 .execute(&mut **tx)
    ///                 .await?;
    ///             Ok::<_, sqlx::Error>(())
    ///         })
    ///     })
    ///     .await;
    /// assert!(outcome.is_ack());
    /// # }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the future rolls the transaction back (nothing was committed) and releases
    /// the claim in a spawned task; dropped during the commit, the outcome is unknown but
    /// atomic: either both the writes and the marker are committed, or neither.
    pub async fn run_in_transaction<F, E>(&self, key: &DedupeKey, handler: F) -> ConsumeOutcome<E>
    where
        F: for<'t> FnOnce(&'t mut Transaction<'static, DB>) -> BoxFuture<'t, Result<(), E>>,
    {
        let op_timeout = self.inner.op_timeout;
        let guard: Arc<dyn DedupeGuard> = Arc::new(self.clone());
        let lease = match runner::begin(&guard, key, op_timeout).await {
            Ok(lease) => lease,
            Err(outcome) => return outcome,
        };
        let mut armed = ReleaseOnDrop::new(&guard, &lease, op_timeout);
        let mut tx = match timed(op_timeout, async { Ok(self.inner.pool.begin().await?) }).await {
            Ok(tx) => tx,
            Err(e) => {
                armed.disarm();
                error!(key = %key, error = %e, "could not begin the dedupe transaction; failing closed: the message will be retried");
                runner::release(&guard, &lease, op_timeout).await;
                return ConsumeOutcome::RetryLater(RetryReason::Backend(e));
            }
        };
        // Renewal runs on other pool connections and has finished when `renew_while`
        // returns — before the marker write, which locks the row a renewal would update.
        let (result, _report) = renew_while(
            self,
            &lease,
            self.inner.renew_interval,
            op_timeout,
            AssertUnwindSafe(async { handler(&mut tx).await }).catch_unwind(),
        )
        .await;
        armed.disarm();
        match result {
            Err(panic) => {
                drop(tx);
                runner::release(&guard, &lease, op_timeout).await;
                resume_unwind(panic)
            }
            Ok(Err(e)) => {
                if let Err(rb) = tx.rollback().await {
                    warn!(key = %key, error = %rb, "rolling back the dedupe transaction failed");
                }
                runner::release(&guard, &lease, op_timeout).await;
                ConsumeOutcome::Failed(e)
            }
            Ok(Ok(())) => {
                let marker = timed(op_timeout, self.complete_on(&mut tx, &lease)).await;
                match marker {
                    Ok(()) => match timed(op_timeout, async { Ok(tx.commit().await?) }).await {
                        Ok(()) => ConsumeOutcome::Consumed,
                        Err(e) => {
                            error!(key = %key, error = %e, "committing the dedupe transaction failed; the message will be retried");
                            runner::release(&guard, &lease, op_timeout).await;
                            ConsumeOutcome::RetryLater(RetryReason::Backend(e))
                        }
                    },
                    Err(e) if e.is_lease_lost() => {
                        let _ = tx.rollback().await;
                        error!(key = %key, "the dedupe claim was taken over while the handler ran; its transaction was rolled back");
                        ConsumeOutcome::RetryLater(RetryReason::LeaseLost)
                    }
                    Err(e) => {
                        let _ = tx.rollback().await;
                        error!(key = %key, error = %e, "writing the consumed marker failed; the transaction was rolled back and the message will be retried");
                        runner::release(&guard, &lease, op_timeout).await;
                        ConsumeOutcome::RetryLater(RetryReason::Backend(e))
                    }
                }
            }
        }
    }
}

#[async_trait]
impl<DB: SqlDialect> DedupeGuard for SqlGuard<DB> {
    fn lease_duration(&self) -> Duration {
        self.inner.lease
    }

    fn renew_interval(&self) -> Duration {
        self.inner.renew_interval
    }

    async fn begin(&self, key: &DedupeKey) -> Result<Claim, DedupeError> {
        let mut conn = self.inner.pool.acquire().await?;
        self.claim_on(&mut conn, key).await
    }

    async fn renew(&self, lease: &Lease) -> Result<(), DedupeError> {
        let s = &self.inner.stmts;
        let mut conn = self.inner.pool.acquire().await?;
        let binds = self.binds(&s.renew, lease.key(), lease.token(), self.inner.lease);
        if DB::execute(&mut conn, &s.renew.sql, &binds).await? > 0 {
            Ok(())
        } else {
            Err(DedupeError::LeaseLost(lease.key().clone()))
        }
    }

    async fn complete(&self, lease: &Lease) -> Result<(), DedupeError> {
        let mut conn = self.inner.pool.acquire().await?;
        self.complete_on(&mut conn, lease).await
    }

    async fn release(&self, lease: &Lease) -> Result<(), DedupeError> {
        let s = &self.inner.stmts;
        let mut conn = self.inner.pool.acquire().await?;
        let binds = self.binds(&s.release, lease.key(), lease.token(), Duration::ZERO);
        if DB::execute(&mut conn, &s.release.sql, &binds).await? > 0 {
            return Ok(());
        }
        let binds = self.binds(&s.read, lease.key(), lease.token(), Duration::ZERO);
        match DB::fetch_record(&mut conn, &s.read.sql, &binds).await? {
            None => Ok(()),
            Some(_) => Err(DedupeError::LeaseLost(lease.key().clone())),
        }
    }
}

/// A background cleanup started by [`SqlGuard::spawn_cleanup`]; dropping it stops it.
#[derive(Debug)]
pub struct CleanupTask {
    task: JoinHandle<()>,
}

impl Drop for CleanupTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Builds a [`SqlGuard`].
pub struct SqlGuardBuilder<DB: SqlDialect> {
    pool: Pool<DB>,
    table: String,
    lease: Duration,
    retention: Duration,
    renew_interval: Option<Duration>,
    op_timeout: Duration,
}

impl<DB: SqlDialect> fmt::Debug for SqlGuardBuilder<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlGuardBuilder")
            .field("database", &DB::DISPLAY_NAME)
            .field("table", &self.table)
            .field("lease", &self.lease)
            .field("retention", &self.retention)
            .field("renew_interval", &self.renew_interval)
            .field("op_timeout", &self.op_timeout)
            .finish_non_exhaustive()
    }
}

impl<DB: SqlDialect> SqlGuardBuilder<DB> {
    /// The table: `name` or `schema.name`. Default `rocketmq_dedupe`.
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// How long a claim lasts without renewal. Default 30 s; at least 10 ms.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a consumed record is kept before [`SqlGuard::cleanup`] may delete it (and
    /// a new delivery of the key runs again). Default 24 h; at least the lease.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// How often a running handler's claim is renewed. Default lease/3.
    pub fn renew_interval(mut self, every: Duration) -> Self {
        self.renew_interval = Some(every);
        self
    }

    /// Bound on each guard operation in [`SqlGuard::run_in_transaction`] (claim, renew,
    /// marker, commit, release). Default 10 s.
    pub fn op_timeout(mut self, limit: Duration) -> Self {
        self.op_timeout = limit;
        self
    }

    /// The guard. Does not touch the database; call [`SqlGuard::migrate`] to create the
    /// table.
    ///
    /// # Errors
    ///
    /// [`DedupeError::Config`] for an invalid table name, a lease shorter than 10 ms, a
    /// retention shorter than the lease, or a zero renew interval or operation timeout.
    pub fn build(self) -> Result<SqlGuard<DB>, DedupeError> {
        validate_periods(self.lease, self.retention, self.renew_interval)?;
        if self.op_timeout.is_zero() {
            return Err(DedupeError::Config {
                field: "op_timeout",
                reason: "zero".into(),
            });
        }
        let table = TableName::parse(&self.table)?;
        Ok(SqlGuard {
            inner: Arc::new(Inner {
                stmts: DB::statements(&table),
                pool: self.pool,
                table,
                lease: self.lease,
                retention: self.retention,
                renew_interval: self.renew_interval.unwrap_or(self.lease / 3),
                op_timeout: self.op_timeout,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        assert!(TableName::parse("rocketmq_dedupe").is_ok());
        assert_eq!(
            TableName::parse("app.dedupe").unwrap().to_string(),
            "app.dedupe"
        );
        for bad in [
            "",
            "1abc",
            "a-b",
            "a.b.c",
            "a;drop table x",
            "a\"b",
            "a`b",
            ".x",
            "x.",
            &"x".repeat(49),
        ] {
            assert!(TableName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    /// Every statement's placeholders match its parameter list: numbered placeholders
    /// (`$n`, `?n`) are exactly 1..=len, plain `?` appear once per parameter; and no value
    /// is ever spliced into the text.
    #[test]
    fn placeholders_match_parameters() {
        fn numbered(sql: &str, sigil: char) -> std::collections::BTreeSet<usize> {
            let mut out = std::collections::BTreeSet::new();
            for (i, c) in sql.char_indices() {
                if c == sigil {
                    let digits: String = sql[i + 1..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    if !digits.is_empty() {
                        out.insert(digits.parse().unwrap());
                    }
                }
            }
            out
        }
        let t = TableName::parse("s.t").unwrap();
        let dialects = [
            ('$', <sqlx::Postgres as Dialect>::statements(&t)),
            ('?', <sqlx::MySql as Dialect>::statements(&t)),
            ('?', <sqlx::Sqlite as Dialect>::statements(&t)),
        ];
        for (sigil, stmts) in dialects {
            for s in [
                &stmts.claim,
                &stmts.read,
                &stmts.renew,
                &stmts.complete,
                &stmts.insert_consumed,
                &stmts.release,
                &stmts.cleanup,
            ] {
                let nums = numbered(&s.sql, sigil);
                if nums.is_empty() {
                    assert_eq!(s.sql.matches('?').count(), s.params.len(), "{}", s.sql);
                } else {
                    let expected: std::collections::BTreeSet<usize> =
                        (1..=s.params.len()).collect();
                    assert_eq!(nums, expected, "{}", s.sql);
                }
                assert!(!s.sql.contains('{'), "{}", s.sql);
            }
        }
    }
}
