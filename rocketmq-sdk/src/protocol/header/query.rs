//! QUERY_MESSAGE (12) and VIEW_MESSAGE_BY_ID (33).

use super::RpcBase;
use super::macros::command_header;

command_header! {
    /// Query by key (or by unique key) over a time range.
    pub struct QueryMessageRequestHeader {
        /// Topic.
        topic: String = required "topic",
        /// The key (or the `UNIQ_KEY` when `unique_key_query` is set).
        key: String = required "key",
        /// Max results (forced to the broker's `defaultQueryMaxNum` for unique-key
        /// queries).
        max_num: i32 = required "maxNum",
        /// Range start, ms.
        begin_timestamp: i64 = required "beginTimestamp",
        /// Range end, ms.
        end_timestamp: i64 = required "endTimestamp",
        /// The extra ext field `_UNIQUE_KEY_QUERY`, not a field of the Java class.
        unique_key_query: Option<bool> = optional "_UNIQUE_KEY_QUERY",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// The query response header; the body holds the matching records.
    pub struct QueryMessageResponseHeader {
        /// When the index was last updated, ms.
        index_last_update_timestamp: i64 = required "indexLastUpdateTimestamp",
        /// Commit-log offset the index covers.
        index_last_update_phyoffset: i64 = required "indexLastUpdatePhyoffset",
    }
}

command_header! {
    /// Fetch one record by commit-log offset; sent to the broker named in the offset
    /// message id.
    pub struct ViewMessageRequestHeader {
        /// Topic (optional).
        topic: Option<String> = optional "topic",
        /// Commit-log offset.
        offset: i64 = required "offset",
    }
}
