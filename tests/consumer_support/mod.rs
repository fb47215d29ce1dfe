//! Shared helpers of the consumer integration tests: an embedded broker with fast
//! settings, clients with short intervals, a recording listener, a producer helper.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeResult, MessageListener, PushConsumer};
use rocketmq_sdk::protocol::message::{Message, MessageExt, MessageQueue};
use rocketmq_sdk::{Client, Producer};

/// Generous ceiling for conditions that normally hold within a second.
pub const T: Duration = Duration::from_secs(20);

/// A millisecond delay ladder so retries come back at once.
pub const FAST_DELAYS: &str = "10ms 20ms 30ms 40ms 50ms 60ms 70ms 80ms 90ms 100ms 110ms 120ms 130ms 140ms 150ms 160ms 170ms 180ms";

pub async fn broker() -> EmbeddedBroker {
    EmbeddedBroker::builder()
        .delay_levels(FAST_DELAYS)
        .start()
        .await
        .expect("embedded broker starts")
}

pub async fn client(broker: &EmbeddedBroker) -> Client {
    Client::builder()
        .name_server(broker.name_server_addr())
        .heartbeat_interval(Duration::from_millis(300))
        .persist_offset_interval(Duration::from_millis(100))
        .route_poll_interval(Duration::from_millis(500))
        .build()
        .await
        .expect("client builds")
}

pub async fn producer(broker: &EmbeddedBroker) -> (Client, Producer) {
    let c = client(broker).await;
    let p = c.producer("test-producer").start().await.expect("producer");
    (c, p)
}

/// Sends `n` messages `"{prefix}-{i}"` to `topic`; returns the bodies.
pub async fn send_n(p: &Producer, topic: &str, prefix: &str, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let body = format!("{prefix}-{i}");
        p.send(Message::new(topic, Bytes::from(body.clone())))
            .await
            .expect("send");
        out.push(body);
    }
    out
}

/// One delivery seen by a listener.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub who: usize,
    pub body: String,
    pub topic: String,
    pub queue: MessageQueue,
    pub reconsume_times: i32,
    pub msg_id: String,
}

#[derive(Debug, Clone, Default)]
pub struct Log(pub Arc<Mutex<Vec<Delivery>>>);

impl Log {
    pub fn record(&self, who: usize, m: &MessageExt, queue: &MessageQueue) {
        self.0.lock().unwrap().push(Delivery {
            who,
            body: String::from_utf8_lossy(&m.body).into_owned(),
            topic: m.topic.clone(),
            queue: queue.clone(),
            reconsume_times: m.reconsume_times,
            msg_id: m.msg_id(),
        });
    }

    pub fn all(&self) -> Vec<Delivery> {
        self.0.lock().unwrap().clone()
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Distinct bodies seen.
    pub fn bodies(&self) -> BTreeSet<String> {
        self.all().into_iter().map(|d| d.body).collect()
    }

    /// Deliveries per body.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for d in self.all() {
            *m.entry(d.body).or_insert(0) += 1;
        }
        m
    }

    pub fn by(&self, who: usize) -> Vec<Delivery> {
        self.all().into_iter().filter(|d| d.who == who).collect()
    }

    /// Whether every body of `expected` was seen at least once.
    pub fn has_all(&self, expected: &[String]) -> bool {
        let seen = self.bodies();
        expected.iter().all(|b| seen.contains(b))
    }
}

/// A listener that records every delivery as consumer `who` and succeeds.
pub fn recorder(who: usize, log: Log) -> impl MessageListener {
    move |msgs: Vec<MessageExt>, ctx: ConsumeContext| {
        let log = log.clone();
        async move {
            for m in &msgs {
                log.record(who, m, ctx.queue());
            }
            ConsumeResult::Success
        }
    }
}

/// The queues of `topic` a consumer owns.
pub fn owned(c: &PushConsumer, topic: &str) -> BTreeSet<MessageQueue> {
    c.assigned_queues()
        .into_iter()
        .filter(|q| q.topic == topic)
        .collect()
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}
