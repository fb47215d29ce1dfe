//! Retries through `%RETRY%<group>` on a millisecond delay ladder, dead letters, and
//! orderly consumption with failures, against the embedded broker.

mod consumer_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use consumer_support::*;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::consumer::{
    ConsumeContext, ConsumeFrom, ConsumeResult, OrderlyContext, OrderlyResult,
};
use rocketmq_sdk::producer::SelectByHash;
use rocketmq_sdk::protocol::message::{Message, MessageExt, keys};
use rocketmq_sdk::protocol::topic::retry_topic;
use rocketmq_sdk::protocol::{RequestCode, ResponseCode};
use rocketmq_suite::wait_until;

/// Deliveries of one message: (reconsume times, topic seen, when).
type Seen = Arc<Mutex<Vec<(i32, String, Instant)>>>;

/// Whether the group consumed every message stored in its retry topic.
fn retry_topic_drained(broker: &EmbeddedBroker, group: &str) -> bool {
    let topic = retry_topic(group);
    let stored = broker.messages(&topic).map(|m| m.len()).unwrap_or(0) as i64;
    let committed: i64 = broker.consumer_offsets(group, &topic).values().sum();
    committed == stored
}

async fn one_message(broker: &EmbeddedBroker, topic: &str) -> String {
    let (_c, producer) = producer(broker).await;
    let mut m = Message::new(topic, Bytes::from_static(b"payload"));
    m.set_tags("TagA");
    m.set_keys(["order-42"]);
    producer.send(m).await.unwrap().msg_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_failing_message_is_delivered_1_plus_max_times_then_dead_lettered() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("fail", 2).await.unwrap();
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let c = client(&broker).await;
    let consumer = c
        .push_consumer("g-fail")
        .subscribe("fail", "TagA")
        .consume_from(ConsumeFrom::FirstOffset)
        .max_reconsume_times(3)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let s = s.clone();
            async move {
                let m = &msgs[0];
                s.lock()
                    .unwrap()
                    .push((m.reconsume_times, m.topic.clone(), Instant::now()));
                ConsumeResult::ReconsumeLater
            }
        })
        .await
        .unwrap();
    let id = one_message(&broker, "fail").await;

    assert!(
        wait_until(T, || async {
            broker.dead_letters("g-fail").unwrap().len() == 1
        })
        .await,
        "dead-lettered; deliveries so far {:?}",
        seen.lock().unwrap()
    );
    let dlq = broker.dead_letters("g-fail").unwrap();
    let dead = &dlq[0];
    assert_eq!(dead.uniq_key(), Some(id.as_str()), "the original id");
    assert_eq!(
        dead.property(keys::RETRY_TOPIC),
        Some("fail"),
        "the original topic"
    );
    assert_eq!(dead.property(keys::DLQ_ORIGIN_TOPIC), Some("fail"));
    assert_eq!(dead.tags(), Some("TagA"));
    assert_eq!(&dead.body[..], b"payload");
    assert_eq!(dead.reconsume_times, 4);

    assert!(wait_until(T, || async { retry_topic_drained(&broker, "g-fail") }).await);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(|s| s.0).collect::<Vec<_>>(),
        [0, 1, 2, 3],
        "1 + max_reconsume_times deliveries"
    );
    assert!(
        seen.iter().all(|s| s.1 == "fail"),
        "retries show the original topic"
    );
    // The ladder: retry n comes back after level 3 + (n - 1), i.e. 30, 40, 50 ms.
    for (i, w) in seen.windows(2).enumerate() {
        let gap = w[1].2 - w[0].2;
        let level_ms = 10 * (3 + i as u64);
        assert!(
            gap >= Duration::from_millis(level_ms - 2),
            "retry {} after {gap:?}, expected at least {level_ms} ms",
            i + 1
        );
    }
    consumer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_twice_then_succeeding_gives_three_deliveries_then_none() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("flaky", 2).await.unwrap();
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let c = client(&broker).await;
    let consumer = c
        .push_consumer("g-flaky")
        .subscribe("flaky", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let s = s.clone();
            async move {
                let m = &msgs[0];
                s.lock()
                    .unwrap()
                    .push((m.reconsume_times, m.topic.clone(), Instant::now()));
                if m.reconsume_times < 2 {
                    Err("not yet")
                } else {
                    Ok(())
                }
            }
        })
        .await
        .unwrap();
    one_message(&broker, "flaky").await;
    assert!(wait_until(T, || async { seen.lock().unwrap().len() >= 3 }).await);
    // Everything the retry topic holds was consumed and committed: no delivery is pending.
    assert!(wait_until(T, || async { retry_topic_drained(&broker, "g-flaky") }).await);
    assert!(
        wait_until(T, || async {
            broker
                .consumer_offsets("g-flaky", "flaky")
                .values()
                .sum::<i64>()
                == 1
        })
        .await
    );
    let reconsumes: Vec<i32> = seen.lock().unwrap().iter().map(|s| s.0).collect();
    assert_eq!(reconsumes, [0, 1, 2], "three deliveries, then none");
    assert!(
        broker
            .dead_letters("g-flaky")
            .unwrap_or_default()
            .is_empty()
    );
    consumer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_send_back_falls_back_to_the_retry_topic() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("fallback", 1).await.unwrap();
    // Every CONSUMER_SEND_MSG_BACK fails: the client re-sends through the retry topic.
    broker.faults().fail_next(
        RequestCode::CONSUMER_SEND_MSG_BACK,
        1000,
        ResponseCode::SYSTEM_ERROR,
    );
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let c = client(&broker).await;
    let consumer = c
        .push_consumer("g-fallback")
        .subscribe("fallback", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .max_reconsume_times(2)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let s = s.clone();
            async move {
                let m = &msgs[0];
                s.lock()
                    .unwrap()
                    .push((m.reconsume_times, m.topic.clone(), Instant::now()));
                ConsumeResult::ReconsumeLater
            }
        })
        .await
        .unwrap();
    let id = one_message(&broker, "fallback").await;
    // One of the retry-topic sends fails too: like Java's inner producer, the client
    // tries again (another broker if there is one) instead of consuming again locally.
    assert!(wait_until(T, || async { !seen.lock().unwrap().is_empty() }).await);
    broker.faults().requests().start();
    broker
        .faults()
        .fail_next(RequestCode::SEND_MESSAGE_V2, 1, ResponseCode::SYSTEM_BUSY);
    assert!(
        wait_until(T, || async {
            broker.dead_letters("g-fallback").unwrap_or_default().len() == 1
        })
        .await
    );
    assert!(
        broker.faults().injected() >= 4,
        "send-back was tried each time, and one retry-topic send failed"
    );
    // The retry-topic sends' reconsume times (`j`): the failed one is sent again at once
    // with the same count, so one value appears twice in a row.
    let retry_sends: Vec<String> = broker
        .faults()
        .requests()
        .of(RequestCode::SEND_MESSAGE_V2)
        .iter()
        .filter(|r| r.field("b").is_some_and(|t| t.starts_with("%RETRY%")))
        .filter_map(|r| r.field("j").map(str::to_owned))
        .collect();
    assert!(
        retry_sends.windows(2).any(|w| w[0] == w[1]),
        "the failed retry-topic send was retried: {retry_sends:?}"
    );
    let dead = &broker.dead_letters("g-fallback").unwrap()[0];
    assert_eq!(dead.uniq_key(), Some(id.as_str()));
    assert_eq!(dead.property(keys::RETRY_TOPIC), Some("fallback"));
    assert!(wait_until(T, || async { retry_topic_drained(&broker, "g-fallback") }).await);
    let reconsumes: Vec<i32> = seen.lock().unwrap().iter().map(|s| s.0).collect();
    assert_eq!(reconsumes, [0, 1, 2]);
    assert!(seen.lock().unwrap().iter().all(|s| s.1 == "fallback"));
    consumer.shutdown().await;
}

/// Deterministic "random" failures: about one attempt in four fails.
fn fails(body: &str, attempt: i32) -> bool {
    let mut h: u64 = 1469598103934665603;
    for b in body.bytes().chain(attempt.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(1099511628211);
    }
    h.is_multiple_of(4)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orderly_preserves_per_key_order_across_queues_with_failures() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("ordered", 8).await.unwrap();
    let (_pc, producer) = producer(&broker).await;
    const KEYS: usize = 16;
    const PER_KEY: usize = 12;
    // key -> sequence numbers in the order they were consumed successfully.
    let done: Arc<Mutex<BTreeMap<usize, Vec<usize>>>> = Arc::default();
    // key -> every attempt, successful or not.
    let attempts: Arc<Mutex<BTreeMap<usize, Vec<usize>>>> = Arc::default();
    let failures = Arc::new(Mutex::new(0usize));
    let (d, a, f) = (done.clone(), attempts.clone(), failures.clone());
    let c = client(&broker).await;
    let consumer = c
        .push_consumer("g-ordered")
        .subscribe("ordered", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .suspend_time(Duration::from_millis(5))
        .start_orderly(move |msgs: Vec<MessageExt>, ctx: OrderlyContext| {
            let (d, a, f) = (d.clone(), a.clone(), f.clone());
            async move {
                let body = String::from_utf8_lossy(&msgs[0].body).into_owned();
                let (k, n) = body.split_once('-').unwrap();
                let (k, n): (usize, usize) = (k.parse().unwrap(), n.parse().unwrap());
                a.lock().unwrap().entry(k).or_default().push(n);
                if fails(&body, ctx.reconsume_times()) {
                    *f.lock().unwrap() += 1;
                    return OrderlyResult::SuspendCurrentQueueAMoment;
                }
                d.lock().unwrap().entry(k).or_default().push(n);
                OrderlyResult::Success
            }
        })
        .await
        .unwrap();
    assert_eq!(owned(&consumer, "ordered").len(), 8);
    // Interleave the keys; each key always lands on the same queue.
    for n in 0..PER_KEY {
        for k in 0..KEYS {
            let m = Message::new("ordered", Bytes::from(format!("{k}-{n}")));
            producer
                .send_with_selector(m, &SelectByHash, &(k as i32))
                .await
                .unwrap();
        }
    }
    assert!(
        wait_until(T, || async {
            let d = done.lock().unwrap();
            d.len() == KEYS && d.values().all(|v| v.len() >= PER_KEY)
        })
        .await,
        "all consumed: {:?}",
        done.lock().unwrap()
    );
    let expected: Vec<usize> = (0..PER_KEY).collect();
    for (k, seq) in done.lock().unwrap().iter() {
        assert_eq!(seq, &expected, "key {k}: successes in order, each once");
    }
    for (k, seq) in attempts.lock().unwrap().iter() {
        assert!(
            seq.windows(2).all(|w| w[0] <= w[1]),
            "key {k}: a failed message blocks the ones after it: {seq:?}"
        );
    }
    assert!(*failures.lock().unwrap() > 10, "failures happened");
    assert!(
        broker
            .dead_letters("g-ordered")
            .unwrap_or_default()
            .is_empty()
    );
    consumer.shutdown().await;
    // Shutdown released the queue locks: another client can lock them at once.
    let c2 = client(&broker).await;
    let again = c2
        .push_consumer("g-ordered")
        .subscribe("ordered", "*")
        .start_orderly(|_m: Vec<MessageExt>, _c: OrderlyContext| async { OrderlyResult::Success })
        .await
        .unwrap();
    assert_eq!(owned(&again, "ordered").len(), 8, "locks were released");
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orderly_message_exhausting_its_retries_is_dead_lettered() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("ordered-dlq", 1).await.unwrap();
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let c = client(&broker).await;
    let consumer = c
        .push_consumer("g-ordered-dlq")
        .subscribe("ordered-dlq", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .max_reconsume_times(3)
        .suspend_time(Duration::from_millis(5))
        .start_orderly(move |msgs: Vec<MessageExt>, _ctx: OrderlyContext| {
            let s = s.clone();
            async move {
                let m = &msgs[0];
                s.lock()
                    .unwrap()
                    .push((m.reconsume_times, m.topic.clone(), Instant::now()));
                if &m.body[..] == b"payload" {
                    OrderlyResult::SuspendCurrentQueueAMoment
                } else {
                    OrderlyResult::Success
                }
            }
        })
        .await
        .unwrap();
    broker.faults().requests().start();
    let id = one_message(&broker, "ordered-dlq").await;
    let (_pc, producer) = producer(&broker).await;
    producer
        .send(Message::new("ordered-dlq", Bytes::from_static(b"next")))
        .await
        .unwrap();
    assert!(
        wait_until(T, || async {
            broker
                .dead_letters("g-ordered-dlq")
                .unwrap_or_default()
                .len()
                == 1
        })
        .await
    );
    let dead = &broker.dead_letters("g-ordered-dlq").unwrap()[0];
    assert_eq!(dead.uniq_key(), Some(id.as_str()));
    assert_eq!(dead.property(keys::RETRY_TOPIC), Some("ordered-dlq"));
    // The dead-letter send: reconsume times one above the last delivery's (3), which
    // every broker version dead-letters, and Java's DELAY = 3 + reconsumeTimes.
    let sends: Vec<_> = broker
        .faults()
        .requests()
        .of(RequestCode::SEND_MESSAGE_V2)
        .into_iter()
        .filter(|r| r.field("b") == Some("%RETRY%g-ordered-dlq"))
        .collect();
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(sends[0].field("j"), Some("4"));
    assert_eq!(sends[0].field("l"), Some("3"));
    assert!(
        sends[0]
            .field("i")
            .is_some_and(|p| p.contains("DELAY\u{1}6\u{2}")),
        "{:?}",
        sends[0].field("i")
    );
    // The queue moved on to the next message afterwards.
    assert!(
        wait_until(T, || async {
            broker
                .consumer_offsets("g-ordered-dlq", "ordered-dlq")
                .values()
                .sum::<i64>()
                == 2
        })
        .await
    );
    let seen = seen.lock().unwrap().clone();
    let payload: Vec<i32> = seen.iter().take(4).map(|s| s.0).collect();
    assert_eq!(payload, [0, 1, 2, 3], "1 + max_reconsume_times deliveries");
    assert_eq!(seen.len(), 5, "then the next message, once");
    consumer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_chooses_the_retry_delay_level() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("levels", 1).await.unwrap();
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let c = client(&broker).await;
    let consumer = c
        .push_consumer("g-levels")
        .subscribe("levels", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(move |msgs: Vec<MessageExt>, ctx: ConsumeContext| {
            let s = s.clone();
            async move {
                let m = &msgs[0];
                let body = String::from_utf8_lossy(&m.body).into_owned();
                s.lock()
                    .unwrap()
                    .push((m.reconsume_times, body.clone(), Instant::now()));
                match (body.as_str(), m.reconsume_times) {
                    // Straight to the DLQ.
                    ("dlq", _) => ctx.set_delay_level_when_next_consume(-1),
                    // Level 18 (180 ms) instead of the broker's 3 (30 ms).
                    ("slow", 0) => ctx.set_delay_level_when_next_consume(18),
                    _ => return ConsumeResult::Success,
                }
                ConsumeResult::ReconsumeLater
            }
        })
        .await
        .unwrap();
    let (_pc, producer) = producer(&broker).await;
    producer
        .send(Message::new("levels", Bytes::from_static(b"dlq")))
        .await
        .unwrap();
    producer
        .send(Message::new("levels", Bytes::from_static(b"slow")))
        .await
        .unwrap();
    assert!(
        wait_until(T, || async {
            broker.dead_letters("g-levels").unwrap_or_default().len() == 1
        })
        .await
    );
    assert_eq!(
        &broker.dead_letters("g-levels").unwrap()[0].body[..],
        b"dlq"
    );
    assert!(wait_until(T, || async { seen.lock().unwrap().len() == 3 }).await);
    assert!(wait_until(T, || async { retry_topic_drained(&broker, "g-levels") }).await);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "dlq once, slow twice");
    let slow: Vec<_> = seen.iter().filter(|s| s.1 == "slow").collect();
    assert_eq!(slow.iter().map(|s| s.0).collect::<Vec<_>>(), [0, 1]);
    let gap = slow[1].2 - slow[0].2;
    assert!(gap >= Duration::from_millis(178), "level 18 took {gap:?}");
    consumer.shutdown().await;
}
