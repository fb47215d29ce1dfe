//! Consumer offsets and queue offsets: QUERY_CONSUMER_OFFSET (14),
//! UPDATE_CONSUMER_OFFSET (15), SEARCH_OFFSET_BY_TIMESTAMP (29), GET_MAX_OFFSET (30),
//! GET_MIN_OFFSET (31), GET_EARLIEST_MSG_STORETIME (32).

use super::macros::command_header;
use super::{BoundaryType, RpcBase};

command_header! {
    /// Asks for a group's stored offset of one queue.
    pub struct QueryConsumerOffsetRequestHeader {
        /// Consumer group.
        consumer_group: String = required "consumerGroup",
        /// Topic.
        topic: String = required "topic",
        /// Queue id.
        queue_id: i32 = required "queueId",
        /// Whether the broker may answer 0 for a queue that still holds message 0.
        set_zero_if_not_found: Option<bool> = optional "setZeroIfNotFound",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// A stored consumer offset.
    pub struct QueryConsumerOffsetResponseHeader {
        /// The offset.
        offset: i64 = required "offset",
    }
}

command_header! {
    /// Stores a group's offset of one queue (usually oneway).
    pub struct UpdateConsumerOffsetRequestHeader {
        /// Consumer group.
        consumer_group: String = required "consumerGroup",
        /// Topic.
        topic: String = required "topic",
        /// Queue id.
        queue_id: i32 = required "queueId",
        /// Next offset to consume.
        commit_offset: i64 = required "commitOffset",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Asks for a queue's max offset (its entry count).
    pub struct GetMaxOffsetRequestHeader {
        /// Topic.
        topic: String = required "topic",
        /// Queue id.
        queue_id: i32 = required "queueId",
        /// Whether to count only committed (replicated) entries; a Java primitive
        /// defaulting to true.
        committed: bool = primitive "committed" => true,
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// A queue's max offset: the next logical offset to be written.
    pub struct GetMaxOffsetResponseHeader {
        /// The offset.
        offset: i64 = required "offset",
    }
}

command_header! {
    /// Asks for a queue's min offset.
    pub struct GetMinOffsetRequestHeader {
        /// Topic.
        topic: String = required "topic",
        /// Queue id.
        queue_id: i32 = required "queueId",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// A queue's min offset.
    pub struct GetMinOffsetResponseHeader {
        /// The offset.
        offset: i64 = required "offset",
    }
}

command_header! {
    /// Finds the offset of the first (or last) message stored at a timestamp.
    pub struct SearchOffsetRequestHeader {
        /// Topic.
        topic: String = required "topic",
        /// Queue id.
        queue_id: i32 = required "queueId",
        /// Store timestamp, ms.
        timestamp: i64 = required "timestamp",
        /// Which boundary; absent means lower.
        boundary_type: Option<BoundaryType> = optional "boundaryType",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// The offset found by a timestamp search.
    pub struct SearchOffsetResponseHeader {
        /// The offset.
        offset: i64 = required "offset",
    }
}

command_header! {
    /// Asks for the store time of a queue's oldest message.
    pub struct GetEarliestMsgStoretimeRequestHeader {
        /// Topic.
        topic: String = required "topic",
        /// Queue id.
        queue_id: i32 = required "queueId",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// The store time of a queue's oldest message.
    pub struct GetEarliestMsgStoretimeResponseHeader {
        /// Store timestamp, ms.
        timestamp: i64 = required "timestamp",
    }
}
