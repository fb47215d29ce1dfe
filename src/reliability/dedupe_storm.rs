//! Scenario 5: the dedupe guard under a redelivery storm. The broker duplicates deliveries
//! with a probability, offset commits (the consumer's acks) are dropped, connections are
//! cut and consumers restart, so the same message reaches the group many times; a push
//! consumer with a `rocketmq_sdk::dedupe` guard must still apply every message's effect
//! exactly once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rocketmq_embedded_broker::EmbeddedBroker;
use rocketmq_sdk::consumer::{
    ConsumeContext, ConsumeFrom, ConsumeResult, MessageListener, PushConsumer,
};
use rocketmq_sdk::dedupe::{DedupeGuard, Deduplicated, Deduplicator, async_trait};
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_sdk::protocol::{RequestCode, ResponseCode};
use rocketmq_sdk::{Client, SendStatus};

use super::{Report, Rng, producer_client};
use crate::wait_until;

/// Fast delay levels, so retries come back in milliseconds.
const FAST_DELAYS: &str = "10ms 20ms 30ms 40ms 50ms 60ms 70ms 80ms 90ms 100ms 110ms 120ms 130ms 140ms 150ms 160ms 170ms 180ms";

/// What happened in [`dedupe_storm`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DedupeStorm {
    /// The table row: `lost` = acknowledged messages whose effect never happened,
    /// `duplicated` = effects beyond the first (both must be 0).
    pub report: Report,
    /// Deliveries that reached the consumers (before the guard).
    pub deliveries: u64,
    /// Redeliveries the broker injected.
    pub injected_redeliveries: u64,
    /// Handler calls that failed on purpose (their retry must still take effect once).
    pub failed_handlers: u64,
    /// Consumer restarts.
    pub restarts: u64,
}

/// The business effects, per message body, and the deliveries seen.
#[derive(Debug, Default)]
struct Ledger {
    effects: Mutex<HashMap<String, u64>>,
    deliveries: AtomicU64,
    failures: AtomicU64,
}

impl Ledger {
    /// Applies `m`'s effect; every 25th message fails its first attempt before any effect.
    fn apply(&self, m: &MessageExt) -> ConsumeResult {
        let body = String::from_utf8_lossy(&m.body).into_owned();
        let n: u64 = body
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if n % 25 == 3 && m.reconsume_times == 0 {
            self.failures.fetch_add(1, Ordering::Relaxed);
            return ConsumeResult::ReconsumeLater;
        }
        *self
            .effects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(body)
            .or_default() += 1;
        ConsumeResult::Success
    }
}

/// Counts deliveries before the guard sees them.
struct Counting<L> {
    inner: L,
    ledger: Arc<Ledger>,
}

#[async_trait]
impl<L: MessageListener> MessageListener for Counting<L> {
    async fn consume(&self, msgs: &[MessageExt], ctx: &ConsumeContext) -> ConsumeResult {
        self.ledger
            .deliveries
            .fetch_add(msgs.len() as u64, Ordering::Relaxed);
        self.inner.consume(msgs, ctx).await
    }
}

async fn member<G: DedupeGuard + Clone>(
    ns: &str,
    group: &str,
    topic: &str,
    guard: G,
    ledger: Arc<Ledger>,
) -> Result<(Client, PushConsumer), String> {
    let client = Client::builder()
        .name_server(ns)
        .heartbeat_interval(Duration::from_millis(300))
        .persist_offset_interval(Duration::from_millis(100))
        .route_poll_interval(Duration::from_millis(300))
        .build()
        .await
        .map_err(|e| e.to_string())?;
    let dedupe = Deduplicator::builder(guard, group)
        .build()
        .map_err(|e| e.to_string())?;
    let l = ledger.clone();
    let handler = move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
        let l = l.clone();
        async move {
            for m in &msgs {
                if l.apply(m) != ConsumeResult::Success {
                    return ConsumeResult::ReconsumeLater;
                }
            }
            ConsumeResult::Success
        }
    };
    let consumer = client
        .push_consumer(group)
        .subscribe(topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .rebalance_interval(Duration::from_millis(200))
        .shutdown_timeout(Duration::from_millis(500))
        // Fail-closed retries (a guard backend starved on a loaded machine) count against
        // the ladder; the default 16 could dead-letter a message, which is correct but is
        // not what this scenario measures.
        .max_reconsume_times(1000)
        .start(Counting {
            inner: Deduplicated::new(handler, dedupe),
            ledger,
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok((client, consumer))
}

/// Scenario 5. Sends `messages` (bodies `"dedupe-{i}"`) to a group of two push consumers
/// sharing `guard` (`backend` names it in the report) while the broker redelivers 20 % of
/// pulled batches and a seeded chaos loop drops offset commits, cuts the group's
/// connections and restarts consumers (a restart with its final commits dropped re-reads
/// what it had consumed). Every message must take effect exactly once.
///
/// # Errors
/// Harness failures, as text.
pub async fn dedupe_storm<G: DedupeGuard + Clone>(
    guard: G,
    backend: &str,
    messages: usize,
    seed: u64,
) -> Result<DedupeStorm, String> {
    let broker = EmbeddedBroker::builder()
        .delay_levels(FAST_DELAYS)
        .start()
        .await
        .map_err(|e| e.to_string())?;
    broker.faults().seed(seed);
    broker.faults().duplicate_deliveries(0.2);
    let topic = "reliability-dedupe";
    let group = "reliability-dedupe-group";
    broker
        .create_topic(topic, 4)
        .await
        .map_err(|e| e.to_string())?;
    let ns = broker.name_server_addr();
    let ledger = Arc::new(Ledger::default());
    let mut members = Vec::new();
    for _ in 0..2 {
        members.push(member(&ns, group, topic, guard.clone(), ledger.clone()).await?);
    }
    let (pclient, producer) = producer_client(&ns, "dedupe-p").await?;
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let sender = {
        let (producer, acked) = (producer.clone(), acked.clone());
        tokio::spawn(async move {
            for i in 0..messages {
                let body = format!("dedupe-{i}");
                let r = producer
                    .send(Message::new(topic, Bytes::from(body.clone())))
                    .await;
                if r.is_ok_and(|r| r.status == SendStatus::SendOk) {
                    acked.lock().unwrap_or_else(|e| e.into_inner()).push(body);
                }
            }
        })
    };
    let mut rng = Rng::new(seed);
    let mut restarts = 0;
    let mut dropped_commit_rounds = 0;
    let step = (messages / 12).max(1);
    let mut next = step;
    while next < messages {
        let l = ledger.clone();
        if !wait_until(Duration::from_secs(60), || {
            let l = l.clone();
            async move { l.effects.lock().unwrap_or_else(|e| e.into_inner()).len() >= next }
        })
        .await
        {
            break;
        }
        next += step;
        // Acks lost: the next offset commits never reach the offset table.
        broker.faults().fail_next(
            RequestCode::UPDATE_CONSUMER_OFFSET,
            50,
            ResponseCode::SYSTEM_ERROR,
        );
        dropped_commit_rounds += 1;
        match rng.range(0, 3) {
            0 | 1 => {
                // Restart a member: its final offset commits are among those dropped, so
                // its queues are read again from older offsets.
                let (c, consumer) = members.remove(rng.range(0, members.len() as u64) as usize);
                consumer.shutdown().await;
                c.shutdown().await;
                members.push(member(&ns, group, topic, guard.clone(), ledger.clone()).await?);
                restarts += 1;
            }
            _ => {
                broker.close_group_connections(group);
            }
        }
    }
    sender.await.map_err(|e| e.to_string())?;
    let acked = acked.lock().unwrap_or_else(|e| e.into_inner()).clone();
    wait_until(Duration::from_secs(60), || async {
        let e = ledger.effects.lock().unwrap_or_else(|e| e.into_inner());
        acked.iter().all(|b| e.contains_key(b))
    })
    .await;
    for (c, consumer) in members {
        consumer.shutdown().await;
        c.shutdown().await;
    }
    pclient.shutdown().await;
    let effects = ledger
        .effects
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let lost = acked.iter().filter(|b| !effects.contains_key(*b)).count() as u64;
    let extra: u64 = effects.values().map(|n| n.saturating_sub(1)).sum();
    let deliveries = ledger.deliveries.load(Ordering::Relaxed);
    let injected = broker.faults().duplicated_deliveries();
    let failed = ledger.failures.load(Ordering::Relaxed);
    let report = Report {
        kills: 0,
        scenario: format!("dedupe storm, {backend} guard ({messages})"),
        sent: messages as u64,
        acknowledged: acked.len() as u64,
        lost,
        duplicated: extra,
        corrupt: 0,
        note: format!(
            "{deliveries} deliveries ({} extra), {injected} injected redeliveries, \
             {failed} failed handlers, {restarts} restarts, {dropped_commit_rounds} rounds of dropped commits; \
             dup = effects beyond one",
            deliveries.saturating_sub(messages as u64)
        ),
    };
    broker.shutdown().await.map_err(|e| e.to_string())?;
    Ok(DedupeStorm {
        report,
        deliveries,
        injected_redeliveries: injected,
        failed_handlers: failed,
        restarts,
    })
}
