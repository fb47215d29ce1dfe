//! Name server headers: REGISTER_BROKER (103), UNREGISTER_BROKER (104),
//! GET_ROUTEINFO_BY_TOPIC (105). GET_BROKER_CLUSTER_INFO (106) has no header fields.

use super::RpcBase;
use super::macros::command_header;

command_header! {
    /// Asks for a topic's route.
    pub struct GetRouteInfoRequestHeader {
        /// Topic.
        topic: String = required "topic",
        /// Ask for standard JSON (quoted map keys) whatever the request version.
        accept_standard_json_only: Option<bool> = optional "acceptStandardJsonOnly",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}

command_header! {
    /// A broker announces itself and its topics (body: `RegisterBrokerBody`).
    pub struct RegisterBrokerRequestHeader {
        /// Broker name.
        broker_name: String = required "brokerName",
        /// Broker address `ip:port`.
        broker_addr: String = required "brokerAddr",
        /// Cluster name.
        cluster_name: String = required "clusterName",
        /// HA address `ip:port`.
        ha_server_addr: String = required "haServerAddr",
        /// Broker id (0 = master).
        broker_id: i64 = required "brokerId",
        /// How long the name server keeps the broker without a new registration.
        heartbeat_timeout_millis: Option<i64> = optional "heartbeatTimeoutMillis",
        /// Acting-master mode.
        enable_acting_master: Option<bool> = optional "enableActingMaster",
        /// Whether the body is the zlib-compressed form (a Java primitive).
        compressed: bool = primitive "compressed",
        /// `crc32(body) & 0x7FFFFFFF`; 0 means "not checked".
        body_crc32: i32 = primitive "bodyCrc32",
        /// The extra ext field `__ZONE_NAME`.
        zone_name: Option<String> = optional "__ZONE_NAME",
    }
}

command_header! {
    /// The name server's answer to a registration.
    pub struct RegisterBrokerResponseHeader {
        /// The master's HA address, for slaves.
        ha_server_addr: Option<String> = optional "haServerAddr",
        /// The master's address, for slaves.
        master_addr: Option<String> = optional "masterAddr",
    }
}

command_header! {
    /// A broker leaves the name server (`UnRegisterBrokerRequestHeader`).
    pub struct UnregisterBrokerRequestHeader {
        /// Broker name.
        broker_name: String = required "brokerName",
        /// Broker address.
        broker_addr: String = required "brokerAddr",
        /// Cluster name.
        cluster_name: String = required "clusterName",
        /// Broker id.
        broker_id: i64 = required "brokerId",
    }
}
