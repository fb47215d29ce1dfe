//! Consumer-related bodies: GET_CONSUMER_LIST_BY_GROUP response,
//! CONSUME_MESSAGE_DIRECTLY result, GET_CONSUMER_RUNNING_INFO result.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::fastjson::object_key_map;
use super::lenient::{null_default, scalar, string_map};
use super::{JsonBody, MessageQueue, SubscriptionData};
use crate::protocol::header::macros::java_enum;

/// The client ids of a consumer group (`GetConsumerListByGroupResponseBody`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerListByGroupResponseBody {
    /// Client ids.
    #[serde(default, deserialize_with = "null_default")]
    pub consumer_id_list: Vec<String>,
}

impl JsonBody for ConsumerListByGroupResponseBody {
    const WHAT: &'static str = "GetConsumerListByGroupResponseBody";
}

java_enum! {
    /// Outcome of a direct consumption (`CMResult`).
    pub enum CMResult {
        /// Consumed.
        CrSuccess = "CR_SUCCESS",
        /// Reconsume later.
        CrLater = "CR_LATER",
        /// Orderly: rollback.
        CrRollback = "CR_ROLLBACK",
        /// Orderly: commit.
        CrCommit = "CR_COMMIT",
        /// The listener threw.
        CrThrowException = "CR_THROW_EXCEPTION",
        /// The listener returned null.
        CrReturnNull = "CR_RETURN_NULL",
    }
}

/// The answer to CONSUME_MESSAGE_DIRECTLY (`ConsumeMessageDirectlyResult`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumeMessageDirectlyResult {
    /// Auto commit (orderly); true upstream by default.
    #[serde(default = "default_true", deserialize_with = "null_true")]
    pub auto_commit: bool,
    /// Outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consume_result: Option<CMResult>,
    /// Whether the consumer is orderly.
    #[serde(default, deserialize_with = "scalar")]
    pub order: bool,
    /// Free text (e.g. an exception).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// Time spent, ms (the misspelling is upstream's).
    #[serde(default, deserialize_with = "scalar")]
    pub spent_time_mills: i64,
}

fn default_true() -> bool {
    true
}

fn null_true<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}

impl Default for ConsumeMessageDirectlyResult {
    fn default() -> Self {
        ConsumeMessageDirectlyResult {
            auto_commit: true,
            consume_result: None,
            order: false,
            remark: None,
            spent_time_mills: 0,
        }
    }
}

impl JsonBody for ConsumeMessageDirectlyResult {
    const WHAT: &'static str = "ConsumeMessageDirectlyResult";
}

/// State of one queue in a push consumer (`ProcessQueueInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[allow(missing_docs)] // Field names are upstream's and self-describing.
pub struct ProcessQueueInfo {
    pub cached_msg_count: i32,
    pub cached_msg_max_offset: i64,
    pub cached_msg_min_offset: i64,
    #[serde(rename = "cachedMsgSizeInMiB")]
    pub cached_msg_size_in_mib: i32,
    pub commit_offset: i64,
    /// Whether the queue was dropped (the misspelling is upstream's).
    pub droped: bool,
    pub last_consume_timestamp: i64,
    pub last_lock_timestamp: i64,
    pub last_pull_timestamp: i64,
    pub locked: bool,
    pub transaction_msg_count: i32,
    pub transaction_msg_max_offset: i64,
    pub transaction_msg_min_offset: i64,
    pub try_unlock_times: i64,
}

/// State of one queue in a POP consumer (`PopProcessQueueInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PopProcessQueueInfo {
    /// Whether the queue was dropped.
    pub droped: bool,
    /// Last pop time, ms.
    pub last_pop_timestamp: i64,
    /// Messages waiting for an ack.
    pub wait_ack_count: i32,
}

/// Per-topic consumption rates (`ConsumeStatus`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)] // Field names are upstream's and self-describing.
pub struct ConsumeStatus {
    #[serde(rename = "consumeFailedMsgs")]
    pub consume_failed_msgs: i64,
    #[serde(rename = "consumeFailedTPS")]
    pub consume_failed_tps: f64,
    #[serde(rename = "consumeOKTPS")]
    pub consume_ok_tps: f64,
    #[serde(rename = "consumeRT")]
    pub consume_rt: f64,
    #[serde(rename = "pullRT")]
    pub pull_rt: f64,
    #[serde(rename = "pullTPS")]
    pub pull_tps: f64,
}

/// Well-known keys of [`ConsumerRunningInfo::properties`].
pub mod running_info_props {
    /// Name server address.
    pub const PROP_NAMESERVER_ADDR: &str = "PROP_NAMESERVER_ADDR";
    /// Consume thread pool core size.
    pub const PROP_THREADPOOL_CORE_SIZE: &str = "PROP_THREADPOOL_CORE_SIZE";
    /// Whether the consumer is orderly.
    pub const PROP_CONSUME_ORDERLY: &str = "PROP_CONSUMEORDERLY";
    /// Consume type name.
    pub const PROP_CONSUME_TYPE: &str = "PROP_CONSUME_TYPE";
    /// Client version.
    pub const PROP_CLIENT_VERSION: &str = "PROP_CLIENT_VERSION";
    /// Consumer start time, ms.
    pub const PROP_CONSUMER_START_TIMESTAMP: &str = "PROP_CONSUMER_START_TIMESTAMP";
}

/// A consumer's self-report, the GET_CONSUMER_RUNNING_INFO answer (`ConsumerRunningInfo`),
/// kept minimal.
///
/// `mqTable` and `mqPopTable` are MessageQueue-keyed, so [`JsonBody::encode`] writes them
/// with fastjson object keys; there is no standard-JSON form.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerRunningInfo {
    /// Thread dump, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jstack: Option<String>,
    /// POP queues.
    #[serde(default, deserialize_with = "object_key_map::deserialize")]
    pub mq_pop_table: BTreeMap<MessageQueue, PopProcessQueueInfo>,
    /// Queues being consumed.
    #[serde(default, deserialize_with = "object_key_map::deserialize")]
    pub mq_table: BTreeMap<MessageQueue, ProcessQueueInfo>,
    /// Client properties ([`running_info_props`]).
    #[serde(default, deserialize_with = "string_map")]
    pub properties: BTreeMap<String, String>,
    /// Topic → rates.
    #[serde(default, deserialize_with = "null_default")]
    pub status_table: BTreeMap<String, ConsumeStatus>,
    /// Subscriptions.
    #[serde(default, deserialize_with = "null_default")]
    pub subscription_set: Vec<SubscriptionData>,
    /// Free-form user info.
    #[serde(default, deserialize_with = "null_default")]
    pub user_consumer_info: BTreeMap<String, String>,
}

impl JsonBody for ConsumerRunningInfo {
    const WHAT: &'static str = "ConsumerRunningInfo";
}
