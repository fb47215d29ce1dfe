//! SEND_MESSAGE (10, V1 header), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320)
//! (upstream `SendMessageProcessor` + `AbstractSendMessageProcessor.msgCheck`): validate,
//! auto-create the topic, route retries past their limit to the DLQ, store, answer with the
//! offset msgId and queue position.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use rocketmq_sdk::protocol::body::register::perm;
use rocketmq_sdk::protocol::header::{
    SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader,
};
use rocketmq_sdk::protocol::message::batch::BatchIter;
use rocketmq_sdk::protocol::message::{Message, MessageExt, Properties, keys, sysflag};
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use tracing::{Instrument, Span, debug, field, info_span};

use super::reply;
use crate::broker::BrokerCore;
use crate::broker::topics::{NOT_ALLOWED_SEND_TOPICS, RETRY_PREFIX, dlq_topic, validate_topic};
use crate::replication::{BrokerRole, ReplicaOutcome};
use crate::server::{RequestContext, RequestProcessor};
use crate::store::{PutResult, PutStatus, TopicConfig};

/// Longest topic a batch may target (V1 record magic).
const MAX_BATCH_TOPIC_LEN: usize = 127;

pub(crate) struct SendProcessor {
    core: Arc<BrokerCore>,
    /// State of the random draw for `queueId < 0` (upstream `randomQueueId`:
    /// `ThreadLocalRandom.nextInt(99999999) % writeQueueNums`).
    rng: AtomicU64,
}

impl SendProcessor {
    pub(crate) fn new(core: Arc<BrokerCore>) -> Self {
        SendProcessor {
            core,
            rng: AtomicU64::new(rocketmq_sdk::protocol::message::id::random_seed() as u64),
        }
    }

    /// A uniformly random queue, as upstream picks one (not round-robin: a client that
    /// relies on the spread sees the same distribution as against a Java broker).
    fn pick_queue(&self, queues: i32) -> i32 {
        // splitmix64 over an atomic counter: lock-free, and a good enough spread.
        let mut z = self
            .rng
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z % queues.max(1) as u64) as i32
    }
}

/// The send header of `request`: the long-named V1 form for `v1_code` (SEND_MESSAGE,
/// SEND_REPLY_MESSAGE), the short-named V2 form otherwise; a bad header's error response.
pub(super) fn decode_send_header(
    request: &RemotingCommand,
    v1_code: RequestCode,
) -> Result<SendMessageRequestHeaderV2, RemotingCommand> {
    if request.request_code() == v1_code {
        request
            .decode_header::<SendMessageRequestHeader>()
            .map(Into::into)
            .map_err(|e| reply::bad_header(&e))
    } else {
        request
            .decode_header::<SendMessageRequestHeaderV2>()
            .map_err(|e| reply::bad_header(&e))
    }
}

#[async_trait]
impl RequestProcessor for SendProcessor {
    async fn process(
        &self,
        ctx: &RequestContext,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        let header = match decode_send_header(&request, RequestCode::SEND_MESSAGE) {
            Ok(h) => h,
            Err(bad) => return Some(bad),
        };
        let batch =
            request.request_code() == RequestCode::SEND_BATCH_MESSAGE || header.batch == Some(true);
        let span = info_span!(
            "send",
            topic = %header.topic,
            queue_id = field::Empty,
            msg_id = field::Empty,
            batch
        );
        Some(
            self.send(ctx, &request, header, batch)
                .instrument(span)
                .await,
        )
    }
}

impl SendProcessor {
    async fn send(
        &self,
        ctx: &RequestContext,
        request: &RemotingCommand,
        header: SendMessageRequestHeaderV2,
        batch: bool,
    ) -> RemotingCommand {
        let core = &self.core;
        if core.config.role == BrokerRole::Slave {
            // Upstream's store refuses puts on a slave: SERVICE_NOT_AVAILABLE, with the
            // usual remark ("... messages are put to the slave ...").
            let refused = PutResult::error(
                PutStatus::ServiceNotAvailable,
                "this broker is a slave (broker id 1) and read-only",
            );
            return self.respond(refused, header.queue_id, None);
        }
        let topic_config = match self.check(ctx, &header) {
            Ok(c) => c,
            Err(response) => return response,
        };
        let mut topic = header.topic.clone();
        let mut queue_id = header.queue_id;
        if queue_id < 0 {
            queue_id = self.pick_queue(topic_config.write_queue_nums);
        }
        let mut properties = Properties::decode_str(header.properties.as_deref().unwrap_or(""));
        let reconsume_times = header.reconsume_times.unwrap_or(0);
        if batch {
            if topic.starts_with(RETRY_PREFIX) {
                return reply::error(
                    ResponseCode::MESSAGE_ILLEGAL,
                    format!("batch request does not support retry group {topic}"),
                );
            }
            if topic.len() > MAX_BATCH_TOPIC_LEN {
                return reply::error(
                    ResponseCode::MESSAGE_ILLEGAL,
                    format!("message topic length too long {}", topic.len()),
                );
            }
        } else if topic.starts_with(RETRY_PREFIX) {
            match self.retry_or_dlq(request, &header, &mut properties) {
                Ok(Some(dlq)) => {
                    topic = dlq;
                    queue_id = 0;
                }
                Ok(None) => {}
                Err(response) => return response,
            }
        }
        let mut sys_flag = header.sys_flag;
        if topic_config.topic_filter_type == "MULTI_TAG" {
            sys_flag |= sysflag::MULTI_TAGS;
        }
        Span::current().record("queue_id", queue_id);

        let max = core.config.max_message_size;
        let messages = if batch {
            match self.expand_batch(ctx, request, &header, &topic, queue_id, sys_flag) {
                Ok(m) => m,
                Err(response) => return response,
            }
        } else {
            if request.body.len() > max {
                return body_too_large(request.body.len(), max);
            }
            properties.insert(keys::CLUSTER, core.config.cluster_name.clone());
            if properties.get(keys::UNIQ_KEY).is_none_or(str::is_empty) {
                properties.insert(keys::UNIQ_KEY, core.uniq_ids.next_id());
            }
            let mut ext = MessageExt::from(Message {
                topic: topic.clone(),
                flag: header.flag,
                properties,
                body: request.body.clone(),
                transaction_id: None,
            });
            ext.queue_id = queue_id;
            ext.sys_flag = sys_flag;
            ext.born_timestamp = header.born_timestamp;
            ext.born_host = ctx.channel.peer();
            ext.reconsume_times = reconsume_times;
            if !crate::broker::timer::apply_timer(&mut ext, core.clock.now_millis()) {
                crate::broker::schedule::apply_delay(&mut ext, core.delay_levels());
            }
            vec![ext]
        };
        let transaction_id = if batch {
            Properties::decode_str(header.properties.as_deref().unwrap_or(""))
                .get(keys::UNIQ_KEY)
                .map(str::to_owned)
        } else {
            messages[0].message.uniq_key().map(str::to_owned)
        };
        let wait = messages.iter().any(|m| m.message.wait_store_msg_ok());
        let result = if batch {
            core.store.put_messages(messages).await
        } else {
            let message = messages.into_iter().next().unwrap_or_default();
            if crate::transaction::is_half(&message) {
                crate::transaction::put_half(core, message).await
            } else {
                core.store.put_message(message).await
            }
        };
        let result = self.replicate(result, wait).await;
        self.respond(result, queue_id, transaction_id)
    }

    /// Upstream `handleHA`: a SYNC_MASTER answers SEND_OK only once its slave has the
    /// message. Wakes the transfer to the slave in either mode.
    async fn replicate(&self, mut result: PutResult, wait: bool) -> PutResult {
        let Some(ha) = &self.core.config.ha else {
            return result;
        };
        ha.notify_new_data();
        if result.status != PutStatus::PutOk || !wait {
            return result;
        }
        let end = result.physical_offset + result.wrote_bytes as i64;
        let master_end = self.core.store.commit_log_max_offset();
        result.status = match ha.await_replica(end, master_end).await {
            ReplicaOutcome::Replicated => PutStatus::PutOk,
            ReplicaOutcome::SlaveNotAvailable => PutStatus::SlaveNotAvailable,
            ReplicaOutcome::FlushSlaveTimeout => PutStatus::FlushSlaveTimeout,
        };
        result
    }

    fn check(
        &self,
        ctx: &RequestContext,
        header: &SendMessageRequestHeaderV2,
    ) -> Result<TopicConfig, RemotingCommand> {
        msg_check(&self.core, ctx, header)
    }

    /// Upstream `handleRetryAndDLQ`: a retry past the group's limit (or of a group holding
    /// order locks) goes to `%DLQ%group` instead. Returns the DLQ topic when rerouted.
    fn retry_or_dlq(
        &self,
        request: &RemotingCommand,
        header: &SendMessageRequestHeaderV2,
        properties: &mut Properties,
    ) -> Result<Option<String>, RemotingCommand> {
        let core = &self.core;
        let group = &header.topic[RETRY_PREFIX.len()..];
        let Some(group_config) = core.groups.find_or_create(group) else {
            return Err(reply::error(
                ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("subscription group not exist, {group}"),
            ));
        };
        let mut max = group_config.retry_max_times;
        // V3_4_9 (ordinal 121) and later honour the request's value.
        if request.version >= 121
            && let Some(m) = header.max_reconsume_times
        {
            max = m;
        }
        let reconsume = header.reconsume_times.unwrap_or(0);
        // 5.x: `>` (the client may have counted up already), and since 5.1 (ISSUE #6163) a
        // group holding orderly locks goes straight to the DLQ. 4.9.x uses `>=`.
        if reconsume > max || core.locks.group_holds_locks(group) {
            let dlq = dlq_topic(group);
            let (_, created) = core
                .topics
                .create_if_absent(&dlq, 1, perm::READ | perm::WRITE, 0);
            if created {
                core.register();
            }
            properties.insert(keys::DELAY, "0");
            debug!(
                group,
                reconsume, max, "retry beyond its limit goes to the DLQ"
            );
            return Ok(Some(dlq));
        }
        Ok(None)
    }

    /// Expands a batch body into messages sharing the header's topic, queue and born info.
    fn expand_batch(
        &self,
        ctx: &RequestContext,
        request: &RemotingCommand,
        header: &SendMessageRequestHeaderV2,
        topic: &str,
        queue_id: i32,
        sys_flag: i32,
    ) -> Result<Vec<MessageExt>, RemotingCommand> {
        let core = &self.core;
        let max = core.config.max_message_size;
        let mut out = Vec::new();
        for inner in BatchIter::new(&request.body) {
            let inner = inner.map_err(|e| {
                reply::error(
                    ResponseCode::MESSAGE_ILLEGAL,
                    format!("the batch body cannot be decoded: {e}"),
                )
            })?;
            if inner.body().len() > max {
                return Err(body_too_large(inner.body().len(), max));
            }
            let mut properties = inner.properties();
            properties.insert(keys::CLUSTER, core.config.cluster_name.clone());
            if properties.get(keys::UNIQ_KEY).is_none_or(str::is_empty) {
                properties.insert(keys::UNIQ_KEY, core.uniq_ids.next_id());
            }
            let mut ext = MessageExt::from(Message {
                topic: topic.to_owned(),
                flag: inner.flag(),
                properties,
                body: request.body.slice(inner.body_range()),
                transaction_id: None,
            });
            ext.queue_id = queue_id;
            ext.sys_flag = sys_flag;
            ext.born_timestamp = header.born_timestamp;
            ext.born_host = ctx.channel.peer();
            ext.reconsume_times = header.reconsume_times.unwrap_or(0);
            out.push(ext);
        }
        if out.is_empty() {
            return Err(reply::error(
                ResponseCode::MESSAGE_ILLEGAL,
                "the batch body holds no message",
            ));
        }
        Ok(out)
    }

    /// Upstream `handlePutMessageResult`.
    fn respond(
        &self,
        result: PutResult,
        queue_id: i32,
        transaction_id: Option<String>,
    ) -> RemotingCommand {
        let max_kib = self.core.config.max_message_size / 1024;
        let detail = result.detail.clone().unwrap_or_default();
        let code = match result.status {
            PutStatus::PutOk => ResponseCode::SUCCESS,
            PutStatus::FlushDiskTimeout => ResponseCode::FLUSH_DISK_TIMEOUT,
            PutStatus::FlushSlaveTimeout => ResponseCode::FLUSH_SLAVE_TIMEOUT,
            PutStatus::SlaveNotAvailable => ResponseCode::SLAVE_NOT_AVAILABLE,
            PutStatus::ServiceNotAvailable => {
                return reply::error(
                    ResponseCode::SERVICE_NOT_AVAILABLE,
                    format!(
                        "service not available now. It may be caused by one of the following reasons: \
                         the broker's disk is full, messages are put to the slave, message store has \
                         been shut down, etc. ({detail})"
                    ),
                );
            }
            PutStatus::CreateMappedFileFailed => {
                return reply::error(
                    ResponseCode::SYSTEM_ERROR,
                    format!("create mapped file failed, server is busy or broken. ({detail})"),
                );
            }
            PutStatus::MessageIllegal | PutStatus::PropertiesSizeExceeded => {
                return reply::error(
                    ResponseCode::MESSAGE_ILLEGAL,
                    format!(
                        "the message is illegal, maybe msg body or properties length not matched. \
                         msg body length limit {max_kib}k, msg properties length limit 32k. ({detail})"
                    ),
                );
            }
            _ => {
                return reply::error(
                    ResponseCode::SYSTEM_ERROR,
                    format!("UNKNOWN_ERROR ({detail})"),
                );
            }
        };
        let code = match (code, self.core.forced_send_status()) {
            (ResponseCode::SUCCESS, Some(forced)) => forced,
            (code, _) => code,
        };
        let msg_id = result.msg_ids.join(",");
        Span::current().record("msg_id", msg_id.as_str());
        debug!(offset = result.queue_offset, ?code, "stored");
        let header = SendMessageResponseHeader {
            msg_id,
            queue_id,
            queue_offset: result.queue_offset,
            transaction_id,
            msg_region: Some(self.core.config.region_id.clone()),
            trace_on: Some(self.core.config.trace_on),
            ..SendMessageResponseHeader::default()
        };
        RemotingCommand::new_response(code).with_header(&header)
    }
}

fn body_too_large(len: usize, max: usize) -> RemotingCommand {
    reply::error(
        ResponseCode::MESSAGE_ILLEGAL,
        format!(
            "the message body is {len} bytes, larger than the maximum message size {max} bytes"
        ),
    )
}

/// Upstream `AbstractSendMessageProcessor.msgCheck`, shared by sends and replies as there:
/// topic name, forbidden topics, topic existence (auto-creating it), queue id range.
pub(super) fn msg_check(
    core: &BrokerCore,
    ctx: &RequestContext,
    header: &SendMessageRequestHeaderV2,
) -> Result<TopicConfig, RemotingCommand> {
    let topic = &header.topic;
    validate_topic(topic).map_err(|r| reply::error(ResponseCode::INVALID_PARAMETER, r))?;
    if NOT_ALLOWED_SEND_TOPICS.contains(&topic.as_str()) {
        return Err(reply::error(
            ResponseCode::NO_PERMISSION,
            format!("Sending message to topic[{topic}] is forbidden."),
        ));
    }
    let config = match core.topics.get(topic) {
        Some(c) => c,
        None => {
            let created = core.topics.create_in_send(
                topic,
                &header.default_topic,
                header.default_topic_queue_nums,
                0,
            );
            let created = created.or_else(|| {
                topic.starts_with(RETRY_PREFIX).then(|| {
                    core.topics
                        .create_if_absent(topic, 1, perm::READ | perm::WRITE, 0)
                })
            });
            match created {
                Some((config, new)) => {
                    if new {
                        core.register();
                    }
                    config
                }
                None => {
                    let why = if core.config.auto_create_topic_enable {
                        format!(
                            "the template topic {} cannot create topics",
                            header.default_topic
                        )
                    } else {
                        "topic auto-creation is disabled on this broker".to_owned()
                    };
                    return Err(reply::error(
                        ResponseCode::TOPIC_NOT_EXIST,
                        format!("topic[{topic}] not exist, apply first please! ({why})"),
                    ));
                }
            }
        }
    };
    let valid = config.write_queue_nums.max(config.read_queue_nums);
    if header.queue_id >= valid {
        return Err(reply::error(
            ResponseCode::INVALID_PARAMETER,
            format!(
                "request queueId[{}] is illegal, topic {} has {} read and {} write queues, Producer: {}",
                header.queue_id,
                topic,
                config.read_queue_nums,
                config.write_queue_nums,
                ctx.channel.peer()
            ),
        ));
    }
    if config.write_queue_nums <= 0 {
        return Err(reply::error(
            ResponseCode::NO_PERMISSION,
            format!("topic[{topic}] has no writable queue"),
        ));
    }
    Ok(config)
}
