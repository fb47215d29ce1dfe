//! LOCK_BATCH_MQ (41), UNLOCK_BATCH_MQ (42) and offset reset
//! (INVOKE_BROKER_TO_RESET_OFFSET 222, RESET_CONSUMER_CLIENT_OFFSET 220).

use super::RpcBase;
use super::macros::command_header;

command_header! {
    /// LOCK_BATCH_MQ header: only the RPC base; the queues are in the body.
    pub struct LockBatchMqRequestHeader {
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// UNLOCK_BATCH_MQ header: only the RPC base; the queues are in the body.
    pub struct UnlockBatchMqRequestHeader {
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Resets a group's offsets of a topic to a timestamp (or an explicit offset).
    pub struct ResetOffsetRequestHeader {
        /// Consumer group.
        group: String = required "group",
        /// Topic.
        topic: String = required "topic",
        /// One queue, or -1 for all (a Java primitive).
        queue_id: i32 = primitive "queueId" => -1,
        /// Explicit offset.
        offset: Option<i64> = optional "offset",
        /// Target timestamp, ms.
        timestamp: i64 = required "timestamp",
        /// Whether to move offsets forward too; the key is literally `isForce`.
        is_force: bool = required "isForce",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}
