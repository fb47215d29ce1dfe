//! Broker administration headers beyond topic creation: statistics (GET_TOPIC_STATS_INFO
//! 202, GET_CONSUME_STATS 208, GET_BROKER_CONSUME_STATS 317), connections (203, 204),
//! consumer status (223), deletion (DELETE_TOPIC_IN_BROKER 215, DELETE_TOPIC_IN_NAMESRV
//! 216, DELETE_SUBSCRIPTIONGROUP 207), group offsets (CLONE_GROUP_OFFSET 314), lookups
//! (QUERY_TOPIC_CONSUME_BY_WHO 300, GET_TOPIC_CONFIG 351, GET_SUBSCRIPTIONGROUP_CONFIG 352,
//! GET_TOPICS_BY_CLUSTER 224) and GET_BROKER_CONFIG's response (26).

use super::RpcBase;
use super::macros::command_header;

command_header! {
    /// Asks for a topic's queue offsets (`GetTopicStatsInfoRequestHeader`).
    pub struct GetTopicStatsInfoRequestHeader {
        /// Topic.
        topic: String = required "topic",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Asks for a group's progress, on one topic or all it has offsets on
    /// (`GetConsumeStatsRequestHeader`).
    pub struct GetConsumeStatsRequestHeader {
        /// Consumer group.
        consumer_group: String = required "consumerGroup",
        /// Topic; absent or blank for every topic of the group.
        topic: Option<String> = optional "topic",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Asks for every group's progress on a broker (`GetConsumeStatsInBrokerHeader`).
    pub struct GetConsumeStatsInBrokerHeader {
        /// Only ordered topics.
        is_order: bool = required "isOrder",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Asks who is connected in a consumer group (`GetConsumerConnectionListRequestHeader`).
    pub struct GetConsumerConnectionListRequestHeader {
        /// Consumer group.
        consumer_group: String = required "consumerGroup",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Asks who is connected in a producer group (`GetProducerConnectionListRequestHeader`).
    pub struct GetProducerConnectionListRequestHeader {
        /// Producer group.
        producer_group: String = required "producerGroup",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Asks a broker to collect its consumers' offsets of a topic
    /// (INVOKE_BROKER_TO_GET_CONSUMER_STATUS, `GetConsumerStatusRequestHeader`); the broker
    /// forwards it to each client as GET_CONSUMER_STATUS_FROM_CLIENT (221).
    pub struct GetConsumerStatusRequestHeader {
        /// Topic.
        topic: String = required "topic",
        /// Consumer group.
        group: String = required "group",
        /// Only this client (its `ip:port`); absent for all.
        client_addr: Option<String> = optional "clientAddr",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Deletes a topic from a broker (`DeleteTopicRequestHeader`).
    pub struct DeleteTopicRequestHeader {
        /// Topic.
        topic: String = required "topic",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Deletes a topic's route from a name server (`DeleteTopicFromNamesrvRequestHeader`).
    pub struct DeleteTopicFromNamesrvRequestHeader {
        /// Topic.
        topic: String = required "topic",
        /// Only this cluster's brokers; absent for all.
        cluster_name: Option<String> = optional "clusterName",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Deletes a consumer group's config (`DeleteSubscriptionGroupRequestHeader`).
    pub struct DeleteSubscriptionGroupRequestHeader {
        /// Group.
        group_name: String = required "groupName",
        /// Also remove the group's committed offsets (a Java primitive).
        remove_offset: bool = primitive "removeOffset",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Copies one group's offsets to another (`CloneGroupOffsetRequestHeader`).
    pub struct CloneGroupOffsetRequestHeader {
        /// Source group.
        src_group: String = required "srcGroup",
        /// Destination group.
        dest_group: String = required "destGroup",
        /// Topic; absent for every topic of the source group.
        topic: Option<String> = optional "topic",
        /// Copy even topics the online source group does not subscribe to (a primitive).
        offline: bool = primitive "offline",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Asks which groups consume a topic (`QueryTopicConsumeByWhoRequestHeader`).
    pub struct QueryTopicConsumeByWhoRequestHeader {
        /// Topic.
        topic: String = required "topic",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Asks for one topic's config (5.x `GetTopicConfigRequestHeader`; `lo` is in the base).
    pub struct GetTopicConfigRequestHeader {
        /// Topic.
        topic: String = required "topic",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Asks for one group's config (5.x `GetSubscriptionGroupConfigRequestHeader`).
    pub struct GetSubscriptionGroupConfigRequestHeader {
        /// Group.
        group: String = required "group",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Asks a name server for the topics of a cluster (`GetTopicsByClusterRequestHeader`).
    pub struct GetTopicsByClusterRequestHeader {
        /// Cluster.
        cluster: String = required "cluster",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// GET_BROKER_CONFIG's answer header (`GetBrokerConfigResponseHeader`); the body is the
    /// config as `key=value` lines.
    pub struct GetBrokerConfigResponseHeader {
        /// The configuration's data version as JSON, e.g. `{"counter":0,"timestamp":1}`.
        version: String = required "version",
    }
}
