//! SQL92 subscriptions (`subscribe_sql`, `#[listener(sql = "...")]`) against the embedded
//! broker over loopback: the broker filters by message properties, an invalid expression
//! or a broker without property filtering fails the consumer's start with the broker's
//! answer.
//!
//! "Exactly the matching messages" is checked after a graceful shutdown: each topic has one
//! queue and its last message matches, so every message that does not match was pulled no
//! later than the last one that does; once that one is consumed and the consumer has
//! stopped, a leaked message would have been recorded.

mod consumer_support;

use std::collections::BTreeSet;
use std::sync::{LazyLock, Mutex};

use bytes::Bytes;
use consumer_support::*;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::consumer::ConsumeFrom;
use rocketmq_sdk::prelude::*;
use rocketmq_sdk::protocol::ResponseCode;
use rocketmq_suite::wait_until;

/// The orders sent to each topic: `(body, region, amount, tag)`; `None` leaves the
/// property unset.
const ORDERS: &[(&str, Option<&str>, Option<&str>, &str)] = &[
    ("eu-250", Some("eu"), Some("250"), "paid"),
    ("eu-50", Some("eu"), Some("50"), "paid"),
    ("us-500", Some("us"), Some("500"), "created"),
    ("no-region", None, Some("900"), "paid"),
    ("eu-no-amount", Some("eu"), None, "paid"),
    ("eu-not-a-number", Some("eu"), Some("lots"), "paid"),
    ("EU-300", Some("EU"), Some("300"), "paid"),
    ("eu-101", Some("eu"), Some("101"), "created"),
];

async fn send_orders(producer: &Producer, topic: &str) {
    for (body, region, amount, tag) in ORDERS {
        let mut m = Message::new(topic, Bytes::from_static(body.as_bytes()));
        m.set_tags(*tag);
        if let Some(r) = region {
            m.put_property("region", *r);
        }
        if let Some(a) = amount {
            m.put_property("amount", *a);
        }
        producer.send(m).await.expect("send");
    }
}

fn set(bodies: &[&str]) -> BTreeSet<String> {
    bodies.iter().map(|b| (*b).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_sql_delivers_exactly_the_matching_messages() {
    let broker = broker().await;
    broker.create_topic("sql-orders", 1).await.unwrap();
    let (_pc, producer) = producer(&broker).await;
    send_orders(&producer, "sql-orders").await;

    let cases = [
        (
            "g-eu-big",
            "region = 'eu' AND amount > 100",
            set(&["eu-250", "eu-101"]),
        ),
        (
            "g-tags",
            "TAGS = 'created' OR (region IS NULL AND amount BETWEEN 500 AND 1000)",
            set(&["us-500", "no-region", "eu-101"]),
        ),
        (
            "g-in",
            "region IN ('us', 'EU') AND NOT (amount < 300)",
            set(&["us-500", "EU-300"]),
        ),
    ];
    for (group, expression, expected) in cases {
        let c = client(&broker).await;
        let log = Log::default();
        let consumer = c
            .push_consumer(group)
            .subscribe_sql("sql-orders", expression)
            .consume_from(ConsumeFrom::FirstOffset)
            .start(recorder(0, log.clone()))
            .await
            .unwrap_or_else(|e| panic!("{expression:?}: {e}"));
        assert!(
            wait_until(T, || async { log.bodies().is_superset(&expected) }).await,
            "{expression:?}: got {:?}, want {expected:?}",
            log.bodies()
        );
        consumer.shutdown().await;
        assert_eq!(log.bodies(), expected, "{expression:?}");
        assert_eq!(log.len(), expected.len(), "each once: {:?}", log.counts());
    }

    // Messages sent after the start are filtered the same way: the consumer is caught up
    // (nothing stored matches) and its pull is held; the arrivals wake it.
    let c = client(&broker).await;
    let log = Log::default();
    let consumer = c
        .push_consumer("g-live")
        .subscribe_sql("sql-orders", "amount >= 1000")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(recorder(0, log.clone()))
        .await
        .unwrap();
    let mut late = Message::new("sql-orders", Bytes::from_static(b"late-small"));
    late.put_property("amount", "1");
    producer.send(late).await.unwrap();
    let mut late = Message::new("sql-orders", Bytes::from_static(b"late-big"));
    late.put_property("amount", "1000");
    producer.send(late).await.unwrap();
    assert!(wait_until(T, || async { log.bodies().contains("late-big") }).await);
    consumer.shutdown().await;
    assert_eq!(log.bodies(), set(&["late-big"]));
}

#[tokio::test]
async fn an_invalid_expression_fails_the_start_with_the_parser_message() {
    let broker = broker().await;
    broker.create_topic("sql-bad", 1).await.unwrap();
    let c = client(&broker).await;
    let err = c
        .push_consumer("g-bad")
        .subscribe_sql("sql-bad", "region = 'eu' AND amount >")
        .start(recorder(0, Log::default()))
        .await
        .expect_err("an invalid expression must not start");
    match &err {
        Error::Broker { code, remark, .. } => {
            assert_eq!(*code, ResponseCode::SUBSCRIPTION_PARSE_FAILED);
            assert!(remark.contains("position 26"), "{remark}");
        }
        other => panic!("expected the broker's answer, got {other:?}"),
    }
    // The failed start left nothing registered: the group can start with a valid
    // expression on the same client.
    let consumer = c
        .push_consumer("g-bad")
        .subscribe_sql("sql-bad", "region = 'eu'")
        .start(recorder(0, Log::default()))
        .await
        .unwrap();
    consumer.shutdown().await;
}

#[tokio::test]
async fn a_broker_without_property_filtering_refuses_sql_consumers() {
    let broker = EmbeddedBroker::builder()
        .property_filter(false)
        .start()
        .await
        .unwrap();
    broker.create_topic("sql-off", 1).await.unwrap();
    let c = client(&broker).await;
    let err = c
        .push_consumer("g-off")
        .subscribe_sql("sql-off", "region = 'eu'")
        .start(recorder(0, Log::default()))
        .await
        .expect_err("the broker does not filter by SQL92");
    match &err {
        Error::Broker { code, remark, .. } => {
            assert_eq!(*code, ResponseCode::SYSTEM_ERROR);
            assert_eq!(
                remark,
                "The broker does not support consumer to filter message by SQL92"
            );
        }
        other => panic!("expected the broker's answer, got {other:?}"),
    }
    // Tag subscriptions are unaffected.
    let consumer = c
        .push_consumer("g-off")
        .subscribe("sql-off", "*")
        .start(recorder(0, Log::default()))
        .await
        .unwrap();
    consumer.shutdown().await;
}

#[tokio::test]
async fn lite_pull_consumer_subscribe_sql() {
    let broker = broker().await;
    broker.create_topic("sql-lite", 1).await.unwrap();
    let (_pc, producer) = producer(&broker).await;
    send_orders(&producer, "sql-lite").await;
    let c = client(&broker).await;
    let err = c
        .pull_consumer("g-lite")
        .subscribe_sql("sql-lite", "amount > 'x'")
        .start()
        .await
        .expect_err("an invalid expression must not start");
    assert!(
        matches!(&err, Error::Broker { code, .. } if *code == ResponseCode::SUBSCRIPTION_PARSE_FAILED),
        "{err:?}"
    );
    let consumer = c
        .pull_consumer("g-lite")
        .subscribe_sql("sql-lite", "region = 'eu' AND amount > 100")
        .consume_from(ConsumeFrom::FirstOffset)
        .start()
        .await
        .unwrap();
    // One queue, polled in order, and its last message matches: once it is here, every
    // message before it has been filtered or delivered.
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + T;
    while !got.iter().any(|b: &String| b == "eu-101") && tokio::time::Instant::now() < deadline {
        let polled = consumer
            .poll(std::time::Duration::from_millis(200))
            .await
            .unwrap();
        got.extend(
            polled
                .iter()
                .map(|m| String::from_utf8_lossy(&m.body).into_owned()),
        );
    }
    assert_eq!(got, ["eu-250", "eu-101"]);
    consumer.shutdown().await;
}

// --- #[listener(sql = "...")] ----------------------------------------------------------

static LISTENED: LazyLock<Mutex<Vec<String>>> = LazyLock::new(Default::default);

fn listened() -> BTreeSet<String> {
    LISTENED.lock().unwrap().iter().cloned().collect()
}

/// Handles large European orders only; the broker does the filtering.
#[listener(
    topic = "sql-listen",
    group = "sql-listen",
    sql = "region = 'eu' AND amount > 100",
    consume_from = first_offset
)]
async fn large_eu_order(order: MessageExt) {
    LISTENED
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&order.body).into_owned());
}

#[rocketmq_sdk::test]
async fn sql_listener_gets_only_matching_messages(broker: EmbeddedBroker, client: Client) {
    broker.create_topic("sql-listen", 1).await.unwrap();
    let producer = client
        .producer("sql-listen-producer")
        .start()
        .await
        .unwrap();
    send_orders(&producer, "sql-listen").await;
    let app = client
        .consumers()
        .listen(large_eu_order)
        .start()
        .await
        .unwrap();
    let expected = set(&["eu-250", "eu-101"]);
    assert!(
        wait_until(T, || async { listened().is_superset(&expected) }).await,
        "{:?}",
        listened()
    );
    app.shutdown().await;
    assert_eq!(listened(), expected);
    assert_eq!(LISTENED.lock().unwrap().len(), 2, "each once");
}

/// An expression the broker rejects.
#[listener(
    topic = "sql-listen-bad",
    group = "sql-listen-bad",
    sql = "amount > 'x'"
)]
async fn never_runs(_m: MessageExt) {}

#[rocketmq_sdk::test]
async fn an_invalid_listener_expression_fails_the_start(broker: EmbeddedBroker, client: Client) {
    broker.create_topic("sql-listen-bad", 1).await.unwrap();
    let err = client
        .consumers()
        .listen(never_runs)
        .start()
        .await
        .expect_err("an invalid expression must not start");
    assert!(
        matches!(
            &err,
            Error::Broker { code, .. } if *code == ResponseCode::SUBSCRIPTION_PARSE_FAILED
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("compared"), "{err}");
}
