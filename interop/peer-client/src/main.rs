//! Interop check, direction 2: the RocketMQ-Rust 1.0.0 client (`rocketmq-client-rust`)
//! against a name server + broker given on the command line (our embedded broker in CI).
//!
//! It produces messages with keys and tags, consumes them with a concurrent push consumer
//! and with an orderly push consumer (ordered sends through its own queue selector), and
//! exits 0 only if bodies, keys, tags, counts (and, for the orderly part, per-key order and
//! queue) match end to end.
//!
//! Usage: `rocketmq-interop-peer-client <namesrv-addr> [messages]`

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rocketmq_client_rust::{
    ClientError, ClientResult, ClientRuntime, ClientRuntimeConfig, ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus, ConsumeOrderlyContext, ConsumeOrderlyStatus, DefaultMQProducer,
    DefaultMQPushConsumer, MQPushConsumer, MessageListenerConcurrently, MessageListenerOrderly,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::result::SendStatus;
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};

const TAGS: [&str; 3] = ["TagA", "TagB", "TagC"];
/// Number of ordering keys (orders) for the orderly part.
const ORDERS: usize = 4;
const SEND_TIMEOUT_MS: u64 = 5_000;
const CONSUME_TIMEOUT: Duration = Duration::from_secs(90);

/// One consumed message, as seen by a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    body: String,
    keys: Vec<String>,
    tags: Option<String>,
    queue_id: i32,
}

impl Seen {
    fn of(msg: &MessageExt) -> Self {
        Self {
            body: msg
                .body()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
            keys: msg.message_inner().keys().unwrap_or_default(),
            tags: msg.get_tags().map(|t| t.to_string()),
            queue_id: msg.queue_id(),
        }
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

struct Concurrent(Log);

impl MessageListenerConcurrently for Concurrent {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _context: &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus> {
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        log.extend(msgs.iter().map(|m| Seen::of(m)));
        Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}

struct Orderly(Log);

impl MessageListenerOrderly for Orderly {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        context: &mut ConsumeOrderlyContext,
    ) -> ClientResult<ConsumeOrderlyStatus> {
        context.set_auto_commit(true);
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        log.extend(msgs.iter().map(|m| Seen::of(m)));
        Ok(ConsumeOrderlyStatus::Success)
    }
}

/// What the producer sent: body -> (key, tag), plus the queue of each order.
#[derive(Debug, Default)]
struct Sent {
    messages: BTreeMap<String, (String, String)>,
    order_queue: HashMap<usize, i32>,
}

fn expected(kind: &str, i: usize) -> (String, String, String) {
    (
        format!("{kind}-body-{i}"),
        format!("{kind}-key-{i}"),
        TAGS[i % TAGS.len()].to_string(),
    )
}

/// A failed check or client call, with a message for the log.
#[derive(Debug)]
struct Failure(String);

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Self(format!("client error: {e}"))
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type Checked<T> = Result<T, Failure>;

fn fail(msg: impl Into<String>) -> Failure {
    Failure(msg.into())
}

async fn produce(
    producer: &DefaultMQProducer,
    topic: &str,
    n: usize,
    ordered: bool,
) -> Checked<Sent> {
    let kind = if ordered { "orderly" } else { "concurrent" };
    let mut sent = Sent::default();
    for i in 0..n {
        let (body, key, tag) = expected(kind, i);
        let msg = Message::builder()
            .topic(topic)
            .tags(tag.as_str())
            .key(key.as_str())
            .body_slice(body.as_bytes())
            .build_unchecked();
        let result = if ordered {
            let order = i % ORDERS;
            producer
                .send_with_selector_timeout(
                    msg,
                    |mqs, _msg, order: &usize| {
                        if mqs.is_empty() {
                            None
                        } else {
                            Some(mqs[order % mqs.len()].clone())
                        }
                    },
                    order,
                    SEND_TIMEOUT_MS,
                )
                .await?
        } else {
            producer.send_with_timeout(msg, SEND_TIMEOUT_MS).await?
        };
        let result = result.ok_or_else(|| fail(format!("send {i} to {topic}: no result")))?;
        if result.send_status != SendStatus::SendOk {
            return Err(fail(format!(
                "send {i} to {topic}: status {:?}",
                result.send_status
            )));
        }
        if ordered {
            let queue = result
                .message_queue
                .as_ref()
                .map(|q| q.queue_id())
                .ok_or_else(|| fail(format!("send {i} to {topic}: no queue in the result")))?;
            let first = *sent.order_queue.entry(i % ORDERS).or_insert(queue);
            if first != queue {
                return Err(fail(format!(
                    "order {} sent to queues {first} and {queue}: the selector was not honoured",
                    i % ORDERS
                )));
            }
        }
        sent.messages.insert(body, (key, tag));
    }
    Ok(sent)
}

async fn wait_for(log: &Log, n: usize, what: &str) -> Checked<()> {
    let start = Instant::now();
    loop {
        let distinct = {
            let log = log.lock().unwrap_or_else(|e| e.into_inner());
            log.iter()
                .map(|s| s.body.as_str())
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        if distinct >= n {
            return Ok(());
        }
        if start.elapsed() > CONSUME_TIMEOUT {
            return Err(fail(format!(
                "{what}: {distinct} of {n} messages consumed within {CONSUME_TIMEOUT:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Compares what was consumed with what was sent; returns the number of duplicates.
fn verify(what: &str, sent: &Sent, log: &[Seen], ordered: bool) -> Checked<usize> {
    let mut got: BTreeMap<&str, &Seen> = BTreeMap::new();
    let mut duplicates = 0;
    for seen in log {
        let Some((key, tag)) = sent.messages.get(&seen.body) else {
            return Err(fail(format!("{what}: unexpected message {seen:?}")));
        };
        if seen.keys != [key.clone()] {
            return Err(fail(format!(
                "{what}: {}: keys {:?}, sent [{key:?}]",
                seen.body, seen.keys
            )));
        }
        if seen.tags.as_deref() != Some(tag.as_str()) {
            return Err(fail(format!(
                "{what}: {}: tags {:?}, sent {tag:?}",
                seen.body, seen.tags
            )));
        }
        if got.insert(seen.body.as_str(), seen).is_some() {
            duplicates += 1;
        }
    }
    if got.len() != sent.messages.len() {
        return Err(fail(format!(
            "{what}: {} distinct messages consumed, {} sent",
            got.len(),
            sent.messages.len()
        )));
    }
    if ordered {
        // Within one order (same selector argument): one queue, and consumed in send order.
        let mut next: HashMap<usize, usize> = HashMap::new();
        for seen in log {
            let i: usize = seen
                .body
                .rsplit('-')
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| fail(format!("{what}: bad body {}", seen.body)))?;
            let order = i % ORDERS;
            if sent.order_queue.get(&order) != Some(&seen.queue_id) {
                return Err(fail(format!(
                    "{what}: {} consumed from queue {}, sent to {:?}",
                    seen.body,
                    seen.queue_id,
                    sent.order_queue.get(&order)
                )));
            }
            let want = next.entry(order).or_insert(order);
            if i < *want {
                continue; // a redelivery of an already seen message
            }
            if i != *want {
                return Err(fail(format!(
                    "{what}: order {order}: consumed message {i} before {}",
                    *want
                )));
            }
            *want += ORDERS;
        }
    }
    Ok(duplicates)
}

struct Env {
    owner: RuntimeOwner,
    client: Arc<ClientRuntime>,
    telemetry: rocketmq_observability::TelemetryRuntimeGuard,
}

fn runtime() -> Checked<Env> {
    let mut config = RuntimeConfig {
        thread_name: "interop-peer-client".to_string(),
        ..Default::default()
    };
    // The defaults scale with the number of cores: on 2 cores the blocking queues are so
    // short that a burst of 40 listener calls is refused ("runtime.capacity.exhausted", the
    // client then sends the messages back for a retry 10 s later). A client-side limit, not a
    // broker matter: give the queues room.
    let lanes = &mut config.blocking_lane_policies;
    for lane in [
        &mut lanes.storage_io,
        &mut lanes.metadata_io,
        &mut lanes.cpu_crypto,
    ] {
        lane.max_queue_depth = lane.max_queue_depth.max(4096);
    }
    let owner = RuntimeOwner::plan(config)
        .map_err(|e| ClientError::internal("plan the client runtime", e))?
        .build()
        .map_err(|e| ClientError::internal("create the client runtime", e))?;
    let telemetry = rocketmq_observability::install_global(
        &rocketmq_observability::TelemetryBootstrapConfig::default(),
    )
    .map_err(|e| ClientError::internal("initialize telemetry", e))?;
    let client = ClientRuntime::try_new(
        owner.root_context().component("client"),
        ClientRuntimeConfig::default(),
        telemetry.handle(),
    )?;
    Ok(Env {
        owner,
        client,
        telemetry,
    })
}

async fn run(namesrv: &str, n: usize) -> Checked<()> {
    let env = runtime()?;
    let suffix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let concurrent_topic = format!("InteropConcurrent{suffix}");
    let orderly_topic = format!("InteropOrderly{suffix}");

    let mut producer = DefaultMQProducer::builder(env.client.clone())
        .producer_group(format!("interop_producer_{suffix}"))
        .name_server_addr(namesrv.to_string())
        .build();
    producer.start().await?;
    let t = Instant::now();
    let sent_concurrent = produce(&producer, &concurrent_topic, n, false).await?;
    let sent_orderly = produce(&producer, &orderly_topic, n, true).await?;
    println!(
        "produced {n} messages to {concurrent_topic} and {n} (in {ORDERS} orders on queues {:?}) to {orderly_topic} in {:?}",
        sent_orderly.order_queue,
        t.elapsed()
    );

    let t = Instant::now();
    let concurrent_log: Log = Arc::default();
    let mut concurrent = DefaultMQPushConsumer::builder(env.client.clone())
        .consumer_group(format!("interop_concurrent_{suffix}"))
        .name_server_addr(namesrv.to_string())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build();
    concurrent.subscribe(&concurrent_topic, "*").await?;
    concurrent.register_message_listener_concurrently(Concurrent(concurrent_log.clone()));
    concurrent.start().await?;

    let orderly_log: Log = Arc::default();
    let mut orderly = DefaultMQPushConsumer::builder(env.client.clone())
        .consumer_group(format!("interop_orderly_{suffix}"))
        .name_server_addr(namesrv.to_string())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build();
    orderly.subscribe(&orderly_topic, "*").await?;
    orderly.register_message_listener_orderly(Orderly(orderly_log.clone()));
    orderly.start().await?;

    let outcome = async {
        wait_for(&concurrent_log, n, "concurrent push consumer").await?;
        wait_for(&orderly_log, n, "orderly push consumer").await?;
        // Let late duplicates (if any) arrive before comparing.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let dup_c = verify(
            "concurrent push consumer",
            &sent_concurrent,
            &concurrent_log.lock().unwrap_or_else(|e| e.into_inner()),
            false,
        )?;
        let dup_o = verify(
            "orderly push consumer",
            &sent_orderly,
            &orderly_log.lock().unwrap_or_else(|e| e.into_inner()),
            true,
        )?;
        println!(
            "consumed {n}/{n} (concurrent, {dup_c} redelivered) and {n}/{n} (orderly, per-order sequence and queue kept, {dup_o} redelivered) in {:?}; bodies, keys and tags match",
            t.elapsed()
        );
        Ok::<(), Failure>(())
    }
    .await;

    concurrent.shutdown().await;
    orderly.shutdown().await;
    producer.shutdown().await;
    let report = env.client.shutdown().await;
    if !report.is_healthy() {
        eprintln!("client runtime shutdown report: {}", report.to_json());
    }
    let _ = env.owner.shutdown_tasks().await;
    let _ = env.owner.shutdown_background();
    let _ = env.telemetry.shutdown();
    outcome
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(namesrv) = args.next() else {
        eprintln!("usage: rocketmq-interop-peer-client <namesrv-addr> [messages]");
        return ExitCode::from(2);
    };
    let n = match args.next().map(|s| s.parse::<usize>()) {
        None => 40,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("messages must be a positive number");
            return ExitCode::from(2);
        }
    };
    let t = Instant::now();
    match run(&namesrv, n).await {
        Ok(()) => {
            println!(
                "interop peer client (rocketmq-client-rust 1.0.0) against {namesrv}: OK in {:?}",
                t.elapsed()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "interop peer client (rocketmq-client-rust 1.0.0) against {namesrv}: FAILED: {e}"
            );
            ExitCode::FAILURE
        }
    }
}
