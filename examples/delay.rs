//! Delayed messages, both ways RocketMQ has:
//!
//! 1. Delay levels (4.x and 5.x): the broker holds a message with `DELAY` = n in
//!    `SCHEDULE_TOPIC_XXXX` and puts it into its real queue once level n's delay has passed.
//!    The embedded broker is given millisecond levels (`delay_levels`), so this takes about
//!    a second instead of upstream's `1s 5s 10s 30s 1m ...` ladder.
//! 2. Delivery time (5.x timer messages): `Message::set_deliver_time_ms` (or
//!    `set_delay_time_ms`) asks for delivery at a point in time, any time, not just a level;
//!    the broker holds it in `rmq_sys_wheel_timer` until then. (A 4.x broker ignores these
//!    properties and delivers at once.)
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
use rocketmq_sdk::protocol::message::id::now_ms;
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

    // 2. Delivery time: at an absolute time, and after an arbitrary delay.
    received.lock().unwrap().clear();
    let at_ms = now_ms() + 700;
    let mut at = Message::new("reminders", "at a point in time (+700 ms)");
    at.set_deliver_time_ms(at_ms);
    let mut after = Message::new("reminders", "after 250 ms");
    after.set_delay_time_ms(250);
    let sent = start.elapsed();
    producer.send(at).await?;
    producer.send(after).await?;
    println!("sent a message for time {at_ms} (in 700 ms) and one with a 250 ms timer delay");
    let both = wait_until(Duration::from_secs(20), || async {
        received.lock().unwrap().len() >= 2
    })
    .await;
    ensure(both, "both timer messages are delivered")?;
    let got = received.lock().unwrap().clone();
    for (body, at, m) in &got {
        println!(
            "received \"{body}\" {:?} after sending (released into its queue at {})",
            at.saturating_sub(sent),
            m.store_timestamp
        );
    }
    let order: Vec<&str> = got.iter().map(|(b, _, _)| b.as_str()).collect();
    ensure(
        order == ["after 250 ms", "at a point in time (+700 ms)"],
        format!("timer messages arrive by their times, not send order: {order:?}"),
    )?;
    let timed = &got[1].2;
    ensure(
        timed.store_timestamp >= at_ms,
        "the message for a point in time is not delivered before that time",
    )?;
    ensure(
        got[0].2.store_timestamp - got[0].2.born_timestamp >= 250,
        "the 250 ms timer is held at least 250 ms",
    )?;

    consumer.shutdown().await;
    producer.shutdown().await;
    client.shutdown().await;
    broker.shutdown().await?;
    println!("OK: delayed messages were held for their level's delay or until their delivery time");
    Ok(())
}
