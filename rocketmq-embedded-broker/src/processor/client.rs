//! Client membership (upstream `ClientManageProcessor` + part of `ConsumerManageProcessor`):
//! HEART_BEAT (34), UNREGISTER_CLIENT (35), GET_CONSUMER_LIST_BY_GROUP (38),
//! CHECK_CLIENT_CONFIG (46).

use std::sync::Arc;

use async_trait::async_trait;
use rocketmq_sdk::protocol::body::register::perm;
use rocketmq_sdk::protocol::body::{
    CheckClientRequestBody, ConsumerListByGroupResponseBody, HeartbeatData, JsonBody,
    SubscriptionData,
};
use rocketmq_sdk::protocol::header::{
    ExpressionType, GetConsumerListByGroupRequestHeader, UnregisterClientRequestHeader,
};
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use tracing::{debug, warn};

use super::reply;
use crate::broker::topics::retry_topic;
use crate::broker::{BrokerCore, ClientInfo, ConsumerRegistration};
use crate::server::{RequestContext, RequestProcessor};

/// Response ext field: the broker understands heartbeat V2 (fingerprints).
const IS_SUPPORT_HEART_BEAT_V2: &str = "IS_SUPPORT_HEART_BEAT_V2";
/// Response ext field: the subscriptions changed, send them in full next time.
const IS_SUB_CHANGE: &str = "IS_SUB_CHANGE";
/// Topic sysFlag bit for unit-mode subscriptions (`TopicSysFlag.buildSysFlag(false, true)`).
const FLAG_UNIT_SUB: i32 = 0x2;

pub(crate) struct ClientProcessor {
    core: Arc<BrokerCore>,
}

impl ClientProcessor {
    pub(crate) fn new(core: Arc<BrokerCore>) -> Self {
        ClientProcessor { core }
    }
}

#[async_trait]
impl RequestProcessor for ClientProcessor {
    async fn process(
        &self,
        ctx: &RequestContext,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        Some(match request.request_code() {
            RequestCode::HEART_BEAT => self.heartbeat(ctx, &request),
            RequestCode::UNREGISTER_CLIENT => self.unregister(ctx, &request),
            RequestCode::CHECK_CLIENT_CONFIG => self.check_client_config(&request),
            _ => self.consumer_list(&request),
        })
    }
}

impl ClientProcessor {
    fn heartbeat(&self, ctx: &RequestContext, request: &RemotingCommand) -> RemotingCommand {
        let data = match HeartbeatData::decode(&request.body) {
            Ok(d) => d,
            Err(e) => return reply::bad_body("heartbeat", &e),
        };
        let core = &self.core;
        let info = ClientInfo {
            channel: ctx.channel.clone(),
            client_id: data.client_id.clone(),
            language: request.language,
            version: request.version,
        };
        let v2 = data.heartbeat_fingerprint != 0;
        let mut sub_change = !v2;
        for consumer in &data.consumer_data_set {
            if core
                .clients
                .swap_fingerprint(&consumer.group_name, data.heartbeat_fingerprint)
                && v2
            {
                sub_change = true;
            }
            let Some(group) = core.groups.find_or_create(&consumer.group_name) else {
                continue;
            };
            let has_order_topic = consumer
                .subscription_data_set
                .iter()
                .any(|s| core.topics.get(&s.topic).is_some_and(|t| t.order));
            let sys_flag = if consumer.unit_mode { FLAG_UNIT_SUB } else { 0 };
            let (mut retry, created) = core.topics.create_if_absent(
                &retry_topic(&consumer.group_name),
                group.retry_queue_nums,
                perm::READ | perm::WRITE,
                sys_flag,
            );
            if has_order_topic && !retry.order {
                retry.order = true;
                core.topics.upsert(retry);
                core.register();
            } else if created {
                core.register();
            }
            let subscriptions =
                (!(v2 && data.without_sub)).then_some(consumer.subscription_data_set.as_slice());
            if let Some(subs) = subscriptions {
                self.compile_sql(&consumer.group_name, subs);
            }
            let changed = core.clients.register_consumer(
                ConsumerRegistration {
                    group: &consumer.group_name,
                    consume_type: consumer.consume_type,
                    message_model: consumer.message_model,
                    consume_from_where: consumer.consume_from_where,
                    subscriptions,
                    notify_enabled: group.notify_consumer_ids_changed_enable,
                },
                info.clone(),
            );
            debug!(group = %consumer.group_name, client = %data.client_id, changed, "consumer heartbeat");
        }
        for producer in &data.producer_data_set {
            core.clients
                .register_producer(&producer.group_name, info.clone());
        }
        let mut response = reply::success();
        response.ext_fields.insert(IS_SUPPORT_HEART_BEAT_V2, "true");
        response
            .ext_fields
            .insert(IS_SUB_CHANGE, sub_change.to_string());
        response
    }

    /// Compiles the group's SQL92 subscriptions now, as upstream's
    /// `ConsumerFilterManager.register` does on heartbeats, so an invalid expression is
    /// logged when first seen; its pulls then answer SUBSCRIPTION_PARSE_FAILED.
    fn compile_sql(&self, group: &str, subscriptions: &[SubscriptionData]) {
        if !self.core.config.enable_property_filter {
            return;
        }
        for sub in subscriptions {
            if !matches!(sub.expression_type, ExpressionType::Sql92) {
                continue;
            }
            let (compiled, fresh) = self.core.selectors.lookup(&sub.sub_string);
            if let (Err(e), true) = (compiled.as_ref(), fresh) {
                warn!(group, topic = %sub.topic, expression = %sub.sub_string, error = %e,
                    "SQL92 subscription does not compile; its pulls will fail");
            }
        }
    }

    /// Upstream `checkClientConfig`: a consumer's start-up check of a non-tag
    /// subscription. SYSTEM_ERROR when property filtering is off, SUBSCRIPTION_PARSE_FAILED
    /// with the parser's message when the expression does not compile.
    fn check_client_config(&self, request: &RemotingCommand) -> RemotingCommand {
        let body = match CheckClientRequestBody::decode(&request.body) {
            Ok(b) => b,
            Err(e) => return reply::bad_body("check client config", &e),
        };
        let Some(sub) = body.subscription_data else {
            return reply::success();
        };
        let kind = &sub.expression_type;
        if kind.is_tag() {
            return reply::success();
        }
        if !self.core.config.enable_property_filter {
            return reply::error(
                ResponseCode::SYSTEM_ERROR,
                format!("The broker does not support consumer to filter message by {kind}"),
            );
        }
        if !matches!(kind, ExpressionType::Sql92) {
            return reply::error(
                ResponseCode::SUBSCRIPTION_PARSE_FAILED,
                format!("unknown filter expression type {kind}"),
            );
        }
        match self.core.selectors.get(&sub.sub_string).as_ref() {
            Ok(_) => reply::success(),
            Err(e) => {
                warn!(group = %body.group, client = %body.client_id, expression = %sub.sub_string,
                    error = %e, "client's SQL92 expression does not compile");
                reply::error(ResponseCode::SUBSCRIPTION_PARSE_FAILED, e.to_string())
            }
        }
    }

    fn unregister(&self, ctx: &RequestContext, request: &RemotingCommand) -> RemotingCommand {
        let h: UnregisterClientRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        };
        let core = &self.core;
        if let Some(group) = &h.producer_group {
            core.clients.unregister_producer(group, ctx.channel.id());
        }
        if let Some(group) = &h.consumer_group {
            let notify = core
                .groups
                .find_or_create(group)
                .is_none_or(|g| g.notify_consumer_ids_changed_enable);
            core.clients
                .unregister_consumer(group, ctx.channel.id(), notify);
        }
        reply::success()
    }

    fn consumer_list(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: GetConsumerListByGroupRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        };
        match self.core.clients.consumer_ids(&h.consumer_group) {
            Some(ids) => reply::json_body(
                &ConsumerListByGroupResponseBody {
                    consumer_id_list: ids,
                },
                false,
            ),
            None => reply::error(
                ResponseCode::SYSTEM_ERROR,
                format!("no consumer for this group, {}", h.consumer_group),
            ),
        }
    }
}
