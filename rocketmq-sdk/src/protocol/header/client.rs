//! Client membership and broker→client requests: UNREGISTER_CLIENT (35),
//! CONSUMER_SEND_MSG_BACK (36), GET_CONSUMER_LIST_BY_GROUP (38),
//! NOTIFY_CONSUMER_IDS_CHANGED (40), GET_CONSUMER_RUNNING_INFO (307),
//! CONSUME_MESSAGE_DIRECTLY (309). HEART_BEAT (34) has no header fields.

use super::RpcBase;
use super::macros::command_header;

command_header! {
    /// Removes a client's producer and/or consumer group registration.
    pub struct UnregisterClientRequestHeader {
        /// The client id (`ip@instance`).
        client_id: String = required "clientID",
        /// Producer group to leave.
        producer_group: Option<String> = optional "producerGroup",
        /// Consumer group to leave.
        consumer_group: Option<String> = optional "consumerGroup",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Sends a failed message back for a delayed retry (or to the DLQ).
    pub struct ConsumerSendMsgBackRequestHeader {
        /// The message's commit-log offset.
        offset: i64 = required "offset",
        /// Consumer group.
        group: String = required "group",
        /// 0 lets the broker pick 3 + reconsumeTimes; negative sends to the DLQ.
        delay_level: i32 = required "delayLevel",
        /// The message's `UNIQ_KEY`.
        origin_msg_id: Option<String> = optional "originMsgId",
        /// The original topic.
        origin_topic: Option<String> = optional "originTopic",
        /// Unit mode (a Java primitive).
        unit_mode: bool = primitive "unitMode",
        /// Max reconsume times before the DLQ.
        max_reconsume_times: Option<i32> = optional "maxReconsumeTimes",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Asks for the client ids of a consumer group.
    pub struct GetConsumerListByGroupRequestHeader {
        /// Consumer group.
        consumer_group: String = required "consumerGroup",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Broker → consumer (oneway): the group's membership changed, rebalance now.
    pub struct NotifyConsumerIdsChangedRequestHeader {
        /// Consumer group.
        consumer_group: String = required "consumerGroup",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Broker → consumer: report the consumer's running state.
    pub struct GetConsumerRunningInfoRequestHeader {
        /// Consumer group.
        consumer_group: String = required "consumerGroup",
        /// Client id.
        client_id: String = required "clientId",
        /// Whether to include a thread dump (a Java primitive).
        jstack_enable: bool = primitive "jstackEnable",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// Broker → consumer: consume the message in the body now and report the result
    /// (`ConsumeMessageDirectlyResultRequestHeader`).
    pub struct ConsumeMessageDirectlyResultRequestHeader {
        /// Consumer group.
        consumer_group: String = required "consumerGroup",
        /// Client id.
        client_id: Option<String> = optional "clientId",
        /// Message id.
        msg_id: Option<String> = optional "msgId",
        /// Broker name.
        broker_name: Option<String> = optional "brokerName",
        /// Topic.
        topic: Option<String> = optional "topic",
        /// Topic sysFlag.
        topic_sys_flag: Option<i32> = optional "topicSysFlag",
        /// Group sysFlag.
        group_sys_flag: Option<i32> = optional "groupSysFlag",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}
