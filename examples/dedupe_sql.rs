//! Exactly-once effects with a SQL dedupe guard: the producer sends one payment twice with
//! the same message id (what a retry after a lost acknowledgement does), the consumer runs
//! every delivery through the guard, and the ledger is credited once. The guard's records
//! are rows of a table (`rocketmq_dedupe`), which `migrate` creates.
//!
//! With `POSTGRES_URL` set it uses that PostgreSQL database; without it, an in-memory
//! SQLite database. The first line says which one runs.
//!
//! ```sh
//! cargo run --example dedupe_sql
//! POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo run --example dedupe_sql
//! ```
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::Client;
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
use rocketmq_sdk::dedupe::sql::client::postgres::PgPoolOptions;
use rocketmq_sdk::dedupe::sql::client::sqlite::SqlitePoolOptions;
use rocketmq_sdk::dedupe::sql::{SqlDialect, SqlGuard};
use rocketmq_sdk::dedupe::{Deduplicator, PushConsumerDedupeExt};
use rocketmq_sdk::protocol::message::id::now_ms;
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_suite::{NotDemonstrated, ensure, wait_until};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::var("POSTGRES_URL") {
        Ok(url) => {
            println!("dedupe guard: PostgreSQL at {url} (POSTGRES_URL)");
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .connect(&url)
                .await
                .map_err(|e| NotDemonstrated(format!("cannot connect to {url}: {e}")))?;
            demo(SqlGuard::builder(pool).build()?, "PostgreSQL").await
        }
        Err(_) => {
            println!("dedupe guard: SQLite in memory (POSTGRES_URL is not set)");
            // One connection: every connection to `sqlite::memory:` is its own database.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect("sqlite::memory:")
                .await?;
            demo(SqlGuard::builder(pool).build()?, "SQLite").await
        }
    }
}

async fn demo<DB: SqlDialect>(
    guard: SqlGuard<DB>,
    db: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    guard.migrate().await?;
    println!("table {} ready", guard.table());

    let broker = EmbeddedBroker::start().await?;
    broker.create_topic("payments", 2).await?;
    let client = Client::builder()
        .name_server(broker.name_server_addr())
        .persist_offset_interval(Duration::from_millis(100))
        .build()
        .await?;

    // The business effect: credits per payment id.
    let ledger: Arc<Mutex<BTreeMap<String, u32>>> = Arc::default();
    let l = ledger.clone();
    let consumer = client
        .push_consumer("ledger")
        .subscribe("payments", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .dedupe(Deduplicator::builder(guard, "ledger").build()?)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let l = l.clone();
            async move {
                for m in &msgs {
                    let id = m.uniq_key().unwrap_or_default().to_owned();
                    println!("  crediting {} ({id})", String::from_utf8_lossy(&m.body));
                    *l.lock().unwrap().entry(id).or_default() += 1;
                }
                ConsumeResult::Success
            }
        })
        .await?;

    let producer = client.producer("payments-svc").start().await?;
    // Ids unique to this run: a PostgreSQL table outlives it.
    let run = now_ms();
    let (first, second) = (format!("pay-{run}-1"), format!("pay-{run}-2"));
    for (id, copy) in [(&first, 1), (&first, 2), (&second, 1)] {
        let mut m = Message::new("payments", format!("payment {id}"));
        m.set_uniq_key(id.clone());
        producer.send(m).await?;
        println!("sent {id} (copy {copy})");
    }

    // All three deliveries acknowledged: the group's committed offsets add up to 3.
    let acked = wait_until(Duration::from_secs(20), || async {
        broker
            .consumer_offsets("ledger", "payments")
            .values()
            .sum::<i64>()
            == 3
    })
    .await;
    ensure(acked, "all three deliveries are acknowledged")?;
    let credits = ledger.lock().unwrap().clone();
    println!("ledger: {credits:?}");
    ensure(
        credits.get(&first) == Some(&1) && credits.get(&second) == Some(&1),
        "each payment is credited exactly once despite the duplicate",
    )?;

    consumer.shutdown().await;
    client.shutdown().await;
    broker.shutdown().await?;
    println!("OK: 3 deliveries, 2 payments, each credited once (SQL guard on {db})");
    Ok(())
}
