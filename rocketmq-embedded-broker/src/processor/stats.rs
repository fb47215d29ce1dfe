//! Statistics admins read (upstream `AdminBrokerProcessor`): GET_TOPIC_STATS_INFO (202),
//! GET_CONSUME_STATS (208), GET_BROKER_CONSUME_STATS (317), GET_BROKER_RUNTIME_INFO (28)
//! and INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223).
//!
//! Runtime info carries the keys `mqadmin brokerStatus` and `clusterList` read, with real
//! values where this broker has them (puts, bytes, commit-log offsets, flush backlog, disk,
//! uptime, put TPS sampled every second) and upstream's idle values where it has no such
//! thing (thread-pool queues, page-cache lock, transient store pool). Gets are not counted
//! per group, so `msgGetTotal*`, `get*Tps` and `consumeTps` read 0.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rocketmq_sdk::protocol::body::{
    ConsumeStats, ConsumeStatsList, GetConsumerStatusBody, JsonBody, KvTable, MessageQueue,
    OffsetWrapper, TopicOffset, TopicStatsTable,
};
use rocketmq_sdk::protocol::command::version;
use rocketmq_sdk::protocol::header::{
    GetConsumeStatsInBrokerHeader, GetConsumeStatsRequestHeader, GetConsumerStatusRequestHeader,
    GetTopicStatsInfoRequestHeader,
};
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use tracing::{debug, warn};

use super::reply;
use crate::broker::BrokerCore;
use crate::store::Store;

/// How long the broker waits for each consumer's GET_CONSUMER_STATUS_FROM_CLIENT answer
/// (upstream `Broker2Client.getConsumeStatus`).
const CLIENT_STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// Put samples kept: one a second for upstream's longest TPS window (10 minutes).
const SAMPLES: usize = 601;

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    puts: u64,
}

/// Boot time and the once-a-second put counter samples the TPS figures come from.
#[derive(Debug)]
pub(crate) struct RuntimeStats {
    boot_millis: i64,
    started: Instant,
    samples: Mutex<VecDeque<Sample>>,
}

impl RuntimeStats {
    /// Starts sampling `store` once a second until it is dropped.
    pub(crate) fn start(core: &BrokerCore) -> Arc<Self> {
        let stats = Arc::new(RuntimeStats {
            boot_millis: core.clock.now_millis(),
            started: Instant::now(),
            samples: Mutex::new(VecDeque::with_capacity(SAMPLES)),
        });
        stats.sample(&core.store);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let store: Weak<Store> = Arc::downgrade(&core.store);
            let weak_stats = Arc::downgrade(&stats);
            rt.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    let (Some(store), Some(stats)) = (store.upgrade(), weak_stats.upgrade()) else {
                        break;
                    };
                    if !store.is_running() {
                        break;
                    }
                    stats.sample(&store);
                }
            });
        }
        stats
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Sample>> {
        self.samples.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sample(&self, store: &Store) {
        let mut s = self.lock();
        if s.len() == SAMPLES {
            s.pop_front();
        }
        s.push_back(Sample {
            at: Instant::now(),
            puts: store.stats().records_put,
        });
    }

    /// Puts per second over the last `window` (or as much of it as has been sampled).
    fn put_tps(&self, now_puts: u64, window: Duration) -> f64 {
        let s = self.lock();
        let now = Instant::now();
        let base = s
            .iter()
            .rev()
            .find(|x| now.duration_since(x.at) >= window)
            .or_else(|| s.front());
        let Some(base) = base else {
            return 0.0;
        };
        let secs = now.duration_since(base.at).as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        now_puts.saturating_sub(base.puts) as f64 / secs
    }
}

/// Java's `Double.toString` for the values these figures take (`0.0`, `0.1665…`).
fn java_double(v: f64) -> String {
    format!("{v:?}")
}

/// Upstream `MixAll.humanReadableByteCount(bytes, false)`.
fn human_bytes(bytes: u64) -> String {
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let exp = ((bytes as f64).ln() / 1024f64.ln()) as i32;
    let exp = exp.clamp(1, 6);
    let pre = ["K", "M", "G", "T", "P", "E"][(exp - 1) as usize];
    format!("{:.1} {pre}iB", bytes as f64 / 1024f64.powi(exp))
}

/// `MQVersion.getVersionDesc` of the version this broker announces.
fn version_desc(v: i16) -> &'static str {
    match v {
        version::V5_3_3 => "V5_3_3",
        version::V5_3_1 => "V5_3_1",
        version::V5_0_0 => "V5_0_0",
        _ => "V5_3_3",
    }
}

fn uptime(d: Duration) -> String {
    let s = d.as_secs();
    format!(
        "[ {} days, {} hours, {} minutes, {} seconds ]",
        s / 86_400,
        s / 3_600 % 24,
        s / 60 % 60,
        s % 60
    )
}

/// GET_BROKER_RUNTIME_INFO: the `KVTable` of upstream `prepareRuntimeInfo` and the store's
/// `getRuntimeInfo`.
pub(crate) fn runtime_info(core: &BrokerCore, stats: &RuntimeStats) -> RemotingCommand {
    let st = core.store.stats();
    let mut t: BTreeMap<String, String> = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        t.insert(k.to_owned(), v);
    };
    put("brokerVersionDesc", version_desc(version::CURRENT).into());
    put("brokerVersion", version::CURRENT.to_string());
    put("bootTimestamp", stats.boot_millis.to_string());
    put("runtime", uptime(stats.started.elapsed()));
    put("brokerActive", "true".into());
    let puts = st.records_put;
    for k in [
        "msgPutTotalYesterdayMorning",
        "msgPutTotalTodayMorning",
        "msgGetTotalYesterdayMorning",
        "msgGetTotalTodayMorning",
        "msgGetTotalTodayNow",
    ] {
        put(k, "0".into());
    }
    // Counted since this broker started (upstream: since midnight).
    put("msgPutTotalTodayNow", puts.to_string());
    put("putMessageTimesTotal", puts.to_string());
    put("putMessageSizeTotal", st.bytes_put.to_string());
    put(
        "putMessageAverageSize",
        java_double(if puts == 0 {
            0.0
        } else {
            st.bytes_put as f64 / puts as f64
        }),
    );
    let tps = |w: u64| java_double(stats.put_tps(puts, Duration::from_secs(w)));
    put("putTps", format!("{} {} {}", tps(10), tps(60), tps(600)));
    let zero3 = "0.0 0.0 0.0".to_owned();
    for k in [
        "getFoundTps",
        "getMissTps",
        "getTotalTps",
        "getTransferedTps",
        "getTransferredTps",
    ] {
        put(k, zero3.clone());
    }
    put("commitLogMinOffset", st.commit_log_min_offset.to_string());
    put("commitLogMaxOffset", st.commit_log_max_offset.to_string());
    let unflushed = st
        .commit_log_max_offset
        .saturating_sub(st.commit_log_flushed_offset)
        .max(0);
    put(
        "remainHowManyDataToFlush",
        human_bytes(u64::try_from(unflushed).unwrap_or(0)),
    );
    put("remainTransientStoreBufferNumbs", i32::MAX.to_string());
    for k in [
        "sendThreadPoolQueueSize",
        "pullThreadPoolQueueSize",
        "litePullThreadPoolQueueSize",
        "queryThreadPoolQueueSize",
        "EndTransactionQueueSize",
        "sendThreadPoolQueueHeadWaitTimeMills",
        "pullThreadPoolQueueHeadWaitTimeMills",
        "litePullThreadPoolQueueHeadWaitTimeMills",
        "queryThreadPoolQueueHeadWaitTimeMills",
        "dispatchBehindBytes",
        "dispatchMaxBuffer",
        "pageCacheLockTimeMills",
        "putMessageFailedTimes",
        "startAcceptSendRequestTimeStamp",
        "putMessageEntireTimeMax",
        "getMessageEntireTimeMax",
    ] {
        put(k, "0".into());
    }
    put("sendThreadPoolQueueCapacity", "10000".into());
    put("pullThreadPoolQueueCapacity", "100000".into());
    put("litePullThreadPoolQueueCapacity", "100000".into());
    put("queryThreadPoolQueueCapacity", "20000".into());
    put("EndTransactionThreadPoolQueueCapacity", "100000".into());
    put("earliestMessageTimeStamp", "-1".into());
    put("putLatency99", "0.00".into());
    put("putLatency999", "0.00".into());
    let root = &core.store.config().root;
    if let Ok(vfs) = rustix::fs::statvfs(root.as_path()) {
        let frsize = vfs.f_frsize.max(1);
        let total = vfs.f_blocks.saturating_mul(frsize);
        let free = vfs.f_bavail.saturating_mul(frsize);
        put(
            "commitLogDirCapacity",
            format!(
                "Total : {}, Free : {}.",
                human_bytes(total),
                human_bytes(free)
            ),
        );
        if vfs.f_blocks > 0 {
            let ratio = vfs.f_blocks.saturating_sub(vfs.f_bfree) as f64 / vfs.f_blocks as f64;
            let ratio = format!("{ratio:.2}");
            put("commitLogDiskRatio", ratio.clone());
            put(
                &format!(
                    "commitLogDiskRatio_{}",
                    core.store.config().commit_log_dir().display()
                ),
                ratio.clone(),
            );
            put("consumeQueueDiskRatio", ratio);
        }
    }
    reply::json_body(&KvTable { table: t }, false)
}

/// GET_TOPIC_STATS_INFO: every write queue's min and max offsets and its newest message's
/// store time.
pub(crate) fn topic_stats(core: &BrokerCore, request: &RemotingCommand) -> RemotingCommand {
    let h: GetTopicStatsInfoRequestHeader = match request.decode_header() {
        Ok(h) => h,
        Err(e) => return reply::bad_header(&e),
    };
    let Some(config) = core.topics.get(&h.topic) else {
        return reply::error(
            ResponseCode::TOPIC_NOT_EXIST,
            format!("topic[{}] not exist", h.topic),
        );
    };
    let store = &core.store;
    let mut table = TopicStatsTable::default();
    for q in 0..config.write_queue_nums.max(0) {
        let min = store.min_offset(&h.topic, q).max(0);
        let max = store.max_offset(&h.topic, q).max(0);
        let last = if max > 0 {
            store
                .message_store_timestamp(&h.topic, q, max - 1)
                .ok()
                .flatten()
                .unwrap_or(0)
        } else {
            0
        };
        table.offset_table.insert(
            MessageQueue::new(h.topic.clone(), core.config.broker_name.clone(), q),
            TopicOffset {
                last_update_timestamp: last,
                max_offset: max,
                min_offset: min,
            },
        );
    }
    reply::json_body(&table, false)
}

/// One topic's progress for a group over `queues` queues, or `None` when the online
/// group does not subscribe to it (upstream skips those).
fn topic_progress(
    core: &BrokerCore,
    group: &str,
    topic: &str,
    queues: i32,
    out: &mut ConsumeStats,
) -> bool {
    if core.clients.subscription(group, topic).is_none()
        && core.clients.subscription_count(group) > 0
    {
        warn!(
            group,
            topic, "consumeStats: the online group does not subscribe to the topic"
        );
        return false;
    }
    let store = &core.store;
    for q in 0..queues.max(0) {
        let broker_offset = store.max_offset(topic, q).max(0);
        let consumer_offset = core.offsets.query(group, topic, q).max(0);
        let last_timestamp = if consumer_offset > 0 {
            store
                .message_store_timestamp(topic, q, consumer_offset - 1)
                .ok()
                .flatten()
                .filter(|t| *t > 0)
                .unwrap_or(0)
        } else {
            0
        };
        out.offset_table.insert(
            MessageQueue::new(topic.to_owned(), core.config.broker_name.clone(), q),
            OffsetWrapper {
                broker_offset,
                consumer_offset,
                last_timestamp,
            },
        );
    }
    true
}

/// GET_CONSUME_STATS: a group's committed offsets against each read queue's max offset,
/// on one topic or on every topic it has offsets on.
pub(crate) fn consume_stats(core: &BrokerCore, request: &RemotingCommand) -> RemotingCommand {
    let h: GetConsumeStatsRequestHeader = match request.decode_header() {
        Ok(h) => h,
        Err(e) => return reply::bad_header(&e),
    };
    let topics = match h.topic.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => std::iter::once(t.to_owned()).collect(),
        _ => core.offsets.topics_of(&h.consumer_group),
    };
    let mut stats = ConsumeStats::default();
    for topic in topics {
        let Some(config) = core.topics.get(&topic) else {
            warn!(topic = %topic, "consumeStats: topic config not exist");
            continue;
        };
        topic_progress(
            core,
            &h.consumer_group,
            &topic,
            config.read_queue_nums,
            &mut stats,
        );
    }
    reply::json_body(&stats, false)
}

/// GET_BROKER_CONSUME_STATS: every known group's progress per topic, with the total lag.
pub(crate) fn broker_consume_stats(
    core: &BrokerCore,
    request: &RemotingCommand,
) -> RemotingCommand {
    let h: GetConsumeStatsInBrokerHeader = match request.decode_header() {
        Ok(h) => h,
        Err(e) => return reply::bad_header(&e),
    };
    let mut list = ConsumeStatsList {
        broker_addr: Some(core.addr.to_string()),
        ..ConsumeStatsList::default()
    };
    for group in core.groups.snapshot().subscription_group_table.keys() {
        let mut per_topic = Vec::new();
        for topic in core.offsets.topics_of(group) {
            let Some(config) = core.topics.get(&topic) else {
                continue;
            };
            if h.is_order && !config.order {
                continue;
            }
            let mut stats = ConsumeStats::default();
            if topic_progress(core, group, &topic, config.write_queue_nums, &mut stats) {
                list.total_diff += stats.total_diff();
                per_topic.push(stats);
            }
        }
        list.consume_stats_list
            .push(BTreeMap::from([(group.clone(), per_topic)]));
    }
    reply::json_body(&list, false)
}

/// INVOKE_BROKER_TO_GET_CONSUMER_STATUS: asks each online consumer of the group (or the
/// one named by `clientAddr`, a client id) for its offsets of the topic and gathers the
/// answers by client id (upstream `Broker2Client.getConsumeStatus`).
pub(crate) async fn consumer_status(
    core: &BrokerCore,
    request: &RemotingCommand,
) -> RemotingCommand {
    let h: GetConsumerStatusRequestHeader = match request.decode_header() {
        Ok(h) => h,
        Err(e) => return reply::bad_header(&e),
    };
    let members = core
        .clients
        .consumer_group(&h.group)
        .map(|g| g.members)
        .unwrap_or_default();
    if members.is_empty() {
        return reply::error(
            ResponseCode::SYSTEM_ERROR,
            format!(
                "No Any Consumer online in the consumer group: [{}]",
                h.group
            ),
        );
    }
    let only = h.client_addr.as_deref().filter(|c| !c.trim().is_empty());
    let ask = GetConsumerStatusRequestHeader {
        topic: h.topic.clone(),
        group: h.group.clone(),
        ..GetConsumerStatusRequestHeader::default()
    };
    let mut body = GetConsumerStatusBody::default();
    for m in members {
        if only.is_some_and(|c| c != m.client_id) {
            continue;
        }
        let q =
            reply::broker_request(RequestCode::GET_CONSUMER_STATUS_FROM_CLIENT).with_header(&ask);
        match m.channel.request(q, CLIENT_STATUS_TIMEOUT).await {
            Some(r) if r.response_code() == ResponseCode::SUCCESS && !r.body.is_empty() => {
                match GetConsumerStatusBody::decode(&r.body) {
                    Ok(b) => {
                        body.consumer_table
                            .insert(m.client_id.clone(), b.message_queue_table);
                    }
                    Err(e) => {
                        warn!(client = %m.client_id, error = %e, "consumer status body invalid");
                    }
                }
            }
            other => {
                debug!(client = %m.client_id, answered = other.is_some(), "no consumer status");
            }
        }
        if only.is_some() {
            break;
        }
    }
    reply::json_body(&body, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_like_java() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(252 * 1024 * 1024 * 1024), "252.0 GiB");
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(
            uptime(Duration::from_secs(304)),
            "[ 0 days, 0 hours, 5 minutes, 4 seconds ]"
        );
    }
}
