//! Property names (Java `MessageConst`). The constant names drop Java's `PROPERTY_`
//! prefix; the values are the exact wire strings.

/// User keys, space separated; each one is indexed.
pub const KEYS: &str = "KEYS";
/// The tag, hashed into the consume queue.
pub const TAGS: &str = "TAGS";
/// `"true"` (the default when absent) waits for the store to flush before replying; `"false"` does not.
pub const WAIT: &str = "WAIT";
/// Delay level (1-based, broker `messageDelayLevel`).
pub const DELAY: &str = "DELAY";
/// Original topic of a retry message.
pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
/// Topic saved while a message waits in a schedule, half or timer topic.
pub const REAL_TOPIC: &str = "REAL_TOPIC";
/// Queue id saved while a message waits in a schedule, half or timer topic.
pub const REAL_QID: &str = "REAL_QID";
/// `"true"` on transactional half messages.
pub const TRAN_MSG: &str = "TRAN_MSG";
/// Producer group.
pub const PGROUP: &str = "PGROUP";
/// Queue min offset, added client-side after a pull.
pub const MIN_OFFSET: &str = "MIN_OFFSET";
/// Queue max offset, added client-side after a pull.
pub const MAX_OFFSET: &str = "MAX_OFFSET";
/// Legacy buyer id.
pub const BUYER_ID: &str = "BUYER_ID";
/// First msgId of a retried message.
pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
/// Legacy transfer flag.
pub const TRANSFER_FLAG: &str = "TRANSFER_FLAG";
/// Legacy correction flag.
pub const CORRECTION_FLAG: &str = "CORRECTION_FLAG";
/// Legacy MQ2 flag.
pub const MQ2_FLAG: &str = "MQ2_FLAG";
/// Reconsume count carried by retry sends.
pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
/// Broker region, added by the broker.
pub const MSG_REGION: &str = "MSG_REGION";
/// Broker trace switch, added by the broker (Java `PROPERTY_TRACE_SWITCH`).
pub const TRACE_ON: &str = "TRACE_ON";
/// Client unique message id (Java `PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX`), indexed.
pub const UNIQ_KEY: &str = "UNIQ_KEY";
/// Extended unique info.
pub const EXTEND_UNIQ_INFO: &str = "EXTEND_UNIQ_INFO";
/// Max reconsume times carried by retry sends.
pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
/// Client consume-timeout bookkeeping (Java `PROPERTY_CONSUME_START_TIMESTAMP`).
pub const CONSUME_START_TIME: &str = "CONSUME_START_TIME";
/// Number of inner messages (5.x inner batch).
pub const INNER_NUM: &str = "INNER_NUM";
/// Base queue offset (5.x inner batch).
pub const INNER_BASE: &str = "INNER_BASE";
/// Duplicate info.
pub const DUP_INFO: &str = "DUP_INFO";
/// Delay before the first transaction check.
pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
/// Queue offset of a half message.
pub const TRAN_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
/// Transaction id; equals UNIQ_KEY on half messages.
pub const TRANSACTION_ID: &str = "__transactionId__";
/// Broker transaction check counter.
pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
/// Instance id.
pub const INSTANCE_ID: &str = "INSTANCE_ID";
/// Request-reply correlation id.
pub const CORRELATION_ID: &str = "CORRELATION_ID";
/// Request-reply: client to deliver the reply to.
pub const REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
/// Request-reply time to live.
pub const TTL: &str = "TTL";
/// Request-reply arrival time.
pub const ARRIVE_TIME: &str = "ARRIVE_TIME";
/// Request-reply push time.
pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
/// Broker cluster name, added on store.
pub const CLUSTER: &str = "CLUSTER";
/// Message type (e.g. reply).
pub const MSG_TYPE: &str = "MSG_TYPE";
/// Pop checkpoint.
pub const POP_CK: &str = "POP_CK";
/// Pop checkpoint offset.
pub const POP_CK_OFFSET: &str = "POP_CK_OFFSET";
/// First pop time.
pub const FIRST_POP_TIME: &str = "1ST_POP_TIME";
/// Sharding key for ordered messages.
pub const SHARDING_KEY: &str = "__SHARDINGKEY";
/// Forward queue id.
pub const FORWARD_QUEUE_ID: &str = "PROPERTY_FORWARD_QUEUE_ID";
/// Redirect flag.
pub const REDIRECT: &str = "REDIRECT";
/// Light message queue multi-dispatch targets.
pub const INNER_MULTI_DISPATCH: &str = "INNER_MULTI_DISPATCH";
/// Light message queue multi-dispatch offsets.
pub const INNER_MULTI_QUEUE_OFFSET: &str = "INNER_MULTI_QUEUE_OFFSET";
/// Trace context.
pub const TRACE_CONTEXT: &str = "TRACE_CONTEXT";
/// 5.x timer: delay in seconds.
pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
/// 5.x timer: absolute delivery time in ms.
pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
/// 5.x timer: delay in ms.
pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
/// 5.x timer internal: enqueue time.
pub const TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
/// 5.x timer internal: dequeue time.
pub const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
/// 5.x timer internal: roll count.
pub const TIMER_ROLL_TIMES: &str = "TIMER_ROLL_TIMES";
/// 5.x timer internal: time out.
pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
/// 5.x timer internal: unique key of a deleted timer message.
pub const TIMER_DEL_UNIQKEY: &str = "TIMER_DEL_UNIQKEY";
/// 5.x timer internal: deletion time.
pub const TIMER_DEL_MS: &str = "TIMER_DEL_MS";
/// 5.x timer internal: delay level.
pub const TIMER_DELAY_LEVEL: &str = "TIMER_DELAY_LEVEL";
/// Born host as a property.
pub const BORN_HOST: &str = "__BORNHOST";
/// Born timestamp as a property.
pub const BORN_TIMESTAMP: &str = "BORN_TIMESTAMP";
/// Reserved CRC property written with `enabledAppendPropCRC`.
pub const CRC32: &str = "__CRC32#";
/// DLQ: the original topic.
pub const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
/// DLQ: the original message id.
pub const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";

/// Keys starting with this prefix are client-local: the broker never stores them.
pub const TRANSIENT_PREFIX: &str = "__RMQ.TRANSIENT.";
/// Transient key for the topic sysFlag, set by the client after a pull.
pub const TRANSIENT_TOPIC_CONFIG: &str = "__RMQ.TRANSIENT.TOPIC_SYS_FLAG";
/// Transient key for the group sysFlag, set by the client after a pull.
pub const TRANSIENT_GROUP_CONFIG: &str = "__RMQ.TRANSIENT.GROUP_SYS_FLAG";

/// Separator between the words of [`KEYS`].
pub const KEY_SEPARATOR: &str = " ";

/// Whether `key` is transient (never stored by the broker).
pub fn is_transient(key: &str) -> bool {
    key.starts_with(TRANSIENT_PREFIX)
}

/// Every system property name Java reserves (its `STRING_HASH_SET`), which user code must
/// not set through `putUserProperty`.
pub const SYSTEM_KEYS: &[&str] = &[
    TRACE_ON,
    MSG_REGION,
    KEYS,
    TAGS,
    WAIT,
    DELAY,
    RETRY_TOPIC,
    REAL_TOPIC,
    REAL_QID,
    TRAN_MSG,
    PGROUP,
    MIN_OFFSET,
    MAX_OFFSET,
    BUYER_ID,
    ORIGIN_MESSAGE_ID,
    TRANSFER_FLAG,
    CORRECTION_FLAG,
    MQ2_FLAG,
    RECONSUME_TIME,
    UNIQ_KEY,
    MAX_RECONSUME_TIMES,
    CONSUME_START_TIME,
    POP_CK,
    POP_CK_OFFSET,
    FIRST_POP_TIME,
    TRAN_PREPARED_QUEUE_OFFSET,
    DUP_INFO,
    EXTEND_UNIQ_INFO,
    INSTANCE_ID,
    CORRELATION_ID,
    REPLY_TO_CLIENT,
    TTL,
    ARRIVE_TIME,
    PUSH_REPLY_TIME,
    CLUSTER,
    MSG_TYPE,
    INNER_MULTI_QUEUE_OFFSET,
    TIMER_DELAY_MS,
    TIMER_DELAY_SEC,
    TIMER_DELIVER_MS,
    TIMER_ENQUEUE_MS,
    TIMER_DEQUEUE_MS,
    TIMER_ROLL_TIMES,
    TIMER_OUT_MS,
    TIMER_DEL_UNIQKEY,
    TIMER_DEL_MS,
    TIMER_DELAY_LEVEL,
    BORN_HOST,
    BORN_TIMESTAMP,
    DLQ_ORIGIN_TOPIC,
    DLQ_ORIGIN_MESSAGE_ID,
    CRC32,
];

/// Whether `key` is a reserved system property name.
pub fn is_system_key(key: &str) -> bool {
    SYSTEM_KEYS.contains(&key)
}
