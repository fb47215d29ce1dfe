//! What each database contributes: DDL, statement texts and parameter order, and the
//! three execution primitives. Sealed: implemented for sqlx's `Postgres`, `MySql` and
//! `Sqlite` only.

use async_trait::async_trait;

use super::TableName;

/// A statement parameter, bound in the listed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P {
    /// The consumer group (text).
    Group,
    /// The key (text).
    Key,
    /// The lease's token (text).
    Token,
    /// The statement's period in ms (lease or retention; BIGINT).
    Ms,
}

/// A statement and its parameter order.
#[derive(Debug, Clone)]
pub struct Stmt {
    /// SQL text; the table name is validated and quoted, every value a bound parameter.
    pub sql: String,
    /// Parameters, in placeholder order.
    pub params: &'static [P],
}

/// A bound value.
#[derive(Debug, Clone, Copy)]
pub enum Bind<'a> {
    /// Text.
    Str(&'a str),
    /// BIGINT.
    I64(i64),
}

/// A row read back: status, token, expiry and the database's current time (ms).
#[derive(Debug, Clone)]
pub struct Record {
    /// `CONSUMING` or `CONSUMED`.
    pub status: String,
    /// The claim's token.
    pub token: String,
    /// Expiry, ms since the epoch (database clock).
    pub expires_at: i64,
    /// The database's current time, ms since the epoch.
    pub now_ms: i64,
}

/// The statements of one table.
#[derive(Debug, Clone)]
pub struct Statements {
    /// The claim upsert: inserts a claim or takes over an expired claim or record.
    pub claim: Stmt,
    /// Whether `claim` returns the winning token (`RETURNING`); otherwise the row is read
    /// back with `read`.
    pub claim_returns_token: bool,
    /// Reads a row: `status, token, expires_at, now_ms`.
    pub read: Stmt,
    /// Renews a claim held by the token.
    pub renew: Stmt,
    /// Marks the token's claim (or record) consumed.
    pub complete: Stmt,
    /// Inserts a consumed record if the key has none.
    pub insert_consumed: Stmt,
    /// Deletes the token's claim.
    pub release: Stmt,
    /// Deletes expired claims and records.
    pub cleanup: Stmt,
}

/// The sealed dialect trait.
#[async_trait]
pub trait Dialect: sqlx::Database {
    /// Display name.
    const DISPLAY_NAME: &'static str;

    /// Quoted table reference.
    fn table_ref(table: &TableName) -> String;

    /// `CREATE TABLE IF NOT EXISTS` and index statements.
    fn ddl(table: &TableName) -> Vec<String>;

    /// The statements on `table`.
    fn statements(table: &TableName) -> Statements;

    /// Runs a DDL statement (unprepared).
    ///
    /// # Errors
    /// The database error.
    ///
    /// # Cancel safety
    /// As the underlying sqlx call: dropping it may leave the statement run or not.
    async fn execute_ddl(conn: &mut Self::Connection, sql: &str) -> Result<(), sqlx::Error>;

    /// Runs a statement; returns the rows affected (matched, for MySQL updates).
    ///
    /// # Errors
    /// The database error.
    ///
    /// # Cancel safety
    /// As the underlying sqlx call: dropping it may leave the statement run or not.
    async fn execute<'q>(
        conn: &mut Self::Connection,
        sql: &'q str,
        binds: &[Bind<'q>],
    ) -> Result<u64, sqlx::Error>;

    /// Runs a statement returning at most one text column `token`.
    ///
    /// # Errors
    /// The database error.
    ///
    /// # Cancel safety
    /// As the underlying sqlx call: dropping it may leave the statement run or not.
    async fn fetch_token<'q>(
        conn: &mut Self::Connection,
        sql: &'q str,
        binds: &[Bind<'q>],
    ) -> Result<Option<String>, sqlx::Error>;

    /// Runs a `read` statement.
    ///
    /// # Errors
    /// The database error.
    ///
    /// # Cancel safety
    /// As the underlying sqlx call: dropping it may leave the statement run or not.
    async fn fetch_record<'q>(
        conn: &mut Self::Connection,
        sql: &'q str,
        binds: &[Bind<'q>],
    ) -> Result<Option<Record>, sqlx::Error>;
}

/// Defines the execution primitives for a concrete sqlx database as free functions
/// `prim_ddl`, `prim_execute`, `prim_fetch_token`, `prim_fetch_record`, which the
/// dialect's `#[async_trait]` impl calls (a macro cannot expand inside that impl).
macro_rules! primitives {
    ($db:ty, $conn:ty) => {
        fn prim_query<'q>(
            sql: &'q str,
            binds: &[$crate::dedupe::sql::dialect::Bind<'q>],
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
            let mut q = sqlx::query::<$db>(sql);
            for b in binds {
                q = match *b {
                    $crate::dedupe::sql::dialect::Bind::Str(s) => q.bind(s),
                    $crate::dedupe::sql::dialect::Bind::I64(v) => q.bind(v),
                };
            }
            q
        }

        async fn prim_ddl(conn: &mut $conn, sql: &str) -> Result<(), sqlx::Error> {
            use sqlx::Executor as _;
            conn.execute(sql).await.map(|_| ())
        }

        async fn prim_execute<'q>(
            conn: &mut $conn,
            sql: &'q str,
            binds: &[$crate::dedupe::sql::dialect::Bind<'q>],
        ) -> Result<u64, sqlx::Error> {
            Ok(prim_query(sql, binds).execute(conn).await?.rows_affected())
        }

        async fn prim_fetch_token<'q>(
            conn: &mut $conn,
            sql: &'q str,
            binds: &[$crate::dedupe::sql::dialect::Bind<'q>],
        ) -> Result<Option<String>, sqlx::Error> {
            use sqlx::Row as _;
            match prim_query(sql, binds).fetch_optional(conn).await? {
                Some(row) => Ok(Some(row.try_get::<String, _>(0)?)),
                None => Ok(None),
            }
        }

        async fn prim_fetch_record<'q>(
            conn: &mut $conn,
            sql: &'q str,
            binds: &[$crate::dedupe::sql::dialect::Bind<'q>],
        ) -> Result<Option<$crate::dedupe::sql::dialect::Record>, sqlx::Error> {
            use sqlx::Row as _;
            match prim_query(sql, binds).fetch_optional(conn).await? {
                Some(row) => Ok(Some($crate::dedupe::sql::dialect::Record {
                    status: row.try_get(0)?,
                    token: row.try_get(1)?,
                    expires_at: row.try_get(2)?,
                    now_ms: row.try_get(3)?,
                })),
                None => Ok(None),
            }
        }
    };
}

pub(crate) use primitives;
