//! Scenario 8: synchronous replication while the slave is slowed down, killed and
//! restarted, then the master crashes. Every send's status must say what happened to the
//! slave (SEND_OK, FLUSH_SLAVE_TIMEOUT, SLAVE_NOT_AVAILABLE, as the SDK's `SendReceipt`
//! reports them), and every message acknowledged with SEND_OK must be on the slave after
//! the master is gone, and consumable from it through the SDK.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rocketmq_embedded_broker::{EmbeddedBroker, ReplicationMode};
use rocketmq_sdk::consumer::{ConsumeContext, ConsumeFrom, ConsumeResult};
use rocketmq_sdk::protocol::message::{Message, MessageExt};
use rocketmq_sdk::{Client, Producer, SendStatus};

use super::{Report, producer_client};
use crate::wait_until;

/// How long the master waits for its slave in this scenario (the default 5 s would make
/// the slow-slave phase take minutes).
const SLAVE_TIMEOUT: Duration = Duration::from_millis(300);

/// What the sends of one phase are expected to be answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Healthy slave.
    Healthy,
    /// Slave slowed past the slave timeout.
    SlowSlave,
    /// Slave killed.
    NoSlave,
    /// Slave restarted and caught up.
    Recovered,
}

impl Phase {
    fn expected(self) -> SendStatus {
        match self {
            Phase::Healthy | Phase::Recovered => SendStatus::SendOk,
            Phase::SlowSlave => SendStatus::FlushSlaveTimeout,
            Phase::NoSlave => SendStatus::SlaveNotAvailable,
        }
    }
}

/// Send statuses seen by the producer in [`sync_replication_failover`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicationStatuses {
    /// Receipts with SEND_OK.
    pub send_ok: u64,
    /// Receipts with FLUSH_SLAVE_TIMEOUT (slave slowed down).
    pub flush_slave_timeout: u64,
    /// Receipts with SLAVE_NOT_AVAILABLE (slave killed).
    pub slave_not_available: u64,
    /// Sends that failed outright (an error instead of a receipt).
    pub errors: u64,
    /// Receipts whose status is not what the slave's state at the time calls for.
    pub unexpected: u64,
    /// SEND_OK messages consumed through the SDK from the slave after the master crashed.
    pub consumed_from_slave: u64,
}

/// Sends `n` messages `"{prefix}-{i}"` from 4 tasks; returns each body's receipt status
/// (`None` for an error).
async fn send_phase(
    producer: &Producer,
    topic: &str,
    prefix: &str,
    n: usize,
) -> Vec<(String, Option<SendStatus>)> {
    let mut set = tokio::task::JoinSet::new();
    let workers = 4;
    for w in 0..workers {
        let producer = producer.clone();
        let topic = topic.to_owned();
        let prefix = prefix.to_owned();
        set.spawn(async move {
            let mut out = Vec::new();
            for i in (w..n).step_by(workers) {
                let body = format!("{prefix}-{i}");
                let r = producer
                    .send(Message::new(topic.as_str(), Bytes::from(body.clone())))
                    .await;
                out.push((body, r.ok().map(|r| r.status)));
            }
            out
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        all.extend(r.unwrap_or_default());
    }
    all
}

/// Waits until the slave of broker 0 holds everything its master has.
async fn caught_up(broker: &EmbeddedBroker) -> bool {
    wait_until(Duration::from_secs(30), || async {
        let (Ok(master), Ok(slave)) = (broker.broker(0).commit_log_max_offset(), broker.slave(0))
        else {
            return false;
        };
        slave.commit_log_max_offset().is_ok_and(|s| s == master)
    })
    .await
}

/// Consumes `topic` through the SDK with a fresh group (reading from the slave once the
/// master is gone) until every body of `want` was seen or 30 s pass; returns the bodies
/// seen.
async fn consume_all(
    ns: &str,
    topic: &str,
    want: &HashSet<String>,
) -> Result<HashSet<String>, String> {
    let client = Client::builder()
        .name_server(ns)
        .heartbeat_interval(Duration::from_millis(300))
        .route_poll_interval(Duration::from_millis(300))
        .persist_offset_interval(Duration::from_millis(200))
        .build()
        .await
        .map_err(|e| e.to_string())?;
    let seen: Arc<Mutex<HashSet<String>>> = Arc::default();
    let s = seen.clone();
    let consumer = client
        .push_consumer("replication-verify")
        .subscribe(topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .rebalance_interval(Duration::from_millis(200))
        .shutdown_timeout(Duration::from_millis(200))
        .start(move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let s = s.clone();
            async move {
                let mut s = s.lock().unwrap_or_else(|e| e.into_inner());
                for m in &msgs {
                    s.insert(String::from_utf8_lossy(&m.body).into_owned());
                }
                ConsumeResult::Success
            }
        })
        .await
        .map_err(|e| e.to_string())?;
    wait_until(Duration::from_secs(30), || async {
        let s = seen.lock().unwrap_or_else(|e| e.into_inner());
        want.iter().all(|b| s.contains(b))
    })
    .await;
    consumer.shutdown().await;
    client.shutdown().await;
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(seen)
}

/// Scenario 8. A SYNC_MASTER with a slave on memory stores, async flush on the master (so
/// only the slave vouches for SEND_OK). `messages` are sent in four phases: healthy slave;
/// slave slowed past the slave timeout (at most 40 sends there, each waits the timeout);
/// slave killed; slave restarted (it catches up from its own recovered commit-log end).
/// Then the master crashes, losing its unflushed tail. Every SEND_OK body must be in the
/// slave's store and be consumed from the slave through the SDK.
///
/// # Errors
/// Harness failures, as text.
pub async fn sync_replication_failover(
    messages: usize,
) -> Result<(Report, ReplicationStatuses), String> {
    let broker = EmbeddedBroker::builder()
        .slave(ReplicationMode::Sync)
        .slave_timeout(SLAVE_TIMEOUT)
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let topic = "reliability-replication";
    broker
        .create_topic(topic, 4)
        .await
        .map_err(|e| e.to_string())?;
    let ns = broker.name_server_addr();
    let (pclient, producer) = producer_client(&ns, "replication-p").await?;
    let slave = broker.slave(0).map_err(|e| e.to_string())?.clone();
    let quarter = (messages / 4).max(1);
    let phases = [
        (Phase::Healthy, quarter),
        (Phase::SlowSlave, quarter.min(40)),
        (Phase::NoSlave, quarter),
        (
            Phase::Recovered,
            messages
                .saturating_sub(2 * quarter + quarter.min(40))
                .max(1),
        ),
    ];
    let mut statuses = ReplicationStatuses::default();
    let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
    let mut acked = HashSet::new();
    let mut sent = 0u64;
    for (phase, n) in phases {
        match phase {
            Phase::Healthy => {}
            Phase::SlowSlave => slave.faults().delay_replication(Some(SLAVE_TIMEOUT * 3)),
            Phase::NoSlave => {
                slave.faults().delay_replication(None);
                slave.crash().await;
            }
            Phase::Recovered => {
                slave.restart().await.map_err(|e| e.to_string())?;
                if !caught_up(&broker).await {
                    return Err("the restarted slave did not catch up in 30 s".into());
                }
            }
        }
        let prefix = format!("{phase:?}");
        for (body, status) in send_phase(&producer, topic, &prefix, n).await {
            sent += 1;
            match status {
                Some(SendStatus::SendOk) => {
                    statuses.send_ok += 1;
                    acked.insert(body);
                }
                Some(SendStatus::FlushSlaveTimeout) => statuses.flush_slave_timeout += 1,
                Some(SendStatus::SlaveNotAvailable) => statuses.slave_not_available += 1,
                Some(_) => {}
                None => statuses.errors += 1,
            }
            if status != Some(phase.expected()) {
                statuses.unexpected += 1;
            }
            *by_status
                .entry(status.map_or("error", |s| match s {
                    SendStatus::SendOk => "ok",
                    SendStatus::FlushSlaveTimeout => "flush-slave-timeout",
                    SendStatus::SlaveNotAvailable => "slave-not-available",
                    _ => "other",
                }))
                .or_default() += 1;
        }
    }
    pclient.shutdown().await;
    // The master dies; only the slave remains.
    broker.crash_broker(0).await.map_err(|e| e.to_string())?;
    let stored = slave.messages(topic).map_err(|e| e.to_string())?;
    let mut copies: HashMap<String, u64> = HashMap::new();
    for m in &stored {
        *copies
            .entry(String::from_utf8_lossy(&m.body).into_owned())
            .or_default() += 1;
    }
    let consumed = consume_all(&ns, topic, &acked).await?;
    statuses.consumed_from_slave = acked.iter().filter(|b| consumed.contains(*b)).count() as u64;
    let lost = acked
        .iter()
        .filter(|b| !copies.contains_key(*b) || !consumed.contains(*b))
        .count() as u64;
    let report = Report {
        kills: 0,
        scenario: format!("sync replication + kills ({messages})"),
        sent,
        acknowledged: acked.len() as u64,
        lost,
        duplicated: copies.values().map(|c| c.saturating_sub(1)).sum(),
        corrupt: 0,
        note: format!(
            "statuses {by_status:?}, unexpected {}, on slave {}, consumed from slave {}",
            statuses.unexpected,
            copies.len(),
            statuses.consumed_from_slave
        ),
    };
    broker.shutdown().await.map_err(|e| e.to_string())?;
    Ok((report, statuses))
}
