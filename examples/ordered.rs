//! Ordered messages: every event of one order carries the order id as its shard key; the
//! hash selector sends all of them to one queue, and the orderly consumer (one queue at a
//! time, holding the broker's lock on it) sees them in the order they were sent. Events of
//! different orders spread over the queues and are consumed in parallel.
//!
//! ```sh
//! cargo run --example ordered
//! ```
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::Client;
use rocketmq_sdk::consumer::{ConsumeFrom, OrderlyContext, OrderlyResult};
use rocketmq_sdk::producer::SelectByHash;
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_suite::{ensure, wait_until};

const STEPS: [&str; 4] = ["created", "paid", "shipped", "delivered"];
const ORDERS: [&str; 5] = [
    "order-1001",
    "order-1002",
    "order-1003",
    "order-1004",
    "order-1005",
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = EmbeddedBroker::start().await?;
    broker.create_topic("order-events", 4).await?;
    println!(
        "embedded broker on {}; topic order-events has 4 queues",
        broker.name_server_addr()
    );

    let client = Client::builder()
        .name_server(broker.name_server_addr())
        .build()
        .await?;
    let producer = client.producer("order-svc").start().await?;

    // order id -> (queue it was sent to, steps in send order)
    let mut sent: BTreeMap<&str, (i32, Vec<&str>)> = BTreeMap::new();
    // Interleave the orders, as a real service would: step 1 of every order, then step 2...
    for step in STEPS {
        for order in ORDERS {
            let mut m = Message::new("order-events", format!("{order} {step}"));
            m.set_tags(step);
            m.set_keys([order]);
            m.set_sharding_key(order);
            // The shard key picks the queue: same order id, same queue (Java-compatible hash).
            let receipt = producer.send_with_selector(m, &SelectByHash, order).await?;
            let entry = sent
                .entry(order)
                .or_insert((receipt.queue.queue_id, Vec::new()));
            ensure(
                entry.0 == receipt.queue.queue_id,
                format!("every event of {order} lands on one queue"),
            )?;
            entry.1.push(step);
        }
    }
    for (order, (queue, _)) in &sent {
        println!("{order}: all 4 events went to queue {queue}");
    }

    // The orderly consumer: one batch of one queue at a time, in queue order.
    let seen: Arc<Mutex<BTreeMap<String, Vec<String>>>> = Arc::default();
    let s = seen.clone();
    let consumer = client
        .push_consumer("fulfilment")
        .subscribe("order-events", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start_orderly(move |msgs: Vec<MessageExt>, ctx: OrderlyContext| {
            let s = s.clone();
            async move {
                for m in &msgs {
                    let order = m.keys().unwrap_or_default().to_owned();
                    let step = m.tags().unwrap_or_default().to_owned();
                    println!("  queue {} delivers {order} {step}", ctx.queue().queue_id);
                    s.lock().unwrap().entry(order).or_default().push(step);
                }
                OrderlyResult::Success
            }
        })
        .await?;

    let total = STEPS.len() * ORDERS.len();
    let all = wait_until(Duration::from_secs(20), || async {
        seen.lock().unwrap().values().map(Vec::len).sum::<usize>() >= total
    })
    .await;
    ensure(
        all,
        format!("the orderly consumer receives all {total} events"),
    )?;
    for (order, (_, steps)) in &sent {
        let got = seen
            .lock()
            .unwrap()
            .get(*order)
            .cloned()
            .unwrap_or_default();
        println!("{order} consumed as: {}", got.join(" -> "));
        ensure(
            got == *steps,
            format!("{order} is consumed in send order {steps:?}, got {got:?}"),
        )?;
    }

    consumer.shutdown().await;
    producer.shutdown().await;
    client.shutdown().await;
    broker.shutdown().await?;
    println!("OK: every order's events shared one queue and were consumed in the order sent");
    Ok(())
}
