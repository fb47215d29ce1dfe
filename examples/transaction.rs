//! Transactional messages: the message is stored as a half message, invisible to
//! consumers, while the local transaction runs; commit makes it visible, rollback discards
//! it. When the producer cannot tell yet (`Unknown`, or its END_TRANSACTION is lost), the
//! broker later asks a producer of the group (`check`), which looks the outcome up in its
//! own durable state — here a map standing in for the orders table.
//!
//! ```sh
//! cargo run --example transaction
//! ```
#![allow(clippy::print_stdout)]

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_sdk::{Client, TransactionListener, TransactionState};
use rocketmq_suite::{ensure, wait_until};

/// What the "database" says about each order: committed or not.
type Orders = Arc<Mutex<HashMap<String, bool>>>;

/// The order service's side of the transaction.
struct CreateOrder {
    db: Orders,
}

#[async_trait]
impl TransactionListener for CreateOrder {
    /// What the local transaction should do (a real service runs its SQL here).
    type Arg = &'static str;

    async fn execute(&self, message: &Message, plan: &&'static str) -> TransactionState {
        let order = message.keys().unwrap_or_default().to_owned();
        match *plan {
            "commit" => {
                self.db.lock().unwrap().insert(order.clone(), true);
                println!("  execute {order}: local transaction committed -> Commit");
                TransactionState::Commit
            }
            "rollback" => {
                println!("  execute {order}: local transaction failed -> Rollback");
                TransactionState::Rollback
            }
            _ => {
                // The local commit happened, but the producer answers before it knows
                // (say, the database reply timed out): the broker will ask.
                self.db.lock().unwrap().insert(order.clone(), true);
                println!("  execute {order}: outcome not known yet -> Unknown");
                TransactionState::Unknown
            }
        }
    }

    async fn check(&self, message: &MessageExt) -> TransactionState {
        let order = message.keys().unwrap_or_default().to_owned();
        let committed = self
            .db
            .lock()
            .unwrap()
            .get(&order)
            .copied()
            .unwrap_or(false);
        let state = if committed {
            TransactionState::Commit
        } else {
            TransactionState::Rollback
        };
        println!("  broker checks back on {order}: the database says {state:?}");
        state
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Check open transactions every 200 ms once they are 100 ms old (upstream: 30 s, 6 s).
    let broker = EmbeddedBroker::builder()
        .transaction_check_interval(Duration::from_millis(200))
        .transaction_timeout(Duration::from_millis(100))
        .start()
        .await?;
    broker.create_topic("orders", 2).await?;
    let client = Client::builder()
        .name_server(broker.name_server_addr())
        .build()
        .await?;

    let delivered: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let d = delivered.clone();
    let billing = client
        .push_consumer("billing")
        .subscribe("orders", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let d = d.clone();
            async move {
                for m in &msgs {
                    let order = m.keys().unwrap_or_default().to_owned();
                    println!("  billing consumes {order}");
                    d.lock().unwrap().insert(order);
                }
                ConsumeResult::Success
            }
        })
        .await?;

    let db: Orders = Arc::default();
    let producer = client
        .producer("order-svc")
        .start_transactional(CreateOrder { db: db.clone() })
        .await?;
    for (order, plan) in [
        ("order-1", "commit"),
        ("order-2", "rollback"),
        ("order-3", "unknown"),
    ] {
        let mut m = Message::new("orders", format!("{order} created"));
        m.set_keys([order]);
        let r = producer.send(m, &plan).await?;
        println!(
            "{order}: half message stored, transaction ended with {:?}",
            r.state
        );
    }

    let both = wait_until(Duration::from_secs(20), || async {
        delivered.lock().unwrap().len() >= 2
    })
    .await;
    ensure(
        both,
        "the committed and the checked-back orders are delivered",
    )?;
    let checks = broker.broker(0).transaction_checks_sent();
    println!("the broker sent {checks} check-back request(s)");
    ensure(
        checks >= 1,
        "the broker checked back on the unknown transaction",
    )?;
    // Once nothing is pending, the rolled-back order can no longer appear.
    ensure(
        wait_until(Duration::from_secs(10), || async {
            broker
                .pending_transactions()
                .map(|p| p.is_empty())
                .unwrap_or(false)
        })
        .await,
        "no transaction stays open",
    )?;
    let got = delivered.lock().unwrap().clone();
    println!("billing consumed {got:?}");
    ensure(
        got == BTreeSet::from(["order-1".to_owned(), "order-3".to_owned()]),
        "only the committed orders are delivered; the rolled-back one never is",
    )?;

    billing.shutdown().await;
    producer.shutdown().await;
    client.shutdown().await;
    broker.shutdown().await?;
    println!("OK: commit delivered, rollback discarded, unknown resolved by check-back");
    Ok(())
}
