//! The transactional outbox: order events are written in the same SQLite transaction as
//! the orders, while the broker is down; the relay delivers them, in order, once it is
//! back.
//!
//! The same code works on PostgreSQL and MySQL/MariaDB with their sqlx pools.
//!
//! ```sh
//! cargo run --example outbox
//! ```
#![allow(clippy::print_stdout)]

use std::time::Duration;

use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::Client;
use rocketmq_sdk::outbox::sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use rocketmq_sdk::outbox::{Backoff, Outbox, sqlx};
use rocketmq_sdk::protocol::message::Message;
use rocketmq_suite::{ensure, wait_until};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = EmbeddedBroker::builder().start().await?;
    let client = Client::builder()
        .name_server(broker.name_server_addr())
        .route_poll_interval(Duration::from_secs(1))
        .build()
        .await?;
    let producer = client.producer("outbox-example").start().await?;

    let dir = tempfile::tempdir()?;
    let pool = SqlitePoolOptions::new()
        .connect_with(
            SqliteConnectOptions::new()
                .filename(dir.path().join("shop.db"))
                .create_if_missing(true),
        )
        .await?;
    sqlx::raw_sql("CREATE TABLE orders (id INTEGER PRIMARY KEY, state TEXT NOT NULL)")
        .execute(&pool)
        .await?;
    let outbox = Outbox::new(pool.clone());
    outbox.migrate().await?;
    let relay = outbox
        .relay(producer)
        .backoff(Backoff::new(
            Duration::from_millis(200),
            Duration::from_secs(2),
        ))
        .start()?;

    broker.crash().await;
    for id in 1..=3_i64 {
        let mut tx = pool.begin().await?;
        sqlx::query("INSERT INTO orders (id, state) VALUES (?, 'paid')")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let mut event = Message::new("order-events", format!("order {id} paid"));
        event.set_tags("paid");
        event.set_sharding_key("shop-1"); // one key: delivered in this order
        outbox.enqueue(&mut tx, event).await?;
        tx.commit().await?;
        relay.notify();
    }
    println!(
        "3 orders committed while the broker is down: {:?}",
        outbox.counts().await?
    );

    broker.restart().await?;
    let delivered = wait_until(Duration::from_secs(30), || async {
        outbox.counts().await.map(|c| c.sent == 3).unwrap_or(false)
    })
    .await;
    println!("broker back; all delivered: {delivered}");
    ensure(
        delivered,
        "the 3 events are delivered once the broker is back",
    )?;
    let stored = broker.messages("order-events")?;
    let bodies: Vec<String> = stored
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    ensure(
        bodies == ["order 1 paid", "order 2 paid", "order 3 paid"],
        format!("the broker has the 3 events once each, in commit order: {bodies:?}"),
    )?;
    for m in stored {
        println!(
            "  queue {} offset {}: {} (msg id {})",
            m.queue_id,
            m.queue_offset,
            String::from_utf8_lossy(&m.body),
            m.uniq_key().unwrap_or("?")
        );
    }
    relay.shutdown().await?;
    client.shutdown().await;
    println!("OK: events committed with the orders while the broker was down were all delivered");
    Ok(())
}
