//! The fault API and the controllable clock against real clients over loopback, and the
//! in-process reliability scenarios: producer storms, consumer crash and rebalance storms,
//! garbage connections. `RELIABILITY_HEAVY=1` scales them up.

use std::time::Duration;

use bytes::Bytes;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_embedded_broker::store::ManualClock;
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
use rocketmq_sdk::protocol::RequestCode;
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_sdk::{Client, SendStatus};
use rocketmq_suite::reliability::{consumer_storms, garbage_connections, heavy, producer_storms};
use rocketmq_suite::wait_until;
use std::sync::{Arc, Mutex};

const T: Duration = Duration::from_secs(15);

async fn client(broker: &EmbeddedBroker) -> Client {
    Client::builder()
        .name_server(broker.name_server_addr())
        .heartbeat_interval(Duration::from_millis(300))
        .persist_offset_interval(Duration::from_millis(100))
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_send_ack_makes_a_duplicate_not_a_loss() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("drop", 1).await.unwrap();
    let c = client(&broker).await;
    let p = c
        .producer("p-drop")
        .send_timeout(Duration::from_secs(2))
        .retries(2)
        .start()
        .await
        .unwrap();
    broker.faults().drop_next_send_responses(1, true);
    let r = p
        .send(Message::new("drop", Bytes::from_static(b"once")))
        .await
        .unwrap();
    assert_eq!(r.status, SendStatus::SendOk);
    assert!(r.attempts >= 2, "the lost ack forced a retry: {r:?}");
    // Applied twice, acknowledged once: the classic duplicate.
    assert_eq!(broker.messages("drop").unwrap().len(), 2);
    assert_eq!(broker.faults().dropped_responses(), 1);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_sends_until_resume() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("pause", 1).await.unwrap();
    let c = client(&broker).await;
    let p = c
        .producer("p-pause")
        .send_timeout(Duration::from_secs(10))
        .start()
        .await
        .unwrap();
    broker.broker(0).faults().pause();
    let send = tokio::spawn({
        let p = p.clone();
        async move {
            p.send(Message::new("pause", Bytes::from_static(b"held")))
                .await
        }
    });
    // The request reached the broker and waits: nothing stored yet.
    assert!(wait_until(T, || async { broker.broker(0).faults().is_paused() }).await);
    tokio::task::yield_now().await;
    assert!(!send.is_finished());
    assert!(broker.messages("pause").unwrap().is_empty());
    broker.broker(0).faults().resume();
    let r = send.await.unwrap().unwrap();
    assert_eq!(r.status, SendStatus::SendOk);
    assert_eq!(broker.messages("pause").unwrap().len(), 1);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_and_closed_connections_are_survived() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("lat", 1).await.unwrap();
    let c = client(&broker).await;
    let p = c.producer("p-lat").start().await.unwrap();
    p.send(Message::new("lat", Bytes::from_static(b"warm")))
        .await
        .unwrap();
    broker
        .faults()
        .delay_next(RequestCode::SEND_MESSAGE_V2, 1, Duration::from_millis(300));
    broker
        .faults()
        .delay_next(RequestCode::SEND_MESSAGE, 1, Duration::from_millis(300));
    let start = std::time::Instant::now();
    p.send(Message::new("lat", Bytes::from_static(b"slow")))
        .await
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(broker.faults().delayed_requests() >= 1);
    let closed = broker.faults().close_connections();
    assert!(closed >= 1, "the producer's connection was open");
    let r = p
        .send(Message::new("lat", Bytes::from_static(b"after-close")))
        .await
        .unwrap();
    assert_eq!(r.status, SendStatus::SendOk);
    // A cut seen by one group only.
    assert!(
        wait_until(T, || async {
            broker.broker(0).producer_connections("p-lat") > 0
        })
        .await
    );
    assert!(broker.close_group_connections("p-lat") >= 1);
    assert_eq!(broker.broker(0).producer_connections("p-lat"), 0);
    let r = p
        .send(Message::new("lat", Bytes::from_static(b"after-group-cut")))
        .await
        .unwrap();
    assert_eq!(r.status, SendStatus::SendOk);
    // A send racing the cut may be applied and its answer lost: the retry then stores a
    // duplicate (at least once). Every body is there; none is missing.
    let bodies: std::collections::BTreeSet<_> = broker
        .messages("lat")
        .unwrap()
        .iter()
        .map(|m| m.body.clone())
        .collect();
    assert_eq!(bodies.len(), 4, "{bodies:?}");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_redeliveries_deliver_messages_twice() {
    let broker = EmbeddedBroker::start().await.unwrap();
    broker.create_topic("dup", 1).await.unwrap();
    let c = client(&broker).await;
    let p = c.producer("p-dup").start().await.unwrap();
    for i in 0..20 {
        p.send(Message::new("dup", Bytes::from(format!("d{i}"))))
            .await
            .unwrap();
    }
    broker.faults().seed(7);
    broker.faults().duplicate_deliveries(1.0);
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s2 = seen.clone();
    let consumer = c
        .push_consumer("g-dup")
        .subscribe("dup", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let seen = s2.clone();
            async move {
                let mut s = seen.lock().unwrap();
                for m in &msgs {
                    s.push(String::from_utf8_lossy(&m.body).into_owned());
                }
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    assert!(
        wait_until(T, || async {
            let s = seen.lock().unwrap();
            (0..20).all(|i| s.iter().filter(|b| **b == format!("d{i}")).count() >= 2)
        })
        .await,
        "every message delivered at least twice: {:?}",
        seen.lock().unwrap()
    );
    broker.faults().duplicate_deliveries(0.0);
    assert!(broker.faults().duplicated_deliveries() >= 1);
    consumer.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_messages_follow_the_manual_clock() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let broker = EmbeddedBroker::builder()
        .manual_clock(clock.clone())
        .start()
        .await
        .unwrap();
    broker.create_topic("later", 1).await.unwrap();
    let c = client(&broker).await;
    let p = c.producer("p-later").start().await.unwrap();
    let mut m = Message::new("later", Bytes::from_static(b"in an hour"));
    // Level 18 is 2 hours with the default levels.
    m.set_delay_level(18);
    p.send(m).await.unwrap();
    // Real time passing delivers nothing: the broker's time stands still.
    assert!(
        !wait_until(Duration::from_millis(300), || async {
            !broker.messages("later").unwrap().is_empty()
        })
        .await
    );
    broker.advance(Duration::from_secs(3 * 3600)).unwrap();
    assert!(
        wait_until(T, || async { broker.messages("later").unwrap().len() == 1 }).await,
        "due after the clock moved"
    );
    c.shutdown().await;
    let plain = EmbeddedBroker::start().await.unwrap();
    assert!(plain.advance(Duration::from_secs(1)).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_through_busy_storms_dropped_acks_and_restarts_loses_nothing() {
    let n = if heavy() { 20_000 } else { 1_000 };
    let r = producer_storms(n, 3).await.unwrap();
    eprintln!("{r}");
    assert_eq!(
        r.acknowledged, r.sent,
        "every message acknowledged eventually: {r:?}"
    );
    assert_eq!(r.lost, 0, "{r:?}");
    assert_eq!(r.corrupt, 0, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebalance_storms_lose_nothing() {
    let n = if heavy() { 10_000 } else { 600 };
    let r = consumer_storms(n, 5).await.unwrap();
    eprintln!("{r}");
    assert_eq!(r.acknowledged, r.sent, "{r:?}");
    assert_eq!(r.lost, 0, "every message consumed at least once: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_connections_do_not_disturb_a_good_client() {
    let conns = if heavy() { 1_000 } else { 200 };
    let r = garbage_connections(conns, 300, 9).await.unwrap();
    eprintln!("{r}");
    assert_eq!(
        r.acknowledged, r.sent,
        "0 errors for the good client: {r:?}"
    );
    assert_eq!(r.lost, 0, "{r:?}");
    assert_eq!(r.corrupt, 0, "{r:?}");
    assert!(r.note.contains("broker alive after: true"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_follows_a_message_into_the_dlq() {
    let broker = EmbeddedBroker::builder()
        .delay_levels("10ms 10ms 10ms 10ms 10ms 10ms 10ms 10ms 10ms 10ms 10ms 10ms 10ms 10ms 10ms 10ms 10ms 10ms")
        .start()
        .await
        .unwrap();
    broker.create_topic("tl", 1).await.unwrap();
    let c = client(&broker).await;
    let p = c.producer("p-tl").start().await.unwrap();
    let r = p
        .send(Message::new("tl", Bytes::from_static(b"poison")))
        .await
        .unwrap();
    let consumer = c
        .push_consumer("g-tl")
        .subscribe("tl", "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .max_reconsume_times(2)
        .start(|_msgs: Vec<MessageExt>, _ctx: ConsumeContext| async {
            ConsumeResult::ReconsumeLater
        })
        .await
        .unwrap();
    assert!(
        wait_until(T, || async {
            broker.dead_letters("g-tl").is_ok_and(|d| d.len() == 1)
        })
        .await
    );
    let tl = broker.timeline(&r.msg_id, &["g-tl"]).unwrap();
    eprintln!("{tl}");
    use rocketmq_embedded_broker::inspect::Stage;
    assert_eq!(tl.entries[0].stage, Stage::Stored);
    assert!(tl.has(&Stage::Retried {
        group: "g-tl".into()
    }));
    assert!(tl.has(&Stage::DeadLettered {
        group: "g-tl".into()
    }));
    assert!(
        wait_until(T, || async {
            broker
                .timeline(&r.msg_id, &["g-tl"])
                .unwrap()
                .has(&Stage::Consumed {
                    group: "g-tl".into(),
                })
        })
        .await,
        "the original's offset is committed once it moved on"
    );
    consumer.shutdown().await;
    c.shutdown().await;
}
