//! Fault injection, written the way a test is: each scenario starts its own embedded
//! broker, breaks it on purpose, and asserts what the application must still guarantee.
//! Copy a scenario into `tests/` with `#[tokio::test]` in place of the call in `main`.
//!
//! 1. The broker answers SYSTEM_BUSY twice: the producer retries and the send succeeds.
//! 2. The broker stores a message but its acknowledgement is lost: the producer retries,
//!    so the message is stored twice (why consumers deduplicate), never lost.
//! 3. The broker crashes (`kill -9`) with sync flush: every acknowledged message is there
//!    after the restart.
//! 4. A consumer's handler fails: the message comes back on the retry ladder and, after
//!    `max_reconsume_times`, lands in the group's dead-letter queue.
//!
//! ```sh
//! cargo run --example fault_injection
//! ```
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rocketmq_embedded_broker::{EmbeddedBroker, FlushMode};
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
use rocketmq_sdk::protocol::ResponseCode;
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_sdk::{Client, SendStatus};
use rocketmq_suite::{ensure, wait_until};

type Outcome = Result<(), Box<dyn std::error::Error>>;

const FAST_DELAYS: &str = "10ms 20ms 30ms 40ms 50ms 60ms 70ms 80ms 90ms 100ms 110ms 120ms 130ms 140ms 150ms 160ms 170ms 180ms";

async fn client(broker: &EmbeddedBroker) -> rocketmq_sdk::Result<Client> {
    Client::builder()
        .name_server(broker.name_server_addr())
        .build()
        .await
}

/// Scenario 1: transient broker errors are retried.
async fn busy_broker_is_retried() -> Outcome {
    let broker = EmbeddedBroker::start().await?;
    broker.create_topic("busy", 1).await?;
    let client = client(&broker).await?;
    let producer = client.producer("p-busy").retries(2).start().await?;
    broker
        .faults()
        .fail_next_sends(2, ResponseCode::SYSTEM_BUSY);
    let r = producer.send(Message::new("busy", "hello")).await?;
    println!(
        "  send after 2 injected SYSTEM_BUSY: {:?} in {} attempts",
        r.status, r.attempts
    );
    ensure(r.status == SendStatus::SendOk, "the send succeeds")?;
    ensure(r.attempts == 3, "it took exactly 3 attempts")?;
    ensure(
        broker.messages("busy")?.len() == 1,
        "the message is stored once",
    )?;
    client.shutdown().await;
    broker.shutdown().await?;
    Ok(())
}

/// Scenario 2: a lost acknowledgement makes a duplicate, not a loss.
async fn lost_ack_makes_a_duplicate() -> Outcome {
    let broker = EmbeddedBroker::start().await?;
    broker.create_topic("acks", 1).await?;
    let client = client(&broker).await?;
    let producer = client
        .producer("p-acks")
        .send_timeout(Duration::from_secs(2))
        .start()
        .await?;
    broker.faults().drop_next_send_responses(1, true);
    let r = producer.send(Message::new("acks", "once")).await?;
    let stored = broker.messages("acks")?;
    println!(
        "  first acknowledgement dropped: send {:?} after {} attempts, {} copies stored",
        r.status,
        r.attempts,
        stored.len()
    );
    ensure(r.status == SendStatus::SendOk, "the send succeeds")?;
    ensure(stored.len() == 2, "the message is stored twice")?;
    ensure(
        stored[0].uniq_key() == stored[1].uniq_key(),
        "both copies carry the same message id (a consumer can deduplicate on it)",
    )?;
    client.shutdown().await;
    broker.shutdown().await?;
    Ok(())
}

/// Scenario 3: with sync flush, acknowledged means durable, even across a crash.
async fn crash_keeps_acknowledged_messages() -> Outcome {
    let dir = tempfile::tempdir()?;
    let broker = EmbeddedBroker::builder()
        .directory(dir.path())
        .flush(FlushMode::Sync)
        .start()
        .await?;
    broker.create_topic("durable", 2).await?;
    let client = client(&broker).await?;
    let producer = client.producer("p-durable").start().await?;
    for i in 0..10 {
        producer
            .send(Message::new("durable", format!("m{i}")))
            .await?;
    }
    broker.broker(0).crash().await;
    println!("  10 messages acknowledged, then the broker crashed");
    broker.broker(0).restart().await?;
    let after = broker.messages("durable")?;
    println!("  after the restart, {} messages are stored", after.len());
    ensure(
        after.len() == 10,
        "all 10 acknowledged messages survive the crash",
    )?;
    client.shutdown().await;
    broker.shutdown().await?;
    Ok(())
}

/// Scenario 4: a failing handler walks the retry ladder into the dead-letter queue.
async fn failing_handler_dead_letters() -> Outcome {
    let broker = EmbeddedBroker::builder()
        .delay_levels(FAST_DELAYS)
        .start()
        .await?;
    broker.create_topic("invoices", 1).await?;
    let client = client(&broker).await?;
    let attempts = Arc::new(AtomicU32::new(0));
    let a = attempts.clone();
    let consumer = client
        .push_consumer("invoicing")
        .subscribe("invoices", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .max_reconsume_times(2)
        .start(move |_msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let a = a.clone();
            async move {
                a.fetch_add(1, Ordering::SeqCst);
                ConsumeResult::ReconsumeLater
            }
        })
        .await?;
    let producer = client.producer("p-invoices").start().await?;
    producer
        .send(Message::new("invoices", "broken invoice"))
        .await?;
    let dead = wait_until(Duration::from_secs(20), || async {
        broker
            .dead_letters("invoicing")
            .map(|d| d.len() == 1)
            .unwrap_or(false)
    })
    .await;
    let n = attempts.load(Ordering::SeqCst);
    println!("  handler ran {n} times, then the message went to %DLQ%invoicing");
    ensure(dead, "the message is dead-lettered")?;
    ensure(n == 3, "1 delivery + 2 retries before dead-lettering")?;
    consumer.shutdown().await;
    client.shutdown().await;
    broker.shutdown().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Outcome {
    println!("scenario 1: broker busy");
    busy_broker_is_retried().await?;
    println!("scenario 2: lost acknowledgement");
    lost_ack_makes_a_duplicate().await?;
    println!("scenario 3: broker crash with sync flush");
    crash_keeps_acknowledged_messages().await?;
    println!("scenario 4: failing handler");
    failing_handler_dead_letters().await?;
    println!("OK: all 4 fault scenarios behaved as the application needs");
    Ok(())
}
