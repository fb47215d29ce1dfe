//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320)
//! (`SendMessageRequestHeader(V2)`, `SendMessageResponseHeader`).

use super::RpcBase;
use super::macros::command_header;

/// `MixAll.AUTO_CREATE_TOPIC_KEY_TOPIC`: the template topic Java producers name in
/// `defaultTopic`.
pub const DEFAULT_TOPIC: &str = "TBW102";

/// Java's `defaultTopicQueueNums` producer default.
pub const DEFAULT_TOPIC_QUEUE_NUMS: i32 = 4;

command_header! {
    /// The long-named send header, used with SEND_MESSAGE (10) when the Java property
    /// `sendSmartMsg` is off.
    ///
    /// Convert to the compact [`SendMessageRequestHeaderV2`] with `From`/`Into`; the
    /// target broker name travels as `bname` here and as `n` there.
    pub struct SendMessageRequestHeader {
        /// Producer group.
        producer_group: String = required "producerGroup",
        /// Target topic.
        topic: String = required "topic",
        /// Template topic for auto-creation.
        default_topic: String = required "defaultTopic" => DEFAULT_TOPIC.to_owned(),
        /// Queue count of an auto-created topic.
        default_topic_queue_nums: i32 = required "defaultTopicQueueNums" => DEFAULT_TOPIC_QUEUE_NUMS,
        /// Target queue; negative lets the broker pick one.
        queue_id: i32 = required "queueId",
        /// Message sysFlag (compression, transaction bits).
        sys_flag: i32 = required "sysFlag",
        /// Producer clock at send, ms.
        born_timestamp: i64 = required "bornTimestamp",
        /// User flag.
        flag: i32 = required "flag",
        /// The properties string.
        properties: Option<String> = optional "properties",
        /// Reconsume count, for `%RETRY%` topics.
        reconsume_times: Option<i32> = optional "reconsumeTimes",
        /// Unit mode.
        unit_mode: Option<bool> = optional "unitMode",
        /// Whether the body is a batch.
        batch: Option<bool> = optional "batch",
        /// Max reconsume times, for `%RETRY%` topics.
        max_reconsume_times: Option<i32> = optional "maxReconsumeTimes",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// The compact send header (keys `a`..`n`), the Java default, used with
    /// SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320).
    pub struct SendMessageRequestHeaderV2 {
        /// `a`: producer group.
        producer_group: String = required "a",
        /// `b`: target topic.
        topic: String = required "b",
        /// `c`: template topic for auto-creation.
        default_topic: String = required "c" => DEFAULT_TOPIC.to_owned(),
        /// `d`: queue count of an auto-created topic.
        default_topic_queue_nums: i32 = required "d" => DEFAULT_TOPIC_QUEUE_NUMS,
        /// `e`: target queue; negative lets the broker pick one.
        queue_id: i32 = required "e",
        /// `f`: message sysFlag.
        sys_flag: i32 = required "f",
        /// `g`: producer clock at send, ms.
        born_timestamp: i64 = required "g",
        /// `h`: user flag.
        flag: i32 = required "h",
        /// `i`: the properties string.
        properties: Option<String> = optional "i",
        /// `j`: reconsume count.
        reconsume_times: Option<i32> = optional "j",
        /// `k`: unit mode (a primitive, so always present, in 4.9.x).
        unit_mode: Option<bool> = optional "k",
        /// `l`: max reconsume times.
        max_reconsume_times: Option<i32> = optional "l",
        /// `m`: whether the body is a batch (always present in 4.9.x).
        batch: Option<bool> = optional "m",
        /// `n`: target broker name.
        broker_name: Option<String> = optional "n",
        /// RPC base fields (JSON headers carry them too; the fast binary encoding does not).
        rpc: RpcBase = base,
    }
}

/// Like `createSendMessageRequestHeaderV2`: `bname` becomes `n`. The other RPC base
/// fields are carried over (upstream drops them), so V1 → V2 → V1 is lossless.
impl From<SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(v1: SendMessageRequestHeader) -> Self {
        let mut rpc = v1.rpc;
        let broker_name = rpc.bname.take();
        SendMessageRequestHeaderV2 {
            producer_group: v1.producer_group,
            topic: v1.topic,
            default_topic: v1.default_topic,
            default_topic_queue_nums: v1.default_topic_queue_nums,
            queue_id: v1.queue_id,
            sys_flag: v1.sys_flag,
            born_timestamp: v1.born_timestamp,
            flag: v1.flag,
            properties: v1.properties,
            reconsume_times: v1.reconsume_times,
            unit_mode: v1.unit_mode,
            max_reconsume_times: v1.max_reconsume_times,
            batch: v1.batch,
            broker_name,
            rpc,
        }
    }
}

/// Like `createSendMessageRequestHeaderV1`: `n` becomes `bname` (falling back to a
/// `bname` the V2 header may carry itself).
impl From<SendMessageRequestHeaderV2> for SendMessageRequestHeader {
    fn from(v2: SendMessageRequestHeaderV2) -> Self {
        let mut rpc = v2.rpc;
        if v2.broker_name.is_some() {
            rpc.bname = v2.broker_name;
        }
        SendMessageRequestHeader {
            producer_group: v2.producer_group,
            topic: v2.topic,
            default_topic: v2.default_topic,
            default_topic_queue_nums: v2.default_topic_queue_nums,
            queue_id: v2.queue_id,
            sys_flag: v2.sys_flag,
            born_timestamp: v2.born_timestamp,
            flag: v2.flag,
            properties: v2.properties,
            reconsume_times: v2.reconsume_times,
            unit_mode: v2.unit_mode,
            batch: v2.batch,
            max_reconsume_times: v2.max_reconsume_times,
            rpc,
        }
    }
}

/// `MSG_REGION` value a Java broker sends by default.
pub const DEFAULT_REGION: &str = "DefaultRegion";

command_header! {
    /// The send response header.
    ///
    /// `MSG_REGION` and `TRACE_ON` are not fields of the Java class: the broker adds them
    /// to every send response, and the Java client reads the response's `extFields`
    /// without a null check, so a broker must send at least one key. They are modelled
    /// here so that [`SendMessageResponseHeader::with_broker_extras`] can add them.
    pub struct SendMessageResponseHeader {
        /// The offset message id (store host + commit-log offset); comma-joined for a
        /// batch.
        msg_id: String = required "msgId",
        /// Queue the message was stored in.
        queue_id: i32 = required "queueId",
        /// Consume-queue offset of the (first) message.
        queue_offset: i64 = required "queueOffset",
        /// The message's `UNIQ_KEY`.
        transaction_id: Option<String> = optional "transactionId",
        /// Unique id of an inner batch.
        batch_uniq_id: Option<String> = optional "batchUniqId",
        /// Handle to recall a delayed message (5.3+).
        recall_handle: Option<String> = optional "recallHandle",
        /// Broker region (`MSG_REGION`).
        msg_region: Option<String> = optional "MSG_REGION",
        /// Whether the broker traces messages (`TRACE_ON`).
        trace_on: Option<bool> = optional "TRACE_ON",
    }
}

impl SendMessageResponseHeader {
    /// Sets `MSG_REGION` to `DefaultRegion` and `TRACE_ON` to `true`, as a Java broker
    /// does by default.
    pub fn with_broker_extras(mut self) -> Self {
        self.msg_region = Some(DEFAULT_REGION.to_owned());
        self.trace_on = Some(true);
        self
    }
}
