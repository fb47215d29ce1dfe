//! PULL_MESSAGE (11) / LITE_PULL_MESSAGE (361) (`PullMessage{Request,Response}Header`).

use super::macros::command_header;
use super::{ExpressionType, RpcBase};

/// Pull sysFlag bits (`PullSysFlag`).
pub mod pull_sys_flag {
    /// The broker stores `commitOffset`.
    pub const COMMIT_OFFSET: i32 = 0x1;
    /// Long polling allowed.
    pub const SUSPEND: i32 = 0x2;
    /// Use the subscription in the request rather than the heartbeat's.
    pub const SUBSCRIPTION: i32 = 0x4;
    /// Legacy class filter.
    pub const CLASS_FILTER: i32 = 0x8;
    /// Sent with LITE_PULL_MESSAGE.
    pub const LITE_PULL: i32 = 0x10;

    /// Builds a flag word like `PullSysFlag.buildSysFlag`.
    pub fn build(
        commit_offset: bool,
        suspend: bool,
        subscription: bool,
        class_filter: bool,
        lite_pull: bool,
    ) -> i32 {
        let mut flag = 0;
        if commit_offset {
            flag |= COMMIT_OFFSET;
        }
        if suspend {
            flag |= SUSPEND;
        }
        if subscription {
            flag |= SUBSCRIPTION;
        }
        if class_filter {
            flag |= CLASS_FILTER;
        }
        if lite_pull {
            flag |= LITE_PULL;
        }
        flag
    }
}

command_header! {
    /// The pull request header.
    pub struct PullMessageRequestHeader {
        /// Consumer group.
        consumer_group: String = required "consumerGroup",
        /// Topic.
        topic: String = required "topic",
        /// Queue id.
        queue_id: i32 = required "queueId",
        /// First logical offset wanted.
        queue_offset: i64 = required "queueOffset",
        /// Max messages (the pull batch size).
        max_msg_nums: i32 = required "maxMsgNums",
        /// [`pull_sys_flag`] bits.
        sys_flag: i32 = required "sysFlag",
        /// The client's in-memory consume offset.
        commit_offset: i64 = required "commitOffset",
        /// How long the broker may hold the request (push 15000, lite 20000).
        suspend_timeout_millis: i64 = required "suspendTimeoutMillis",
        /// Subscription expression, only with the subscription flag.
        subscription: Option<String> = optional "subscription",
        /// Subscription version (the subscription's creation time).
        sub_version: i64 = required "subVersion",
        /// Filter language.
        expression_type: Option<ExpressionType> = optional "expressionType",
        /// Max bytes to return.
        max_msg_bytes: Option<i32> = optional "maxMsgBytes",
        /// Proxy request source.
        request_source: Option<i32> = optional "requestSource",
        /// Client id forwarded by the proxy (the typo is upstream's).
        proxy_forward_client_id: Option<String> = optional "proxyFrowardClientId",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// The pull response header; the remark carries the `GetMessageStatus` name.
    pub struct PullMessageResponseHeader {
        /// Broker id to pull from next (0 = master).
        suggest_which_broker_id: i64 = required "suggestWhichBrokerId",
        /// Offset to pull from next.
        next_begin_offset: i64 = required "nextBeginOffset",
        /// Queue min offset.
        min_offset: i64 = required "minOffset",
        /// Queue max offset.
        max_offset: i64 = required "maxOffset",
        /// Offset delta (static topics).
        offset_delta: Option<i64> = optional "offsetDelta",
        /// Topic sysFlag.
        topic_sys_flag: Option<i32> = optional "topicSysFlag",
        /// Group sysFlag.
        group_sys_flag: Option<i32> = optional "groupSysFlag",
        /// Forbidden type (ACL).
        forbidden_type: Option<i32> = optional "forbiddenType",
    }
}
