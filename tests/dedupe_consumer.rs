//! The dedupe guard wired into push consumers, end to end through the embedded broker:
//! a producer sends 10,000 messages and re-sends ~30% of them (same `UNIQ_KEY`, as a
//! producer retry after a lost reply would), two consumers of one group consume them with
//! `.dedupe(..)`, some first attempts fail and come back through the retry topic, and the
//! business effect happens exactly once per message. Concurrent (memory and Redis guards)
//! and orderly listeners, and batches.

mod dedupe_support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use dedupe_support::{Rng, deliveries, init_tracing, service_url, suffix};
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::consumer::{
    ConsumeContext, ConsumeResult, MessageListener, OrderlyContext, OrderlyListener, OrderlyResult,
    PushConsumer,
};
use rocketmq_sdk::dedupe::async_trait;
use rocketmq_sdk::dedupe::memory::MemoryGuard;
use rocketmq_sdk::dedupe::redis::RedisGuard;
use rocketmq_sdk::dedupe::{
    Claim, DedupeError, DedupeGuard, DedupeKey, Deduplicated, Deduplicator, Lease,
    PushConsumerDedupeExt,
};
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_sdk::{Client, Producer};
use rocketmq_suite::wait_until;

const FAST_DELAYS: &str = "10ms 20ms 30ms 40ms 50ms 60ms 70ms 80ms 90ms 100ms 110ms 120ms 130ms 140ms 150ms 160ms 170ms 180ms";

async fn broker() -> EmbeddedBroker {
    EmbeddedBroker::builder()
        .delay_levels(FAST_DELAYS)
        .start()
        .await
        .expect("embedded broker starts")
}

async fn client(broker: &EmbeddedBroker) -> Client {
    Client::builder()
        .name_server(broker.name_server_addr())
        .heartbeat_interval(Duration::from_millis(300))
        .persist_offset_interval(Duration::from_millis(100))
        .route_poll_interval(Duration::from_millis(500))
        .build()
        .await
        .expect("client builds")
}

/// What the listeners saw and did, per UNIQ_KEY.
#[derive(Debug, Default)]
struct Ledger {
    /// Deliveries that reached the deduplicating listener (before the guard).
    delivered: Mutex<HashMap<String, usize>>,
    /// Deliveries the deduplicating listener acknowledged (consumed or already consumed).
    acked: Mutex<HashMap<String, usize>>,
    /// Business effects (the inner listener succeeded).
    effects: Mutex<HashMap<String, usize>>,
    /// Inner listener calls that failed on purpose.
    failures: AtomicUsize,
}

impl Ledger {
    /// Applies the business effect of `m`; false when the call fails on purpose. Messages
    /// not sent by the test (the warm-up) succeed without effect.
    fn effect(&self, m: &MessageExt) -> bool {
        let id = m.uniq_key().unwrap_or_default().to_owned();
        let Some(n) = id
            .split_once('-')
            .and_then(|(_, n)| n.parse::<usize>().ok())
        else {
            return true;
        };
        // Every 20th message fails its first delivery (before any effect).
        if n % 20 == 7 && m.reconsume_times == 0 {
            self.failures.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        *self.effects.lock().unwrap().entry(id).or_default() += 1;
        true
    }
}

/// Counts deliveries before the guard, then delegates.
struct Counting<L> {
    inner: L,
    ledger: Arc<Ledger>,
}

impl<L> Counting<L> {
    fn count(&self, msgs: &[MessageExt], acked: bool) {
        let mut d = if acked {
            self.ledger.acked.lock().unwrap()
        } else {
            self.ledger.delivered.lock().unwrap()
        };
        for m in msgs {
            *d.entry(m.uniq_key().unwrap_or_default().to_owned())
                .or_default() += 1;
        }
    }
}

#[async_trait]
impl<L: MessageListener> MessageListener for Counting<L> {
    async fn consume(&self, msgs: &[MessageExt], ctx: &ConsumeContext) -> ConsumeResult {
        self.count(msgs, false);
        let r = self.inner.consume(msgs, ctx).await;
        if r == ConsumeResult::Success {
            self.count(msgs, true);
        }
        r
    }
}

#[async_trait]
impl<L: OrderlyListener> OrderlyListener for Counting<L> {
    async fn consume(&self, msgs: &[MessageExt], ctx: &OrderlyContext) -> OrderlyResult {
        self.count(msgs, false);
        let r = self.inner.consume(msgs, ctx).await;
        if r == OrderlyResult::Success {
            self.count(msgs, true);
        }
        r
    }
}

/// Sends `messages` messages, ~30% twice (same UNIQ_KEY), duplicates near their original;
/// returns the sends per UNIQ_KEY.
async fn send_with_duplicates(
    p: &Producer,
    topic: &str,
    run: &str,
    messages: usize,
) -> HashMap<String, usize> {
    let order = deliveries(messages, 30, 0xD0D0);
    let mut sends: HashMap<String, usize> = HashMap::new();
    for chunk in order.chunks(128) {
        let batch = chunk.iter().map(|&i| {
            let id = format!("{run}-{i}");
            *sends.entry(id.clone()).or_default() += 1;
            let mut m = Message::new(topic, Bytes::from(format!("order {i}")));
            m.set_uniq_key(id);
            p.send(m)
        });
        for r in futures::future::join_all(batch).await {
            r.expect("send");
        }
    }
    sends
}

/// Waits until every copy sent was acknowledged by the deduplicating listener, then checks
/// the effects: exactly one per message.
async fn assert_exactly_once(ledger: &Ledger, sends: &HashMap<String, usize>, messages: usize) {
    let all_delivered = wait_until(Duration::from_secs(120), || async {
        let d = ledger.acked.lock().unwrap();
        sends
            .iter()
            .all(|(k, n)| d.get(k).copied().unwrap_or(0) >= *n)
    })
    .await;
    let effects = ledger.effects.lock().unwrap().clone();
    let delivered: usize = ledger.delivered.lock().unwrap().values().sum();
    let sent: usize = sends.values().sum();
    eprintln!(
        "sent {sent} ({} duplicates), delivered {delivered}, effects {}, injected failures {}",
        sent - messages,
        effects.values().sum::<usize>(),
        ledger.failures.load(Ordering::Relaxed)
    );
    assert!(all_delivered, "not every copy sent was acknowledged");
    assert_eq!(effects.len(), messages);
    let twice: Vec<_> = effects.iter().filter(|(_, n)| **n != 1).take(5).collect();
    assert!(
        twice.is_empty(),
        "messages with more than one effect: {twice:?}"
    );
    assert!(
        sent - messages > messages / 4,
        "the run had duplicates to catch"
    );
}

async fn concurrent_consumer<G: DedupeGuard + Clone>(
    client: &Client,
    group: &str,
    topic: &str,
    guard: G,
    ledger: Arc<Ledger>,
    batch: usize,
) -> PushConsumer {
    let dedupe = Deduplicator::builder(guard, group).build().unwrap();
    let l = ledger.clone();
    let inner = move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
        let l = l.clone();
        async move {
            assert_eq!(msgs.len(), 1, "the guard hands messages one at a time");
            if l.effect(&msgs[0]) {
                ConsumeResult::Success
            } else {
                ConsumeResult::ReconsumeLater
            }
        }
    };
    // The guard is wrapped in a delivery counter, so `Deduplicated` is built by hand here
    // (see the builder test for `.dedupe(..)`).
    client
        .push_consumer(group)
        .subscribe(topic, "*")
        .consume_batch_max_size(batch)
        // Fail-closed retries count against the ladder: on a loaded machine a slow guard
        // backend could exhaust the default 16 and dead-letter a message, which is correct
        // behaviour but not what this test measures (exactly one effect per message).
        .max_reconsume_times(1000)
        .start(Counting {
            inner: Deduplicated::new(inner, dedupe),
            ledger,
        })
        .await
        .expect("consumer starts")
}

async fn run_concurrent<G: DedupeGuard + Clone>(guard: G, messages: usize, batch: usize) {
    init_tracing();
    let broker = broker().await;
    let run = suffix();
    let topic = format!("DedupeOrders{run}");
    let group = format!("CID_dedupe_{run}");
    let pc = client(&broker).await;
    let producer = pc.producer("dedupe-producer").start().await.unwrap();
    // The topic exists before the consumers start.
    producer
        .send(Message::new(topic.as_str(), "warm-up"))
        .await
        .unwrap();
    let ledger = Arc::new(Ledger::default());
    let (c1, c2) = (client(&broker).await, client(&broker).await);
    let a = concurrent_consumer(&c1, &group, &topic, guard.clone(), ledger.clone(), batch).await;
    let b = concurrent_consumer(&c2, &group, &topic, guard.clone(), ledger.clone(), batch).await;
    let sends = send_with_duplicates(&producer, &topic, &run, messages).await;
    assert_exactly_once_filtered(&ledger, &sends, messages, &run).await;
    a.shutdown().await;
    b.shutdown().await;
    for c in [pc, c1, c2] {
        c.shutdown().await;
    }
}

/// [`assert_exactly_once`] on the keys of this run.
async fn assert_exactly_once_filtered(
    ledger: &Ledger,
    sends: &HashMap<String, usize>,
    messages: usize,
    run: &str,
) {
    assert!(
        ledger
            .effects
            .lock()
            .unwrap()
            .keys()
            .all(|k| k.starts_with(run))
    );
    assert_exactly_once(ledger, sends, messages).await;
}

/// Concurrent listener, memory guard shared by two consumers of the group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_consumers_with_memory_guard_take_effect_once() {
    run_concurrent(MemoryGuard::new(), 10_000, 1).await;
}

/// Concurrent listener with batches of up to 8 messages (a batch stops at its first
/// failure; its consumed prefix is skipped when it comes back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_with_memory_guard_take_effect_once() {
    run_concurrent(MemoryGuard::new(), 3_000, 8).await;
}

/// Concurrent listener, Redis guard (each consumer its own connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_consumers_with_redis_guard_take_effect_once() {
    let Some(url) = service_url("REDIS_URL") else {
        return;
    };
    let guard = RedisGuard::connect(&url)
        .await
        .unwrap()
        .prefix(format!("test:dedupe-consumer:{}:", suffix()))
        .build()
        .unwrap();
    run_concurrent(guard, 10_000, 1).await;
}

/// Orderly listener: failures suspend the queue and redeliver the same messages; the
/// guard keeps the effect single and the order per queue intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orderly_consumer_with_memory_guard_takes_effect_once_in_order() {
    const MESSAGES: usize = 2_000;
    init_tracing();
    let broker = broker().await;
    let run = suffix();
    let topic = format!("DedupeOrdered{run}");
    let group = format!("CID_dedupe_orderly_{run}");
    let pc = client(&broker).await;
    let producer = pc.producer("dedupe-producer").start().await.unwrap();
    producer
        .send(Message::new(topic.as_str(), "warm-up"))
        .await
        .unwrap();
    let ledger = Arc::new(Ledger::default());
    let order: Arc<Mutex<HashMap<i32, Vec<usize>>>> = Arc::default();
    let c = client(&broker).await;
    let dedupe = Deduplicator::builder(MemoryGuard::new(), group.as_str())
        .build()
        .unwrap();
    let (l, o) = (ledger.clone(), order.clone());
    let inner = move |msgs: Vec<MessageExt>, ctx: OrderlyContext| {
        let (l, o) = (l.clone(), o.clone());
        async move {
            let m = &msgs[0];
            let Some(n) = m
                .uniq_key()
                .and_then(|k| k.split_once('-'))
                .and_then(|(_, n)| n.parse::<usize>().ok())
            else {
                return OrderlyResult::Success; // the warm-up
            };
            if !l.effect(m) {
                ctx.set_suspend_time(Duration::from_millis(10));
                return OrderlyResult::SuspendCurrentQueueAMoment;
            }
            o.lock()
                .unwrap()
                .entry(ctx.queue().queue_id)
                .or_default()
                .push(n);
            OrderlyResult::Success
        }
    };
    let consumer = c
        .push_consumer(group.as_str())
        .subscribe(topic.as_str(), "*")
        .start_orderly(Counting {
            inner: Deduplicated::new(inner, dedupe),
            ledger: ledger.clone(),
        })
        .await
        .unwrap();
    // Orderly needs per-queue order: send sequentially, each duplicate right after its
    // original, all to one queue by key hash through the default selector (any queue is
    // fine: order is checked per queue).
    let mut sends: HashMap<String, usize> = HashMap::new();
    let mut rng = Rng::new(7);
    for i in 0..MESSAGES {
        let copies = if rng.below(100) < 30 { 2 } else { 1 };
        for _ in 0..copies {
            let id = format!("{run}-{i}");
            *sends.entry(id.clone()).or_default() += 1;
            let mut m = Message::new(topic.as_str(), Bytes::from(format!("order {i}")));
            m.set_uniq_key(id);
            producer.send(m).await.unwrap();
        }
    }
    assert_exactly_once_filtered(&ledger, &sends, MESSAGES, &run).await;
    for (q, seq) in order.lock().unwrap().iter() {
        assert!(
            seq.windows(2).all(|w| w[0] < w[1]),
            "queue {q} consumed out of order"
        );
    }
    consumer.shutdown().await;
    pc.shutdown().await;
    c.shutdown().await;
}

/// Counts claims per key: every delivery that reaches the guard.
#[derive(Debug, Clone)]
struct CountingGuard {
    inner: MemoryGuard,
    begins: Arc<Mutex<HashMap<String, usize>>>,
}

#[async_trait]
impl DedupeGuard for CountingGuard {
    fn lease_duration(&self) -> Duration {
        self.inner.lease_duration()
    }
    async fn begin(&self, key: &DedupeKey) -> Result<Claim, DedupeError> {
        let claim = self.inner.begin(key).await;
        *self
            .begins
            .lock()
            .unwrap()
            .entry(key.key().to_owned())
            .or_default() += 1;
        claim
    }
    async fn renew(&self, lease: &Lease) -> Result<(), DedupeError> {
        self.inner.renew(lease).await
    }
    async fn complete(&self, lease: &Lease) -> Result<(), DedupeError> {
        self.inner.complete(lease).await
    }
    async fn release(&self, lease: &Lease) -> Result<(), DedupeError> {
        self.inner.release(lease).await
    }
}

/// `.dedupe(..)` on the push consumer builder: every message sent twice, handled once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builder_dedupe_wraps_the_listener() {
    const MESSAGES: usize = 300;
    init_tracing();
    let broker = broker().await;
    let run = suffix();
    let topic = format!("DedupeBuilder{run}");
    let group = format!("CID_dedupe_builder_{run}");
    let pc = client(&broker).await;
    let producer = pc.producer("dedupe-producer").start().await.unwrap();
    producer
        .send(Message::new(topic.as_str(), "warm-up"))
        .await
        .unwrap();
    let guard = CountingGuard {
        inner: MemoryGuard::new(),
        begins: Arc::default(),
    };
    let effects: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let c = client(&broker).await;
    let e = effects.clone();
    let consumer = c
        .push_consumer(group.as_str())
        .subscribe(topic.as_str(), "*")
        .dedupe(
            Deduplicator::builder(guard.clone(), group.as_str())
                .build()
                .unwrap(),
        )
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let e = e.clone();
            async move {
                for m in &msgs {
                    *e.lock()
                        .unwrap()
                        .entry(m.uniq_key().unwrap().to_owned())
                        .or_default() += 1;
                }
                Ok::<(), std::io::Error>(())
            }
        })
        .await
        .unwrap();
    for i in 0..MESSAGES {
        for _ in 0..2 {
            let mut m = Message::new(topic.as_str(), Bytes::from(format!("order {i}")));
            m.set_uniq_key(format!("{run}-{i}"));
            producer.send(m).await.unwrap();
        }
    }
    // Both copies of every message reached the guard.
    let seen = wait_until(Duration::from_secs(60), || async {
        let b = guard.begins.lock().unwrap();
        (0..MESSAGES).all(|i| b.get(&format!("{topic}:{run}-{i}")).copied().unwrap_or(0) >= 2)
    })
    .await;
    assert!(seen, "not every copy reached the guard");
    let effects = effects.lock().unwrap().clone();
    let ours: Vec<_> = effects
        .iter()
        .filter(|(k, _)| k.starts_with(&run))
        .collect();
    assert_eq!(ours.len(), MESSAGES);
    assert!(
        ours.iter().all(|(_, n)| **n == 1),
        "a message was handled twice"
    );
    consumer.shutdown().await;
    pc.shutdown().await;
    c.shutdown().await;
}
