//! Administration (upstream `AdminBrokerProcessor`), what `mqadmin` asks a broker:
//!
//! * topics: UPDATE_AND_CREATE_TOPIC (17), GET_ALL_TOPIC_CONFIG (21), GET_TOPIC_CONFIG
//!   (351), DELETE_TOPIC_IN_BROKER (215: config, consume queues and offsets go, the commit
//!   log keeps its records);
//! * broker settings: GET_BROKER_CONFIG (26), UPDATE_BROKER_CONFIG (25: values are kept and
//!   reported back, not applied — this broker's settings are fixed at start);
//! * statistics in [`super::stats`]: GET_TOPIC_STATS_INFO (202), GET_CONSUME_STATS (208),
//!   GET_BROKER_CONSUME_STATS (317), GET_BROKER_RUNTIME_INFO (28),
//!   INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223);
//! * groups in [`super::groups_admin`]: UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200),
//!   GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201), DELETE_SUBSCRIPTIONGROUP (207),
//!   GET_SUBSCRIPTIONGROUP_CONFIG (352), GET_CONSUMER_CONNECTION_LIST (203),
//!   GET_PRODUCER_CONNECTION_LIST (204), QUERY_TOPIC_CONSUME_BY_WHO (300),
//!   CLONE_GROUP_OFFSET (314), and the requests relayed to one consumer:
//!   GET_CONSUMER_RUNNING_INFO (307, `mqadmin consumerStatus`), CONSUME_MESSAGE_DIRECTLY
//!   (309);
//! * INVOKE_BROKER_TO_RESET_OFFSET (222), below.
//!
//! 5.x POP consumption (POP_MESSAGE 200050, ACK_MESSAGE 200051, CHANGE_MESSAGE_INVISIBLETIME
//! 200053, ...) is not served: those codes get REQUEST_CODE_NOT_SUPPORTED, and Java 5
//! clients (push consumers, `mqadmin` browsing) then fall back to pulling.
//!
//! An offset reset is done the 5.x way (`useServerSideResetOffset`): the broker stores the
//! new offsets and the next pull of each queue answers PULL_OFFSET_MOVED with the reset
//! offset. Clients that only understand the 4.x way are also sent
//! RESET_CONSUMER_CLIENT_OFFSET (220) with the MessageQueue-keyed offset table.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rocketmq_sdk::protocol::body::register::DataVersion as WireDataVersion;
use rocketmq_sdk::protocol::body::{
    JsonBody, ResetOffsetBody, ResetOffsetBodyForC, TopicConfigSerializeWrapper,
};
use rocketmq_sdk::protocol::command::version;
use rocketmq_sdk::protocol::header::{
    CreateTopicRequestHeader, DeleteTopicRequestHeader, GetBrokerConfigResponseHeader,
    GetTopicConfigRequestHeader, ResetOffsetRequestHeader,
};
use rocketmq_sdk::protocol::message::MessageQueue;
use rocketmq_sdk::protocol::{LanguageCode, RemotingCommand, RequestCode, ResponseCode};
use tracing::{info, warn};

use super::groups_admin::{self, refuse_on_slave};
use super::reply;
use super::stats::{self, RuntimeStats};
use crate::broker::BrokerCore;
use crate::broker::topics::{
    AUTO_CREATE_TOPIC_KEY, NOT_ALLOWED_SEND_TOPICS, is_system_topic, to_wire, validate_topic,
};
use crate::namesrv::config::{format_properties, parse_properties};
use crate::server::{RequestContext, RequestProcessor};
use crate::store::TopicConfig;

/// Keys UPDATE_BROKER_CONFIG refuses (upstream's default `configBlackList`).
const CONFIG_BLACK_LIST: [&str; 2] = ["configBlackList", "brokerConfigPath"];

/// Every code [`AdminProcessor`] serves.
pub(crate) const CODES: [RequestCode; 22] = [
    RequestCode::UPDATE_AND_CREATE_TOPIC,
    RequestCode::GET_ALL_TOPIC_CONFIG,
    RequestCode::INVOKE_BROKER_TO_RESET_OFFSET,
    RequestCode::DELETE_TOPIC_IN_BROKER,
    RequestCode::GET_TOPIC_CONFIG,
    RequestCode::UPDATE_BROKER_CONFIG,
    RequestCode::GET_BROKER_CONFIG,
    RequestCode::GET_BROKER_RUNTIME_INFO,
    RequestCode::GET_TOPIC_STATS_INFO,
    RequestCode::GET_CONSUME_STATS,
    RequestCode::GET_BROKER_CONSUME_STATS,
    RequestCode::INVOKE_BROKER_TO_GET_CONSUMER_STATUS,
    RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
    RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
    RequestCode::DELETE_SUBSCRIPTIONGROUP,
    RequestCode::GET_SUBSCRIPTIONGROUP_CONFIG,
    RequestCode::GET_CONSUMER_CONNECTION_LIST,
    RequestCode::GET_PRODUCER_CONNECTION_LIST,
    RequestCode::QUERY_TOPIC_CONSUME_BY_WHO,
    RequestCode::CLONE_GROUP_OFFSET,
    RequestCode::GET_CONSUMER_RUNNING_INFO,
    RequestCode::CONSUME_MESSAGE_DIRECTLY,
];

pub(crate) struct AdminProcessor {
    core: Arc<BrokerCore>,
    stats: Arc<RuntimeStats>,
    /// What UPDATE_BROKER_CONFIG set, reported back by GET_BROKER_CONFIG.
    config_overrides: Mutex<BTreeMap<String, String>>,
}

impl AdminProcessor {
    pub(crate) fn new(core: Arc<BrokerCore>) -> Self {
        AdminProcessor {
            stats: RuntimeStats::start(&core),
            core,
            config_overrides: Mutex::new(BTreeMap::new()),
        }
    }
}

#[async_trait]
impl RequestProcessor for AdminProcessor {
    async fn process(
        &self,
        _ctx: &RequestContext,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        let core = &*self.core;
        Some(match request.request_code() {
            RequestCode::UPDATE_AND_CREATE_TOPIC => self.create_topic(&request),
            RequestCode::GET_ALL_TOPIC_CONFIG => self.all_topic_config(),
            RequestCode::DELETE_TOPIC_IN_BROKER => self.delete_topic(&request),
            RequestCode::GET_TOPIC_CONFIG => self.topic_config(&request),
            RequestCode::UPDATE_BROKER_CONFIG => self.update_broker_config(&request),
            RequestCode::GET_BROKER_CONFIG => self.broker_config(&request),
            RequestCode::GET_BROKER_RUNTIME_INFO => stats::runtime_info(core, &self.stats),
            RequestCode::GET_TOPIC_STATS_INFO => stats::topic_stats(core, &request),
            RequestCode::GET_CONSUME_STATS => stats::consume_stats(core, &request),
            RequestCode::GET_BROKER_CONSUME_STATS => stats::broker_consume_stats(core, &request),
            RequestCode::INVOKE_BROKER_TO_GET_CONSUMER_STATUS => {
                stats::consumer_status(core, &request).await
            }
            RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => {
                groups_admin::update_group(core, &request)
            }
            RequestCode::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => groups_admin::all_groups(core),
            RequestCode::DELETE_SUBSCRIPTIONGROUP => groups_admin::delete_group(core, &request),
            RequestCode::GET_SUBSCRIPTIONGROUP_CONFIG => groups_admin::get_group(core, &request),
            RequestCode::GET_CONSUMER_CONNECTION_LIST => {
                groups_admin::consumer_connections(core, &request)
            }
            RequestCode::GET_PRODUCER_CONNECTION_LIST => {
                groups_admin::producer_connections(core, &request)
            }
            RequestCode::QUERY_TOPIC_CONSUME_BY_WHO => groups_admin::consumed_by(core, &request),
            RequestCode::CLONE_GROUP_OFFSET => groups_admin::clone_offsets(core, &request),
            RequestCode::GET_CONSUMER_RUNNING_INFO => {
                groups_admin::consumer_running_info(core, &request).await
            }
            RequestCode::CONSUME_MESSAGE_DIRECTLY => {
                groups_admin::consume_directly(core, &request).await
            }
            _ => self.reset_offset(&request),
        })
    }
}

/// Applies an attribute patch `+k=v,+k2=v2,-k3` (upstream `AttributeParser`).
fn apply_attributes(attrs: &mut BTreeMap<String, String>, patch: &str) -> Result<(), String> {
    for item in patch.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Some(kv) = item.strip_prefix('+') {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("attribute {item:?} has no value"))?;
            attrs.insert(k.to_owned(), v.to_owned());
        } else if let Some(k) = item.strip_prefix('-') {
            attrs.remove(k);
        } else {
            return Err(format!("attribute {item:?} must start with + or -"));
        }
    }
    Ok(())
}

impl AdminProcessor {
    fn create_topic(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: CreateTopicRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        };
        let core = &self.core;
        if let Err(remark) = validate_topic(&h.topic) {
            return reply::error(ResponseCode::INVALID_PARAMETER, remark);
        }
        if h.topic == AUTO_CREATE_TOPIC_KEY || NOT_ALLOWED_SEND_TOPICS.contains(&h.topic.as_str()) {
            return reply::error(
                ResponseCode::INVALID_PARAMETER,
                format!("The topic[{}] is conflict with system topic.", h.topic),
            );
        }
        if h.read_queue_nums <= 0 || h.write_queue_nums <= 0 {
            return reply::error(
                ResponseCode::INVALID_PARAMETER,
                format!(
                    "readQueueNums {} and writeQueueNums {} must both be positive",
                    h.read_queue_nums, h.write_queue_nums
                ),
            );
        }
        let mut config = core
            .topics
            .get(&h.topic)
            .unwrap_or_else(|| TopicConfig::new(h.topic.clone(), h.read_queue_nums));
        config.read_queue_nums = h.read_queue_nums;
        config.write_queue_nums = h.write_queue_nums;
        config.perm = h.perm;
        config.topic_filter_type = h.topic_filter_type.name().to_owned();
        config.topic_sys_flag = h.topic_sys_flag.unwrap_or(0);
        config.order = h.order;
        if let Some(patch) = &h.attributes
            && let Err(remark) = apply_attributes(&mut config.attributes, patch)
        {
            return reply::error(ResponseCode::INVALID_PARAMETER, remark);
        }
        info!(topic = %h.topic, read = h.read_queue_nums, write = h.write_queue_nums, "topic created or updated");
        if core.topics.upsert(config) {
            core.register();
        }
        reply::success()
    }

    /// DELETE_TOPIC_IN_BROKER (5.x `deleteTopic`): the config, the consume queues and every
    /// group's offsets go; the commit log keeps the records. The broker then registers
    /// again, so the name server drops the topic's queues even before
    /// DELETE_TOPIC_IN_NAMESRV (upstream's periodic registration does the same later).
    fn delete_topic(&self, request: &RemotingCommand) -> RemotingCommand {
        let core = &self.core;
        if let Some(r) = refuse_on_slave(core) {
            return r;
        }
        let h: DeleteTopicRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        };
        if let Err(remark) = validate_topic(&h.topic) {
            return reply::error(ResponseCode::SYSTEM_ERROR, remark);
        }
        if is_system_topic(&h.topic, &core.config) {
            return reply::error(
                ResponseCode::SYSTEM_ERROR,
                format!("The topic[{}] is conflict with system topic.", h.topic),
            );
        }
        let existed = core.topics.delete(&h.topic);
        let offsets = core.offsets.remove_topic(&h.topic);
        let queues = match core.store.delete_topic_queues(&h.topic) {
            Ok(n) => n,
            Err(e) => {
                warn!(topic = %h.topic, error = %e, "consume queues of a deleted topic not removed");
                0
            }
        };
        info!(topic = %h.topic, existed, queues, offsets, "topic deleted");
        if existed {
            core.register();
        }
        reply::success()
    }

    /// GET_TOPIC_CONFIG (5.x): one topic's config (`TopicConfigAndQueueMapping` without a
    /// mapping, which is the plain `TopicConfig` JSON).
    fn topic_config(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: GetTopicConfigRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        };
        match self.core.topics.get(&h.topic) {
            Some(c) => match rocketmq_sdk::protocol::body::fastjson::to_vec(&to_wire(&c)) {
                Ok(b) => reply::success().with_body(b),
                Err(e) => reply::error(ResponseCode::SYSTEM_ERROR, e.to_string()),
            },
            None => reply::error(
                ResponseCode::TOPIC_NOT_EXIST,
                format!("No topic in this broker. topic: {}", h.topic),
            ),
        }
    }

    /// This broker's settings under upstream's `BrokerConfig`/`MessageStoreConfig` names.
    fn config_properties(&self) -> BTreeMap<String, String> {
        let c = &self.core.config;
        let store = self.core.store.config();
        let role = match c.role {
            crate::replication::BrokerRole::AsyncMaster => "ASYNC_MASTER",
            crate::replication::BrokerRole::SyncMaster => "SYNC_MASTER",
            crate::replication::BrokerRole::Slave => "SLAVE",
        };
        let flush = match store.flush_disk_type {
            crate::store::FlushDiskType::SyncFlush => "SYNC_FLUSH",
            _ => "ASYNC_FLUSH",
        };
        let ms = |d: std::time::Duration| d.as_millis().to_string();
        let mut p: BTreeMap<String, String> = [
            ("brokerClusterName", c.cluster_name.clone()),
            ("brokerName", c.broker_name.clone()),
            ("brokerId", c.broker_id.to_string()),
            ("brokerRole", role.to_owned()),
            ("brokerIP1", self.core.addr.ip().to_string()),
            ("listenPort", self.core.addr.port().to_string()),
            (
                "autoCreateTopicEnable",
                c.auto_create_topic_enable.to_string(),
            ),
            (
                "autoCreateSubscriptionGroup",
                c.auto_create_subscription_group.to_string(),
            ),
            ("enablePropertyFilter", c.enable_property_filter.to_string()),
            (
                "defaultTopicQueueNums",
                c.default_topic_queue_nums.to_string(),
            ),
            ("maxMessageSize", c.max_message_size.to_string()),
            ("longPollingEnable", c.long_polling_enable.to_string()),
            ("shortPollingTimeMills", ms(c.short_polling_time)),
            (
                "flushConsumerOffsetInterval",
                ms(c.flush_consumer_offset_interval),
            ),
            ("regionId", c.region_id.clone()),
            ("traceOn", c.trace_on.to_string()),
            ("defaultQueryMaxNum", c.default_query_max_num.to_string()),
            ("messageDelayLevel", c.message_delay_level.clone()),
            ("aclEnable", c.acl.is_some().to_string()),
            ("flushDiskType", flush.to_owned()),
            ("storePathRootDir", store.root.display().to_string()),
            (
                "storePathCommitLog",
                store.commit_log_dir().display().to_string(),
            ),
            ("brokerPermission", "6".to_owned()),
            ("configBlackList", CONFIG_BLACK_LIST.join(";")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        p.extend(
            self.config_overrides
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        );
        p
    }

    /// GET_BROKER_CONFIG: `key=value` lines, and the configuration's version in the header.
    fn broker_config(&self, request: &RemotingCommand) -> RemotingCommand {
        let boot = self.core.topics.data_version().timestamp;
        let v = if request.version >= version::V5_0_0 {
            format!(r#"{{"counter":0,"stateVersion":0,"timestamp":{boot}}}"#)
        } else {
            format!(r#"{{"counter":0,"timestamp":{boot}}}"#)
        };
        reply::success()
            .with_header(&GetBrokerConfigResponseHeader { version: v })
            .with_body(format_properties(&self.config_properties()).into_bytes())
    }

    /// UPDATE_BROKER_CONFIG: `key=value` lines; black-listed keys are refused.
    fn update_broker_config(&self, request: &RemotingCommand) -> RemotingCommand {
        if request.body.is_empty() {
            return reply::success();
        }
        let Ok(text) = std::str::from_utf8(&request.body) else {
            return reply::error(ResponseCode::SYSTEM_ERROR, "string2Properties error");
        };
        let props = parse_properties(text);
        if props
            .keys()
            .any(|k| CONFIG_BLACK_LIST.contains(&k.as_str()))
        {
            return reply::error(
                ResponseCode::NO_PERMISSION,
                "Can not update config in black list.",
            );
        }
        info!(keys = ?props.keys().collect::<Vec<_>>(), "updateBrokerConfig (kept, not applied)");
        self.config_overrides
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(props);
        reply::success()
    }

    fn all_topic_config(&self) -> RemotingCommand {
        let core = &self.core;
        let v = core.topics.data_version();
        let wrapper = TopicConfigSerializeWrapper {
            data_version: WireDataVersion {
                counter: v.counter,
                state_version: v.state_version,
                timestamp: v.timestamp,
            },
            topic_config_table: core
                .topics
                .all()
                .iter()
                .map(|(k, c)| (k.clone(), to_wire(c)))
                .collect(),
            ..TopicConfigSerializeWrapper::default()
        };
        reply::json_body(&wrapper, false)
    }

    fn reset_offset(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: ResetOffsetRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        };
        let core = &self.core;
        let Some(topic) = core.topics.get(&h.topic) else {
            return reply::error(
                ResponseCode::TOPIC_NOT_EXIST,
                format!(
                    "[reset-offset] reset offset failed, no topic in this broker. topic={}",
                    h.topic
                ),
            );
        };
        if !core.groups.contains(&h.group) {
            return reply::error(
                ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!(
                    "[reset-offset] reset offset failed, no group in this broker. group={}",
                    h.group
                ),
            );
        }
        let queues: Vec<i32> = if h.queue_id >= 0 {
            vec![h.queue_id]
        } else {
            (0..topic.read_queue_nums).collect()
        };
        let store = &core.store;
        let mut table = BTreeMap::new();
        for q in queues {
            let target = match (h.queue_id >= 0, h.offset) {
                (true, Some(offset)) => Ok(offset),
                _ if h.timestamp == -1 => Ok(store.max_offset(&h.topic, q)),
                _ => store.offset_by_time(&h.topic, q, h.timestamp),
            };
            let target = match target {
                Ok(t) => t,
                Err(e) => return reply::error(ResponseCode::SYSTEM_ERROR, e.to_string()),
            };
            let current = core.offsets.query(&h.group, &h.topic, q);
            // Without force an offset only moves back (upstream `Broker2Client.resetOffset`).
            let offset = if h.is_force || current < 0 || target < current {
                target
            } else {
                current
            };
            core.offsets.assign_reset(&h.group, &h.topic, q, offset);
            table.insert(
                MessageQueue::new(h.topic.clone(), core.config.broker_name.clone(), q),
                offset,
            );
        }
        let body = ResetOffsetBody {
            offset_table: table,
        };
        let encoded = if request.language == LanguageCode::CPP {
            ResetOffsetBodyForC::from(&body).encode()
        } else {
            body.encode()
        };
        let encoded = match encoded {
            Ok(b) => b,
            Err(e) => return reply::error(ResponseCode::SYSTEM_ERROR, e.to_string()),
        };
        let notice_header = ResetOffsetRequestHeader {
            group: h.group.clone(),
            topic: h.topic.clone(),
            queue_id: h.queue_id,
            offset: h.offset,
            timestamp: h.timestamp,
            is_force: h.is_force,
            ..ResetOffsetRequestHeader::default()
        };
        let channels = core.clients.consumer_channels(&h.group);
        for c in &channels {
            let notice = reply::broker_request(RequestCode::RESET_CONSUMER_CLIENT_OFFSET)
                .with_header(&notice_header)
                .with_body(encoded.clone());
            if !c.send_oneway(notice) {
                warn!(group = %h.group, peer = %c.peer(), "RESET_CONSUMER_CLIENT_OFFSET not sent");
            }
        }
        info!(group = %h.group, topic = %h.topic, queues = body.offset_table.len(),
            consumers = channels.len(), "offsets reset");
        match body.encode() {
            Ok(b) => reply::success().with_body(b),
            Err(e) => reply::error(ResponseCode::SYSTEM_ERROR, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_patches() {
        let mut a = BTreeMap::new();
        apply_attributes(&mut a, "+message.type=FIFO, +x=1").unwrap();
        apply_attributes(&mut a, "-x").unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a["message.type"], "FIFO");
        assert!(apply_attributes(&mut a, "y=2").is_err());
    }
}
