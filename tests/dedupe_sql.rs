//! The SQL guard on PostgreSQL (`POSTGRES_URL`), MariaDB/MySQL (`MYSQL_URL`) and SQLite (a
//! temporary file, always): the conformance suite plus the same-transaction mode,
//! cleanup and fail-closed behaviour. Without a URL (or with a server that does not answer)
//! a test prints `SKIPPED (not run): … needs …` on the terminal; with `CI` set it fails. Every test works on its own tables.

mod dedupe_support;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dedupe_support::*;
use futures::future::BoxFuture;
use rocketmq_sdk::dedupe::sql::client as sqlx;
use rocketmq_sdk::dedupe::sql::{SqlDialect, SqlGuard};
use rocketmq_sdk::dedupe::{Claim, ConsumeOutcome, DedupeGuard, RetryReason};
use sqlx::{MySql, Pool, Postgres, Sqlite, Transaction};

const LEASE: Duration = Duration::from_millis(1000);

/// What the tests need from each database besides the guard.
trait TestDb: SqlDialect {
    const LABEL: &'static str;
    /// A schema the test database has (for schema-qualified table names).
    const SCHEMA: &'static str;
    /// The connection target (URL or SQLite file), `None` when skipped.
    fn target() -> Option<String>;
    fn connect(target: String, max: u32) -> BoxFuture<'static, Pool<Self>>;
    /// Runs a statement without parameters (DDL).
    fn exec(pool: &Pool<Self>, sql: String) -> BoxFuture<'_, ()>;
    /// `SELECT COUNT(*), COUNT(DISTINCT id) FROM table [WHERE id = ?]`.
    fn counts(pool: &Pool<Self>, table: String, id: Option<i64>) -> BoxFuture<'_, (i64, i64)>;
    /// Inserts business row `id` into `table` in the transaction.
    fn insert_biz<'t>(
        tx: &'t mut Transaction<'static, Self>,
        table: String,
        id: i64,
    ) -> BoxFuture<'t, Result<(), String>>;
}

macro_rules! test_db {
    ($db:ty, $label:literal, $schema:literal, $ph:literal, $opts:ty, $connect:ident) => {
        impl TestDb for $db {
            const LABEL: &'static str = $label;
            const SCHEMA: &'static str = $schema;

            fn target() -> Option<String> {
                target_for($label)
            }

            fn connect(target: String, max: u32) -> BoxFuture<'static, Pool<Self>> {
                Box::pin(async move {
                    let opts = <$opts>::new().max_connections(max);
                    $connect(opts, &target).await
                })
            }

            fn exec(pool: &Pool<Self>, sql: String) -> BoxFuture<'_, ()> {
                Box::pin(async move {
                    sqlx::query(&sql).execute(pool).await.unwrap();
                })
            }

            fn counts(
                pool: &Pool<Self>,
                table: String,
                id: Option<i64>,
            ) -> BoxFuture<'_, (i64, i64)> {
                Box::pin(async move {
                    let sql = format!("SELECT COUNT(*), COUNT(DISTINCT id) FROM {table}");
                    match id {
                        Some(id) => sqlx::query_as(&format!("{sql} WHERE id = {}", $ph))
                            .bind(id)
                            .fetch_one(pool)
                            .await
                            .unwrap(),
                        None => sqlx::query_as(&sql).fetch_one(pool).await.unwrap(),
                    }
                })
            }

            fn insert_biz<'t>(
                tx: &'t mut Transaction<'static, Self>,
                table: String,
                id: i64,
            ) -> BoxFuture<'t, Result<(), String>> {
                Box::pin(async move {
                    sqlx::query(&format!("INSERT INTO {table} (id) VALUES ({})", $ph))
                        .bind(id)
                        .execute(&mut **tx)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                })
            }
        }
    };
}

test_db!(
    Postgres,
    "postgres",
    "public",
    "$1",
    sqlx::postgres::PgPoolOptions,
    connect_url
);
test_db!(
    MySql,
    "mysql",
    "test",
    "?",
    sqlx::mysql::MySqlPoolOptions,
    connect_url
);
test_db!(
    Sqlite,
    "sqlite",
    "main",
    "?",
    sqlx::sqlite::SqlitePoolOptions,
    connect_sqlite
);

fn target_for(label: &str) -> Option<String> {
    match label {
        "postgres" => service_url("POSTGRES_URL"),
        "mysql" => service_url("MYSQL_URL"),
        _ => Some(
            std::env::temp_dir()
                .join(format!("rocketmq-dedupe-{}.db", suffix()))
                .to_string_lossy()
                .into_owned(),
        ),
    }
}

async fn connect_url<DB: sqlx::Database>(opts: sqlx::pool::PoolOptions<DB>, url: &str) -> Pool<DB> {
    opts.connect(url).await.expect("connect")
}

/// SQLite on a file, WAL, with a generous busy timeout (consumers share one writer).
async fn connect_sqlite(opts: sqlx::sqlite::SqlitePoolOptions, path: &str) -> Pool<Sqlite> {
    let co = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(30));
    opts.connect_with(co).await.expect("connect")
}

struct Fixture<DB: TestDb> {
    backend: Backend<SqlGuard<DB>>,
    target: String,
    table: String,
    admin: Pool<DB>,
    extra_tables: Mutex<Vec<String>>,
}

async fn fixture<DB: TestDb>() -> Option<Fixture<DB>> {
    let target = DB::target()?;
    init_tracing();
    let table = format!("dd_{}", suffix());
    let admin = DB::connect(target.clone(), 4).await;
    let guard = SqlGuard::<DB>::builder(admin.clone())
        .table(table.clone())
        .build()
        .unwrap();
    guard.migrate().await.unwrap();
    guard.migrate().await.unwrap(); // idempotent
    let (t, tb) = (target.clone(), table.clone());
    let backend = Backend::new(DB::LABEL, LEASE, move |opts: Opts| {
        let (t, tb) = (t.clone(), tb.clone());
        Box::pin(async move {
            let pool = DB::connect(t, 4).await;
            let mut b = SqlGuard::<DB>::builder(pool)
                .table(tb)
                .lease(opts.lease)
                .retention(Duration::from_secs(600));
            if let Some(r) = opts.renew {
                b = b.renew_interval(r);
            }
            b.build().unwrap()
        })
    });
    Some(Fixture {
        backend,
        target,
        table,
        admin,
        extra_tables: Mutex::new(Vec::new()),
    })
}

impl<DB: TestDb> Fixture<DB> {
    /// A business table `(id BIGINT)` without any unique constraint, so double effects
    /// show up in counts; dropped at teardown.
    async fn business_table(&self) -> String {
        let name = format!("biz_{}", suffix());
        DB::exec(
            &self.admin,
            format!("CREATE TABLE {name} (id BIGINT NOT NULL)"),
        )
        .await;
        self.extra_tables.lock().unwrap().push(name.clone());
        name
    }

    async fn guard(&self, lease: Duration, renew: Option<Duration>) -> SqlGuard<DB> {
        self.backend.guard_with(Opts { lease, renew }).await
    }

    async fn teardown(self) {
        let mut tables = std::mem::take(&mut *self.extra_tables.lock().unwrap());
        tables.push(self.table.clone());
        for t in tables {
            DB::exec(&self.admin, format!("DROP TABLE IF EXISTS {t}")).await;
        }
        self.admin.close().await;
        if !self.target.contains("://") {
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(PathBuf::from(format!("{}{ext}", self.target)));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// SQL-only scenarios
// ---------------------------------------------------------------------------------------

/// Same-transaction mode, success: the business write and the marker commit together.
async fn same_tx_commits_business_write_and_marker_together<DB: TestDb>(fx: &Fixture<DB>) {
    let biz = fx.business_table().await;
    let g = fx.backend.guard().await;
    let k = key("tx-commit");
    let b = biz.clone();
    let o = g
        .run_in_transaction(&k, move |tx| DB::insert_biz(tx, b, 1))
        .await;
    assert!(matches!(o, ConsumeOutcome::Consumed), "{o:?}");
    assert_eq!(DB::counts(&fx.admin, biz.clone(), Some(1)).await.0, 1);
    assert_eq!(g.begin(&k).await.unwrap(), Claim::AlreadyConsumed);
    // The duplicate runs nothing.
    let b = biz.clone();
    let o = g
        .run_in_transaction(&k, move |tx| DB::insert_biz(tx, b, 1))
        .await;
    assert!(matches!(o, ConsumeOutcome::AlreadyConsumed), "{o:?}");
    assert_eq!(DB::counts(&fx.admin, biz, Some(1)).await.0, 1);
}

/// Same-transaction mode, failure: the business write and the marker roll back together,
/// and the key is free for the retry. Also for a panicking handler.
async fn same_tx_rolls_back_business_write_and_marker_together<DB: TestDb>(fx: &Fixture<DB>) {
    let biz = fx.business_table().await;
    let g = fx.backend.guard().await;
    let k = key("tx-rollback");
    let b = biz.clone();
    let o = g
        .run_in_transaction(&k, move |tx| {
            Box::pin(async move {
                DB::insert_biz(tx, b, 2).await?;
                Err::<(), String>("business rule failed after the write".into())
            })
        })
        .await;
    assert!(matches!(o, ConsumeOutcome::Failed(_)), "{o:?}");
    assert_eq!(DB::counts(&fx.admin, biz.clone(), Some(2)).await.0, 0);
    // Nothing was marked: the key is free.
    let Claim::Proceed(lease) = g.begin(&k).await.unwrap() else {
        panic!("key still claimed after a rolled-back handler")
    };
    g.release(&lease).await.unwrap();

    // A panic: rolled back, released, panic propagated.
    let (g2, k2, b) = (g.clone(), k.clone(), biz.clone());
    let panicked = tokio::spawn(async move {
        g2.run_in_transaction(&k2, move |tx| {
            Box::pin(async move {
                DB::insert_biz(tx, b, 2).await?;
                panic!("handler bug after the write");
                #[allow(unreachable_code)]
                Ok::<(), String>(())
            })
        })
        .await
    })
    .await;
    assert!(panicked.unwrap_err().is_panic());
    assert_eq!(DB::counts(&fx.admin, biz.clone(), Some(2)).await.0, 0);

    // The retry commits exactly one write.
    let b = biz.clone();
    let o = g
        .run_in_transaction(&k, move |tx| DB::insert_biz(tx, b, 2))
        .await;
    assert!(matches!(o, ConsumeOutcome::Consumed), "{o:?}");
    assert_eq!(DB::counts(&fx.admin, biz, Some(2)).await.0, 1);
}

/// Same-transaction mode, claim taken over while the handler ran (its renewal is off, so
/// the lease expires and another consumer claims the key): the marker write is fenced by
/// the token, so the handler's transaction rolls back instead of committing a second
/// effect; the new holder's claim is intact.
async fn same_tx_taken_over_claim_rolls_back<DB: TestDb>(fx: &Fixture<DB>) {
    let biz = fx.business_table().await;
    let stalled = fx.guard(LEASE, Some(NO_RENEWAL)).await;
    let other = fx.backend.guard().await;
    let observer = fx.backend.guard().await;
    let k = key("tx-takeover");
    let (b, o2, k2) = (biz.clone(), other.clone(), k.clone());
    let taken = Arc::new(Mutex::new(None));
    let taken2 = taken.clone();
    let outcome = stalled
        .run_in_transaction(&k, move |tx| {
            Box::pin(async move {
                // Stall until another consumer has taken the key over (no writes yet, so
                // SQLite's single writer is free for the takeover).
                let deadline = tokio::time::Instant::now() + LEASE * 20;
                loop {
                    if let Claim::Proceed(l) = o2.begin(&k2).await.unwrap() {
                        *taken2.lock().unwrap() = Some(l);
                        break;
                    }
                    assert!(tokio::time::Instant::now() < deadline, "never taken over");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                DB::insert_biz(tx, b, 3).await
            })
        })
        .await;
    assert!(
        matches!(outcome, ConsumeOutcome::RetryLater(RetryReason::LeaseLost)),
        "{outcome:?}"
    );
    assert_eq!(DB::counts(&fx.admin, biz, Some(3)).await.0, 0);
    assert_eq!(observer.begin(&k).await.unwrap(), Claim::InProgress);
    let new = taken.lock().unwrap().take().unwrap();
    other.complete(&new).await.unwrap();
    assert_eq!(observer.begin(&k).await.unwrap(), Claim::AlreadyConsumed);
}

/// Same-transaction mode under 10,000 messages with ~30% duplicate deliveries and 5% of
/// first attempts failing *after* their business write: exactly one committed row per
/// message.
async fn same_tx_exactly_once_under_duplicates<DB: TestDb>(fx: &Fixture<DB>) {
    const MESSAGES: usize = 10_000;
    let biz = fx.business_table().await;
    let ids = deliveries(MESSAGES, 30, 0xBEEF);
    let dups = ids.len() - MESSAGES;
    let mut consumers = Vec::new();
    for _ in 0..4 {
        consumers.push(fx.backend.guard().await);
    }
    let started = std::time::Instant::now();
    let b = biz.clone();
    let tally = deliver_all(ids, consumers, 4, move |g: SqlGuard<DB>, id, attempt| {
        let b = b.clone();
        Box::pin(async move {
            let k = key(&format!("tx-eo-{id}"));
            g.run_in_transaction(&k, move |tx| {
                Box::pin(async move {
                    DB::insert_biz(tx, b, id as i64).await?;
                    if attempt == 0 && id % 20 == 7 {
                        return Err(format!("injected failure after writing {id}"));
                    }
                    Ok(())
                })
            })
            .await
        })
    })
    .await;
    let (rows, distinct) = DB::counts(&fx.admin, biz, None).await;
    eprintln!(
        "{}: same-tx exactly-once: {} deliveries ({dups} duplicates) in {:?}: consumed {}, already {}, in-progress retries {}, failed {}, other retries {}",
        DB::LABEL,
        tally.deliveries,
        started.elapsed(),
        tally.consumed.load(Ordering::Relaxed),
        tally.already.load(Ordering::Relaxed),
        tally.in_progress.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
        tally.backend.load(Ordering::Relaxed),
    );
    assert_eq!(rows, MESSAGES as i64, "committed business rows");
    assert_eq!(distinct, MESSAGES as i64, "distinct business rows");
    assert_eq!(tally.consumed.load(Ordering::Relaxed), MESSAGES);
    assert_eq!(tally.already.load(Ordering::Relaxed), dups);
    assert!(tally.failed.load(Ordering::Relaxed) >= MESSAGES / 20 - 10);
}

/// `cleanup()` deletes expired claims and records past retention, and only those.
async fn cleanup_deletes_expired_rows<DB: TestDb>(fx: &Fixture<DB>) {
    let pool = DB::connect(fx.target.clone(), 2).await;
    let short = SqlGuard::<DB>::builder(pool)
        .table(fx.table.clone())
        .lease(Duration::from_millis(500))
        .retention(Duration::from_millis(500))
        .build()
        .unwrap();
    let long = fx.backend.guard().await; // 600 s retention
    let Claim::Proceed(kept) = long.begin(&key("kept")).await.unwrap() else {
        panic!()
    };
    long.complete(&kept).await.unwrap();
    let Claim::Proceed(done) = short.begin(&key("done")).await.unwrap() else {
        panic!()
    };
    short.complete(&done).await.unwrap();
    let Claim::Proceed(_abandoned) = short.begin(&key("abandoned")).await.unwrap() else {
        panic!()
    };
    let deleted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let ok = rocketmq_suite::wait_until(Duration::from_secs(20), || {
        let (short, deleted) = (short.clone(), deleted.clone());
        async move {
            let n = short.cleanup().await.unwrap();
            deleted.fetch_add(n, Ordering::SeqCst) + n >= 2
        }
    })
    .await;
    let deleted = deleted.load(Ordering::SeqCst);
    assert!(ok && deleted == 2, "cleanup deleted {deleted} rows");
    assert!(matches!(
        short.begin(&key("done")).await.unwrap(),
        Claim::Proceed(_)
    ));
    assert_eq!(
        long.begin(&key("kept")).await.unwrap(),
        Claim::AlreadyConsumed
    );
    // The periodic task does the same.
    let task = short.spawn_cleanup(Duration::from_millis(50));
    let gone = rocketmq_suite::wait_until(Duration::from_secs(20), || {
        let short = short.clone();
        async move { matches!(short.begin(&key("done")).await.unwrap(), Claim::Proceed(_)) }
    })
    .await;
    drop(task);
    assert!(gone);
}

/// A database error (here: the table does not exist) fails closed in both modes: the
/// handler does not run and the delivery is retried later.
async fn backend_errors_fail_closed<DB: TestDb>(fx: &Fixture<DB>) {
    let pool = DB::connect(fx.target.clone(), 2).await;
    let g = SqlGuard::<DB>::builder(pool)
        .table(format!("missing_{}", suffix()))
        .build()
        .unwrap();
    let k = key("missing-table");
    let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = dedupe(g.clone());
    let r = ran.clone();
    let o: ConsumeOutcome<String> = d
        .run(&k, || async move {
            r.store(true, Ordering::SeqCst);
            Ok(())
        })
        .await;
    assert!(
        matches!(o, ConsumeOutcome::RetryLater(RetryReason::Backend(_))),
        "{o:?}"
    );
    let r = ran.clone();
    let o = g
        .run_in_transaction(&k, move |_tx| {
            Box::pin(async move {
                r.store(true, Ordering::SeqCst);
                Ok::<(), String>(())
            })
        })
        .await;
    assert!(
        matches!(o, ConsumeOutcome::RetryLater(RetryReason::Backend(_))),
        "{o:?}"
    );
    assert!(!ran.load(Ordering::SeqCst));
}

/// The documented DDL names the table and the unique key.
async fn ddl_is_documented_and_applied<DB: TestDb>(fx: &Fixture<DB>) {
    let g = fx.backend.guard().await;
    let ddl = g.ddl().join(";\n");
    assert!(ddl.contains(&fx.table), "{ddl}");
    assert!(
        ddl.contains("PRIMARY KEY (consumer_group, dedupe_key)"),
        "{ddl}"
    );
    assert!(ddl.contains("expires_at"), "{ddl}");
    // Bad table names never reach the database.
    let pool = DB::connect(fx.target.clone(), 2).await;
    assert!(
        SqlGuard::<DB>::builder(pool.clone())
            .table("x; DROP TABLE y")
            .build()
            .is_err()
    );
    // A schema-qualified table: created, claimed, completed.
    let qualified = format!("{}.dd_q_{}", DB::SCHEMA, suffix());
    let q = SqlGuard::<DB>::builder(pool)
        .table(qualified.clone())
        .build()
        .unwrap();
    q.migrate().await.unwrap();
    fx.extra_tables.lock().unwrap().push(qualified);
    let Claim::Proceed(lease) = q.begin(&key("qualified")).await.unwrap() else {
        panic!()
    };
    q.complete(&lease).await.unwrap();
    assert_eq!(
        q.begin(&key("qualified")).await.unwrap(),
        Claim::AlreadyConsumed
    );
}

macro_rules! sql_tests {
    ($m:ident, $db:ty, [$($scenario:ident),* $(,)?], [$($own:ident),* $(,)?]) => {
        mod $m {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(fx) = fixture::<$db>().await else { return };
                    dedupe_support::$scenario(&fx.backend).await;
                    fx.teardown().await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $own() {
                    let Some(fx) = fixture::<$db>().await else { return };
                    super::$own(&fx).await;
                    fx.teardown().await;
                }
            )*
        }
    };
}

macro_rules! all_sql_tests {
    ($m:ident, $db:ty) => {
        sql_tests!(
            $m,
            $db,
            [
                duplicate_after_success_is_acked_without_running,
                duplicate_while_running_is_retried_not_dropped,
                failed_handler_releases_the_key,
                killed_consumers_claim_is_taken_over_after_the_lease,
                racing_consumers_run_each_handler_once,
                long_handler_is_not_run_twice,
                stale_token_cannot_complete_or_release,
                exactly_once_effect_under_duplicates,
            ],
            [
                same_tx_commits_business_write_and_marker_together,
                same_tx_rolls_back_business_write_and_marker_together,
                same_tx_taken_over_claim_rolls_back,
                same_tx_exactly_once_under_duplicates,
                cleanup_deletes_expired_rows,
                backend_errors_fail_closed,
                ddl_is_documented_and_applied,
            ]
        );
    };
}

all_sql_tests!(postgres, Postgres);
all_sql_tests!(mariadb, MySql);
all_sql_tests!(sqlite, Sqlite);
