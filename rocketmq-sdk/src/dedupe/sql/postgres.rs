//! PostgreSQL.

use async_trait::async_trait;
use sqlx::postgres::{PgConnection, Postgres};

use super::TableName;
use super::dialect::{Bind, Dialect, P, Record, Statements, Stmt, primitives};

primitives!(Postgres, PgConnection);

/// The database clock in ms since the epoch (`clock_timestamp()`: real time, also inside
/// a long transaction).
const NOW: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

const GKTM: &[P] = &[P::Group, P::Key, P::Token, P::Ms];

#[async_trait]
impl Dialect for Postgres {
    const DISPLAY_NAME: &'static str = "PostgreSQL";

    fn table_ref(table: &TableName) -> String {
        match &table.schema {
            Some(s) => format!("\"{s}\".\"{}\"", table.name),
            None => format!("\"{}\"", table.name),
        }
    }

    fn ddl(table: &TableName) -> Vec<String> {
        let t = Self::table_ref(table);
        let idx = format!("\"{}_expires_at\"", table.name);
        vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {t} (\n\
                 \x20   consumer_group VARCHAR(255)  NOT NULL,\n\
                 \x20   dedupe_key     VARCHAR(1024) NOT NULL,\n\
                 \x20   status         VARCHAR(16)   NOT NULL,\n\
                 \x20   token          VARCHAR(64)   NOT NULL,\n\
                 \x20   expires_at     BIGINT        NOT NULL,\n\
                 \x20   updated_at     BIGINT        NOT NULL,\n\
                 \x20   PRIMARY KEY (consumer_group, dedupe_key)\n\
                 )"
            ),
            format!("CREATE INDEX IF NOT EXISTS {idx} ON {t} (expires_at)"),
        ]
    }

    fn statements(table: &TableName) -> Statements {
        let t = Self::table_ref(table);
        let key = "consumer_group = $1 AND dedupe_key = $2";
        Statements {
            claim: Stmt {
                sql: format!(
                    "INSERT INTO {t} AS d (consumer_group, dedupe_key, status, token, expires_at, updated_at) \
                     VALUES ($1, $2, 'CONSUMING', $3, {NOW} + $4, {NOW}) \
                     ON CONFLICT (consumer_group, dedupe_key) DO UPDATE \
                     SET status = 'CONSUMING', token = EXCLUDED.token, \
                     expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at \
                     WHERE d.expires_at <= EXCLUDED.updated_at \
                     RETURNING d.token"
                ),
                params: GKTM,
            },
            claim_returns_token: true,
            read: Stmt {
                sql: format!(
                    "SELECT status, token, expires_at, {NOW} AS now_ms FROM {t} WHERE {key}"
                ),
                params: &[P::Group, P::Key],
            },
            renew: Stmt {
                sql: format!(
                    "UPDATE {t} SET expires_at = {NOW} + $4, updated_at = {NOW} \
                     WHERE {key} AND token = $3 AND status = 'CONSUMING'"
                ),
                params: GKTM,
            },
            complete: Stmt {
                sql: format!(
                    "UPDATE {t} SET status = 'CONSUMED', expires_at = {NOW} + $4, updated_at = {NOW} \
                     WHERE {key} AND token = $3"
                ),
                params: GKTM,
            },
            insert_consumed: Stmt {
                sql: format!(
                    "INSERT INTO {t} (consumer_group, dedupe_key, status, token, expires_at, updated_at) \
                     VALUES ($1, $2, 'CONSUMED', $3, {NOW} + $4, {NOW}) \
                     ON CONFLICT (consumer_group, dedupe_key) DO NOTHING"
                ),
                params: GKTM,
            },
            release: Stmt {
                sql: format!("DELETE FROM {t} WHERE {key} AND token = $3 AND status = 'CONSUMING'"),
                params: &[P::Group, P::Key, P::Token],
            },
            cleanup: Stmt {
                sql: format!("DELETE FROM {t} WHERE expires_at <= {NOW}"),
                params: &[],
            },
        }
    }

    async fn execute_ddl(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
        prim_ddl(conn, sql).await
    }

    async fn execute<'q>(
        conn: &mut PgConnection,
        sql: &'q str,
        binds: &[Bind<'q>],
    ) -> Result<u64, sqlx::Error> {
        prim_execute(conn, sql, binds).await
    }

    async fn fetch_token<'q>(
        conn: &mut PgConnection,
        sql: &'q str,
        binds: &[Bind<'q>],
    ) -> Result<Option<String>, sqlx::Error> {
        prim_fetch_token(conn, sql, binds).await
    }

    async fn fetch_record<'q>(
        conn: &mut PgConnection,
        sql: &'q str,
        binds: &[Bind<'q>],
    ) -> Result<Option<Record>, sqlx::Error> {
        prim_fetch_record(conn, sql, binds).await
    }
}
