//! Administration (upstream `AdminBrokerProcessor`): UPDATE_AND_CREATE_TOPIC (17),
//! GET_ALL_TOPIC_CONFIG (21) and INVOKE_BROKER_TO_RESET_OFFSET (222).
//!
//! An offset reset is done the 5.x way (`useServerSideResetOffset`): the broker stores the
//! new offsets and the next pull of each queue answers PULL_OFFSET_MOVED with the reset
//! offset. Clients that only understand the 4.x way are also sent
//! RESET_CONSUMER_CLIENT_OFFSET (220) with the MessageQueue-keyed offset table.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use rocketmq_sdk::protocol::body::register::DataVersion as WireDataVersion;
use rocketmq_sdk::protocol::body::{
    JsonBody, ResetOffsetBody, ResetOffsetBodyForC, TopicConfigSerializeWrapper,
};
use rocketmq_sdk::protocol::header::{CreateTopicRequestHeader, ResetOffsetRequestHeader};
use rocketmq_sdk::protocol::message::MessageQueue;
use rocketmq_sdk::protocol::{LanguageCode, RemotingCommand, RequestCode, ResponseCode};
use tracing::{info, warn};

use super::reply;
use crate::broker::BrokerCore;
use crate::broker::topics::{
    AUTO_CREATE_TOPIC_KEY, NOT_ALLOWED_SEND_TOPICS, to_wire, validate_topic,
};
use crate::server::{RequestContext, RequestProcessor};
use crate::store::TopicConfig;

pub(crate) struct AdminProcessor {
    core: Arc<BrokerCore>,
}

impl AdminProcessor {
    pub(crate) fn new(core: Arc<BrokerCore>) -> Self {
        AdminProcessor { core }
    }
}

#[async_trait]
impl RequestProcessor for AdminProcessor {
    async fn process(
        &self,
        _ctx: &RequestContext,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        Some(match request.request_code() {
            RequestCode::UPDATE_AND_CREATE_TOPIC => self.create_topic(&request),
            RequestCode::GET_ALL_TOPIC_CONFIG => self.all_topic_config(),
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
