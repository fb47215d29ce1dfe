//! Per-database SQL: the table's DDL, the claim query, the row updates, and the sealed
//! [`Backend`] trait that runs them on PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! Every statement is built once per [`Outbox`](super::Outbox) from the validated table
//! name and constant text; values are always bound parameters.

use std::future::Future;

use sqlx::{MySql, Pool, Postgres, Row, Sqlite};

use super::record::{NewRow, OutboxRecord, OutboxStatus, to_system_time};
use crate::client::config_error;
use crate::error::Error;

/// The default table name.
pub const DEFAULT_TABLE: &str = "rocketmq_outbox";

/// The longest table name accepted (the index names add up to 10 characters).
const MAX_TABLE_LEN: usize = 48;

/// A validated, optionally schema-qualified table name: `[a-z_][a-z0-9_]*` parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableName {
    schema: Option<String>,
    table: String,
}

impl TableName {
    /// Parses `table` or `schema.table`.
    pub(crate) fn parse(name: &str) -> Result<TableName, Error> {
        let bad = |reason: String| config_error("table", reason);
        let (schema, table) = match name.split_once('.') {
            Some((s, t)) => (Some(s), t),
            None => (None, name),
        };
        let check = |part: &str, max: usize| -> Result<(), Error> {
            let mut bytes = part.bytes();
            let first_ok = bytes
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
            if !first_ok
                || part.len() > max
                || !part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(bad(format!(
                    "{name:?}: each part must match [a-z_][a-z0-9_]* (the table at most \
                     {MAX_TABLE_LEN} characters, a schema at most 63)"
                )));
            }
            Ok(())
        };
        if let Some(s) = schema {
            check(s, 63)?;
        }
        check(table, MAX_TABLE_LEN)?;
        Ok(TableName {
            schema: schema.map(str::to_owned),
            table: table.to_owned(),
        })
    }

    fn quoted(&self, d: Dialect) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", d.quote(s), d.quote(&self.table)),
            None => d.quote(&self.table),
        }
    }

    /// The table as written, e.g. for log fields.
    pub(crate) fn display(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.table),
            None => self.table.clone(),
        }
    }
}

/// The SQL flavour (internal).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    MySql,
    /// SQLite.
    Sqlite,
}

impl Dialect {
    fn quote(self, ident: &str) -> String {
        // `ident` is validated: no quote characters can occur in it.
        match self {
            Dialect::MySql => format!("`{ident}`"),
            Dialect::Postgres | Dialect::Sqlite => format!("\"{ident}\""),
        }
    }

    /// Rewrites `?` placeholders as `$1, $2, …` for PostgreSQL. The statements here hold
    /// no `?` other than placeholders.
    fn placeholders(self, sql: &str) -> String {
        if self != Dialect::Postgres {
            return sql.to_owned();
        }
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    }
}

/// Every column, in the order [`decode_record`] reads them.
const COLUMNS: &str = "id, topic, tags, msg_keys, shard_key, flag, properties, body, status, \
                       attempts, next_attempt_at, last_error, created_at, sent_at, msg_id";

/// The statements of one table in one dialect (internal).
#[doc(hidden)]
#[derive(Debug)]
pub struct Statements {
    pub(crate) table: TableName,
    pub(crate) ddl: Vec<String>,
    pub(crate) insert: String,
    /// Claim, for the two blocking rules: index 0 = only pending rows block later rows of
    /// their key, 1 = pending and parked rows do.
    /// PostgreSQL/SQLite: one `UPDATE … RETURNING`; binds lease_until, token, now, limit.
    /// MySQL: the `SELECT … FOR UPDATE SKIP LOCKED`; binds now, limit.
    pub(crate) claim: [String; 2],
    /// MySQL only: the lease update's head; ids follow as `(?, ?, …)`.
    pub(crate) lease_head: String,
    pub(crate) mark_sent: String,
    pub(crate) mark_retry: String,
    pub(crate) mark_parked: String,
    pub(crate) by_status: String,
    pub(crate) by_id: String,
    pub(crate) requeue: String,
    pub(crate) discard: String,
    pub(crate) counts: String,
    pub(crate) purge_sent: String,
}

impl Statements {
    pub(crate) fn new(d: Dialect, table: TableName) -> Statements {
        let t = table.quoted(d);
        let p = |sql: String| d.placeholders(&sql);
        let ddl = ddl(d, &table);
        let insert = {
            let head = format!(
                "INSERT INTO {t} (topic, tags, msg_keys, shard_key, flag, properties, body, \
                 status, attempts, next_attempt_at, created_at, msg_id) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)"
            );
            match d {
                Dialect::MySql => head,
                Dialect::Postgres | Dialect::Sqlite => p(format!("{head} RETURNING id")),
            }
        };
        let claim = [
            claim_sql(d, &t, "'pending'"),
            claim_sql(d, &t, "'pending', 'parked'"),
        ];
        let lease_head =
            format!("UPDATE {t} SET next_attempt_at = ?, lease_token = ? WHERE id IN ");
        Statements {
            ddl,
            insert,
            claim,
            lease_head,
            mark_sent: p(format!(
                "UPDATE {t} SET status = 'sent', attempts = ?, sent_at = ?, msg_id = ?, \
                 lease_token = NULL WHERE id = ? AND lease_token = ? AND status = 'pending'"
            )),
            mark_retry: p(format!(
                "UPDATE {t} SET attempts = ?, next_attempt_at = ?, last_error = ?, \
                 lease_token = NULL WHERE id = ? AND lease_token = ? AND status = 'pending'"
            )),
            mark_parked: p(format!(
                "UPDATE {t} SET status = 'parked', attempts = ?, last_error = ?, \
                 lease_token = NULL WHERE id = ? AND lease_token = ? AND status = 'pending'"
            )),
            by_status: p(format!(
                "SELECT {COLUMNS} FROM {t} WHERE status = ? ORDER BY id LIMIT ?"
            )),
            by_id: p(format!("SELECT {COLUMNS} FROM {t} WHERE id = ?")),
            requeue: p(format!(
                "UPDATE {t} SET status = 'pending', attempts = 0, next_attempt_at = ?, \
                 lease_token = NULL WHERE id = ? AND status = 'parked'"
            )),
            discard: p(format!(
                "UPDATE {t} SET status = 'discarded', lease_token = NULL \
                 WHERE id = ? AND status = 'parked'"
            )),
            counts: format!("SELECT status, COUNT(*) AS n FROM {t} GROUP BY status"),
            purge_sent: p(format!(
                "DELETE FROM {t} WHERE status = 'sent' AND sent_at < ?"
            )),
            table,
        }
    }
}

/// The claim statement. A row is claimable when it is pending, due, and no earlier row of
/// its sharding key is in one of `blocking` statuses.
fn claim_sql(d: Dialect, t: &str, blocking: &str) -> String {
    let select = format!(
        "SELECT {{cols}} FROM {t} o \
         WHERE o.status = 'pending' AND o.next_attempt_at <= ? \
         AND (o.shard_key IS NULL OR NOT EXISTS (\
           SELECT 1 FROM {t} e WHERE e.shard_key = o.shard_key AND e.id < o.id \
           AND e.status IN ({blocking}))) \
         ORDER BY o.id LIMIT ?"
    );
    match d {
        Dialect::Postgres => d.placeholders(&format!(
            "UPDATE {t} SET next_attempt_at = ?, lease_token = ? WHERE id IN ({} \
             FOR UPDATE SKIP LOCKED) RETURNING {COLUMNS}",
            select.replace("{cols}", "o.id")
        )),
        Dialect::Sqlite => format!(
            "UPDATE {t} SET next_attempt_at = ?, lease_token = ? WHERE id IN ({}) \
             RETURNING {COLUMNS}",
            select.replace("{cols}", "o.id")
        ),
        Dialect::MySql => {
            let cols = COLUMNS
                .split(", ")
                .map(|c| format!("o.{c}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!("{} FOR UPDATE SKIP LOCKED", select.replace("{cols}", &cols))
        }
    }
}

/// The documented DDL (see the module docs of [`crate::outbox`]).
fn ddl(d: Dialect, table: &TableName) -> Vec<String> {
    let t = table.quoted(d);
    let claim_idx = format!("{}_claim_idx", table.table);
    let shard_idx = format!("{}_shard_idx", table.table);
    match d {
        Dialect::Postgres => vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {t} (\n\
                 \x20   id              BIGSERIAL PRIMARY KEY,\n\
                 \x20   topic           VARCHAR(255) NOT NULL,\n\
                 \x20   tags            TEXT,\n\
                 \x20   msg_keys        TEXT,\n\
                 \x20   shard_key       VARCHAR(255),\n\
                 \x20   flag            INTEGER NOT NULL DEFAULT 0,\n\
                 \x20   properties      TEXT NOT NULL,\n\
                 \x20   body            BYTEA NOT NULL,\n\
                 \x20   status          VARCHAR(16) NOT NULL DEFAULT 'pending',\n\
                 \x20   attempts        INTEGER NOT NULL DEFAULT 0,\n\
                 \x20   next_attempt_at BIGINT NOT NULL,\n\
                 \x20   lease_token     BIGINT,\n\
                 \x20   last_error      TEXT,\n\
                 \x20   created_at      BIGINT NOT NULL,\n\
                 \x20   sent_at         BIGINT,\n\
                 \x20   msg_id          VARCHAR(128)\n\
                 )"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS {} ON {t} (status, next_attempt_at, id)",
                d.quote(&claim_idx)
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS {} ON {t} (shard_key, status, id)",
                d.quote(&shard_idx)
            ),
        ],
        Dialect::MySql => vec![format!(
            "CREATE TABLE IF NOT EXISTS {t} (\n\
             \x20   id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n\
             \x20   topic           VARCHAR(255) NOT NULL,\n\
             \x20   tags            TEXT,\n\
             \x20   msg_keys        TEXT,\n\
             \x20   shard_key       VARCHAR(255),\n\
             \x20   flag            INT NOT NULL DEFAULT 0,\n\
             \x20   properties      MEDIUMTEXT NOT NULL,\n\
             \x20   body            LONGBLOB NOT NULL,\n\
             \x20   status          VARCHAR(16) NOT NULL DEFAULT 'pending',\n\
             \x20   attempts        INT NOT NULL DEFAULT 0,\n\
             \x20   next_attempt_at BIGINT NOT NULL,\n\
             \x20   lease_token     BIGINT,\n\
             \x20   last_error      TEXT,\n\
             \x20   created_at      BIGINT NOT NULL,\n\
             \x20   sent_at         BIGINT,\n\
             \x20   msg_id          VARCHAR(128),\n\
             \x20   INDEX {} (status, next_attempt_at, id),\n\
             \x20   INDEX {} (shard_key, status, id)\n\
             ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            d.quote(&claim_idx),
            d.quote(&shard_idx)
        )],
        Dialect::Sqlite => {
            // SQLite names an index's schema on the index, not on the table.
            let idx = |name: &str| match &table.schema {
                Some(s) => format!("{}.{}", d.quote(s), d.quote(name)),
                None => d.quote(name),
            };
            let bare = d.quote(&table.table);
            vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {t} (\n\
                     \x20   id              INTEGER PRIMARY KEY AUTOINCREMENT,\n\
                     \x20   topic           TEXT NOT NULL,\n\
                     \x20   tags            TEXT,\n\
                     \x20   msg_keys        TEXT,\n\
                     \x20   shard_key       TEXT,\n\
                     \x20   flag            INTEGER NOT NULL DEFAULT 0,\n\
                     \x20   properties      TEXT NOT NULL,\n\
                     \x20   body            BLOB NOT NULL,\n\
                     \x20   status          TEXT NOT NULL DEFAULT 'pending',\n\
                     \x20   attempts        INTEGER NOT NULL DEFAULT 0,\n\
                     \x20   next_attempt_at INTEGER NOT NULL,\n\
                     \x20   lease_token     INTEGER,\n\
                     \x20   last_error      TEXT,\n\
                     \x20   created_at      INTEGER NOT NULL,\n\
                     \x20   sent_at         INTEGER,\n\
                     \x20   msg_id          TEXT\n\
                     )"
                ),
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {bare} (status, next_attempt_at, id)",
                    idx(&claim_idx)
                ),
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {bare} (shard_key, status, id)",
                    idx(&shard_idx)
                ),
            ]
        }
    }
}

/// One bound value (internal).
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Arg<'a> {
    /// A BIGINT.
    I64(i64),
    /// An INT.
    I32(i32),
    /// A string.
    Str(&'a str),
}

/// What a claim asks for (internal).
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Claim {
    pub(crate) now_ms: i64,
    pub(crate) lease_until_ms: i64,
    pub(crate) token: i64,
    pub(crate) limit: i64,
    pub(crate) parked_blocks_key: bool,
}

pub(crate) mod sealed {
    /// Seals [`super::super::OutboxDatabase`]: only this crate's backends implement it.
    pub trait Sealed {}
    impl Sealed for sqlx::Postgres {}
    impl Sealed for sqlx::MySql {}
    impl Sealed for sqlx::Sqlite {}
}

/// What the outbox needs from a database: implemented for [`Postgres`], [`MySql`] and
/// [`Sqlite`] only.
pub trait Backend: sqlx::Database + sealed::Sealed {
    /// The SQL flavour.
    #[doc(hidden)]
    const DIALECT: Dialect;

    /// Runs the DDL.
    #[doc(hidden)]
    fn migrate(
        pool: &Pool<Self>,
        st: &Statements,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Inserts a row on the caller's connection; returns its id.
    #[doc(hidden)]
    fn insert(
        conn: &mut Self::Connection,
        st: &Statements,
        row: &NewRow,
    ) -> impl Future<Output = Result<i64, sqlx::Error>> + Send;

    /// Claims due rows: leases them until `lease_until_ms` under `token`.
    #[doc(hidden)]
    fn claim(
        pool: &Pool<Self>,
        st: &Statements,
        claim: Claim,
    ) -> impl Future<Output = Result<Vec<OutboxRecord>, sqlx::Error>> + Send;

    /// Runs a statement; returns the rows affected.
    #[doc(hidden)]
    fn execute(
        pool: &Pool<Self>,
        sql: &str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    /// Runs a query returning rows of [`COLUMNS`].
    #[doc(hidden)]
    fn fetch_records(
        pool: &Pool<Self>,
        sql: &str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<Vec<OutboxRecord>, sqlx::Error>> + Send;

    /// Runs the counts query: `(status, count)` pairs.
    #[doc(hidden)]
    fn counts(
        pool: &Pool<Self>,
        st: &Statements,
    ) -> impl Future<Output = Result<Vec<(String, i64)>, sqlx::Error>> + Send;
}

fn bad_column(index: &str, reason: String) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: index.to_owned(),
        source: reason.into(),
    }
}

macro_rules! common_backend {
    ($db:ty) => {
        async fn migrate(pool: &Pool<$db>, st: &Statements) -> Result<(), sqlx::Error> {
            for ddl in &st.ddl {
                sqlx::raw_sql(ddl).execute(pool).await?;
            }
            Ok(())
        }

        async fn execute(
            pool: &Pool<$db>,
            sql: &str,
            args: &[Arg<'_>],
        ) -> Result<u64, sqlx::Error> {
            let mut q = sqlx::query(sql);
            for a in args {
                q = match *a {
                    Arg::I64(v) => q.bind(v),
                    Arg::I32(v) => q.bind(v),
                    Arg::Str(v) => q.bind(v),
                };
            }
            Ok(q.execute(pool).await?.rows_affected())
        }

        async fn fetch_records(
            pool: &Pool<$db>,
            sql: &str,
            args: &[Arg<'_>],
        ) -> Result<Vec<OutboxRecord>, sqlx::Error> {
            let mut q = sqlx::query(sql);
            for a in args {
                q = match *a {
                    Arg::I64(v) => q.bind(v),
                    Arg::I32(v) => q.bind(v),
                    Arg::Str(v) => q.bind(v),
                };
            }
            q.fetch_all(pool)
                .await?
                .iter()
                .map(|r| decode_record!(r))
                .collect()
        }

        async fn counts(
            pool: &Pool<$db>,
            st: &Statements,
        ) -> Result<Vec<(String, i64)>, sqlx::Error> {
            let rows = sqlx::query(&st.counts).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((r.try_get::<String, _>("status")?, r.try_get::<i64, _>("n")?)))
                .collect()
        }
    };
}

macro_rules! decode_record {
    ($row:expr) => {{
        let row = $row;
        (|| -> Result<OutboxRecord, sqlx::Error> {
            let status: String = row.try_get("status")?;
            let attempts: i32 = row.try_get("attempts")?;
            let body: Vec<u8> = row.try_get("body")?;
            Ok(OutboxRecord {
                id: row.try_get("id")?,
                topic: row.try_get("topic")?,
                tags: row.try_get("tags")?,
                keys: row.try_get("msg_keys")?,
                shard_key: row.try_get("shard_key")?,
                flag: row.try_get("flag")?,
                properties_json: row.try_get("properties")?,
                body: body.into(),
                status: OutboxStatus::parse(&status)
                    .ok_or_else(|| bad_column("status", format!("unknown status {status:?}")))?,
                attempts: u32::try_from(attempts).unwrap_or(0),
                next_attempt_at: to_system_time(row.try_get("next_attempt_at")?),
                last_error: row.try_get("last_error")?,
                created_at: to_system_time(row.try_get("created_at")?),
                sent_at: row
                    .try_get::<Option<i64>, _>("sent_at")?
                    .map(to_system_time),
                msg_id: row.try_get("msg_id")?,
            })
        })()
    }};
}

impl Backend for Postgres {
    const DIALECT: Dialect = Dialect::Postgres;

    common_backend!(Postgres);

    async fn insert(
        conn: &mut sqlx::PgConnection,
        st: &Statements,
        row: &NewRow,
    ) -> Result<i64, sqlx::Error> {
        let r = bind_new_row!(sqlx::query(&st.insert), row)
            .fetch_one(conn)
            .await?;
        r.try_get(0)
    }

    async fn claim(
        pool: &Pool<Postgres>,
        st: &Statements,
        c: Claim,
    ) -> Result<Vec<OutboxRecord>, sqlx::Error> {
        let rows = sqlx::query(&st.claim[usize::from(c.parked_blocks_key)])
            .bind(c.lease_until_ms)
            .bind(c.token)
            .bind(c.now_ms)
            .bind(c.limit)
            .fetch_all(pool)
            .await?;
        sorted(rows.iter().map(|r| decode_record!(r)).collect())
    }
}

impl Backend for Sqlite {
    const DIALECT: Dialect = Dialect::Sqlite;

    common_backend!(Sqlite);

    async fn insert(
        conn: &mut sqlx::SqliteConnection,
        st: &Statements,
        row: &NewRow,
    ) -> Result<i64, sqlx::Error> {
        let r = bind_new_row!(sqlx::query(&st.insert), row)
            .fetch_one(conn)
            .await?;
        r.try_get(0)
    }

    async fn claim(
        pool: &Pool<Sqlite>,
        st: &Statements,
        c: Claim,
    ) -> Result<Vec<OutboxRecord>, sqlx::Error> {
        // One UPDATE … RETURNING is atomic: SQLite runs one writer at a time, so the lease
        // written here is what keeps other relays off these rows.
        let rows = sqlx::query(&st.claim[usize::from(c.parked_blocks_key)])
            .bind(c.lease_until_ms)
            .bind(c.token)
            .bind(c.now_ms)
            .bind(c.limit)
            .fetch_all(pool)
            .await?;
        sorted(rows.iter().map(|r| decode_record!(r)).collect())
    }
}

impl Backend for MySql {
    const DIALECT: Dialect = Dialect::MySql;

    common_backend!(MySql);

    async fn insert(
        conn: &mut sqlx::MySqlConnection,
        st: &Statements,
        row: &NewRow,
    ) -> Result<i64, sqlx::Error> {
        let r = bind_new_row!(sqlx::query(&st.insert), row)
            .execute(conn)
            .await?;
        i64::try_from(r.last_insert_id())
            .map_err(|_| bad_column("id", "the insert id does not fit in i64".into()))
    }

    async fn claim(
        pool: &Pool<MySql>,
        st: &Statements,
        c: Claim,
    ) -> Result<Vec<OutboxRecord>, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        // READ COMMITTED: the locking read sees rows committed by other relays and takes
        // no gap locks that would hold up concurrent enqueues.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            .execute(&mut *conn)
            .await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let rows = sqlx::query(&st.claim[usize::from(c.parked_blocks_key)])
            .bind(c.now_ms)
            .bind(c.limit)
            .fetch_all(&mut *tx)
            .await?;
        let records: Vec<OutboxRecord> = sorted(rows.iter().map(|r| decode_record!(r)).collect())?;
        if !records.is_empty() {
            // Only placeholders are added to the text; the ids are bound.
            let sql = format!("{}({})", st.lease_head, vec!["?"; records.len()].join(", "));
            sqlx::query_with(&sql, lease_args(c, &records)?)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(records)
    }
}

/// The MySQL lease update's arguments: lease_until, token, then every claimed id.
fn lease_args(
    c: Claim,
    records: &[OutboxRecord],
) -> Result<sqlx::mysql::MySqlArguments, sqlx::Error> {
    use sqlx::Arguments;
    let mut args = sqlx::mysql::MySqlArguments::default();
    let enc = |e: sqlx::error::BoxDynError| sqlx::Error::Encode(e);
    args.add(c.lease_until_ms).map_err(enc)?;
    args.add(c.token).map_err(enc)?;
    for r in records {
        args.add(r.id).map_err(enc)?;
    }
    Ok(args)
}

macro_rules! bind_new_row {
    ($q:expr, $row:expr) => {{
        let row: &NewRow = $row;
        $q.bind(row.topic.as_str())
            .bind(row.tags.as_deref())
            .bind(row.keys.as_deref())
            .bind(row.shard_key.as_deref())
            .bind(row.flag)
            .bind(row.properties.as_str())
            .bind(&row.body[..])
            .bind(row.now_ms)
            .bind(row.now_ms)
            .bind(row.msg_id.as_str())
    }};
}
use bind_new_row;

fn sorted(
    records: Result<Vec<OutboxRecord>, sqlx::Error>,
) -> Result<Vec<OutboxRecord>, sqlx::Error> {
    let mut records = records?;
    records.sort_by_key(|r| r.id);
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_validated() {
        for ok in ["outbox", "_t1", "app.outbox", "a_b_c9"] {
            assert!(TableName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Outbox",
            "9t",
            "t-x",
            "t;drop table x",
            "a.b.c",
            "t\"",
            ".t",
            "s.",
            &"t".repeat(49),
        ] {
            assert!(
                matches!(
                    TableName::parse(bad),
                    Err(Error::Config { field: "table", .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn postgres_placeholders_are_numbered() {
        let st = Statements::new(Dialect::Postgres, TableName::parse("s.ob").unwrap());
        assert!(st.mark_sent.contains("$5"), "{}", st.mark_sent);
        assert!(!st.mark_sent.contains('?'));
        assert!(st.claim[0].contains("FOR UPDATE SKIP LOCKED"));
        assert!(st.claim[0].contains("$4"));
        assert!(st.claim[1].contains("'pending', 'parked'"));
        assert!(st.ddl[0].contains("\"s\".\"ob\""));
        assert!(
            st.ddl[1].starts_with("CREATE INDEX IF NOT EXISTS \"ob_claim_idx\" ON \"s\".\"ob\"")
        );
        let my = Statements::new(Dialect::MySql, TableName::parse("ob").unwrap());
        assert!(my.claim[0].ends_with("FOR UPDATE SKIP LOCKED"));
        assert!(my.ddl[0].contains("`ob`"));
        let lite = Statements::new(Dialect::Sqlite, TableName::parse("main.ob").unwrap());
        assert!(!lite.claim[0].contains("SKIP LOCKED"));
        assert!(lite.ddl[1].contains("\"main\".\"ob_claim_idx\" ON \"ob\""));
    }
}
