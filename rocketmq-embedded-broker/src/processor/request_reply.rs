//! SEND_REPLY_MESSAGE (324) and SEND_REPLY_MESSAGE_V2 (325) (upstream
//! `ReplyMessageProcessor`): a replier's answer to a request is pushed to the requesting
//! client's connection as PUSH_REPLY_MESSAGE_TO_CLIENT (326), found by the reply's
//! `REPLY_TO_CLIENT` client id, and stored in the reply topic as well.
//!
//! As upstream: the replier's answer waits for the requester's acknowledgement of the push;
//! a push that fails (requester not connected, or it answered an error) makes the answer
//! SYSTEM_ERROR with upstream's remark, and the reply is stored either way.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rocketmq_sdk::producer::ReplyMessageRequestHeader;
use rocketmq_sdk::protocol::header::{SendMessageRequestHeaderV2, SendMessageResponseHeader};
use rocketmq_sdk::protocol::message::{Message, MessageExt, Properties, keys};
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use tracing::{debug, warn};

use super::reply;
use crate::broker::BrokerCore;
use crate::replication::BrokerRole;
use crate::server::{RequestContext, RequestProcessor};
use crate::store::PutStatus;

/// Upstream `Broker2Client.callClient` waits this long for the requester's answer.
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Upstream `storeReplyMessageEnable` (default true): replies are also stored in the
/// reply topic, where they can be looked up afterwards.
const STORE_REPLY_MESSAGE: bool = true;

pub(crate) struct ReplyProcessor {
    core: Arc<BrokerCore>,
    /// Picks queues for `queueId < 0`.
    next_queue: AtomicU32,
}

impl ReplyProcessor {
    pub(crate) fn new(core: Arc<BrokerCore>) -> Self {
        ReplyProcessor {
            core,
            next_queue: AtomicU32::new(0),
        }
    }
}

#[async_trait]
impl RequestProcessor for ReplyProcessor {
    async fn process(
        &self,
        ctx: &RequestContext,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        let header =
            match super::send::decode_send_header(&request, RequestCode::SEND_REPLY_MESSAGE) {
                Ok(h) => h,
                Err(bad) => return Some(bad),
            };
        Some(self.reply(ctx, &request, header).await)
    }
}

/// What pushing the reply to the requester came to.
enum Pushed {
    Ok,
    Failed(String),
}

impl ReplyProcessor {
    async fn reply(
        &self,
        ctx: &RequestContext,
        request: &RemotingCommand,
        header: SendMessageRequestHeaderV2,
    ) -> RemotingCommand {
        let core = &self.core;
        let mut response_header = SendMessageResponseHeader {
            msg_region: Some(core.config.region_id.clone()),
            trace_on: Some(core.config.trace_on),
            ..SendMessageResponseHeader::default()
        };
        if core.config.role == BrokerRole::Slave {
            return reply::error(
                ResponseCode::SERVICE_NOT_AVAILABLE,
                "this broker is a slave (broker id 1) and read-only",
            )
            .with_header(&response_header);
        }
        let topic_config = match super::send::msg_check(&self.core, ctx, &header) {
            Ok(c) => c,
            Err(response) => return response.with_header(&response_header),
        };
        let mut queue_id = header.queue_id;
        if queue_id < 0 {
            let n = self.next_queue.fetch_add(1, Ordering::Relaxed);
            queue_id = (n % topic_config.write_queue_nums.max(1) as u32) as i32;
        }
        if request.body.len() > core.config.max_message_size {
            return reply::error(
                ResponseCode::MESSAGE_ILLEGAL,
                format!(
                    "the message body is {} bytes, larger than the maximum message size {} bytes",
                    request.body.len(),
                    core.config.max_message_size
                ),
            )
            .with_header(&response_header);
        }
        let properties = Properties::decode_str(header.properties.as_deref().unwrap_or(""));
        let mut message = MessageExt::from(Message {
            topic: header.topic.clone(),
            flag: header.flag,
            properties,
            body: request.body.clone(),
            transaction_id: None,
        });
        message.queue_id = queue_id;
        message.sys_flag = header.sys_flag;
        message.born_timestamp = header.born_timestamp;
        message.born_host = ctx.channel.peer();
        message.reconsume_times = header.reconsume_times.unwrap_or(0);

        let (code, remark) = match self.push(ctx, &header, &message).await {
            Pushed::Ok => {
                // Upstream's placeholders, so a client decoding the header does not fail
                // when the reply is not stored.
                response_header.msg_id = "0".to_owned();
                response_header.queue_id = queue_id;
                response_header.queue_offset = 0;
                (ResponseCode::SUCCESS, None)
            }
            Pushed::Failed(remark) => (ResponseCode::SYSTEM_ERROR, Some(remark)),
        };
        if STORE_REPLY_MESSAGE {
            let result = core.store.put_message(message).await;
            match result.status {
                PutStatus::PutOk
                | PutStatus::FlushDiskTimeout
                | PutStatus::FlushSlaveTimeout
                | PutStatus::SlaveNotAvailable => {
                    response_header.msg_id = result.msg_ids.join(",");
                    response_header.queue_id = queue_id;
                    response_header.queue_offset = result.queue_offset;
                }
                // Upstream only logs a failed store: the push already answered the request.
                status => warn!(?status, detail = ?result.detail, "reply message not stored"),
            }
        }
        let response = RemotingCommand::new_response(code).with_header(&response_header);
        match remark {
            Some(r) => response.with_remark(r),
            None => response,
        }
    }

    /// Upstream `pushReplyMessage`: PUSH_REPLY_MESSAGE_TO_CLIENT to the connection of the
    /// client named by `REPLY_TO_CLIENT`, with `PUSH_REPLY_TIME` added to the properties.
    async fn push(
        &self,
        ctx: &RequestContext,
        header: &SendMessageRequestHeaderV2,
        message: &MessageExt,
    ) -> Pushed {
        let Some(requester) = message.property(keys::REPLY_TO_CLIENT) else {
            warn!("{} is null, can not reply message", keys::REPLY_TO_CLIENT);
            return Pushed::Failed(format!(
                "reply message properties[{}] is null",
                keys::REPLY_TO_CLIENT
            ));
        };
        let Some(channel) = self.core.clients.find_channel(requester) else {
            let remark = format!("push reply message fail, channel of <{requester}> not found.");
            warn!("{remark}");
            return Pushed::Failed(remark);
        };
        let now = self.core.clock.now_millis();
        // Upstream adds the push time to the map it then serializes; put it first, where
        // the Java broker's HashMap happens to put it (golden 326 frames).
        let mut properties = Properties::with_capacity(message.properties.len() + 1);
        properties.insert(keys::PUSH_REPLY_TIME, now.to_string());
        for (k, v) in message.properties.iter() {
            if k != keys::PUSH_REPLY_TIME {
                properties.insert(k, v);
            }
        }
        let properties = match properties.to_wire_string() {
            Ok(p) => p,
            Err(e) => {
                return Pushed::Failed(format!("push reply message to {requester}fail. ({e})"));
            }
        };
        let push_header = ReplyMessageRequestHeader {
            producer_group: header.producer_group.clone(),
            topic: header.topic.clone(),
            default_topic: header.default_topic.clone(),
            default_topic_queue_nums: header.default_topic_queue_nums,
            queue_id: header.queue_id,
            sys_flag: header.sys_flag,
            born_timestamp: header.born_timestamp,
            flag: header.flag,
            properties: Some(properties),
            reconsume_times: header.reconsume_times,
            unit_mode: header.unit_mode.unwrap_or(false),
            born_host: ctx.channel.peer().to_string(),
            store_host: self.core.addr.to_string(),
            store_timestamp: now,
        };
        let push = reply::broker_request(RequestCode::PUSH_REPLY_MESSAGE_TO_CLIENT)
            .with_header(&push_header)
            .with_body(message.body.clone());
        match channel.request(push, PUSH_TIMEOUT).await {
            Some(r) if r.response_code() == ResponseCode::SUCCESS => {
                debug!(requester, "reply pushed");
                Pushed::Ok
            }
            Some(r) => {
                warn!(requester, remark = ?r.remark, "push reply message returned a failure");
                Pushed::Failed(format!("push reply message to {requester}fail."))
            }
            None => {
                warn!(requester, peer = %channel.peer(), "push reply message failed: no answer");
                Pushed::Failed(format!("push reply message to {requester}fail."))
            }
        }
    }
}
