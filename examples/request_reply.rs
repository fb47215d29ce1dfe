//! Request-reply: a requester sends a message and waits for the answer, like an RPC over
//! the broker (Java `DefaultMQProducer.request`, rocketmq-spring `sendAndReceive`).
//!
//! The requester's [`Producer::request`](rocketmq_sdk::producer::Producer::request) stamps
//! the message with a correlation id, its client id and a TTL; a push consumer of the topic
//! answers with `Producer::reply`; the broker pushes the reply straight to the requester's
//! connection (PUSH_REPLY_MESSAGE_TO_CLIENT) and keeps a copy in `<cluster>_REPLY_TOPIC`.
//! A request nobody answers fails with `Error::Timeout` after its timeout.
//!
//! ```sh
//! cargo run --example request_reply
//! ```
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
use rocketmq_sdk::protocol::message::{Message, MessageExt, keys};
use rocketmq_sdk::{Client, Error};
use rocketmq_suite::{ensure, wait_until};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = EmbeddedBroker::builder().start().await?;
    broker.create_topic("inventory-check", 2).await?;
    println!("embedded broker at {}", broker.name_server_addr());

    // The replier: its own client, a producer for the replies and a push consumer.
    let service = Client::builder()
        .name_server(broker.name_server_addr())
        .instance_name("inventory-svc")
        .build()
        .await?;
    let replies = service.producer("inventory-replies").start().await?;
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    let consumer = service
        .push_consumer("inventory-svc")
        .subscribe("inventory-check", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let replies = replies.clone();
            let count = count.clone();
            async move {
                for m in msgs {
                    let sku = String::from_utf8_lossy(&m.body).into_owned();
                    let stock = sku.len() * 7;
                    match replies.reply(&m, format!("{sku}: {stock} in stock")).await {
                        Ok(_) => {
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => {
                            eprintln!("reply failed: {e}");
                            return ConsumeResult::ReconsumeLater;
                        }
                    }
                }
                ConsumeResult::Success
            }
        })
        .await?;

    // The requester.
    let shop = Client::builder()
        .name_server(broker.name_server_addr())
        .instance_name("shop")
        .build()
        .await?;
    let producer = shop.producer("shop").start().await?;
    for sku in ["sku-1", "sku-22", "sku-333"] {
        let asked = Instant::now();
        let reply = producer
            .request(
                Message::new("inventory-check", sku),
                Duration::from_secs(10),
            )
            .await?;
        let text = String::from_utf8_lossy(&reply.body).into_owned();
        println!(
            "asked \"{sku}\", got \"{text}\" in {:?} (correlation id {})",
            asked.elapsed(),
            reply.property(keys::CORRELATION_ID).unwrap_or("?")
        );
        ensure(
            text == format!("{sku}: {} in stock", sku.len() * 7),
            format!("the reply to {sku} answers it"),
        )?;
    }
    ensure(
        shop.pending_requests() == 0,
        "answered requests leave nothing pending",
    )?;

    // The replier's send returns once the broker has pushed the reply, so its count can
    // trail the requester by a moment (and the broker stores the reply after the push).
    let served = wait_until(Duration::from_secs(10), || async {
        answered.load(Ordering::SeqCst) == 3
    })
    .await;
    ensure(served, "the service answered each of the 3 requests once")?;

    // The replies are also kept in the cluster's reply topic.
    let reply_topic = format!("{}_REPLY_TOPIC", "DefaultCluster");
    let stored = broker.messages(&reply_topic)?;
    println!("{} replies stored in {reply_topic}", stored.len());
    ensure(stored.len() == 3, "each reply is stored in the reply topic")?;

    // Nobody consumes this topic: the request times out.
    broker.create_topic("nobody-home", 1).await?;
    let timeout = Duration::from_millis(300);
    let unanswered = producer
        .request(Message::new("nobody-home", "hello?"), timeout)
        .await;
    println!("unanswered request: {unanswered:?}");
    ensure(
        matches!(unanswered, Err(Error::Timeout(t)) if t == timeout),
        "an unanswered request times out",
    )?;
    ensure(
        shop.pending_requests() == 0,
        "a timed-out request leaves nothing pending",
    )?;
    consumer.shutdown().await;
    producer.shutdown().await;
    shop.shutdown().await;
    service.shutdown().await;
    broker.shutdown().await?;
    println!("OK: every request got its own reply, pushed to the requester and stored");
    Ok(())
}
