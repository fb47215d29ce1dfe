//! Consumer and producer group administration (upstream `AdminBrokerProcessor`):
//! subscription group configs (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP 200,
//! GET_ALL_SUBSCRIPTIONGROUP_CONFIG 201, DELETE_SUBSCRIPTIONGROUP 207,
//! GET_SUBSCRIPTIONGROUP_CONFIG 352), connections (GET_CONSUMER_CONNECTION_LIST 203,
//! GET_PRODUCER_CONNECTION_LIST 204), QUERY_TOPIC_CONSUME_BY_WHO (300),
//! CLONE_GROUP_OFFSET (314), and the requests the broker relays to one consumer
//! (GET_CONSUMER_RUNNING_INFO 307 for `mqadmin consumerStatus`, CONSUME_MESSAGE_DIRECTLY
//! 309 for `mqadmin consumeMessage`), upstream's `callConsumer`.

use rocketmq_sdk::protocol::body::{
    Connection, ConsumerConnection, GroupList, JsonBody, ProducerConnection,
    SubscriptionGroupConfig, SubscriptionGroupWrapper,
};
use rocketmq_sdk::protocol::header::{
    CloneGroupOffsetRequestHeader, ConsumeMessageDirectlyResultRequestHeader,
    DeleteSubscriptionGroupRequestHeader, GetConsumerConnectionListRequestHeader,
    GetConsumerRunningInfoRequestHeader, GetProducerConnectionListRequestHeader,
    GetSubscriptionGroupConfigRequestHeader, QueryTopicConsumeByWhoRequestHeader,
};
use rocketmq_sdk::protocol::message::id::decode_offset_msg_id;
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{info, warn};

use super::reply;
use crate::broker::{BrokerCore, ClientInfo};

/// How long a relayed request waits for the consumer (upstream `Broker2Client.callClient`).
const CALL_CLIENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The answer upstream's `validateSlave` gives to changes sent to a slave.
pub(crate) fn refuse_on_slave(core: &BrokerCore) -> Option<RemotingCommand> {
    (core.config.role == crate::replication::BrokerRole::Slave).then(|| {
        reply::error(
            ResponseCode::SYSTEM_ERROR,
            "Can't modify topic or subscription group from slave broker, please execute it from master broker.",
        )
    })
}

/// The store's group table and the wire's wrapper have the same JSON shape.
fn convert<A: Serialize, B: DeserializeOwned>(a: &A) -> Result<B, String> {
    serde_json::to_value(a)
        .and_then(serde_json::from_value)
        .map_err(|e| e.to_string())
}

fn connection(m: &ClientInfo) -> Connection {
    Connection {
        client_addr: m.channel.peer().to_string(),
        client_id: m.client_id.clone(),
        language: m.language.name().unwrap_or("OTHER").to_owned(),
        version: i32::from(m.version),
    }
}

/// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: the body is the group's config.
pub(crate) fn update_group(core: &BrokerCore, request: &RemotingCommand) -> RemotingCommand {
    if let Some(r) = refuse_on_slave(core) {
        return r;
    }
    if request.body.is_empty() {
        return reply::success();
    }
    let config = match SubscriptionGroupConfig::decode(&request.body) {
        Ok(c) => c,
        Err(e) => return reply::bad_body("SubscriptionGroupConfig", &e),
    };
    if config.group_name.trim().is_empty() {
        return reply::error(ResponseCode::SYSTEM_ERROR, "the group name is blank");
    }
    core.groups.upsert(config);
    reply::success()
}

/// GET_ALL_SUBSCRIPTIONGROUP_CONFIG: the `SubscriptionGroupWrapper`.
pub(crate) fn all_groups(core: &BrokerCore) -> RemotingCommand {
    match convert::<_, SubscriptionGroupWrapper>(&core.groups.snapshot()) {
        Ok(w) => reply::json_body(&w, false),
        Err(e) => reply::error(ResponseCode::SYSTEM_ERROR, e),
    }
}

/// GET_SUBSCRIPTIONGROUP_CONFIG: one group's config.
pub(crate) fn get_group(core: &BrokerCore, request: &RemotingCommand) -> RemotingCommand {
    let h: GetSubscriptionGroupConfigRequestHeader = match request.decode_header() {
        Ok(h) => h,
        Err(e) => return reply::bad_header(&e),
    };
    let Some(config) = core.groups.get(&h.group) else {
        return reply::error(ResponseCode::SYSTEM_ERROR, "No group in this broker");
    };
    reply::json_body(&config, false)
}

/// DELETE_SUBSCRIPTIONGROUP: drops the config and, with `removeOffset`, the offsets.
pub(crate) fn delete_group(core: &BrokerCore, request: &RemotingCommand) -> RemotingCommand {
    if let Some(r) = refuse_on_slave(core) {
        return r;
    }
    let h: DeleteSubscriptionGroupRequestHeader = match request.decode_header() {
        Ok(h) => h,
        Err(e) => return reply::bad_header(&e),
    };
    let existed = core.groups.delete(&h.group_name);
    let offsets = if h.remove_offset {
        core.offsets.remove_group(&h.group_name)
    } else {
        0
    };
    info!(group = %h.group_name, existed, offset_topics = offsets, "DELETE_SUBSCRIPTIONGROUP");
    reply::success()
}

/// GET_CONSUMER_CONNECTION_LIST: the online members with their subscriptions.
pub(crate) fn consumer_connections(
    core: &BrokerCore,
    request: &RemotingCommand,
) -> RemotingCommand {
    let h: GetConsumerConnectionListRequestHeader = match request.decode_header() {
        Ok(h) => h,
        Err(e) => return reply::bad_header(&e),
    };
    let Some(g) = core.clients.consumer_group(&h.consumer_group) else {
        return reply::error(
            ResponseCode::CONSUMER_NOT_ONLINE,
            format!("the consumer group[{}] not online", h.consumer_group),
        );
    };
    let body = ConsumerConnection {
        connection_set: g.members.iter().map(connection).collect(),
        consume_from_where: g.consume_from_where,
        consume_type: g.consume_type,
        message_model: g.message_model,
        subscription_table: g.subscriptions,
    };
    reply::json_body(&body, false)
}

/// GET_PRODUCER_CONNECTION_LIST: the online members of a producer group.
pub(crate) fn producer_connections(
    core: &BrokerCore,
    request: &RemotingCommand,
) -> RemotingCommand {
    let h: GetProducerConnectionListRequestHeader = match request.decode_header() {
        Ok(h) => h,
        Err(e) => return reply::bad_header(&e),
    };
    let Some(members) = core.clients.producer_members(&h.producer_group) else {
        return reply::error(
            ResponseCode::SYSTEM_ERROR,
            format!("the producer group[{}] not exist", h.producer_group),
        );
    };
    let body = ProducerConnection {
        connection_set: members.iter().map(connection).collect(),
    };
    reply::json_body(&body, false)
}

/// QUERY_TOPIC_CONSUME_BY_WHO: online groups subscribing to the topic plus groups with
/// offsets on it.
pub(crate) fn consumed_by(core: &BrokerCore, request: &RemotingCommand) -> RemotingCommand {
    let h: QueryTopicConsumeByWhoRequestHeader = match request.decode_header() {
        Ok(h) => h,
        Err(e) => return reply::bad_header(&e),
    };
    let mut groups = core.clients.groups_subscribing(&h.topic);
    groups.extend(core.offsets.groups_of(&h.topic));
    reply::json_body(&GroupList { group_list: groups }, false)
}

/// CLONE_GROUP_OFFSET: copies the source group's offsets to the destination group, on
/// one topic or every topic of the source. Upstream passes the header's (possibly blank)
/// topic to each copy, so a blank topic copies nothing there; here each topic is copied.
pub(crate) fn clone_offsets(core: &BrokerCore, request: &RemotingCommand) -> RemotingCommand {
    let h: CloneGroupOffsetRequestHeader = match request.decode_header() {
        Ok(h) => h,
        Err(e) => return reply::bad_header(&e),
    };
    let topics = match h.topic.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => std::iter::once(t.to_owned()).collect(),
        _ => core.offsets.topics_of(&h.src_group),
    };
    let mut copied = 0;
    for topic in topics {
        if !core.topics.contains(&topic) {
            warn!(topic = %topic, "cloneGroupOffset: topic config not exist");
            continue;
        }
        if !h.offline
            && core.clients.subscription_count(&h.src_group) > 0
            && core.clients.subscription(&h.src_group, &topic).is_none()
        {
            warn!(group = %h.src_group, topic = %topic, "cloneGroupOffset: not subscribed");
            continue;
        }
        if core
            .offsets
            .clone_offsets(&h.src_group, &h.dest_group, &topic)
        {
            copied += 1;
        }
    }
    info!(src = %h.src_group, dest = %h.dest_group, topics = copied, "CLONE_GROUP_OFFSET");
    reply::success()
}

/// Relays `request` (its ext fields and body) to the consumer `client_id` of `group` and
/// returns the consumer's answer (upstream `callConsumer`).
async fn call_consumer(
    core: &BrokerCore,
    code: RequestCode,
    request: &RemotingCommand,
    group: &str,
    client_id: &str,
) -> RemotingCommand {
    let member = core
        .clients
        .consumer_group(group)
        .and_then(|g| g.members.into_iter().find(|m| m.client_id == client_id));
    let Some(member) = member else {
        return reply::error(
            ResponseCode::SYSTEM_ERROR,
            format!("The Consumer <{group}> <{client_id}> not online"),
        );
    };
    let mut relayed = reply::broker_request(code).with_body(request.body.clone());
    relayed.ext_fields = request.ext_fields.clone();
    match member.channel.request(relayed, CALL_CLIENT_TIMEOUT).await {
        // The consumer's answer goes back as ours (the dispatcher sets opaque and flag).
        Some(answer) => answer,
        None if member.channel.is_closed() => reply::error(
            ResponseCode::SYSTEM_ERROR,
            format!("invoke consumer <{group}> <{client_id}> Exception: connection closed"),
        ),
        None => reply::error(
            ResponseCode::CONSUME_MSG_TIMEOUT,
            format!("consumer <{group}> <{client_id}> Timeout: no answer in 10000ms"),
        ),
    }
}

/// GET_CONSUMER_RUNNING_INFO: the consumer's own `ConsumerRunningInfo`.
pub(crate) async fn consumer_running_info(
    core: &BrokerCore,
    request: &RemotingCommand,
) -> RemotingCommand {
    let h: GetConsumerRunningInfoRequestHeader = match request.decode_header() {
        Ok(h) => h,
        Err(e) => return reply::bad_header(&e),
    };
    call_consumer(
        core,
        RequestCode::GET_CONSUMER_RUNNING_INFO,
        request,
        &h.consumer_group,
        &h.client_id,
    )
    .await
}

/// CONSUME_MESSAGE_DIRECTLY: the stored message named by `msgId` (an offset message id)
/// is handed to the consumer, which consumes it and reports the outcome.
pub(crate) async fn consume_directly(
    core: &BrokerCore,
    request: &RemotingCommand,
) -> RemotingCommand {
    let h: ConsumeMessageDirectlyResultRequestHeader = match request.decode_header() {
        Ok(h) => h,
        Err(e) => return reply::bad_header(&e),
    };
    let mut relayed = request.clone();
    relayed
        .ext_fields
        .insert("brokerName", core.config.broker_name.clone());
    // Upstream leaves the body empty when the id does not decode or names no record.
    if let Some(offset) = h
        .msg_id
        .as_deref()
        .and_then(|id| decode_offset_msg_id(id).ok())
        .map(|id| id.commit_log_offset)
        && let Ok(Some(record)) = core.store.message_by_offset(offset)
    {
        relayed.body = record;
    }
    let client_id = h.client_id.unwrap_or_default();
    call_consumer(
        core,
        RequestCode::CONSUME_MESSAGE_DIRECTLY,
        &relayed,
        &h.consumer_group,
        &client_id,
    )
    .await
}
