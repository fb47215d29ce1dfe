//! Request and response codes (`RequestCode.java`, `ResponseCode.java`).
//!
//! Both are open newtypes over `i32`: a code this crate does not know survives a
//! decode/encode round trip unchanged, so a newer peer never makes us panic.

use std::fmt;

macro_rules! open_code {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$cmeta:meta])* $konst:ident = $value:expr, )* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i32);

        impl $name {
            $( $(#[$cmeta])* pub const $konst: $name = $name($value); )*

            /// The upstream constant name, or `None` for a code this crate does not know.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some(stringify!($konst)), )*
                    _ => None,
                }
            }

            /// The numeric value as sent on the wire.
            pub fn value(self) -> i32 {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}({})", n, self.0),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self, f)
            }
        }

        impl From<i32> for $name {
            fn from(v: i32) -> Self {
                $name(v)
            }
        }

        impl From<$name> for i32 {
            fn from(v: $name) -> i32 {
                v.0
            }
        }
    };
}

open_code! {
    /// A request code. Unknown values are kept as they are.
    RequestCode {
        /// Send with the V1 header.
        SEND_MESSAGE = 10,
        /// Pull messages (push consumers and the classic pull consumer).
        PULL_MESSAGE = 11,
        /// Query messages by key.
        QUERY_MESSAGE = 12,
        /// Query a broker's offset.
        QUERY_BROKER_OFFSET = 13,
        /// Read a group's committed offset.
        QUERY_CONSUMER_OFFSET = 14,
        /// Commit a group's offset.
        UPDATE_CONSUMER_OFFSET = 15,
        /// Create or update a topic on a broker.
        UPDATE_AND_CREATE_TOPIC = 17,
        /// List all topic configs of a broker.
        GET_ALL_TOPIC_CONFIG = 21,
        /// Update broker config.
        UPDATE_BROKER_CONFIG = 25,
        /// Read broker config.
        GET_BROKER_CONFIG = 26,
        /// Broker runtime statistics.
        GET_BROKER_RUNTIME_INFO = 28,
        /// Find the queue offset of a timestamp.
        SEARCH_OFFSET_BY_TIMESTAMP = 29,
        /// Next logical offset of a queue.
        GET_MAX_OFFSET = 30,
        /// Smallest logical offset of a queue.
        GET_MIN_OFFSET = 31,
        /// Store time of the earliest message of a queue.
        GET_EARLIEST_MSG_STORETIME = 32,
        /// Read one message by commit-log offset.
        VIEW_MESSAGE_BY_ID = 33,
        /// Client heartbeat with its producer and consumer groups.
        HEART_BEAT = 34,
        /// A client leaves.
        UNREGISTER_CLIENT = 35,
        /// A consumer hands a failed message back for retry.
        CONSUMER_SEND_MSG_BACK = 36,
        /// Second phase of a transaction (oneway).
        END_TRANSACTION = 37,
        /// Client ids of a consumer group.
        GET_CONSUMER_LIST_BY_GROUP = 38,
        /// Broker asks a producer for a transaction's state (oneway, broker to client).
        CHECK_TRANSACTION_STATE = 39,
        /// Broker tells consumers the group changed (oneway, broker to client).
        NOTIFY_CONSUMER_IDS_CHANGED = 40,
        /// Lock queues for orderly consumption.
        LOCK_BATCH_MQ = 41,
        /// Unlock queues.
        UNLOCK_BATCH_MQ = 42,
        /// All consumer offsets of a broker.
        GET_ALL_CONSUMER_OFFSET = 43,
        /// All delay-queue offsets of a broker.
        GET_ALL_DELAY_OFFSET = 45,
        /// Validate a client's subscription config.
        CHECK_CLIENT_CONFIG = 46,
        /// Store a KV config on the name server.
        PUT_KV_CONFIG = 100,
        /// Read a KV config from the name server.
        GET_KV_CONFIG = 101,
        /// Delete a KV config on the name server.
        DELETE_KV_CONFIG = 102,
        /// Broker registers with a name server.
        REGISTER_BROKER = 103,
        /// Broker leaves a name server.
        UNREGISTER_BROKER = 104,
        /// Route of a topic.
        GET_ROUTEINFO_BY_TOPIC = 105,
        /// Brokers and clusters known to a name server.
        GET_BROKER_CLUSTER_INFO = 106,
        /// Create or update a subscription group.
        UPDATE_AND_CREATE_SUBSCRIPTIONGROUP = 200,
        /// All subscription group configs of a broker.
        GET_ALL_SUBSCRIPTIONGROUP_CONFIG = 201,
        /// Per-queue offsets of a topic on a broker.
        GET_TOPIC_STATS_INFO = 202,
        /// Online connections of a consumer group.
        GET_CONSUMER_CONNECTION_LIST = 203,
        /// Online connections of a producer group.
        GET_PRODUCER_CONNECTION_LIST = 204,
        /// Name server: take write permission from a broker.
        WIPE_WRITE_PERM_OF_BROKER = 205,
        /// All topic names known to a name server.
        GET_ALL_TOPIC_LIST_FROM_NAMESERVER = 206,
        /// Delete a subscription group on a broker.
        DELETE_SUBSCRIPTIONGROUP = 207,
        /// Consume statistics of a group.
        GET_CONSUME_STATS = 208,
        /// Legacy offset reset in the consumer.
        RESET_CONSUMER_OFFSET_IN_CONSUMER = 211,
        /// Legacy offset reset in the broker.
        RESET_CONSUMER_OFFSET_IN_BROKER = 212,
        /// Delete a topic on a broker.
        DELETE_TOPIC_IN_BROKER = 215,
        /// Delete a topic's route on a name server.
        DELETE_TOPIC_IN_NAMESRV = 216,
        /// All KV configs of a namespace on a name server.
        GET_KVLIST_BY_NAMESPACE = 219,
        /// Broker tells a client to reset its offsets (oneway, broker to client).
        RESET_CONSUMER_CLIENT_OFFSET = 220,
        /// Ask a client for its consume status.
        GET_CONSUMER_STATUS_FROM_CLIENT = 221,
        /// Admin asks the broker to reset a group's offsets.
        INVOKE_BROKER_TO_RESET_OFFSET = 222,
        /// Admin asks the broker for a group's consume status in its clients.
        INVOKE_BROKER_TO_GET_CONSUMER_STATUS = 223,
        /// Topics of a cluster (name server).
        GET_TOPICS_BY_CLUSTER = 224,
        /// Consumer groups that consume a topic.
        QUERY_TOPIC_CONSUME_BY_WHO = 300,
        /// Time span of a topic's queues for a group.
        QUERY_CONSUME_TIME_SPAN = 303,
        /// System topics known to a name server.
        GET_SYSTEM_TOPIC_LIST_FROM_NS = 304,
        /// Ask a consumer for its running info (broker to client).
        GET_CONSUMER_RUNNING_INFO = 307,
        /// Ask a consumer to consume one message now (broker to client).
        CONSUME_MESSAGE_DIRECTLY = 309,
        /// Copy one group's offsets to another.
        CLONE_GROUP_OFFSET = 314,
        /// Consume statistics of every group on a broker.
        GET_BROKER_CONSUME_STATS = 317,
        /// Update a name server's config.
        UPDATE_NAMESRV_CONFIG = 318,
        /// Read a name server's config.
        GET_NAMESRV_CONFIG = 319,
        /// Send with the short-named V2 header (the Java default).
        SEND_MESSAGE_V2 = 310,
        /// Data version of a broker's topic config.
        QUERY_DATA_VERSION = 322,
        /// Send a reply message.
        SEND_REPLY_MESSAGE = 324,
        /// Send a reply message with the V2 header.
        SEND_REPLY_MESSAGE_V2 = 325,
        /// Broker pushes a reply to the requester.
        PUSH_REPLY_MESSAGE_TO_CLIENT = 326,
        /// Name server: give write permission back to a broker.
        ADD_WRITE_PERM_OF_BROKER = 327,
        /// Topics a consumer group consumes.
        QUERY_TOPICS_BY_CONSUMER = 343,
        /// One topic's config on a broker.
        GET_TOPIC_CONFIG = 351,
        /// One subscription group's config on a broker.
        GET_SUBSCRIPTIONGROUP_CONFIG = 352,
        /// Send a batch with the V2 header.
        SEND_BATCH_MESSAGE = 320,
        /// Read consume-queue entries (diagnostics).
        QUERY_CONSUME_QUEUE = 321,
        /// Lite pull consumer's pull (same header as PULL_MESSAGE).
        LITE_PULL_MESSAGE = 361,
        /// Query queue assignment (5.x).
        QUERY_ASSIGNMENT = 400,
        /// Broker heartbeat to the name server (5.x).
        BROKER_HEARTBEAT = 904,
        /// POP consumption (5.x).
        POP_MESSAGE = 200050,
        /// POP acknowledgement (5.x).
        ACK_MESSAGE = 200051,
        /// POP invisibility change (5.x).
        CHANGE_MESSAGE_INVISIBLETIME = 200053,
    }
}

open_code! {
    /// A response code. Unknown values are kept as they are.
    ResponseCode {
        /// Success.
        SUCCESS = 0,
        /// The server failed (exception text in the remark).
        SYSTEM_ERROR = 1,
        /// The server is overloaded.
        SYSTEM_BUSY = 2,
        /// The request code is unknown to the server.
        REQUEST_CODE_NOT_SUPPORTED = 3,
        /// A transaction failed.
        TRANSACTION_FAILED = 4,
        /// The message is stored but the disk flush timed out.
        FLUSH_DISK_TIMEOUT = 10,
        /// The message is stored but no slave is available.
        SLAVE_NOT_AVAILABLE = 11,
        /// The message is stored but slave replication timed out.
        FLUSH_SLAVE_TIMEOUT = 12,
        /// The message is malformed.
        MESSAGE_ILLEGAL = 13,
        /// The service is not available (disk full, shutting down...).
        SERVICE_NOT_AVAILABLE = 14,
        /// The version is not supported.
        VERSION_NOT_SUPPORTED = 15,
        /// Permission denied.
        NO_PERMISSION = 16,
        /// The topic does not exist.
        TOPIC_NOT_EXIST = 17,
        /// The topic already exists.
        TOPIC_EXIST_ALREADY = 18,
        /// No new message (pull).
        PULL_NOT_FOUND = 19,
        /// Pull again at once (nothing matched the filter).
        PULL_RETRY_IMMEDIATELY = 20,
        /// The pull offset is illegal and was moved.
        PULL_OFFSET_MOVED = 21,
        /// Query found nothing.
        QUERY_NOT_FOUND = 22,
        /// The subscription expression does not parse.
        SUBSCRIPTION_PARSE_FAILED = 23,
        /// No subscription known for the group.
        SUBSCRIPTION_NOT_EXIST = 24,
        /// The broker's subscription is older than the request's.
        SUBSCRIPTION_NOT_LATEST = 25,
        /// The subscription group does not exist.
        SUBSCRIPTION_GROUP_NOT_EXIST = 26,
        /// Filter data does not exist.
        FILTER_DATA_NOT_EXIST = 27,
        /// Filter data is not the latest.
        FILTER_DATA_NOT_LATEST = 28,
        /// A request parameter is invalid.
        INVALID_PARAMETER = 29,
        /// Transaction should commit.
        TRANSACTION_SHOULD_COMMIT = 200,
        /// Transaction should roll back.
        TRANSACTION_SHOULD_ROLLBACK = 201,
        /// Transaction state unknown.
        TRANSACTION_STATE_UNKNOW = 202,
        /// Transaction state group wrong.
        TRANSACTION_STATE_GROUP_WRONG = 203,
        /// No buyer id.
        NO_BUYER_ID = 204,
        /// Not in the current unit.
        NOT_IN_CURRENT_UNIT = 205,
        /// The consumer is not online.
        CONSUMER_NOT_ONLINE = 206,
        /// Consuming the message timed out.
        CONSUME_MSG_TIMEOUT = 207,
        /// No message.
        NO_MESSAGE = 208,
        /// Polling is full.
        POLLING_FULL = 209,
        /// Polling timed out.
        POLLING_TIMEOUT = 210,
        /// The broker does not exist.
        BROKER_NOT_EXIST = 211,
        /// Broker dispatch not complete.
        BROKER_DISPATCH_NOT_COMPLETE = 212,
        /// Broadcast consumption.
        BROADCAST_CONSUMPTION = 213,
        /// Flow control.
        FLOW_CONTROL = 215,
        /// Not the leader for the queue.
        NOT_LEADER_FOR_QUEUE = 501,
        /// Illegal operation.
        ILLEGAL_OPERATION = 604,
        /// The server is shutting down.
        GO_AWAY = 1500,
    }
}

impl RequestCode {
    /// Whether this code sends a message (V1, V2 or batch header).
    pub fn is_send(self) -> bool {
        matches!(
            self,
            RequestCode::SEND_MESSAGE
                | RequestCode::SEND_MESSAGE_V2
                | RequestCode::SEND_BATCH_MESSAGE
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_survive() {
        let c = RequestCode::from(987_654);
        assert_eq!(c.value(), 987_654);
        assert_eq!(c.name(), None);
        assert_eq!(format!("{c:?}"), "RequestCode(987654)");
        assert_eq!(RequestCode::SEND_MESSAGE_V2.name(), Some("SEND_MESSAGE_V2"));
        assert_eq!(
            format!("{:?}", ResponseCode::PULL_NOT_FOUND),
            "PULL_NOT_FOUND(19)"
        );
    }
}
