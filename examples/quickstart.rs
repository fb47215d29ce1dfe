//! Quickstart: an embedded RocketMQ broker in this process, a producer, a consumer that
//! acknowledges, a consumer whose handler always fails (it walks the retry ladder into the
//! dead-letter queue), an ordered stream, and a transaction with a
//! check-back — each step printed in words.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::consumer::{
    ConsumeContext, ConsumeFrom, ConsumeResult, OrderlyContext, OrderlyResult,
};
use rocketmq_sdk::producer::SelectByHash;
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_sdk::{Client, TransactionListener, TransactionState};
use rocketmq_suite::wait_until;

const WAIT: Duration = Duration::from_secs(20);

/// The local transaction of the demo: commit, roll back, or "not sure yet" (the broker then
/// asks `check`, which looks the answer up — here it always says commit).
struct Orders;

#[async_trait]
impl TransactionListener for Orders {
    type Arg = TransactionState;

    async fn execute(&self, message: &Message, decision: &TransactionState) -> TransactionState {
        println!(
            "  local transaction for {:?}: {decision:?}",
            String::from_utf8_lossy(&message.body)
        );
        *decision
    }

    async fn check(&self, message: &MessageExt) -> TransactionState {
        println!(
            "  broker checks back on {:?}: commit",
            String::from_utf8_lossy(&message.body)
        );
        TransactionState::Commit
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. A name server and a broker, in-process, on ephemeral loopback ports, with a
    //    millisecond retry ladder so the demo does not take minutes.
    let broker = EmbeddedBroker::builder()
        .transaction_check_interval(Duration::from_millis(200))
        .transaction_timeout(Duration::from_millis(100))
        .delay_levels("10ms 20ms 30ms 40ms 50ms 60ms 70ms 80ms 90ms 100ms 110ms 120ms 130ms 140ms 150ms 160ms 170ms 180ms")
        .start()
        .await?;
    println!(
        "embedded broker up: name server {}, broker {}",
        broker.name_server_addr(),
        broker.broker_addrs()[0]
    );
    for topic in ["orders", "payments", "ledger"] {
        broker.create_topic(topic, 4).await?;
    }

    let client = Client::builder()
        .name_server(broker.name_server_addr())
        .build()
        .await?;
    let producer = client.producer("quickstart-producer").start().await?;

    // 2. A consumer that acknowledges everything it gets.
    let received = Arc::new(Mutex::new(Vec::new()));
    let r = received.clone();
    let billing = client
        .push_consumer("billing")
        .subscribe("orders", "created || paid")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let r = r.clone();
            async move {
                for m in &msgs {
                    println!(
                        "  billing got {:?} (tag {})",
                        String::from_utf8_lossy(&m.body),
                        m.tags().unwrap_or("-")
                    );
                    r.lock().unwrap().push(m.msg_id());
                }
                ConsumeResult::Success
            }
        })
        .await?;
    println!("publishing 3 orders...");
    for (i, tag) in ["created", "paid", "created"].iter().enumerate() {
        let mut m = Message::new("orders", Bytes::from(format!("order-{i}")));
        m.set_tags(*tag);
        m.set_keys([format!("order-{i}")]);
        let receipt = producer.send(m).await?;
        println!(
            "  sent order-{i}: {:?} to queue {} offset {}",
            receipt.status, receipt.queue.queue_id, receipt.queue_offset
        );
    }
    wait_until(WAIT, || async { received.lock().unwrap().len() == 3 }).await;
    println!("billing consumed {} orders", received.lock().unwrap().len());

    // 3. A handler that always fails: retried on the delay ladder, then dead-lettered.
    let attempts = Arc::new(Mutex::new(0));
    let a = attempts.clone();
    let failing = client
        .push_consumer("fraud-check")
        .subscribe("payments", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .max_reconsume_times(3)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let a = a.clone();
            async move {
                *a.lock().unwrap() += 1;
                println!(
                    "  fraud-check attempt {} fails (reconsume times {})",
                    *a.lock().unwrap(),
                    msgs[0].reconsume_times
                );
                ConsumeResult::ReconsumeLater
            }
        })
        .await?;
    producer
        .send(Message::new(
            "payments",
            Bytes::from_static(b"suspicious payment"),
        ))
        .await?;
    wait_until(WAIT, || async {
        broker
            .dead_letters("fraud-check")
            .map(|d| d.len() == 1)
            .unwrap_or(false)
    })
    .await;
    println!(
        "after {} deliveries the payment is in %DLQ%fraud-check",
        attempts.lock().unwrap()
    );

    // 4. Ordered: every step of one account goes to the same queue and is consumed in order.
    let seen: Arc<Mutex<BTreeMap<String, Vec<String>>>> = Arc::default();
    let s = seen.clone();
    let ledger = client
        .push_consumer("ledger")
        .subscribe("ledger", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start_orderly(move |msgs: Vec<MessageExt>, _ctx: OrderlyContext| {
            let s = s.clone();
            async move {
                for m in &msgs {
                    let key = m.keys().unwrap_or_default().to_owned();
                    s.lock()
                        .unwrap()
                        .entry(key)
                        .or_default()
                        .push(String::from_utf8_lossy(&m.body).into_owned());
                }
                OrderlyResult::Success
            }
        })
        .await?;
    for step in ["open", "deposit 10", "withdraw 3", "close"] {
        for account in ["alice", "bob"] {
            let mut m = Message::new("ledger", Bytes::from(step));
            m.set_keys([account]);
            producer
                .send_with_selector(m, &SelectByHash, account)
                .await?;
        }
    }
    wait_until(WAIT, || async {
        seen.lock().unwrap().values().map(Vec::len).sum::<usize>() == 8
    })
    .await;
    for (account, steps) in seen.lock().unwrap().iter() {
        println!("  {account}: {}", steps.join(" -> "));
    }

    // 5. Transactions: the half message is invisible until the local transaction decides.
    //    Rolled back: never delivered. Unknown: the broker checks back, then it is delivered.
    let tx = client
        .producer("quickstart-tx")
        .start_transactional(Orders)
        .await?;
    for (body, decision) in [
        ("order-tx-commit", TransactionState::Commit),
        ("order-tx-rollback", TransactionState::Rollback),
        ("order-tx-unknown", TransactionState::Unknown),
    ] {
        let mut m = Message::new("orders", Bytes::from(body));
        m.set_tags("created");
        tx.send(m, &decision).await?;
    }
    wait_until(WAIT, || async { received.lock().unwrap().len() == 5 }).await;
    println!(
        "billing has {} orders: the committed one and the checked-back one, not the rolled-back one",
        received.lock().unwrap().len()
    );

    for c in [billing, failing, ledger] {
        c.shutdown().await;
    }
    client.shutdown().await;
    broker.shutdown().await?;
    println!("done.");
    Ok(())
}
