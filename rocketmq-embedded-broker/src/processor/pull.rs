//! PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361) (upstream `PullMessageProcessor`,
//! `DefaultPullMessageResultHandler`, `PullRequestHoldService`): checks, tag and SQL92
//! filtering, the status/nextBeginOffset table, offset commits, server-side offset resets,
//! and long polling.
//!
//! Long polling: a pull that finds nothing and carries the SUSPEND flag is held in its own
//! task until a message arrives on its queue (the store's arrival notification wakes it, no
//! polling) or its `suspendTimeoutMillis` passes on the broker's clock; then it runs again
//! without suspending and that answer is sent. A message that does not pass the filter does
//! not end the hold.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rocketmq_sdk::protocol::body::SubscriptionData;
use rocketmq_sdk::protocol::body::heartbeat::MessageModel;
use rocketmq_sdk::protocol::body::register::perm;
use rocketmq_sdk::protocol::header::ExpressionType;
use rocketmq_sdk::protocol::header::pull::pull_sys_flag;
use rocketmq_sdk::protocol::header::{PullMessageRequestHeader, PullMessageResponseHeader};
use rocketmq_sdk::protocol::{RemotingCommand, ResponseCode};
use tracing::{Instrument, debug, info_span};

use super::reply;
use crate::broker::BrokerCore;
use crate::filter::SqlRecordFilter;
use crate::server::{RequestContext, RequestProcessor};
use crate::store::{GetResult, GetStatus, MessageFilter};

pub(crate) struct PullProcessor {
    core: Arc<BrokerCore>,
}

impl PullProcessor {
    pub(crate) fn new(core: Arc<BrokerCore>) -> Self {
        PullProcessor { core }
    }
}

/// One pass over a pull request.
struct Pass {
    response: RemotingCommand,
    /// The queue's max offset seen by the pass (a hold waits for anything beyond it).
    max_offset: i64,
}

#[async_trait]
impl RequestProcessor for PullProcessor {
    async fn process(
        &self,
        ctx: &RequestContext,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        let header: PullMessageRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return Some(reply::bad_header(&e)),
        };
        let span = info_span!(
            "pull",
            group = %header.consumer_group,
            topic = %header.topic,
            queue_id = header.queue_id,
            offset = header.queue_offset
        );
        self.pull(ctx, header).instrument(span).await
    }
}

impl PullProcessor {
    async fn pull(
        &self,
        ctx: &RequestContext,
        header: PullMessageRequestHeader,
    ) -> Option<RemotingCommand> {
        let first = self.pass(ctx, &header, true);
        let suspend = header.sys_flag & pull_sys_flag::SUSPEND != 0;
        if first.response.response_code() != ResponseCode::PULL_NOT_FOUND || !suspend {
            return Some(first.response);
        }
        let core = &self.core;
        let hold_ms = if core.config.long_polling_enable {
            header.suspend_timeout_millis.max(0)
        } else {
            i64::try_from(core.config.short_polling_time.as_millis()).unwrap_or(i64::MAX)
        };
        let deadline = core.clock.now_millis().saturating_add(hold_ms);
        let mut seen = first.max_offset.max(header.queue_offset);
        debug!(hold_ms, "pull suspended");
        let _held = core.hold_pull();
        loop {
            let now = core.clock.now_millis();
            if now >= deadline || !core.store.is_running() {
                break;
            }
            let remaining = Duration::from_millis(u64::try_from(deadline - now).unwrap_or(0));
            let arrived = tokio::select! {
                a = core.store.wait_for_message(&header.topic, header.queue_id, seen, remaining) => a,
                _ = ctx.channel.closed() => return None,
            };
            if !arrived {
                // Real time ran out; the loop re-reads the clock (a controlled clock may say
                // the hold is not over yet).
                continue;
            }
            let pass = self.pass(ctx, &header, false);
            match pass.response.response_code() {
                ResponseCode::PULL_NOT_FOUND | ResponseCode::PULL_RETRY_IMMEDIATELY => {
                    // Arrivals that do not match the filter keep the hold going.
                    seen = seen.max(pass.max_offset);
                }
                _ => return Some(pass.response),
            }
        }
        Some(self.pass(ctx, &header, false).response)
    }

    /// Upstream `processRequest`: everything but the hold.
    fn pass(
        &self,
        ctx: &RequestContext,
        h: &PullMessageRequestHeader,
        allow_suspend: bool,
    ) -> Pass {
        let fail = |response| Pass {
            response,
            max_offset: 0,
        };
        let core = &self.core;
        let group = &h.consumer_group;
        let topic = &h.topic;
        let Some(group_config) = core.groups.find_or_create(group) else {
            return fail(reply::error(
                ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("subscription group [{group}] does not exist"),
            ));
        };
        if !group_config.consume_enable {
            return fail(reply::error(
                ResponseCode::NO_PERMISSION,
                format!("subscription group no permission, {group}"),
            ));
        }
        let Some(topic_config) = core.topics.get(topic) else {
            return fail(reply::error(
                ResponseCode::TOPIC_NOT_EXIST,
                format!("topic[{topic}] not exist, apply first please!"),
            ));
        };
        if topic_config.perm & perm::READ == 0 {
            return fail(reply::error(
                ResponseCode::NO_PERMISSION,
                format!("the topic[{topic}] pulling message is forbidden"),
            ));
        }
        if h.queue_id < 0 || h.queue_id >= topic_config.read_queue_nums {
            return fail(reply::error(
                ResponseCode::INVALID_PARAMETER,
                format!(
                    "queueId[{}] is illegal, topic:[{topic}] topicConfig.readQueueNums:[{}] consumer:[{}]",
                    h.queue_id,
                    topic_config.read_queue_nums,
                    ctx.channel.peer()
                ),
            ));
        }
        let subscription = if h.sys_flag & pull_sys_flag::SUBSCRIPTION != 0 {
            let expression = h.subscription.as_deref().unwrap_or("*");
            match SubscriptionData::build(topic.clone(), expression, h.expression_type.clone()) {
                Ok(s) => {
                    core.clients.compensate_subscription(group, &s);
                    s
                }
                Err(_) => {
                    return fail(reply::error(
                        ResponseCode::SUBSCRIPTION_PARSE_FAILED,
                        "parse the consumer's subscription failed",
                    ));
                }
            }
        } else {
            let Some(model) = core.clients.group_model(group) else {
                return fail(reply::error(
                    ResponseCode::SUBSCRIPTION_NOT_EXIST,
                    format!(
                        "the consumer's group info not exist (group {group} sent no heartbeat to this broker)"
                    ),
                ));
            };
            if !group_config.consume_broadcast_enable && model == Some(MessageModel::Broadcasting) {
                return fail(reply::error(
                    ResponseCode::NO_PERMISSION,
                    format!("the consumer group[{group}] can not consume by broadcast way"),
                ));
            }
            let Some(sub) = core.clients.subscription(group, topic) else {
                return fail(reply::error(
                    ResponseCode::SUBSCRIPTION_NOT_EXIST,
                    format!("the consumer's subscription not exist (group {group}, topic {topic})"),
                ));
            };
            if sub.sub_version < h.sub_version {
                return fail(reply::error(
                    ResponseCode::SUBSCRIPTION_NOT_LATEST,
                    "the consumer's subscription not latest",
                ));
            }
            sub
        };
        let sql_filter = match sql_filter(core, &subscription) {
            Ok(f) => f,
            Err(response) => return fail(response),
        };

        let store = &core.store;
        let (status, result) = match core.offsets.take_reset(group, topic, h.queue_id) {
            Some(reset) => (
                "OFFSET_RESET",
                GetResultLite {
                    status: None,
                    next_begin_offset: reset,
                    min_offset: store.min_offset(topic, h.queue_id),
                    max_offset: store.max_offset(topic, h.queue_id),
                    body: None,
                },
            ),
            None => {
                let codes: Option<BTreeSet<i32>> =
                    (!subscription.is_sub_all()).then(|| subscription.code_set.clone());
                let tag_filter = move |tags_code: i64| {
                    codes
                        .as_ref()
                        .is_none_or(|c| c.contains(&(tags_code as i32)))
                };
                let filter: &dyn MessageFilter = match &sql_filter {
                    Some(f) => f,
                    None => &tag_filter,
                };
                let max_count = usize::try_from(h.max_msg_nums).unwrap_or(0).max(1);
                let max_bytes = h
                    .max_msg_bytes
                    .and_then(|b| usize::try_from(b).ok())
                    .filter(|b| *b > 0)
                    .unwrap_or(usize::MAX);
                match store.get_messages(
                    topic,
                    h.queue_id,
                    h.queue_offset,
                    max_count,
                    max_bytes,
                    Some(filter),
                ) {
                    Ok(r) => (status_name(r.status), GetResultLite::from(r)),
                    Err(e) => {
                        return fail(reply::error(
                            ResponseCode::SYSTEM_ERROR,
                            format!("store getMessage failed: {e}"),
                        ));
                    }
                }
            }
        };

        if allow_suspend && h.sys_flag & pull_sys_flag::COMMIT_OFFSET != 0 {
            core.offsets
                .commit(group, topic, h.queue_id, h.commit_offset);
        }

        let code = match result.status {
            None => ResponseCode::PULL_OFFSET_MOVED,
            Some(GetStatus::Found) => ResponseCode::SUCCESS,
            Some(GetStatus::NoMatchedMessage | GetStatus::MessageWasRemoving) => {
                ResponseCode::PULL_RETRY_IMMEDIATELY
            }
            Some(GetStatus::NoMatchedLogicQueue | GetStatus::NoMessageInQueue) => {
                if h.queue_offset != 0 {
                    ResponseCode::PULL_OFFSET_MOVED
                } else {
                    ResponseCode::PULL_NOT_FOUND
                }
            }
            Some(GetStatus::OffsetFoundNull | GetStatus::OffsetOverflowOne) => {
                ResponseCode::PULL_NOT_FOUND
            }
            Some(GetStatus::OffsetOverflowBadly | GetStatus::OffsetTooSmall) => {
                ResponseCode::PULL_OFFSET_MOVED
            }
        };
        // Fault injection: send the client back to the start of this range so it is
        // delivered again.
        let next_begin_offset =
            if code == ResponseCode::SUCCESS && core.faults.iter().any(|f| f.roll_duplicate()) {
                h.queue_offset
            } else {
                result.next_begin_offset
            };
        let header = PullMessageResponseHeader {
            suggest_which_broker_id: 0,
            next_begin_offset,
            min_offset: result.min_offset,
            max_offset: result.max_offset,
            topic_sys_flag: Some(topic_config.topic_sys_flag),
            group_sys_flag: Some(group_config.group_sys_flag),
            ..PullMessageResponseHeader::default()
        };
        let mut response = RemotingCommand::new_response(code)
            .with_remark(status)
            .with_header(&header);
        if code == ResponseCode::SUCCESS
            && let Some(body) = result.body
        {
            response.body = body;
        }
        debug!(?code, status, next = result.next_begin_offset, "pulled");
        Pass {
            response,
            max_offset: result.max_offset,
        }
    }
}

/// The record filter of an SQL92 subscription, `None` for a tag subscription, or the
/// error response: SYSTEM_ERROR when property filtering is off (what a Java broker with
/// `enablePropertyFilter=false` answers), SUBSCRIPTION_PARSE_FAILED for an unknown
/// language or, with the parser's message, an expression that does not compile.
fn sql_filter(
    core: &BrokerCore,
    subscription: &SubscriptionData,
) -> Result<Option<SqlRecordFilter>, RemotingCommand> {
    let kind = &subscription.expression_type;
    if kind.is_tag() {
        return Ok(None);
    }
    if !core.config.enable_property_filter {
        return Err(reply::error(
            ResponseCode::SYSTEM_ERROR,
            format!("The broker does not support consumer to filter message by {kind}"),
        ));
    }
    if !matches!(kind, ExpressionType::Sql92) {
        return Err(reply::error(
            ResponseCode::SUBSCRIPTION_PARSE_FAILED,
            format!("unknown filter expression type {kind}"),
        ));
    }
    let selector = core.selectors.get(&subscription.sub_string);
    if let Err(e) = selector.as_ref() {
        return Err(reply::error(
            ResponseCode::SUBSCRIPTION_PARSE_FAILED,
            format!("parse the consumer's SQL92 subscription failed: {e}"),
        ));
    }
    Ok(Some(SqlRecordFilter { selector }))
}

/// The parts of a get the response needs; `status: None` is upstream's `OFFSET_RESET`.
struct GetResultLite {
    status: Option<GetStatus>,
    next_begin_offset: i64,
    min_offset: i64,
    max_offset: i64,
    body: Option<bytes::Bytes>,
}

impl From<GetResult> for GetResultLite {
    fn from(r: GetResult) -> Self {
        let body = (r.status == GetStatus::Found).then(|| r.body());
        GetResultLite {
            status: Some(r.status),
            next_begin_offset: r.next_begin_offset,
            min_offset: r.min_offset,
            max_offset: r.max_offset,
            body,
        }
    }
}

/// `GetMessageStatus.name()`, which upstream puts in the remark.
fn status_name(s: GetStatus) -> &'static str {
    match s {
        GetStatus::Found => "FOUND",
        GetStatus::NoMatchedMessage => "NO_MATCHED_MESSAGE",
        GetStatus::MessageWasRemoving => "MESSAGE_WAS_REMOVING",
        GetStatus::OffsetFoundNull => "OFFSET_FOUND_NULL",
        GetStatus::OffsetOverflowBadly => "OFFSET_OVERFLOW_BADLY",
        GetStatus::OffsetOverflowOne => "OFFSET_OVERFLOW_ONE",
        GetStatus::OffsetTooSmall => "OFFSET_TOO_SMALL",
        GetStatus::NoMatchedLogicQueue => "NO_MATCHED_LOGIC_QUEUE",
        GetStatus::NoMessageInQueue => "NO_MESSAGE_IN_QUEUE",
    }
}
