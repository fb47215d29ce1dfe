//! `#[transaction_listener]` (commit, rollback, check-back, several per client) and
//! `#[rocketmq_sdk::test]` with each parameter combination and store option.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::prelude::*;
use rocketmq_suite::wait_until;

const T: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rocketmq(topic = "tx-orders", tag = "created")]
struct OrderCreated {
    #[rocketmq(key)]
    order_id: String,
    amount_cents: u64,
}

/// The "local database": orders whose transaction committed.
#[derive(Debug, Default)]
struct CreateOrder {
    committed: Mutex<BTreeSet<String>>,
    checks: AtomicUsize,
}

#[transaction_listener]
impl CreateOrder {
    async fn execute(&self, order: &OrderCreated) -> TransactionState {
        match order.amount_cents {
            0 => TransactionState::Rollback,
            // The local commit happened, but the answer is lost: the broker must ask.
            1 => {
                self.committed
                    .lock()
                    .unwrap()
                    .insert(order.order_id.clone());
                TransactionState::Unknown
            }
            _ => {
                self.committed
                    .lock()
                    .unwrap()
                    .insert(order.order_id.clone());
                TransactionState::Commit
            }
        }
    }

    async fn check(
        &self,
        order: &OrderCreated,
        message: &MessageExt,
    ) -> Result<TransactionState, String> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        assert_eq!(message.keys(), Some(order.order_id.as_str()));
        Ok(
            if self.committed.lock().unwrap().contains(&order.order_id) {
                TransactionState::Commit
            } else {
                TransactionState::Rollback
            },
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rocketmq(topic = "tx-refunds")]
struct Refund {
    id: u32,
}

/// A second transaction listener on the same client.
struct Refunds;

#[transaction_listener]
impl Refunds {
    async fn execute(&self, refund: &Refund, message: &Message) -> TransactionState {
        assert_eq!(message.topic, "tx-refunds");
        if refund.id.is_multiple_of(2) {
            TransactionState::Commit
        } else {
            TransactionState::Rollback
        }
    }

    async fn check(&self, _refund: &Refund) -> TransactionState {
        TransactionState::Rollback
    }

    /// Other methods of the impl are left alone.
    #[allow(dead_code)]
    fn describe(&self) -> &'static str {
        "refunds"
    }
}

fn ids(broker: &EmbeddedBroker, topic: &str) -> BTreeSet<String> {
    broker
        .messages(topic)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.keys().map(str::to_owned))
        .collect()
}

#[rocketmq_sdk::test(transaction_check_ms = 100)]
async fn transaction_listener_commits_rolls_back_and_answers_checks(
    broker: EmbeddedBroker,
    client: Client,
) {
    broker.create_topic("tx-orders", 2).await.unwrap();
    broker.create_topic("tx-refunds", 2).await.unwrap();
    let orders = client
        .producer("tx-order-svc")
        .start_transactional(CreateOrder::default())
        .await
        .unwrap();
    let refunds = client
        .producer("tx-refund-svc")
        .start_transactional(Refunds)
        .await
        .unwrap();
    let order = |id: &str, amount| OrderCreated {
        order_id: id.into(),
        amount_cents: amount,
    };
    let r = orders.publish(&order("commit", 500)).await.unwrap();
    assert_eq!(r.state, TransactionState::Commit);
    let r = orders.publish(&order("rollback", 0)).await.unwrap();
    assert_eq!(r.state, TransactionState::Rollback);
    let r = orders.publish(&order("unknown", 1)).await.unwrap();
    assert_eq!(r.state, TransactionState::Unknown);
    for id in 0..4 {
        refunds.publish(&Refund { id }).await.unwrap();
    }

    // The check-back resolves "unknown" to commit; "rollback" never becomes visible.
    assert!(
        wait_until(T, || async {
            ids(&broker, "tx-orders").contains("unknown")
        })
        .await,
        "checked back and committed"
    );
    let visible = ids(&broker, "tx-orders");
    assert!(visible.contains("commit"));
    assert!(!visible.contains("rollback"));
    assert!(
        wait_until(T, || async {
            broker
                .pending_transactions()
                .map(|p| p.is_empty())
                .unwrap_or(false)
        })
        .await
    );
    assert!(!ids(&broker, "tx-orders").contains("rollback"));
    let refunds_visible: Vec<u32> = broker
        .messages("tx-refunds")
        .unwrap()
        .iter()
        .map(|m| serde_json::from_slice::<Refund>(&m.body).unwrap().id)
        .collect();
    assert_eq!(refunds_visible.len(), 2);
    assert!(refunds_visible.iter().all(|id| id.is_multiple_of(2)));
}

// --- #[rocketmq_sdk::test] parameter combinations ---------------------------------------

#[rocketmq_sdk::test]
async fn broker_only(broker: EmbeddedBroker) {
    assert_eq!(broker.brokers().len(), 1);
    broker.create_topic("t-broker-only", 2).await.unwrap();
}

#[rocketmq_sdk::test]
async fn client_only(client: Client) {
    // The broker behind the client is running: a send to an auto-created topic works.
    let producer = client.producer("t-client-only").start().await.unwrap();
    let r = producer
        .send(Message::new("t-client-only", "x"))
        .await
        .unwrap();
    assert_eq!(r.status, SendStatus::SendOk);
}

#[rocketmq_sdk::test]
async fn nothing_asked() {
    // The body runs on the multi-threaded runtime the macro builds (the broker's tasks
    // need workers of their own while the test awaits).
    assert_eq!(
        tokio::runtime::Handle::current().runtime_flavor(),
        tokio::runtime::RuntimeFlavor::MultiThread
    );
}

#[rocketmq_sdk::test(brokers = 2, queues = 3)]
async fn client_then_broker(
    client: Client,
    broker: EmbeddedBroker,
) -> Result<(), Box<dyn std::error::Error>> {
    assert_eq!(broker.brokers().len(), 2);
    let producer = client.producer("t-two").start().await?;
    let mut seen = BTreeSet::new();
    for _ in 0..12 {
        let r = producer.send(Message::new("t-two", "x")).await?;
        assert!(r.queue.queue_id < 3);
        seen.insert(r.queue.broker_name.clone());
    }
    assert_eq!(seen.len(), 2, "both brokers took sends");
    Ok(())
}

#[rocketmq_sdk::test(store = "disk", flush = "sync")]
async fn disk_store_with_sync_flush(broker: EmbeddedBroker, client: Client) {
    let producer = client.producer("t-disk").start().await.unwrap();
    producer
        .send(Message::new("t-disk", "durable"))
        .await
        .unwrap();
    // Restarting from the same directory finds the message.
    broker.broker(0).crash().await;
    broker.broker(0).restart().await.unwrap();
    let stored = broker.messages("t-disk").unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(&stored[0].body[..], b"durable");
}

#[rocketmq_sdk::test(manual_clock, delay_levels = "1h")]
async fn manual_clock_drives_delays(broker: EmbeddedBroker, client: Client) {
    broker.create_topic("t-clock", 1).await.unwrap();
    let producer = client.producer("t-clock").start().await.unwrap();
    let mut m = Message::new("t-clock", "later");
    m.set_delay_level(1);
    producer.send(m).await.unwrap();
    assert!(
        broker.messages("t-clock").unwrap().is_empty(),
        "held for an hour"
    );
    broker.advance(Duration::from_secs(3601)).unwrap();
    assert!(
        wait_until(T, || async {
            broker
                .messages("t-clock")
                .map(|m| m.len() == 1)
                .unwrap_or(false)
        })
        .await
    );
}
