//! The lite pull consumer against the embedded broker: assign, poll, commit, seek,
//! pause/resume, subscribe with rebalance.

mod consumer_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use consumer_support::*;
use rocketmq_sdk::consumer::{ConsumeFrom, PullConsumer};
use rocketmq_sdk::protocol::message::{Message, MessageExt, MessageQueue};
use rocketmq_sdk::{Client, Producer};
use rocketmq_suite::wait_until;

fn queue(topic: &str, id: i32) -> MessageQueue {
    MessageQueue::new(topic, "broker-a", id)
}

/// Sends `n` messages `"{prefix}-{i}"` to one queue.
async fn send_to(p: &Producer, q: &MessageQueue, prefix: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..n {
        let body = format!("{prefix}-{i}");
        p.send_to_queue(Message::new(q.topic.clone(), Bytes::from(body.clone())), q)
            .await
            .unwrap();
        out.push(body);
    }
    out
}

/// Polls until `want` messages arrived (or the time is up).
async fn poll_n(c: &PullConsumer, want: usize) -> Vec<MessageExt> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + T;
    while got.len() < want && tokio::time::Instant::now() < deadline {
        got.extend(c.poll(Duration::from_millis(200)).await.unwrap());
    }
    got
}

fn bodies(msgs: &[MessageExt]) -> Vec<String> {
    msgs.iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect()
}

async fn manual(client: &Client, group: &str) -> PullConsumer {
    client
        .pull_consumer(group)
        .auto_commit(false)
        .consume_from(ConsumeFrom::FirstOffset)
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assign_poll_commit_and_committed() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("lite", 2).await.unwrap();
    let (_pc, producer) = producer(&broker).await;
    let (q0, q1) = (queue("lite", 0), queue("lite", 1));
    let mut sent = send_to(&producer, &q0, "a", 7).await;
    sent.extend(send_to(&producer, &q1, "b", 5).await);
    let c = client(&broker).await;
    let consumer = manual(&c, "g-lite").await;
    consumer.assign([q0.clone(), q1.clone()]).await.unwrap();
    assert_eq!(consumer.assignment(), [q0.clone(), q1.clone()]);
    assert_eq!(
        consumer.fetch_queues("lite").await.unwrap(),
        [q0.clone(), q1.clone()]
    );

    let got = poll_n(&consumer, 12).await;
    let mut b = bodies(&got);
    b.sort();
    let mut expected = sent.clone();
    expected.sort();
    assert_eq!(b, expected, "every message once");
    // Within a queue, in offset order.
    let q0_offsets: Vec<i64> = got
        .iter()
        .filter(|m| m.queue_id == 0)
        .map(|m| m.queue_offset)
        .collect();
    assert_eq!(q0_offsets, (0..7).collect::<Vec<_>>());

    assert_eq!(
        consumer.committed(&q0).await.unwrap(),
        None,
        "nothing committed yet"
    );
    consumer.commit().await.unwrap();
    assert_eq!(consumer.committed(&q0).await.unwrap(), Some(7));
    assert_eq!(consumer.committed(&q1).await.unwrap(), Some(5));
    assert_eq!(
        broker.consumer_offsets("g-lite", "lite"),
        BTreeMap::from([(0, 7), (1, 5)])
    );
    consumer.shutdown().await;

    // A new consumer of the group continues after the committed positions.
    let more = send_to(&producer, &q0, "c", 3).await;
    let again = manual(&c, "g-lite").await;
    again.assign([q0.clone(), q1.clone()]).await.unwrap();
    assert_eq!(bodies(&poll_n(&again, 3).await), more);
    assert!(
        again
            .poll(Duration::from_millis(100))
            .await
            .unwrap()
            .is_empty()
    );
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_moves_the_position() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("seek", 1).await.unwrap();
    let (_pc, producer) = producer(&broker).await;
    let q = queue("seek", 0);
    let first = send_to(&producer, &q, "m", 10).await;
    let c = client(&broker).await;
    let consumer = manual(&c, "g-seek").await;
    consumer.assign([q.clone()]).await.unwrap();
    assert_eq!(bodies(&poll_n(&consumer, 10).await), first);

    // Back to offset 6: messages 6.. again, and 6 is what a commit now stores.
    consumer.seek(&q, 6).await.unwrap();
    consumer.commit().await.unwrap();
    assert_eq!(consumer.committed(&q).await.unwrap(), Some(6));
    assert_eq!(bodies(&poll_n(&consumer, 4).await), first[6..]);

    consumer.seek_to_begin(&q).await.unwrap();
    assert_eq!(bodies(&poll_n(&consumer, 10).await), first);

    // Out of range is refused.
    assert!(consumer.seek(&q, 11).await.is_err());
    assert!(
        consumer.seek(&queue("seek", 3), 0).await.is_err(),
        "not assigned"
    );

    // To the end: only what is sent afterwards.
    consumer.seek_to_end(&q).await.unwrap();
    let later = send_to(&producer, &q, "n", 2).await;
    assert_eq!(bodies(&poll_n(&consumer, 2).await), later);

    // By timestamp: from the first message stored at or after the cut.
    let last_store = broker
        .messages("seek")
        .unwrap()
        .iter()
        .map(|m| m.store_timestamp)
        .max()
        .unwrap();
    assert!(
        wait_until(T, || async {
            rocketmq_sdk::protocol::message::id::now_ms() > last_store + 5
        })
        .await
    );
    let cut = rocketmq_sdk::protocol::message::id::now_ms();
    let newest = send_to(&producer, &q, "o", 3).await;
    assert_eq!(bodies(&poll_n(&consumer, 3).await), newest);
    consumer.seek_to_timestamp(&q, cut).await.unwrap();
    assert_eq!(bodies(&poll_n(&consumer, 3).await), newest);
    consumer.seek_all_to_timestamp(0).await.unwrap();
    assert_eq!(bodies(&poll_n(&consumer, 15).await).len(), 15);
    consumer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("pause", 2).await.unwrap();
    let (_pc, producer) = producer(&broker).await;
    let (q0, q1) = (queue("pause", 0), queue("pause", 1));
    let c = client(&broker).await;
    let consumer = manual(&c, "g-pause").await;
    consumer.assign([q0.clone(), q1.clone()]).await.unwrap();
    consumer.pause(std::slice::from_ref(&q0));
    assert!(consumer.is_paused(&q0) && !consumer.is_paused(&q1));
    let on_q0 = send_to(&producer, &q0, "p", 3).await;
    let on_q1 = send_to(&producer, &q1, "r", 3).await;
    let got = poll_n(&consumer, 3).await;
    assert_eq!(bodies(&got), on_q1, "only the running queue");
    assert!(
        consumer
            .poll(Duration::from_millis(200))
            .await
            .unwrap()
            .is_empty(),
        "the paused queue is not pulled"
    );
    consumer.resume(std::slice::from_ref(&q0));
    assert_eq!(bodies(&poll_n(&consumer, 3).await), on_q0);
    consumer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_pull_consumers_share_queues_and_auto_commit() {
    init_tracing();
    let broker = broker().await;
    broker.create_topic("lite-sub", 4).await.unwrap();
    let (_pc, producer) = producer(&broker).await;
    let mut consumers = Vec::new();
    for _ in 0..2 {
        let c = client(&broker).await;
        let consumer = c
            .pull_consumer("g-lite-sub")
            .subscribe("lite-sub", "*")
            .consume_from(ConsumeFrom::FirstOffset)
            .rebalance_interval(Duration::from_millis(200))
            .auto_commit_interval(Duration::from_millis(50))
            .start()
            .await
            .unwrap();
        consumers.push((c, consumer));
    }
    assert!(
        wait_until(T, || async {
            let a: BTreeSet<_> = consumers[0].1.assignment().into_iter().collect();
            let b: BTreeSet<_> = consumers[1].1.assignment().into_iter().collect();
            a.len() == 2 && b.len() == 2 && a.is_disjoint(&b)
        })
        .await,
        "2/2 split"
    );
    let sent = send_n(&producer, "lite-sub", "s", 40).await;
    let got = std::sync::Mutex::new(BTreeSet::new());
    assert!(
        wait_until(T, || async {
            for (_, c) in &consumers {
                for m in c.poll(Duration::from_millis(20)).await.unwrap() {
                    got.lock()
                        .unwrap()
                        .insert(String::from_utf8_lossy(&m.body).into_owned());
                }
            }
            let got = got.lock().unwrap();
            sent.iter().all(|b| got.contains(b))
        })
        .await
    );
    // A later poll auto-commits what earlier polls returned.
    assert!(
        wait_until(T, || async {
            for (_, c) in &consumers {
                let _ = c.poll(Duration::from_millis(10)).await.unwrap();
            }
            broker
                .consumer_offsets("g-lite-sub", "lite-sub")
                .values()
                .sum::<i64>()
                == 40
        })
        .await,
        "auto commit: {:?}",
        broker.consumer_offsets("g-lite-sub", "lite-sub")
    );
    for (_, c) in &consumers {
        c.shutdown().await;
    }
}
