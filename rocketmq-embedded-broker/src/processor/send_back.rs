//! CONSUMER_SEND_MSG_BACK (36) (upstream `AbstractSendMessageProcessor.consumerSendMsgBack`):
//! a consumer gives a message back after a failed consumption; it is stored again in
//! `%RETRY%<group>` with a delay level (3 + reconsume times unless the consumer chose one),
//! or in `%DLQ%<group>` once the reconsume times reach the maximum (or for a negative level).

use std::sync::Arc;

use async_trait::async_trait;
use rocketmq_sdk::protocol::body::register::perm;
use rocketmq_sdk::protocol::header::ConsumerSendMsgBackRequestHeader;
use rocketmq_sdk::protocol::message::{DecodeOptions, MessageExt, decode_message_ext, keys};
use rocketmq_sdk::protocol::{RemotingCommand, ResponseCode};
use tracing::{debug, info};

use super::reply;
use crate::broker::BrokerCore;
use crate::broker::schedule::apply_delay;
use crate::broker::topics::dlq_topic;
use crate::server::{RequestContext, RequestProcessor};

/// The request version from which the header's `maxReconsumeTimes` is honoured (V3_4_9).
const V3_4_9: i16 = 121;

pub(crate) struct SendBackProcessor {
    core: Arc<BrokerCore>,
}

impl SendBackProcessor {
    pub(crate) fn new(core: Arc<BrokerCore>) -> Self {
        SendBackProcessor { core }
    }

    fn ensure_topic(&self, topic: &str, queues: i32) -> i32 {
        let (config, created) =
            self.core
                .topics
                .create_if_absent(topic, queues.max(1), perm::READ | perm::WRITE, 0);
        if created {
            self.core.register();
        }
        config.write_queue_nums.max(1)
    }
}

#[async_trait]
impl RequestProcessor for SendBackProcessor {
    async fn process(
        &self,
        ctx: &RequestContext,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        let core = &self.core;
        let h: ConsumerSendMsgBackRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return Some(reply::bad_header(&e)),
        };
        let Some(group) = core.groups.find_or_create(&h.group) else {
            return Some(reply::error(
                ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("subscription group not exist, {}", h.group),
            ));
        };
        if group.retry_queue_nums <= 0 {
            // Upstream: a group without retry queues just drops failures.
            return Some(reply::success());
        }
        let record = match core.store.message_by_offset(h.offset) {
            Ok(Some(r)) => r,
            _ => {
                return Some(reply::error(
                    ResponseCode::SYSTEM_ERROR,
                    format!("look message by offset failed, {}", h.offset),
                ));
            }
        };
        let opts = DecodeOptions::default().with_decompress_body(false);
        let old = match decode_message_ext(&record, &opts) {
            Ok(m) => m,
            Err(e) => return Some(reply::error(ResponseCode::SYSTEM_ERROR, e.to_string())),
        };
        let mut max = group.retry_max_times;
        if request.version >= V3_4_9
            && let Some(m) = h.max_reconsume_times
        {
            max = m;
        }
        let original_topic = old
            .property(keys::RETRY_TOPIC)
            .map(str::to_owned)
            .unwrap_or_else(|| old.topic.clone());
        let origin_id = old
            .property(keys::ORIGIN_MESSAGE_ID)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .or_else(|| h.origin_msg_id.clone().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| old.msg_id());
        let mut delay = h.delay_level;
        let to_dlq = old.reconsume_times >= max || delay < 0;
        let (topic, queue_id) = if to_dlq {
            let topic = dlq_topic(&h.group);
            self.ensure_topic(&topic, 1);
            delay = 0;
            (topic, 0)
        } else {
            let topic = rocketmq_sdk::protocol::topic::retry_topic(&h.group);
            let n = self.ensure_topic(&topic, group.retry_queue_nums);
            if delay == 0 {
                delay = 3 + old.reconsume_times;
            }
            let qid = (old.queue_offset.unsigned_abs() % n.unsigned_abs() as u64) as i32;
            (topic, qid)
        };
        let mut msg = MessageExt::from(old.message.clone());
        msg.message.topic = topic.clone();
        msg.queue_id = queue_id;
        msg.sys_flag = old.sys_flag;
        msg.born_timestamp = old.born_timestamp;
        msg.born_host = old.born_host;
        msg.reconsume_times = old.reconsume_times + 1;
        msg.put_property(keys::RETRY_TOPIC, original_topic.clone());
        msg.put_property(keys::ORIGIN_MESSAGE_ID, origin_id.clone());
        msg.remove_property(keys::REAL_TOPIC);
        msg.remove_property(keys::REAL_QID);
        msg.set_wait_store_msg_ok(false);
        if to_dlq {
            msg.remove_property(keys::DELAY);
            msg.put_property(keys::DLQ_ORIGIN_TOPIC, original_topic.clone());
            msg.put_property(keys::DLQ_ORIGIN_MESSAGE_ID, origin_id.clone());
            info!(group = %h.group, msg_id = %origin_id, reconsume = old.reconsume_times, max,
                peer = %ctx.channel.peer(), "message dead-lettered");
        } else {
            msg.set_delay_level(delay);
            apply_delay(&mut msg, core.delay_levels());
        }
        let result = core.store.put_message(msg).await;
        debug!(group = %h.group, topic, status = ?result.status, "send back stored");
        Some(match result.status {
            s if s.is_stored() => reply::success(),
            other => reply::error(
                ResponseCode::SYSTEM_ERROR,
                format!(
                    "send back failed: {other:?} {}",
                    result.detail.unwrap_or_default()
                ),
            ),
        })
    }
}
