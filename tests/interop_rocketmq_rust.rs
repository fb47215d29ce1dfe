//! Our SDK against a real third-party RocketMQ broker (RocketMQ-Rust 1.0.0), started by
//! `scripts/interop.sh`, which sets `ROCKETMQ_INTEROP_NAMESRV`. Without it these tests
//! print `SKIPPED (not run): … needs ROCKETMQ_INTEROP_NAMESRV` on the terminal (and fail
//! under `ROCKETMQ_INTEROP_REQUIRED=1`, as the script sets).

#[path = "dedupe_support/service.rs"]
mod service;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rocketmq_sdk::consumer::{
    ConsumeContext, ConsumeFrom, ConsumeResult, OrderlyContext, OrderlyResult,
};
use rocketmq_sdk::producer::SelectByHash;
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_sdk::{Client, SendStatus};
use rocketmq_suite::wait_until;

const T: Duration = Duration::from_secs(30);

fn namesrv() -> Option<String> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    match std::env::var("ROCKETMQ_INTEROP_NAMESRV") {
        Ok(a) if !a.is_empty() => Some(a),
        _ => {
            if std::env::var("ROCKETMQ_INTEROP_REQUIRED").is_ok() {
                panic!("ROCKETMQ_INTEROP_REQUIRED is set but ROCKETMQ_INTEROP_NAMESRV is not");
            }
            service::report_skip(
                "ROCKETMQ_INTEROP_NAMESRV",
                "not set",
                "run scripts/interop.sh",
            );
            None
        }
    }
}

/// Topics unique to one run: the peer's store persists between runs.
fn topic(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("interop_{name}_{}", nanos % 1_000_000_000)
}

async fn client(ns: &str) -> Client {
    Client::builder()
        .name_server(ns)
        .heartbeat_interval(Duration::from_millis(500))
        .route_poll_interval(Duration::from_secs(1))
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_push_consume_round_trip() {
    let Some(ns) = namesrv() else { return };
    let t = topic("push");
    let c = client(&ns).await;
    let producer = c.producer("interop-producer").start().await.unwrap();
    let mut m = Message::new(t.clone(), Bytes::from_static(b"first"));
    m.set_tags("TagA");
    m.set_keys(["k-1"]);
    let receipt = producer.send(m).await.unwrap();
    assert_eq!(receipt.status, SendStatus::SendOk);

    let got: Arc<Mutex<Vec<MessageExt>>> = Arc::default();
    let g = got.clone();
    let consumer = c
        .push_consumer(format!("interop-push-{}", &t[t.len() - 6..]))
        .subscribe(t.clone(), "TagA")
        .consume_from(ConsumeFrom::FirstOffset)
        .rebalance_interval(Duration::from_millis(500))
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let g = g.clone();
            async move {
                g.lock().unwrap().extend(msgs);
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    for i in 0..9 {
        let mut m = Message::new(t.clone(), Bytes::from(format!("m{i}")));
        m.set_tags("TagA");
        producer.send(m).await.unwrap();
    }
    assert!(
        wait_until(T, || async { got.lock().unwrap().len() >= 10 }).await,
        "got {}",
        got.lock().unwrap().len()
    );
    let msgs = got.lock().unwrap().clone();
    let first = msgs
        .iter()
        .find(|m| &m.body[..] == b"first")
        .expect("first message");
    assert_eq!(first.keys(), Some("k-1"));
    assert_eq!(first.tags(), Some("TagA"));
    assert_eq!(first.uniq_key(), Some(receipt.msg_id.as_str()));
    consumer.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_oneway_and_ordered_sends() {
    let Some(ns) = namesrv() else { return };
    let t = topic("order");
    let c = client(&ns).await;
    let producer = c.producer("interop-producer-2").start().await.unwrap();
    producer
        .send(Message::new(t.clone(), Bytes::from_static(b"create")))
        .await
        .unwrap();
    let batch: Vec<Message> = (0..3)
        .map(|i| Message::new(t.clone(), Bytes::from(format!("b{i}"))))
        .collect();
    let r = producer.send_batch(batch).await.unwrap();
    assert_eq!(r.offset_msg_id.split(',').count(), 3);
    producer
        .send_oneway(Message::new(t.clone(), Bytes::from_static(b"oneway")))
        .await
        .unwrap();

    let seen: Arc<Mutex<BTreeMap<String, Vec<String>>>> = Arc::default();
    let s = seen.clone();
    let consumer = c
        .push_consumer(format!("interop-orderly-{}", &t[t.len() - 6..]))
        .subscribe(t.clone(), "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .rebalance_interval(Duration::from_millis(500))
        .start_orderly(move |msgs: Vec<MessageExt>, _ctx: OrderlyContext| {
            let s = s.clone();
            async move {
                for m in &msgs {
                    if let Some(k) = m.keys() {
                        s.lock()
                            .unwrap()
                            .entry(k.to_owned())
                            .or_default()
                            .push(String::from_utf8_lossy(&m.body).into_owned());
                    }
                }
                OrderlyResult::Success
            }
        })
        .await
        .unwrap();
    for step in 0..5 {
        for account in ["alice", "bob", "carol"] {
            let mut m = Message::new(t.clone(), Bytes::from(format!("{account}-{step}")));
            m.set_keys([account]);
            producer
                .send_with_selector(m, &SelectByHash, account)
                .await
                .unwrap();
        }
    }
    assert!(
        wait_until(T, || async {
            seen.lock().unwrap().values().map(Vec::len).sum::<usize>() == 15
        })
        .await
    );
    for (account, steps) in seen.lock().unwrap().iter() {
        let want: Vec<_> = (0..5).map(|s| format!("{account}-{s}")).collect();
        assert_eq!(steps, &want, "order kept for {account}");
    }
    consumer.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_messages_come_back_through_send_back_on_the_retry_topic() {
    let Some(ns) = namesrv() else { return };
    let t = topic("retry");
    let c = client(&ns).await;
    let producer = c.producer("interop-producer-3").start().await.unwrap();
    producer
        .send(Message::new(t.clone(), Bytes::from_static(b"create")))
        .await
        .unwrap();
    let deliveries: Arc<Mutex<Vec<(i32, String)>>> = Arc::default();
    let d = deliveries.clone();
    let consumer = c
        .push_consumer(format!("interop-retry-{}", &t[t.len() - 6..]))
        .subscribe(t.clone(), "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .rebalance_interval(Duration::from_millis(500))
        .start(move |msgs: Vec<MessageExt>, ctx: ConsumeContext| {
            let d = d.clone();
            async move {
                let m = &msgs[0];
                if &m.body[..] != b"flaky" {
                    return ConsumeResult::Success;
                }
                d.lock().unwrap().push((m.reconsume_times, m.topic.clone()));
                // Level 1 (1 s on an upstream broker) keeps the test short.
                ctx.set_delay_level_when_next_consume(1);
                if m.reconsume_times == 0 {
                    ConsumeResult::ReconsumeLater
                } else {
                    ConsumeResult::Success
                }
            }
        })
        .await
        .unwrap();
    producer
        .send(Message::new(t.clone(), Bytes::from_static(b"flaky")))
        .await
        .unwrap();
    assert!(
        wait_until(T, || async { deliveries.lock().unwrap().len() == 2 }).await,
        "{:?}",
        deliveries.lock().unwrap()
    );
    let seen = deliveries.lock().unwrap().clone();
    assert_eq!(seen[0].0, 0);
    assert_eq!(seen[1].0, 1, "redelivered with reconsume times 1");
    assert_eq!(
        seen[1].1, t,
        "the original topic is restored from RETRY_TOPIC"
    );
    consumer.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_level_and_pull_consumer() {
    let Some(ns) = namesrv() else { return };
    let t = topic("delay");
    let c = client(&ns).await;
    let producer = c.producer("interop-producer-4").start().await.unwrap();
    producer
        .send(Message::new(t.clone(), Bytes::from_static(b"now")))
        .await
        .unwrap();
    let mut delayed = Message::new(t.clone(), Bytes::from_static(b"later"));
    delayed.set_delay_level(1);
    let sent_at = std::time::Instant::now();
    producer.send(delayed).await.unwrap();

    let pull = c
        .pull_consumer(format!("interop-pull-{}", &t[t.len() - 6..]))
        .start()
        .await
        .unwrap();
    let queues = pull.fetch_queues(&t).await.unwrap();
    assert!(!queues.is_empty());
    pull.assign(queues.clone()).await.unwrap();
    for q in &queues {
        pull.seek_to_begin(q).await.unwrap();
    }
    let mut bodies = Vec::new();
    let mut later_after = None;
    let deadline = std::time::Instant::now() + T;
    while bodies.len() < 2 && std::time::Instant::now() < deadline {
        for m in pull.poll(Duration::from_millis(500)).await.unwrap() {
            if &m.body[..] == b"later" {
                later_after = Some(sent_at.elapsed());
            }
            bodies.push(String::from_utf8_lossy(&m.body).into_owned());
        }
    }
    bodies.sort();
    assert_eq!(bodies, ["later", "now"]);
    assert!(
        later_after.unwrap() >= Duration::from_millis(900),
        "delay level 1 = 1 s on the peer"
    );
    pull.commit().await.unwrap();
    pull.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasting_gives_every_instance_every_message() {
    let Some(ns) = namesrv() else { return };
    let t = topic("bcast");
    let c = client(&ns).await;
    let producer = c.producer("interop-producer-5").start().await.unwrap();
    producer
        .send(Message::new(t.clone(), Bytes::from_static(b"create")))
        .await
        .unwrap();
    let group = format!("interop-bcast-{}", &t[t.len() - 6..]);
    let dir = tempfile::tempdir().unwrap();
    let mut counters = Vec::new();
    let mut consumers = Vec::new();
    let mut clients = Vec::new();
    for i in 0..2 {
        let ci = Client::builder()
            .name_server(&ns)
            .instance_name(format!("bcast-{i}"))
            .build()
            .await
            .unwrap();
        let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let n2 = n.clone();
        consumers.push(
            ci.push_consumer(group.clone())
                .subscribe(t.clone(), "*")
                .message_model(rocketmq_sdk::protocol::body::MessageModel::Broadcasting)
                .consume_from(ConsumeFrom::FirstOffset)
                .offset_store_dir(dir.path())
                .rebalance_interval(Duration::from_millis(500))
                .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
                    let n2 = n2.clone();
                    async move {
                        n2.fetch_add(msgs.len(), std::sync::atomic::Ordering::SeqCst);
                        ConsumeResult::Success
                    }
                })
                .await
                .unwrap(),
        );
        counters.push(n);
        clients.push(ci);
    }
    for i in 0..5 {
        producer
            .send(Message::new(t.clone(), Bytes::from(format!("b{i}"))))
            .await
            .unwrap();
    }
    let all = || {
        counters
            .iter()
            .all(|n| n.load(std::sync::atomic::Ordering::SeqCst) >= 6)
    };
    assert!(
        wait_until(T, || async { all() }).await,
        "each instance got all 6"
    );
    for c in consumers {
        c.shutdown().await;
    }
    c.shutdown().await;
}

struct Decide;

#[async_trait::async_trait]
impl rocketmq_sdk::TransactionListener for Decide {
    type Arg = rocketmq_sdk::TransactionState;

    async fn execute(
        &self,
        _message: &Message,
        decision: &Self::Arg,
    ) -> rocketmq_sdk::TransactionState {
        *decision
    }

    async fn check(&self, _message: &MessageExt) -> rocketmq_sdk::TransactionState {
        rocketmq_sdk::TransactionState::Commit
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_commit_is_delivered_and_rollback_is_not() {
    use rocketmq_sdk::TransactionState;
    let Some(ns) = namesrv() else { return };
    let t = topic("tx");
    let c = client(&ns).await;
    let plain = c.producer("interop-producer-6").start().await.unwrap();
    plain
        .send(Message::new(t.clone(), Bytes::from_static(b"create")))
        .await
        .unwrap();
    let tx = c
        .producer("interop-tx")
        .start_transactional(Decide)
        .await
        .unwrap();
    let committed = tx
        .send(
            Message::new(t.clone(), Bytes::from_static(b"commit")),
            &TransactionState::Commit,
        )
        .await
        .unwrap();
    assert_eq!(committed.state, TransactionState::Commit);
    tx.send(
        Message::new(t.clone(), Bytes::from_static(b"rollback")),
        &TransactionState::Rollback,
    )
    .await
    .unwrap();
    plain
        .send(Message::new(t.clone(), Bytes::from_static(b"marker")))
        .await
        .unwrap();

    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let g = got.clone();
    let consumer = c
        .push_consumer(format!("interop-tx-{}", &t[t.len() - 6..]))
        .subscribe(t.clone(), "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .rebalance_interval(Duration::from_millis(500))
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let g = g.clone();
            async move {
                g.lock().unwrap().extend(
                    msgs.iter()
                        .map(|m| String::from_utf8_lossy(&m.body).into_owned()),
                );
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    assert!(
        wait_until(T, || async {
            let g = got.lock().unwrap();
            g.contains(&"marker".to_owned()) && g.contains(&"commit".to_owned())
        })
        .await,
        "{:?}",
        got.lock().unwrap()
    );
    assert!(
        !got.lock().unwrap().contains(&"rollback".to_owned()),
        "a rolled-back message is never delivered"
    );
    consumer.shutdown().await;
    c.shutdown().await;
}
