//! `#[derive(Message)]`, `#[listener]` and `#[selector]` against the embedded broker over
//! loopback: every listener form (typed, orderly, broadcast, batch, raw), the decode-error
//! policies, the explicit outcomes, dedupe registration, and the functions staying callable.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::prelude::*;
use rocketmq_sdk::producer::java_hash_index;
use rocketmq_sdk::protocol::topic::{dlq_topic, retry_topic};
use rocketmq_suite::wait_until;

const T: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Message)]
#[rocketmq(topic = "m-orders", tag = "created")]
struct OrderCreated {
    #[rocketmq(key)]
    order_id: String,
    #[rocketmq(shard)]
    customer_id: String,
    amount_cents: u64,
}

fn order(id: &str, customer: &str) -> OrderCreated {
    OrderCreated {
        order_id: id.into(),
        customer_id: customer.into(),
        amount_cents: 100,
    }
}

/// What each listener saw, by listener.
static SEEN: LazyLock<Mutex<BTreeMap<&'static str, Vec<String>>>> = LazyLock::new(Default::default);

fn record(who: &'static str, what: impl Into<String>) {
    SEEN.lock()
        .unwrap()
        .entry(who)
        .or_default()
        .push(what.into());
}

fn seen(who: &str) -> Vec<String> {
    SEEN.lock().unwrap().get(who).cloned().unwrap_or_default()
}

async fn client_of(broker: &EmbeddedBroker) -> Client {
    Client::builder()
        .name_server(broker.name_server_addr())
        .heartbeat_interval(Duration::from_millis(300))
        .persist_offset_interval(Duration::from_millis(100))
        .build()
        .await
        .unwrap()
}

// --- typed, concurrent -----------------------------------------------------------------

/// Bills an order.
#[listener(topic = "m-orders", group = "m-billing", tag = "created || paid", consume_from = first_offset)]
async fn bill(order: OrderCreated, ctx: ConsumeContext) -> Result<(), String> {
    record(
        "bill",
        format!("{}@{}", order.order_id, ctx.reconsume_times()),
    );
    Ok(())
}

#[rocketmq_sdk::test(delay_levels = "10ms 20ms 30ms")]
async fn typed_listener_gets_published_values(broker: EmbeddedBroker, client: Client) {
    broker.create_topic("m-orders", 4).await.unwrap();
    let producer = client.producer("m-producer").start().await.unwrap();
    for i in 0..5 {
        producer
            .publish(&order(&format!("o-{i}"), "c-1"))
            .await
            .unwrap();
    }
    let app = client.consumers().listen(bill).start().await.unwrap();
    assert!(
        wait_until(T, || async {
            seen("bill").iter().filter(|s| s.starts_with("o-")).count() >= 5
        })
        .await,
        "{:?}",
        seen("bill")
    );
    let mut got: Vec<_> = seen("bill")
        .into_iter()
        .filter(|s| !s.starts_with("direct"))
        .collect();
    got.sort();
    assert_eq!(got, (0..5).map(|i| format!("o-{i}@0")).collect::<Vec<_>>());
    // The derive put topic, tag and keys on the wire.
    let stored = broker.messages("m-orders").unwrap();
    assert_eq!(stored.len(), 5);
    assert!(stored.iter().all(|m| m.tags() == Some("created")));
    assert!(stored.iter().any(|m| m.keys() == Some("o-3")));
    assert_eq!(app.consumers().len(), 1);
    assert!(app.get("m-billing").is_some());
    app.shutdown().await;
}

#[tokio::test]
async fn listener_functions_stay_callable() {
    let queue = MessageQueue::new("m-orders", "b", 0);
    bill(order("direct", "c"), ConsumeContext::new(queue, 2))
        .await
        .unwrap();
    assert!(seen("bill").contains(&"direct@2".to_owned()));
    assert_eq!(by_length(&queues(4), &Message::new("t", "x"), "abcde"), 1);
}

#[test]
fn derive_sets_routing_facts() {
    let o = OrderCreated {
        order_id: "k-1".into(),
        customer_id: "customer-42".into(),
        amount_cents: 5,
    };
    assert_eq!(OrderCreated::TOPIC, "m-orders");
    assert_eq!(OrderCreated::TAG, Some("created"));
    assert_eq!(o.keys(), vec!["k-1".to_owned()]);
    // String.hashCode() of the shard field, as a Java producer hashes it.
    let java: i32 = "customer-42"
        .encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    assert_eq!(o.shard_hash(), Some(java));
    let m = o.to_message().unwrap();
    assert_eq!(m.topic, "m-orders");
    let back: OrderCreated = serde_json::from_slice(&m.body).unwrap();
    assert_eq!(back, o);
}

#[derive(Debug, Serialize, Deserialize, Message)]
#[rocketmq(topic = "m-optional")]
struct Optional {
    #[rocketmq(key)]
    a: Option<u32>,
    #[rocketmq(key)]
    b: String,
}

#[test]
fn optional_keys_are_skipped_when_absent() {
    let none = Optional {
        a: None,
        b: "x".into(),
    };
    let some = Optional {
        a: Some(7),
        b: "x".into(),
    };
    assert_eq!(none.keys(), vec!["x".to_owned()]);
    assert_eq!(some.keys(), vec!["7".to_owned(), "x".to_owned()]);
    assert_eq!(Optional::TAG, None);
    assert_eq!(none.shard_hash(), None);
}

// --- selector --------------------------------------------------------------------------

/// The queue at `arg.len() % n`.
#[selector]
fn by_length(queues: &[MessageQueue], _message: &Message, arg: &str) -> usize {
    arg.len() % queues.len()
}

fn queues(n: i32) -> Vec<MessageQueue> {
    (0..n).map(|i| MessageQueue::new("t", "b", i)).collect()
}

#[rocketmq_sdk::test]
async fn selector_and_shard_pick_queues(broker: EmbeddedBroker, client: Client) {
    broker.create_topic("m-orders", 8).await.unwrap();
    broker.create_topic("m-selected", 8).await.unwrap();
    let producer = client.producer("m-sel").start().await.unwrap();
    let r = producer
        .send_with_selector(Message::new("m-selected", "x"), &by_length, "abc")
        .await
        .unwrap();
    assert_eq!(r.queue.queue_id, 3);
    // A shard field sends equal values to the queue Java's SelectMessageQueueByHash picks.
    let o = order("s-1", "customer-7");
    let expected = java_hash_index(o.shard_hash().unwrap(), 8);
    for i in 0..3 {
        let r = producer
            .publish(&order(&format!("s-{i}"), "customer-7"))
            .await
            .unwrap();
        assert_eq!(r.queue.queue_id as usize, expected);
    }
}

// --- orderly ---------------------------------------------------------------------------

static LEDGER_FAILS: AtomicUsize = AtomicUsize::new(0);

#[listener(topic = "m-ledger", group = "m-ledger", orderly, max_reconsume_times = 3, consume_from = first_offset)]
async fn ledger(order: LedgerEntry, ctx: OrderlyContext) -> anyhow::Result<()> {
    if order.order_id == "c1-2" && LEDGER_FAILS.fetch_add(1, Ordering::SeqCst) == 0 {
        ctx.set_suspend_time(Duration::from_millis(20));
        anyhow::bail!("ledger busy");
    }
    record("ledger", order.order_id);
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rocketmq(topic = "m-ledger")]
struct LedgerEntry {
    #[rocketmq(shard)]
    customer: String,
    order_id: String,
}

#[rocketmq_sdk::test]
async fn orderly_listener_keeps_per_shard_order_through_a_failure(
    broker: EmbeddedBroker,
    client: Client,
) {
    broker.create_topic("m-ledger", 4).await.unwrap();
    let producer = client.producer("m-ledger-p").start().await.unwrap();
    for i in 0..5 {
        for c in ["c1", "c2"] {
            let e = LedgerEntry {
                customer: c.into(),
                order_id: format!("{c}-{i}"),
            };
            producer.publish(&e).await.unwrap();
        }
    }
    let app = client.consumers().listen(ledger).start().await.unwrap();
    assert!(
        wait_until(T, || async { seen("ledger").len() >= 10 }).await,
        "{:?}",
        seen("ledger")
    );
    let got = seen("ledger");
    for c in ["c1", "c2"] {
        let mine: Vec<_> = got.iter().filter(|o| o.starts_with(c)).cloned().collect();
        assert_eq!(
            mine,
            (0..5).map(|i| format!("{c}-{i}")).collect::<Vec<_>>(),
            "{c}"
        );
    }
    assert!(
        LEDGER_FAILS.load(Ordering::SeqCst) >= 2,
        "the failed entry was retried"
    );
    app.shutdown().await;
}

// --- broadcast -------------------------------------------------------------------------

#[listener(topic = "m-config", group = "m-config", broadcast, consume_from = first_offset)]
async fn config_changed(change: MessageExt) {
    record("config", String::from_utf8_lossy(&change.body).into_owned());
}

#[rocketmq_sdk::test]
async fn broadcast_listener_runs_on_every_instance(broker: EmbeddedBroker) {
    broker.create_topic("m-config", 2).await.unwrap();
    let (a, b) = (client_of(&broker).await, client_of(&broker).await);
    let dir = tempfile::tempdir().unwrap();
    let (da, db) = (dir.path().join("a"), dir.path().join("b"));
    let app_a = a
        .consumers()
        .listen(config_changed.configure(move |c| c.offset_store_dir(da.clone())))
        .start()
        .await
        .unwrap();
    let app_b = b
        .consumers()
        .listen(config_changed.configure(move |c| c.offset_store_dir(db.clone())))
        .start()
        .await
        .unwrap();
    let producer = a.producer("m-config-p").start().await.unwrap();
    for i in 0..4 {
        producer
            .send(Message::new("m-config", format!("v{i}")))
            .await
            .unwrap();
    }
    assert!(
        wait_until(T, || async { seen("config").len() >= 8 }).await,
        "{:?}",
        seen("config")
    );
    for i in 0..4 {
        let n = seen("config")
            .iter()
            .filter(|c| **c == format!("v{i}"))
            .count();
        assert_eq!(n, 2, "v{i} reached both instances");
    }
    app_a.shutdown().await;
    app_b.shutdown().await;
}

// --- batch -----------------------------------------------------------------------------

static LARGEST_BATCH: AtomicUsize = AtomicUsize::new(0);

#[listener(topic = "m-batch", group = "m-batch", batch_size = 8, consume_from = first_offset)]
async fn settle(orders: Vec<OrderCreated>) -> Outcome {
    LARGEST_BATCH.fetch_max(orders.len(), Ordering::SeqCst);
    for o in orders {
        record("batch", o.order_id);
    }
    Outcome::Ack
}

#[rocketmq_sdk::test]
async fn batch_listener_gets_several_values_per_call(broker: EmbeddedBroker, client: Client) {
    broker.create_topic("m-batch", 1).await.unwrap();
    let producer = client.producer("m-batch-p").start().await.unwrap();
    for i in 0..20 {
        let body = serde_json::to_vec(&order(&format!("b-{i}"), "c")).unwrap();
        producer
            .send(Message::new("m-batch", Bytes::from(body)))
            .await
            .unwrap();
    }
    let app = client.consumers().listen(settle).start().await.unwrap();
    assert!(wait_until(T, || async { seen("batch").len() >= 20 }).await);
    let largest = LARGEST_BATCH.load(Ordering::SeqCst);
    assert!(
        (2..=8).contains(&largest),
        "batches of up to 8, got {largest}"
    );
    app.shutdown().await;
}

// --- decode errors ---------------------------------------------------------------------

#[listener(topic = "m-bad", group = "m-bad-dlq", consume_from = first_offset)]
async fn strict(order: OrderCreated) {
    record("strict", order.order_id);
}

#[listener(topic = "m-bad", group = "m-bad-skip", on_decode_error = skip, consume_from = first_offset)]
async fn lenient(order: OrderCreated) {
    record("lenient", order.order_id);
}

#[listener(topic = "m-bad", group = "m-bad-retry", on_decode_error = retry, consume_from = first_offset, max_reconsume_times = 1)]
async fn patient(order: OrderCreated) {
    record("patient", order.order_id);
}

#[rocketmq_sdk::test(delay_levels = "10ms 20ms 30ms 40ms 50ms")]
async fn decode_errors_follow_the_policy(broker: EmbeddedBroker, client: Client) {
    broker.create_topic("m-bad", 1).await.unwrap();
    let producer = client.producer("m-bad-p").start().await.unwrap();
    producer
        .send(Message::new("m-bad", "{not json"))
        .await
        .unwrap();
    let good = serde_json::to_vec(&order("good", "c")).unwrap();
    producer
        .send(Message::new("m-bad", Bytes::from(good)))
        .await
        .unwrap();
    let app = client
        .consumers()
        .listen(strict)
        .listen(lenient)
        .listen(patient)
        .start()
        .await
        .unwrap();
    let dlq = |group: &'static str| {
        let broker = &broker;
        move || async move {
            broker
                .messages(&dlq_topic(group))
                .map(|m| m.len())
                .unwrap_or(0)
        }
    };
    // Default: the undecodable message goes straight to the DLQ, never retried.
    assert!(wait_until(T, || async { dlq("m-bad-dlq")().await == 1 }).await);
    assert!(
        broker
            .messages(&retry_topic("m-bad-dlq"))
            .unwrap_or_default()
            .is_empty()
    );
    // retry: it walks the ladder (max 1 retry), then lands in the DLQ.
    assert!(wait_until(T, || async { dlq("m-bad-retry")().await == 1 }).await);
    assert!(
        !broker
            .messages(&retry_topic("m-bad-retry"))
            .unwrap()
            .is_empty()
    );
    // skip: acknowledged, neither retried nor dead-lettered; the offset moves past it.
    assert!(
        wait_until(T, || async {
            broker
                .consumer_offsets("m-bad-skip", "m-bad")
                .values()
                .sum::<i64>()
                == 2
        })
        .await
    );
    assert_eq!(dlq("m-bad-skip")().await, 0);
    for who in ["strict", "lenient", "patient"] {
        assert!(
            wait_until(T, || async { seen(who) == vec!["good".to_owned()] }).await,
            "{who}"
        );
    }
    app.shutdown().await;
}

// --- outcomes --------------------------------------------------------------------------

#[listener(topic = "m-judge", group = "m-judge", consume_from = first_offset)]
async fn judge(order: OrderCreated, ctx: ConsumeContext) -> Result<Outcome, String> {
    record(
        "judge",
        format!("{}@{}", order.order_id, ctx.reconsume_times()),
    );
    Ok(match order.order_id.as_str() {
        "dlq" => Outcome::DeadLetter,
        "later" if ctx.reconsume_times() == 0 => Outcome::RetryAfter(2),
        "fail" if ctx.reconsume_times() == 0 => return Err("not yet".into()),
        _ => Outcome::Ack,
    })
}

#[rocketmq_sdk::test(delay_levels = "10ms 20ms 30ms 40ms 50ms")]
async fn outcomes_ack_retry_and_dead_letter(broker: EmbeddedBroker, client: Client) {
    broker.create_topic("m-judge", 2).await.unwrap();
    let producer = client.producer("m-judge-p").start().await.unwrap();
    for id in ["ok", "dlq", "later", "fail"] {
        let body = serde_json::to_vec(&order(id, "c")).unwrap();
        producer
            .send(Message::new("m-judge", Bytes::from(body)))
            .await
            .unwrap();
    }
    let app = client.consumers().listen(judge).start().await.unwrap();
    let want = ["ok@0", "dlq@0", "later@0", "later@1", "fail@0", "fail@1"];
    assert!(
        wait_until(T, || async {
            want.iter().all(|w| seen("judge").contains(&w.to_string()))
        })
        .await,
        "{:?}",
        seen("judge")
    );
    assert!(
        wait_until(T, || async {
            broker.dead_letters("m-judge").map(|d| d.len()).unwrap_or(0) == 1
        })
        .await
    );
    let dead = broker.dead_letters("m-judge").unwrap();
    let dead: OrderCreated = serde_json::from_slice(&dead[0].body).unwrap();
    assert_eq!(dead.order_id, "dlq");
    assert_eq!(
        seen("judge")
            .iter()
            .filter(|s| s.starts_with("dlq"))
            .count(),
        1
    );
    // RetryAfter(2) asked for level 2 (schedule queue 1), not the default 3 + reconsume times.
    let scheduled = broker.messages("SCHEDULE_TOPIC_XXXX").unwrap();
    let later = scheduled
        .iter()
        .find(|m| {
            serde_json::from_slice::<OrderCreated>(&m.body).is_ok_and(|o| o.order_id == "later")
        })
        .expect("later went through the schedule topic");
    assert_eq!(later.property("DELAY"), Some("2"));
    assert_eq!(later.queue_id, 1);
    let failed = scheduled
        .iter()
        .find(|m| {
            serde_json::from_slice::<OrderCreated>(&m.body).is_ok_and(|o| o.order_id == "fail")
        })
        .expect("fail went through the schedule topic");
    assert_eq!(
        failed.property("DELAY"),
        Some("3"),
        "an Err takes the default level"
    );
    app.shutdown().await;
}

// --- registration ----------------------------------------------------------------------

static ONCE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[listener(topic = "m-dedupe", group = "m-dedupe", dedupe, consume_from = first_offset)]
async fn once(order: OrderCreated) {
    ONCE_RUNS.fetch_add(1, Ordering::SeqCst);
    record("once", order.order_id);
}

#[rocketmq_sdk::test]
async fn dedupe_listener_runs_once_per_key_and_needs_a_guard(
    broker: EmbeddedBroker,
    client: Client,
) {
    broker.create_topic("m-dedupe", 1).await.unwrap();
    let err = client.consumers().listen(once).start().await.unwrap_err();
    assert!(err.to_string().contains("without a guard"), "{err}");
    let producer = client.producer("m-dedupe-p").start().await.unwrap();
    // The same message stored twice (a producer retry after a lost ack looks like this).
    let body = serde_json::to_vec(&order("d-1", "c")).unwrap();
    for _ in 0..2 {
        let mut m = Message::new("m-dedupe", Bytes::from(body.clone()));
        m.set_uniq_key("AC11000100002A9F0000000000000001");
        producer.send(m).await.unwrap();
    }
    let app = client
        .consumers()
        .listen(once.dedupe(MemoryGuard::new()))
        .start()
        .await
        .unwrap();
    assert!(
        wait_until(T, || async {
            broker
                .consumer_offsets("m-dedupe", "m-dedupe")
                .values()
                .sum::<i64>()
                == 2
        })
        .await,
        "both copies acknowledged"
    );
    assert_eq!(
        ONCE_RUNS.load(Ordering::SeqCst),
        1,
        "the duplicate did not run"
    );
    app.shutdown().await;
}

#[listener(topic = "m-dup", group = "m-same-group")]
async fn first_of_group(_m: MessageExt) {}

#[listener(topic = "m-dup2", group = "m-same-group")]
async fn second_of_group(_m: MessageExt) {}

#[rocketmq_sdk::test]
async fn one_group_one_listener(client: Client) {
    let err = client
        .consumers()
        .listen(first_of_group)
        .listen(second_of_group)
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("m-same-group"), "{err}");
}
