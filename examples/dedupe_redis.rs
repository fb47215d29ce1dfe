//! Exactly-once effects with a Redis dedupe guard: the producer sends one payment twice
//! with the same message id (what a retry after a lost acknowledgement does), the consumer
//! runs every delivery through the guard, and the ledger is credited once. The guard's
//! record lives in Redis, so it holds across consumer instances and restarts.
//!
//! Needs a Redis server: `REDIS_URL` (default `redis://127.0.0.1:6379/`).
//!
//! ```sh
//! REDIS_URL=redis://127.0.0.1:6379/ cargo run --example dedupe_redis
//! ```
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::Client;
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
use rocketmq_sdk::dedupe::redis::RedisGuard;
use rocketmq_sdk::dedupe::{Deduplicator, PushConsumerDedupeExt};
use rocketmq_sdk::protocol::message::id::now_ms;
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_suite::{NotDemonstrated, ensure, wait_until};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    println!("dedupe guard: Redis at {url}");
    let run = now_ms();
    let guard = RedisGuard::connect(&url)
        .await
        .map_err(|e| NotDemonstrated(format!("cannot connect to Redis at {url}: {e}")))?
        // One prefix per run, so runs do not see each other's records.
        .prefix(format!("example:dedupe:{run}:"))
        .retention(Duration::from_secs(600))
        .build()?;

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
    println!("OK: 3 deliveries, 2 payments, each credited once (Redis guard)");
    Ok(())
}
