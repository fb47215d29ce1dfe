//! Broadcasting: every instance of a consumer group gets every message (clustering, the
//! default, would share the messages among them). Offsets are kept by each instance, not by
//! the broker. Here three instances of group `cache-invalidation` each see all 5 messages.
//!
//! ```sh
//! cargo run --example broadcast
//! ```
#![allow(clippy::print_stdout)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::Client;
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult, MessageModel};
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_suite::{ensure, wait_until};

const INSTANCES: usize = 3;
const MESSAGES: usize = 5;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = EmbeddedBroker::start().await?;
    broker.create_topic("price-changes", 4).await?;
    let offsets = tempfile::tempdir()?;

    // One client per instance, as if each ran in its own process.
    let mut clients = Vec::new();
    let mut consumers = Vec::new();
    let seen: Vec<Arc<Mutex<BTreeSet<String>>>> = (0..INSTANCES).map(|_| Arc::default()).collect();
    for (i, log) in seen.iter().enumerate() {
        let client = Client::builder()
            .name_server(broker.name_server_addr())
            .instance_name(format!("cache-node-{i}"))
            .build()
            .await?;
        let log = log.clone();
        let consumer = client
            .push_consumer("cache-invalidation")
            .subscribe("price-changes", "*")
            .message_model(MessageModel::Broadcasting)
            .consume_from(ConsumeFrom::FirstOffset)
            // Broadcasting offsets live with the instance: one file per instance.
            .offset_store_dir(offsets.path().join(format!("node-{i}")))
            .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
                let log = log.clone();
                async move {
                    for m in &msgs {
                        let body = String::from_utf8_lossy(&m.body).into_owned();
                        println!("  cache-node-{i} got {body:?}");
                        log.lock().unwrap().insert(body);
                    }
                    ConsumeResult::Success
                }
            })
            .await?;
        println!("cache-node-{i} started (broadcasting)");
        clients.push(client);
        consumers.push(consumer);
    }

    let producer = clients[0].producer("pricing").start().await?;
    for i in 0..MESSAGES {
        producer
            .send(Message::new(
                "price-changes",
                format!("sku-{i} price changed"),
            ))
            .await?;
    }
    println!("sent {MESSAGES} messages");

    let everyone = wait_until(Duration::from_secs(20), || async {
        seen.iter().all(|s| s.lock().unwrap().len() == MESSAGES)
    })
    .await;
    for (i, s) in seen.iter().enumerate() {
        println!(
            "cache-node-{i} saw {} of {MESSAGES}",
            s.lock().unwrap().len()
        );
    }
    ensure(everyone, "every instance gets every message")?;

    for c in &consumers {
        c.shutdown().await;
    }
    for c in &clients {
        c.shutdown().await;
    }
    broker.shutdown().await?;
    println!("OK: all {INSTANCES} instances of one group received all {MESSAGES} messages");
    Ok(())
}
