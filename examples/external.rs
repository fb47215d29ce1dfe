//! The same code against a real RocketMQ cluster: pass the name server, and the example
//! sends a message to a topic and consumes it back. Without `--namesrv` it starts the
//! embedded broker, so it runs anywhere.
//!
//! On a real cluster the topic must exist (or the brokers must have
//! `autoCreateTopicEnable=true`); create it with
//! `cargo run --bin rocketmq-admin -- --namesrv ADDR create-topic rocketmq-sdk-example`.
//!
//! ```sh
//! cargo run --example external                          # embedded broker
//! cargo run --example external -- --namesrv 10.0.0.5:9876
//! ```
#![allow(clippy::print_stdout)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::Client;
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
use rocketmq_sdk::protocol::message::id::now_ms;
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_suite::{ensure, wait_until};

/// Send and consume one message on a RocketMQ cluster (or an embedded broker).
#[derive(Debug, Parser)]
struct Args {
    /// Name server `host:port` of the cluster; repeat for several. Without it, an embedded
    /// broker is started.
    #[arg(long, value_name = "ADDR")]
    namesrv: Vec<String>,
    /// Topic to use.
    #[arg(long, default_value = "rocketmq-sdk-example")]
    topic: String,
    /// ACL 1.0 access key (with `--secret-key`).
    #[arg(long, requires = "secret_key")]
    access_key: Option<String>,
    /// ACL 1.0 secret key.
    #[arg(long, requires = "access_key")]
    secret_key: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let embedded = if args.namesrv.is_empty() {
        let broker = EmbeddedBroker::start().await?;
        broker.create_topic(&args.topic, 4).await?;
        println!(
            "no --namesrv: started an embedded broker, name server {}",
            broker.name_server_addr()
        );
        Some(broker)
    } else {
        println!("connecting to name server(s) {}", args.namesrv.join(", "));
        None
    };
    let mut builder = Client::builder();
    match &embedded {
        Some(b) => builder = builder.name_server(b.name_server_addr()),
        None => {
            for ns in &args.namesrv {
                builder = builder.name_server(ns);
            }
        }
    }
    if let (Some(ak), Some(sk)) = (&args.access_key, &args.secret_key) {
        builder = builder.credentials(ak, sk);
    }
    let client = builder.build().await?;

    let route = client.topic_route(&args.topic).await?;
    println!(
        "topic {}: {} queue(s) on broker(s) {}",
        args.topic,
        route.subscribe_queues.len(),
        route
            .data
            .broker_datas
            .iter()
            .map(|b| b.broker_name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );

    // A fresh group and a unique body: earlier runs' messages do not count.
    let run = now_ms();
    let body = format!("hello from rocketmq-sdk, run {run}");
    let got: Arc<Mutex<Option<MessageExt>>> = Arc::default();
    let (g, want) = (got.clone(), body.clone());
    let consumer = client
        .push_consumer(format!("rocketmq-sdk-example-{run}"))
        .subscribe(args.topic.clone(), "*")
        .consume_from(ConsumeFrom::LastOffset)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let (g, want) = (g.clone(), want.clone());
            async move {
                for m in msgs {
                    if m.body == want.as_bytes() {
                        *g.lock().unwrap() = Some(m);
                    }
                }
                ConsumeResult::Success
            }
        })
        .await?;
    // A new group starting at the last offset must own its queues before the send, or it
    // would start after the message.
    let ready = wait_until(Duration::from_secs(30), || async {
        !consumer.assigned_queues().is_empty()
    })
    .await;
    ensure(ready, "the consumer is assigned queues")?;

    let producer = client
        .producer(format!("rocketmq-sdk-example-{run}"))
        .start()
        .await?;
    let r = producer
        .send(Message::new(args.topic.clone(), body.clone()))
        .await?;
    println!(
        "sent: {:?}, msg id {}, {} queue {} offset {}",
        r.status, r.msg_id, r.queue.broker_name, r.queue.queue_id, r.queue_offset
    );
    let arrived = wait_until(Duration::from_secs(30), || async {
        got.lock().unwrap().is_some()
    })
    .await;
    ensure(arrived, "the message is consumed back")?;
    if let Some(m) = got.lock().unwrap().as_ref() {
        println!(
            "consumed: msg id {}, stored by {} at {}",
            m.msg_id(),
            m.store_host,
            m.store_timestamp
        );
    }

    consumer.shutdown().await;
    producer.shutdown().await;
    client.shutdown().await;
    if let Some(b) = embedded {
        b.shutdown().await?;
    }
    println!("OK: sent and consumed one message through the name server");
    Ok(())
}
