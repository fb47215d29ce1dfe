//! Delayed messages with delay levels: the broker holds a message with `DELAY` = n in
//! `SCHEDULE_TOPIC_XXXX` and puts it into its real queue once level n's delay has passed.
//! The embedded broker is given millisecond levels (`delay_levels`), so this takes about a
//! second instead of upstream's `1s 5s 10s 30s 1m ...` ladder.
//!
//! Delivery at a point in time (`Message::set_deliver_time_ms`, the 5.x timer property
//! `TIMER_DELIVER_MS`) needs a 5.x broker with the timer wheel; the embedded broker does not
//! have it yet (like a 4.x broker, it delivers such a message at once), so this example
//! shows delay levels only.
//!
//! ```sh
//! cargo run --example delay
//! ```
#![allow(clippy::print_stdout)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::Client;
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_suite::{ensure, wait_until};

/// Level 1 = 100 ms, level 2 = 300 ms, level 3 = 800 ms, ...
const LEVELS: &str = "100ms 300ms 800ms 2s 5s 10s";
const DELAYS_MS: [i64; 3] = [100, 300, 800];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = EmbeddedBroker::builder()
        .delay_levels(LEVELS)
        .start()
        .await?;
    broker.create_topic("reminders", 2).await?;
    println!("embedded broker with delay levels \"{LEVELS}\"");

    let client = Client::builder()
        .name_server(broker.name_server_addr())
        .build()
        .await?;
    let start = Instant::now();
    let received: Arc<Mutex<Vec<(String, Duration, MessageExt)>>> = Arc::default();
    let r = received.clone();
    let consumer = client
        .push_consumer("reminder-svc")
        .subscribe("reminders", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let r = r.clone();
            async move {
                for m in msgs {
                    let body = String::from_utf8_lossy(&m.body).into_owned();
                    r.lock().unwrap().push((body, start.elapsed(), m));
                }
                ConsumeResult::Success
            }
        })
        .await?;

    let producer = client.producer("reminder-producer").start().await?;
    let before = start.elapsed();
    producer.send(Message::new("reminders", "no delay")).await?;
    println!("sent \"no delay\" at {before:?}");
    // Longest delay first: if the broker ignored the levels, they would arrive in this order.
    let mut sent_at = Vec::new();
    for (i, delay) in DELAYS_MS.iter().enumerate().rev() {
        let level = i32::try_from(i + 1)?;
        let mut m = Message::new("reminders", format!("level {level} ({delay} ms)"));
        m.set_delay_level(level);
        let before = start.elapsed();
        producer.send(m).await?;
        println!("sent \"level {level} ({delay} ms)\" at {before:?}");
        sent_at.push((format!("level {level} ({delay} ms)"), before, *delay));
    }

    let all = wait_until(Duration::from_secs(20), || async {
        received.lock().unwrap().len() > DELAYS_MS.len()
    })
    .await;
    ensure(all, "every message is delivered")?;
    let got = received.lock().unwrap().clone();
    for (body, at, m) in &got {
        println!(
            "received \"{body}\" at {at:?} (stored again {} ms after it was born)",
            m.store_timestamp - m.born_timestamp
        );
    }
    ensure(
        got.first().is_some_and(|(b, _, _)| b == "no delay"),
        "the undelayed message arrives first",
    )?;
    for (body, sent, delay_ms) in &sent_at {
        let (_, at, m) = got
            .iter()
            .find(|(b, _, _)| b == body)
            .ok_or_else(|| rocketmq_suite::NotDemonstrated(format!("{body} arrives")))?;
        let waited = at.saturating_sub(*sent);
        // The broker restamps the message when it releases it: born -> stored spans the delay.
        let held = m.store_timestamp - m.born_timestamp;
        println!("\"{body}\": held {held} ms by the broker, {waited:?} from send to delivery");
        ensure(
            held >= *delay_ms && waited >= Duration::from_millis((*delay_ms - 5).try_into()?),
            format!("\"{body}\" is not delivered before its {delay_ms} ms delay"),
        )?;
    }
    let order: Vec<&str> = got.iter().map(|(b, _, _)| b.as_str()).collect();
    ensure(
        order
            == [
                "no delay",
                "level 1 (100 ms)",
                "level 2 (300 ms)",
                "level 3 (800 ms)",
            ],
        format!("delivery follows the delays, not the send order: {order:?}"),
    )?;

    consumer.shutdown().await;
    producer.shutdown().await;
    client.shutdown().await;
    broker.shutdown().await?;
    println!("OK: each delayed message was held for its level's delay, then delivered");
    Ok(())
}
