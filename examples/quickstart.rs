//! Quickstart: an embedded RocketMQ broker in this process and the SDK's core in a minute —
//! a typed message published as JSON, a `#[listener]`, an orderly listener, a failing
//! handler walking the retry ladder into the dead-letter queue, a dedupe guard swallowing a
//! redelivery, and a transaction resolved by the broker's check-back — each step printed in
//! words. Exits non-zero if any step does not happen.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::prelude::*;
use rocketmq_suite::wait_until;

const WAIT: Duration = Duration::from_secs(20);

/// An order, published as JSON on `orders` with tag `created`; its id becomes the message
/// key, and its customer picks the queue (same customer, same queue, same order).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rocketmq(topic = "orders", tag = "created")]
pub struct OrderCreated {
    #[rocketmq(key)]
    order_id: String,
    #[rocketmq(shard)]
    customer: String,
    amount_cents: u64,
}

/// A payment to screen, on `payments`.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rocketmq(topic = "payments")]
pub struct Payment {
    #[rocketmq(key)]
    payment_id: String,
}

static BILLED: LazyLock<Mutex<Vec<String>>> = LazyLock::new(Mutex::default);
static LEDGER: LazyLock<Mutex<BTreeMap<String, Vec<String>>>> = LazyLock::new(Mutex::default);
static FRAUD_ATTEMPTS: AtomicUsize = AtomicUsize::new(0);
static RECEIPTS_SENT: AtomicUsize = AtomicUsize::new(0);

/// Billing: every created order, concurrently. `Ok` acknowledges.
#[listener(topic = "orders", group = "billing", tag = "created", consume_from = first_offset)]
async fn bill(order: OrderCreated) -> Result<(), String> {
    println!(
        "  billing: {} charges {} cents",
        order.order_id, order.amount_cents
    );
    BILLED.lock().unwrap().push(order.order_id);
    Ok(())
}

/// The ledger: one queue at a time, in order, so each customer's orders are seen in the
/// order they were placed.
#[listener(topic = "orders", group = "ledger", orderly, consume_from = first_offset)]
async fn ledger(order: OrderCreated) -> Result<(), String> {
    LEDGER
        .lock()
        .unwrap()
        .entry(order.customer)
        .or_default()
        .push(order.order_id);
    Ok(())
}

/// A fraud check that always fails: each `Err` sends the payment back on the delay ladder;
/// after 3 retries it is dead-lettered to `%DLQ%fraud-check`.
#[listener(topic = "payments", group = "fraud-check", max_reconsume_times = 3, consume_from = first_offset)]
async fn fraud_check(payment: Payment, ctx: ConsumeContext) -> Result<(), String> {
    FRAUD_ATTEMPTS.fetch_add(1, Ordering::SeqCst);
    println!(
        "  fraud-check: {} fails (delivery {})",
        payment.payment_id,
        ctx.reconsume_times() + 1
    );
    Err("scoring service down".into())
}

/// Sends a receipt per order — with dedupe, a redelivered order does not send a second one.
#[listener(topic = "orders", group = "receipts", dedupe, consume_from = first_offset)]
async fn send_receipt(order: OrderCreated) {
    RECEIPTS_SENT.fetch_add(1, Ordering::SeqCst);
    println!("  receipts: emailed the receipt for {}", order.order_id);
}

/// The local side of a transactional order: commit, roll back, or "not sure yet" — then the
/// broker asks `check`, which looks the answer up (here: everything not declined commits).
struct PlaceOrder;

#[transaction_listener]
impl PlaceOrder {
    async fn execute(&self, order: &OrderCreated) -> TransactionState {
        let state = match order.amount_cents {
            0 => TransactionState::Rollback,
            1 => TransactionState::Unknown,
            _ => TransactionState::Commit,
        };
        println!("  local transaction for {}: {state:?}", order.order_id);
        state
    }

    async fn check(&self, order: &OrderCreated) -> TransactionState {
        println!("  broker checks back on {}: commit", order.order_id);
        TransactionState::Commit
    }
}

fn order(id: &str, customer: &str, amount_cents: u64) -> OrderCreated {
    OrderCreated {
        order_id: id.into(),
        customer: customer.into(),
        amount_cents,
    }
}

async fn expect(what: &str, mut condition: impl FnMut() -> bool) -> Result<(), String> {
    if wait_until(WAIT, || std::future::ready(condition())).await {
        Ok(())
    } else {
        Err(format!("timed out waiting for: {what}"))
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
    for topic in ["orders", "payments"] {
        broker.create_topic(topic, 4).await?;
    }
    let client = Client::builder()
        .name_server(broker.name_server_addr())
        .build()
        .await?;

    // 2. Typed publishing: JSON body, tag, key and queue come from the derive.
    let producer = client.producer("order-svc").start().await?;
    println!("publishing 6 orders for alice and bob...");
    for i in 0..3 {
        for customer in ["alice", "bob"] {
            let o = order(&format!("{customer}-{i}"), customer, 100 * (i + 1));
            let r = producer.publish(&o).await?;
            println!("  sent {} to queue {}", o.order_id, r.queue.queue_id);
        }
    }

    // 3. Listeners: one call registers them all; each is a consumer group.
    let app = client
        .consumers()
        .listen(bill)
        .listen(ledger)
        .listen(fraud_check)
        .listen(send_receipt.dedupe(MemoryGuard::new()))
        .start()
        .await?;
    expect("billing all 6 orders", || BILLED.lock().unwrap().len() == 6).await?;
    expect("the ledger seeing all 6", || {
        LEDGER.lock().unwrap().values().map(Vec::len).sum::<usize>() == 6
    })
    .await?;
    for (customer, orders) in LEDGER.lock().unwrap().iter() {
        println!("  ledger, in order: {customer}: {}", orders.join(" -> "));
    }

    // 4. A failing handler walks the retry ladder, then lands in the dead-letter queue.
    producer
        .publish(&Payment {
            payment_id: "pay-1".into(),
        })
        .await?;
    expect("pay-1 in %DLQ%fraud-check", || {
        broker
            .dead_letters("fraud-check")
            .is_ok_and(|d| d.len() == 1)
    })
    .await?;
    println!(
        "after {} deliveries pay-1 is in %DLQ%fraud-check",
        FRAUD_ATTEMPTS.load(Ordering::SeqCst)
    );

    // 5. Dedupe: the same order stored twice (as after a lost send ack) is handled once.
    expect("6 receipts", || RECEIPTS_SENT.load(Ordering::SeqCst) == 6).await?;
    let mut duplicate = order("alice-0", "alice", 100).to_message()?;
    let first = broker
        .messages("orders")?
        .into_iter()
        .find(|m| m.keys() == Some("alice-0"))
        .ok_or("alice-0 not stored")?;
    duplicate.set_uniq_key(first.msg_id());
    producer.send(duplicate).await?;
    expect("the duplicate reaching billing", || {
        BILLED.lock().unwrap().len() == 7
    })
    .await?;
    expect("receipts acknowledging all 7 stored orders", || {
        broker
            .consumer_offsets("receipts", "orders")
            .values()
            .sum::<i64>()
            == 7
    })
    .await?;
    println!(
        "billing (no dedupe) ran twice for alice-0; receipts (dedupe) sent {} receipts, not 7",
        RECEIPTS_SENT.load(Ordering::SeqCst)
    );
    if RECEIPTS_SENT.load(Ordering::SeqCst) != 6 {
        return Err("the dedupe guard let the duplicate through".into());
    }

    // 6. Transactions: the half message is invisible until the local transaction decides.
    //    Rolled back: never delivered. Unknown: the broker checks back, then delivers it.
    let tx = client
        .producer("order-tx")
        .start_transactional(PlaceOrder)
        .await?;
    for (id, amount) in [("tx-commit", 500), ("tx-declined", 0), ("tx-unsure", 1)] {
        tx.publish(&order(id, "carol", amount)).await?;
    }
    expect("the committed and the checked-back order billed", || {
        let billed = BILLED.lock().unwrap();
        billed.iter().any(|o| o == "tx-commit") && billed.iter().any(|o| o == "tx-unsure")
    })
    .await?;
    if BILLED.lock().unwrap().iter().any(|o| o == "tx-declined") {
        return Err("a rolled-back order was delivered".into());
    }
    println!("billing got tx-commit and tx-unsure; tx-declined was never delivered");

    app.shutdown().await;
    tx.shutdown().await;
    client.shutdown().await;
    broker.shutdown().await?;
    println!("done.");
    Ok(())
}
