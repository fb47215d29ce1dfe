//! The pull consumer: the application asks for messages (`poll`), commits when it wants,
//! and moves its position itself: `seek_to_timestamp` rewinds to the first message stored
//! at or after a time (replaying, say, everything since an incident), `seek_to_begin`
//! replays the whole queue.
//!
//! ```sh
//! cargo run --example pull_rewind
//! ```
#![allow(clippy::print_stdout)]

use std::time::Duration;

use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::Client;
use rocketmq_sdk::consumer::{ConsumeFrom, PullConsumer};
use rocketmq_sdk::protocol::message::id::now_ms;
use rocketmq_sdk::protocol::message::{Message, MessageExt, MessageQueue};
use rocketmq_suite::{ensure, wait_until};

/// Polls until `n` messages arrived (or 20 s passed).
async fn poll_n(c: &PullConsumer, n: usize) -> rocketmq_sdk::Result<Vec<MessageExt>> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while got.len() < n && tokio::time::Instant::now() < deadline {
        got.extend(c.poll(Duration::from_millis(200)).await?);
    }
    Ok(got)
}

fn bodies(msgs: &[MessageExt]) -> Vec<String> {
    msgs.iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = EmbeddedBroker::start().await?;
    broker.create_topic("payments", 1).await?;
    let client = Client::builder()
        .name_server(broker.name_server_addr())
        .build()
        .await?;
    let producer = client.producer("payments-svc").start().await?;
    let queue = MessageQueue::new("payments", "broker-a", 0);

    for i in 0..3 {
        producer
            .send(Message::new("payments", format!("before-{i}")))
            .await?;
    }
    let consumer = client
        .pull_consumer("audit")
        .consume_from(ConsumeFrom::FirstOffset)
        .auto_commit(false)
        .start()
        .await?;
    consumer.assign([queue.clone()]).await?;
    let first = poll_n(&consumer, 3).await?;
    println!("polled {:?}", bodies(&first));
    ensure(first.len() == 3, "the first 3 messages are polled")?;

    // The incident starts now: every message from here on is stored at or after `since`.
    let last_stored = first.iter().map(|m| m.store_timestamp).max().unwrap_or(0);
    ensure(
        wait_until(Duration::from_secs(5), || async { now_ms() > last_stored }).await,
        "the clock moves past the last stored message",
    )?;
    let since = now_ms();
    for i in 0..3 {
        producer
            .send(Message::new("payments", format!("after-{i}")))
            .await?;
    }
    let second = poll_n(&consumer, 3).await?;
    println!("polled {:?}", bodies(&second));
    ensure(second.len() == 3, "the next 3 messages are polled")?;
    consumer.commit().await?;
    println!(
        "committed offset {:?}",
        consumer.committed(&queue).await?.unwrap_or(-1)
    );

    // Rewind by time: replay what was stored since the incident began.
    consumer.seek_to_timestamp(&queue, since).await?;
    let replay = poll_n(&consumer, 3).await?;
    println!("after seek_to_timestamp({since}): {:?}", bodies(&replay));
    ensure(
        bodies(&replay) == ["after-0", "after-1", "after-2"],
        "seeking to a time replays exactly the messages stored since then",
    )?;

    // Rewind to the beginning: replay everything.
    consumer.seek_to_begin(&queue).await?;
    let all = poll_n(&consumer, 6).await?;
    println!("after seek_to_begin: {:?}", bodies(&all));
    ensure(
        all.len() == 6,
        "seeking to the beginning replays all 6 messages",
    )?;
    ensure(
        consumer.poll(Duration::from_millis(200)).await?.is_empty(),
        "nothing more after the replay",
    )?;

    consumer.shutdown().await;
    client.shutdown().await;
    broker.shutdown().await?;
    println!("OK: the pull consumer rewound by time and to the beginning");
    Ok(())
}
