//! Our SDK against a real third-party RocketMQ broker (RocketMQ-Rust 1.0.0), started by
//! `scripts/interop.sh`, which sets `ROCKETMQ_INTEROP_NAMESRV`. Without it these tests
//! say they are skipped (and fail under `ROCKETMQ_INTEROP_REQUIRED=1`, as the script sets).

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
            eprintln!("skipped: no ROCKETMQ_INTEROP_NAMESRV (run scripts/interop.sh)");
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
