//! Reliable sending: a transactional outbox (local message table) and its relay.
//!
//! Available with the crate feature **`sql`** (off by default), on [sqlx] for
//! PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! The business code writes the message into a table of its own database **in the same
//! transaction** as the business change ([`Outbox::enqueue`]). If the transaction rolls
//! back, the message never existed; if it commits, an [`OutboxRelay`] sends it, marks the
//! row sent when the broker answers SEND_OK, retries failures with exponential backoff,
//! and after the last attempt parks the row and raises an [`OutboxAlert`] for a human,
//! who can [`requeue`](Outbox::requeue) or [`discard`](Outbox::discard) it. Unlike
//! transactional messages, this keeps working when the broker — or the whole MQ — is
//! down at the moment the business transaction commits: the rows wait in the table.
//!
//! ```no_run
//! # async fn demo(pool: sqlx::PgPool, producer: rocketmq_sdk::Producer)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! use rocketmq_sdk::outbox::Outbox;
//! use rocketmq_sdk::protocol::message::Message;
//!
//! let outbox = Outbox::new(pool.clone());
//! outbox.migrate().await?;
//! let relay = outbox.relay(producer).start()?;
//!
//! let mut tx = pool.begin().await?;
//! sqlx::query("UPDATE orders SET state = 'paid' WHERE id = $1")
//!     .bind(42_i64)
//!     .execute(&mut *tx)
//!     .await?;
//! let mut message = Message::new("order-events", r#"{"order":42,"state":"paid"}"#);
//! message.set_sharding_key("order-42"); // same key: sent in order, to one queue
//! outbox.enqueue(&mut tx, message).await?;
//! tx.commit().await?;
//! relay.notify(); // send now rather than at the next poll
//!
//! relay.shutdown().await?; // finishes the batch in flight
//! # Ok(()) }
//! ```
//!
//! # Guarantees
//!
//! * **At least once.** A committed row is sent until the broker accepts it or it is
//!   parked. In normal operation it is sent exactly once; it can be sent twice when the
//!   broker stored it but the answer was lost (a timeout, a non-OK status not counted as
//!   sent) or when a relay died after sending but before marking the row. Every send of a
//!   row carries the same client message id (`UNIQ_KEY`, fixed at enqueue time and stored
//!   in `msg_id`), so consumers can deduplicate on it.
//! * **Per-key order.** Rows with a sharding key (`Message::set_sharding_key`) are sent
//!   in id order, one at a time per key, with the hash selector so they share a queue: a
//!   row is not claimed while an earlier row of its key is still pending (or parked, see
//!   [`RelayConfig::parked_blocks_key`]). Rows without a key are sent concurrently, in no
//!   particular order. Ids follow insert order, so business transactions that must be
//!   ordered should serialize on the business row (they usually do).
//! * **Several relays.** Any number of relays (processes) can serve one table. A claim
//!   leases rows (`next_attempt_at` moves to the lease's end, `lease_token` names the
//!   claim): with `FOR UPDATE SKIP LOCKED` on PostgreSQL and MySQL 8 / MariaDB ≥ 10.6,
//!   and with one atomic `UPDATE … RETURNING` on SQLite. A relay that dies mid-batch
//!   leaves its rows to the others once the lease runs out ([`RelayConfig::lease`]).
//!
//! # The table
//!
//! [`Outbox::migrate`] creates it (`CREATE … IF NOT EXISTS`, so it is idempotent);
//! [`Outbox::ddl`] returns the same statements for migration tools. The default name is
//! `rocketmq_outbox`; [`Outbox::with_table`] takes `table` or `schema.table`, each part
//! `[a-z_][a-z0-9_]*`. Times are milliseconds since the Unix epoch (UTC), taken from the
//! relay's clock. The PostgreSQL form:
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS "rocketmq_outbox" (
//!     id              BIGSERIAL PRIMARY KEY,
//!     topic           VARCHAR(255) NOT NULL,
//!     tags            TEXT,                    -- copy of the TAGS property
//!     msg_keys        TEXT,                    -- copy of the KEYS property
//!     shard_key       VARCHAR(255),            -- __SHARDINGKEY: per-key order
//!     flag            INTEGER NOT NULL DEFAULT 0,
//!     properties      TEXT NOT NULL,           -- every property, as a JSON object
//!     body            BYTEA NOT NULL,
//!     status          VARCHAR(16) NOT NULL DEFAULT 'pending', -- pending|sent|parked|discarded
//!     attempts        INTEGER NOT NULL DEFAULT 0,
//!     next_attempt_at BIGINT NOT NULL,         -- due time, or lease end while claimed
//!     lease_token     BIGINT,                  -- the claim holding the row
//!     last_error      TEXT,
//!     created_at      BIGINT NOT NULL,
//!     sent_at         BIGINT,
//!     msg_id          VARCHAR(128)             -- UNIQ_KEY, set at enqueue
//! );
//! CREATE INDEX IF NOT EXISTS "rocketmq_outbox_claim_idx"
//!     ON "rocketmq_outbox" (status, next_attempt_at, id);
//! CREATE INDEX IF NOT EXISTS "rocketmq_outbox_shard_idx"
//!     ON "rocketmq_outbox" (shard_key, status, id);
//! ```
//!
//! MySQL/MariaDB: `BIGINT AUTO_INCREMENT` id, `INT`, `MEDIUMTEXT` properties, `LONGBLOB`
//! body, the two indexes inline, `ENGINE=InnoDB DEFAULT CHARSET=utf8mb4` (the default
//! collation compares keys case-insensitively: keys differing only in case are then
//! serialized together, which costs throughput, never order). SQLite: `INTEGER PRIMARY
//! KEY AUTOINCREMENT`, `INTEGER`/`TEXT`/`BLOB` columns, the same indexes.
//!
//! Sent rows stay in the table for auditing until [`Outbox::purge_sent`] deletes them.
//!
//! # Metrics
//!
//! Tracing events with target `rocketmq_sdk::outbox`: every
//! [`RelayConfig::metrics_interval`] an `info` event with the `pending`, `sent`,
//! `parked` and `discarded` counts; per round with work a `debug` event (`claimed`,
//! `sent`, `retried`, `parked`); per failed attempt a `warn` event; per parked row the
//! default alert's `error` event.

mod alert;
mod config;
mod error;
mod record;
mod relay;
mod store;

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::Pool;

pub use alert::{OutboxAlert, TracingAlert};
pub use config::{Backoff, RelayConfig};
pub use error::{OutboxError, OutboxResult};
pub use record::{
    IntoOutboxMessage, MAX_SHARD_KEY_CHARS, OutboxCounts, OutboxId, OutboxRecord, OutboxStatus,
};
pub use relay::{OutboxNotifier, OutboxRelay, OutboxRelayBuilder};
pub use store::DEFAULT_TABLE;

/// The sqlx version the outbox is built on, for naming pools and transactions.
pub use sqlx;

use record::NewRow;
use store::{Arg, Backend, Statements, TableName};

use crate::Producer;
use crate::protocol::message::id::{UniqIdGenerator, now_ms};

/// A database the outbox runs on: [`sqlx::Postgres`], [`sqlx::MySql`] (MySQL 8 and
/// MariaDB ≥ 10.6) or [`sqlx::Sqlite`]. Sealed.
pub trait OutboxDatabase: Backend {}

impl OutboxDatabase for sqlx::Postgres {}
impl OutboxDatabase for sqlx::MySql {}
impl OutboxDatabase for sqlx::Sqlite {}

/// The outbox table of one database: enqueue inside business transactions, inspect and
/// repair rows. Cheap to clone; clones share the pool.
pub struct Outbox<DB: OutboxDatabase> {
    inner: Arc<Inner<DB>>,
}

struct Inner<DB: OutboxDatabase> {
    pool: Pool<DB>,
    st: Statements,
}

impl<DB: OutboxDatabase> Clone for Outbox<DB> {
    fn clone(&self) -> Self {
        Outbox {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<DB: OutboxDatabase> std::fmt::Debug for Outbox<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("table", &self.inner.st.table.display())
            .field("dialect", &DB::DIALECT)
            .finish()
    }
}

fn ids() -> &'static UniqIdGenerator {
    static IDS: OnceLock<UniqIdGenerator> = OnceLock::new();
    IDS.get_or_init(|| UniqIdGenerator::new(IpAddr::from([127, 0, 0, 1])))
}

impl<DB: OutboxDatabase> Outbox<DB> {
    /// The outbox in the table [`DEFAULT_TABLE`] (`rocketmq_outbox`) of `pool`'s database.
    pub fn new(pool: Pool<DB>) -> Self {
        match Self::with_table(pool, DEFAULT_TABLE) {
            Ok(outbox) => outbox,
            Err(_) => unreachable!("the default table name is valid"),
        }
    }

    /// The outbox in `table` (`name` or `schema.name`, each part `[a-z_][a-z0-9_]*`, the
    /// name at most 48 characters).
    ///
    /// # Errors
    /// [`OutboxError::Sdk`] with [`crate::Error::Config`] (field `table`) for an invalid
    /// name.
    pub fn with_table(pool: Pool<DB>, table: &str) -> OutboxResult<Self> {
        let table = TableName::parse(table)?;
        Ok(Outbox {
            inner: Arc::new(Inner {
                pool,
                st: Statements::new(DB::DIALECT, table),
            }),
        })
    }

    /// The table, as given.
    pub fn table(&self) -> String {
        self.inner.st.table.display()
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<DB> {
        &self.inner.pool
    }

    /// The statements [`migrate`](Self::migrate) runs, for schema migration tools.
    pub fn ddl(&self) -> &[String] {
        &self.inner.st.ddl
    }

    /// Creates the table and its indexes if they do not exist.
    ///
    /// # Errors
    /// [`OutboxError::Database`].
    ///
    /// # Cancel safety
    /// Cancel safe: each statement is idempotent; run it again.
    pub async fn migrate(&self) -> OutboxResult<()> {
        DB::migrate(&self.inner.pool, &self.inner.st).await?;
        Ok(())
    }

    /// Writes `message` into the outbox on `tx` — the caller's transaction (`&mut tx`
    /// for a [`sqlx::Transaction`]) or connection — and returns the row id. Nothing is sent
    /// here: the row becomes visible to the relay when the transaction commits, and
    /// disappears with it on rollback. Call [`OutboxRelay::notify`] after the commit for
    /// an immediate send.
    ///
    /// The message is checked as the producer will check it (topic, non-empty body,
    /// encodable properties, a sharding key of at most [`MAX_SHARD_KEY_CHARS`]
    /// characters), and its client message id (`UNIQ_KEY`) is assigned now unless it has
    /// one, so every send of the row carries the same id.
    ///
    /// # Errors
    /// [`OutboxError::Sdk`] with [`crate::Error::InvalidMessage`] for a message that can
    /// never be sent; [`OutboxError::Database`] when the insert fails (the transaction is
    /// then usually aborted: roll it back).
    ///
    /// # Cancel safety
    /// Not cancel safe: the insert may or may not have run on `tx`. Roll the transaction
    /// back after a cancelled enqueue.
    pub async fn enqueue<C, M>(&self, tx: &mut C, message: M) -> OutboxResult<OutboxId>
    where
        C: AsMut<DB::Connection> + Send + ?Sized,
        M: IntoOutboxMessage,
    {
        let mut message = message.into_outbox_message()?;
        message.ensure_uniq_key(ids());
        let row = NewRow::from_message(message, now_ms())?;
        let id = DB::insert(tx.as_mut(), &self.inner.st, &row).await?;
        tracing::trace!(target: "rocketmq_sdk::outbox", id, topic = %row.topic, "enqueued");
        Ok(id)
    }

    /// The row `id`, if it exists.
    ///
    /// # Errors
    /// [`OutboxError::Database`].
    ///
    /// # Cancel safety
    /// Cancel safe (read only).
    pub async fn get(&self, id: OutboxId) -> OutboxResult<Option<OutboxRecord>> {
        let rows =
            DB::fetch_records(&self.inner.pool, &self.inner.st.by_id, &[Arg::I64(id)]).await?;
        Ok(rows.into_iter().next())
    }

    /// Up to `limit` rows in `status`, oldest first.
    ///
    /// # Errors
    /// [`OutboxError::Database`].
    ///
    /// # Cancel safety
    /// Cancel safe (read only).
    pub async fn list(&self, status: OutboxStatus, limit: u32) -> OutboxResult<Vec<OutboxRecord>> {
        Ok(DB::fetch_records(
            &self.inner.pool,
            &self.inner.st.by_status,
            &[Arg::Str(status.as_str()), Arg::I64(i64::from(limit))],
        )
        .await?)
    }

    /// Up to `limit` parked rows (every attempt failed), oldest first: the rows waiting for
    /// a human.
    ///
    /// # Errors
    /// [`OutboxError::Database`].
    ///
    /// # Cancel safety
    /// Cancel safe (read only).
    pub async fn parked(&self, limit: u32) -> OutboxResult<Vec<OutboxRecord>> {
        self.list(OutboxStatus::Parked, limit).await
    }

    /// Puts the parked row `id` back to pending, due now, with its attempts reset to 0
    /// (its `last_error` is kept). Returns false when no parked row has that id.
    ///
    /// # Errors
    /// [`OutboxError::Database`].
    ///
    /// # Cancel safety
    /// Cancel safe: a single statement.
    pub async fn requeue(&self, id: OutboxId) -> OutboxResult<bool> {
        let n = DB::execute(
            &self.inner.pool,
            &self.inner.st.requeue,
            &[Arg::I64(now_ms()), Arg::I64(id)],
        )
        .await?;
        Ok(n == 1)
    }

    /// Gives up on the parked row `id`: it becomes `discarded`, is never sent, and no
    /// longer holds back later rows of its sharding key. Returns false when no parked row
    /// has that id.
    ///
    /// # Errors
    /// [`OutboxError::Database`].
    ///
    /// # Cancel safety
    /// Cancel safe: a single statement.
    pub async fn discard(&self, id: OutboxId) -> OutboxResult<bool> {
        let n = DB::execute(&self.inner.pool, &self.inner.st.discard, &[Arg::I64(id)]).await?;
        Ok(n == 1)
    }

    /// How many rows are in each status.
    ///
    /// # Errors
    /// [`OutboxError::Database`].
    ///
    /// # Cancel safety
    /// Cancel safe (read only).
    pub async fn counts(&self) -> OutboxResult<OutboxCounts> {
        let mut counts = OutboxCounts::default();
        for (status, n) in DB::counts(&self.inner.pool, &self.inner.st).await? {
            let n = u64::try_from(n).unwrap_or(0);
            match OutboxStatus::parse(&status) {
                Some(OutboxStatus::Pending) => counts.pending = n,
                Some(OutboxStatus::Sent) => counts.sent = n,
                Some(OutboxStatus::Parked) => counts.parked = n,
                Some(OutboxStatus::Discarded) => counts.discarded = n,
                None => {}
            }
        }
        Ok(counts)
    }

    /// Deletes the rows sent more than `older_than` ago; returns how many.
    ///
    /// # Errors
    /// [`OutboxError::Database`].
    ///
    /// # Cancel safety
    /// Cancel safe: a single statement.
    pub async fn purge_sent(&self, older_than: Duration) -> OutboxResult<u64> {
        let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        let before = now_ms().saturating_sub(age);
        Ok(DB::execute(
            &self.inner.pool,
            &self.inner.st.purge_sent,
            &[Arg::I64(before)],
        )
        .await?)
    }

    /// Starts building a relay that sends this outbox's rows with `producer`.
    pub fn relay(&self, producer: Producer) -> OutboxRelayBuilder<DB> {
        OutboxRelayBuilder::new(self.clone(), producer)
    }

    pub(crate) fn statements(&self) -> &Statements {
        &self.inner.st
    }
}
