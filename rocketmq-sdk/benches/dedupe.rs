//! Per-message overhead of the dedupe guards against a no-guard baseline.
//!
//! Each iteration runs one message's no-op handler: directly (`baseline`), or under a
//! guard for a fresh key (`first`: claim + complete) or a consumed key (`duplicate`:
//! claim attempt only). The servers come from `REDIS_URL`, `POSTGRES_URL` and `MYSQL_URL`
//! (each skipped when unset); SQLite uses a temporary file (WAL).
//!
//! ```sh
//! REDIS_URL=redis://127.0.0.1:6379/ POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! MYSQL_URL=mysql://root@127.0.0.1:3306/test \
//!   cargo bench -p rocketmq-sdk --features redis,sql --bench dedupe
//! ```
#![allow(clippy::print_stderr)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use rocketmq_sdk::dedupe::memory::MemoryGuard;
use rocketmq_sdk::dedupe::redis::RedisGuard;
use rocketmq_sdk::dedupe::sql::client as sqlx;
use rocketmq_sdk::dedupe::sql::{SqlDialect, SqlGuard};
use rocketmq_sdk::dedupe::{ConsumeOutcome, DedupeGuard, DedupeKey, Deduplicator};
use tokio::runtime::Runtime;

const GROUP: &str = "CID_bench";

static SEQ: AtomicU64 = AtomicU64::new(0);

fn fresh_key() -> DedupeKey {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    DedupeKey::new(GROUP, format!("bench-{}-{n}", std::process::id())).unwrap()
}

async fn handler() -> Result<(), std::convert::Infallible> {
    black_box(());
    Ok(())
}

fn rt() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn bench_guard<G: DedupeGuard + Clone>(c: &mut Criterion, rt: &Runtime, name: &str, guard: G) {
    let d = Deduplicator::builder(guard, GROUP).build().unwrap();
    let mut group = c.benchmark_group(format!("dedupe/{name}"));
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("first", |b| {
        b.iter_custom(|iters| {
            let keys: Vec<DedupeKey> = (0..iters).map(|_| fresh_key()).collect();
            rt.block_on(async {
                let start = Instant::now();
                for k in &keys {
                    let o = d.run(k, handler).await;
                    assert!(matches!(o, ConsumeOutcome::Consumed), "{o:?}");
                }
                start.elapsed()
            })
        })
    });
    let consumed = fresh_key();
    rt.block_on(d.run(&consumed, handler));
    group.bench_function("duplicate", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let o = d.run(&consumed, handler).await;
                    assert!(matches!(o, ConsumeOutcome::AlreadyConsumed));
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn bench_same_tx<DB: SqlDialect>(c: &mut Criterion, rt: &Runtime, name: &str, g: &SqlGuard<DB>) {
    let mut group = c.benchmark_group(format!("dedupe/{name}"));
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("same-tx first", |b| {
        b.iter_custom(|iters| {
            let keys: Vec<DedupeKey> = (0..iters).map(|_| fresh_key()).collect();
            rt.block_on(async {
                let start = Instant::now();
                for k in &keys {
                    let o = g
                        .run_in_transaction(k, |_tx| {
                            Box::pin(async { Ok::<(), std::convert::Infallible>(()) })
                        })
                        .await;
                    assert!(matches!(o, ConsumeOutcome::Consumed), "{o:?}");
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn table() -> String {
    format!("bench_dedupe_{}", std::process::id())
}

async fn sql_guard<DB: SqlDialect>(pool: sqlx::Pool<DB>) -> SqlGuard<DB> {
    let g = SqlGuard::builder(pool).table(table()).build().unwrap();
    g.migrate().await.unwrap();
    g
}

fn benches(c: &mut Criterion) {
    let rt = rt();
    let mut group = c.benchmark_group("dedupe/none");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2));
    group.bench_function("baseline", |b| {
        b.iter_custom(|iters| {
            let keys: Vec<DedupeKey> = (0..iters).map(|_| fresh_key()).collect();
            rt.block_on(async {
                let start = Instant::now();
                for k in &keys {
                    black_box(k);
                    handler().await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.finish();

    bench_guard(c, &rt, "memory", MemoryGuard::new());

    match std::env::var("REDIS_URL") {
        Ok(url) => {
            let g = rt.block_on(async {
                RedisGuard::connect(&url)
                    .await
                    .unwrap()
                    .prefix(format!("bench:dedupe:{}:", std::process::id()))
                    .retention(Duration::from_secs(120))
                    .build()
                    .unwrap()
            });
            bench_guard(c, &rt, "redis", g);
        }
        Err(_) => eprintln!("skipped redis: no REDIS_URL"),
    }

    match std::env::var("POSTGRES_URL") {
        Ok(url) => {
            let g = rt.block_on(async {
                sql_guard(
                    sqlx::postgres::PgPoolOptions::new()
                        .max_connections(4)
                        .connect(&url)
                        .await
                        .unwrap(),
                )
                .await
            });
            bench_guard(c, &rt, "postgres", g.clone());
            bench_same_tx(c, &rt, "postgres", &g);
            rt.block_on(async {
                sqlx::query(&format!("DROP TABLE {}", table()))
                    .execute(g.pool())
                    .await
                    .unwrap();
            });
        }
        Err(_) => eprintln!("skipped postgres: no POSTGRES_URL"),
    }

    match std::env::var("MYSQL_URL") {
        Ok(url) => {
            let g = rt.block_on(async {
                sql_guard(
                    sqlx::mysql::MySqlPoolOptions::new()
                        .max_connections(4)
                        .connect(&url)
                        .await
                        .unwrap(),
                )
                .await
            });
            bench_guard(c, &rt, "mariadb", g.clone());
            bench_same_tx(c, &rt, "mariadb", &g);
            rt.block_on(async {
                sqlx::query(&format!("DROP TABLE {}", table()))
                    .execute(g.pool())
                    .await
                    .unwrap();
            });
        }
        Err(_) => eprintln!("skipped mariadb: no MYSQL_URL"),
    }

    let path = std::env::temp_dir().join(format!("{}.db", table()));
    let g = rt.block_on(async {
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
        sql_guard(
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts)
                .await
                .unwrap(),
        )
        .await
    });
    bench_guard(c, &rt, "sqlite", g.clone());
    bench_same_tx(c, &rt, "sqlite", &g);
    rt.block_on(g.pool().close());
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
}

criterion_group!(dedupe, benches);
criterion_main!(dedupe);
