//! MySQL and MariaDB.

use async_trait::async_trait;
use sqlx::mysql::{MySql, MySqlConnection};

use super::TableName;
use super::dialect::{Bind, Dialect, P, Record, Statements, Stmt, primitives};

primitives!(MySql, MySqlConnection);

/// The database clock in ms since the epoch (`NOW(3)` is fixed for the statement).
const NOW: &str = "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)";

const GKTM: &[P] = &[P::Group, P::Key, P::Token, P::Ms];

#[async_trait]
impl Dialect for MySql {
    const DISPLAY_NAME: &'static str = "MySQL";

    fn table_ref(table: &TableName) -> String {
        match &table.schema {
            Some(s) => format!("`{s}`.`{}`", table.name),
            None => format!("`{}`", table.name),
        }
    }

    fn ddl(table: &TableName) -> Vec<String> {
        let t = Self::table_ref(table);
        // VARBINARY keys compare byte for byte (no case folding, no trailing-space
        // padding, whatever the server's default collation).
        vec![format!(
            "CREATE TABLE IF NOT EXISTS {t} (\n\
             \x20   consumer_group VARBINARY(255)  NOT NULL,\n\
             \x20   dedupe_key     VARBINARY(1024) NOT NULL,\n\
             \x20   status         VARCHAR(16)     NOT NULL,\n\
             \x20   token          VARCHAR(64)     NOT NULL,\n\
             \x20   expires_at     BIGINT          NOT NULL,\n\
             \x20   updated_at     BIGINT          NOT NULL,\n\
             \x20   PRIMARY KEY (consumer_group, dedupe_key),\n\
             \x20   KEY `{}_expires_at` (expires_at)\n\
             ) ENGINE = InnoDB",
            table.name
        )]
    }

    fn statements(table: &TableName) -> Statements {
        let t = Self::table_ref(table);
        let key = "consumer_group = ? AND dedupe_key = ?";
        // `ON DUPLICATE KEY UPDATE` assigns left to right and later assignments see the
        // new values, so `expires_at` (which every condition reads) is assigned last.
        let taken = format!("expires_at <= {NOW}");
        Statements {
            claim: Stmt {
                sql: format!(
                    "INSERT INTO {t} (consumer_group, dedupe_key, status, token, expires_at, updated_at) \
                     VALUES (?, ?, 'CONSUMING', ?, {NOW} + ?, {NOW}) \
                     ON DUPLICATE KEY UPDATE \
                     token = IF({taken}, ?, token), \
                     status = IF({taken}, 'CONSUMING', status), \
                     updated_at = IF({taken}, {NOW}, updated_at), \
                     expires_at = IF({taken}, {NOW} + ?, expires_at)"
                ),
                params: &[P::Group, P::Key, P::Token, P::Ms, P::Token, P::Ms],
            },
            claim_returns_token: false,
            read: Stmt {
                sql: format!(
                    "SELECT status, token, expires_at, {NOW} AS now_ms FROM {t} WHERE {key}"
                ),
                params: &[P::Group, P::Key],
            },
            renew: Stmt {
                sql: format!(
                    "UPDATE {t} SET expires_at = {NOW} + ?, updated_at = {NOW} \
                     WHERE {key} AND token = ? AND status = 'CONSUMING'"
                ),
                params: &[P::Ms, P::Group, P::Key, P::Token],
            },
            complete: Stmt {
                sql: format!(
                    "UPDATE {t} SET status = 'CONSUMED', expires_at = {NOW} + ?, updated_at = {NOW} \
                     WHERE {key} AND token = ?"
                ),
                params: &[P::Ms, P::Group, P::Key, P::Token],
            },
            insert_consumed: Stmt {
                sql: format!(
                    "INSERT IGNORE INTO {t} (consumer_group, dedupe_key, status, token, expires_at, updated_at) \
                     VALUES (?, ?, 'CONSUMED', ?, {NOW} + ?, {NOW})"
                ),
                params: GKTM,
            },
            release: Stmt {
                sql: format!("DELETE FROM {t} WHERE {key} AND token = ? AND status = 'CONSUMING'"),
                params: &[P::Group, P::Key, P::Token],
            },
            cleanup: Stmt {
                sql: format!("DELETE FROM {t} WHERE expires_at <= {NOW}"),
                params: &[],
            },
        }
    }

    async fn execute_ddl(conn: &mut MySqlConnection, sql: &str) -> Result<(), sqlx::Error> {
        prim_ddl(conn, sql).await
    }

    async fn execute<'q>(
        conn: &mut MySqlConnection,
        sql: &'q str,
        binds: &[Bind<'q>],
    ) -> Result<u64, sqlx::Error> {
        prim_execute(conn, sql, binds).await
    }

    async fn fetch_token<'q>(
        conn: &mut MySqlConnection,
        sql: &'q str,
        binds: &[Bind<'q>],
    ) -> Result<Option<String>, sqlx::Error> {
        prim_fetch_token(conn, sql, binds).await
    }

    async fn fetch_record<'q>(
        conn: &mut MySqlConnection,
        sql: &'q str,
        binds: &[Bind<'q>],
    ) -> Result<Option<Record>, sqlx::Error> {
        prim_fetch_record(conn, sql, binds).await
    }
}
