//! Routes and cluster info from the name server (`R/protocol/route/*`, `ClusterInfo`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::JsonBody;
use super::lenient::{null_default, scalar};
use crate::protocol::ProtocolError;
use crate::protocol::command::version;

/// Broker id of a master in [`BrokerData::broker_addrs`] (`MixAll.MASTER_ID`).
pub const MASTER_ID: i64 = 0;

/// One broker group (a master and its slaves) (`BrokerData`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerData {
    /// Broker id → `ip:port`; 0 is the master.
    #[serde(default, deserialize_with = "null_default")]
    pub broker_addrs: BTreeMap<i64, String>,
    /// Broker name.
    #[serde(default, deserialize_with = "scalar")]
    pub broker_name: String,
    /// Cluster name.
    #[serde(default, deserialize_with = "scalar")]
    pub cluster: String,
    /// Acting-master mode (5.x).
    #[serde(default, deserialize_with = "scalar")]
    pub enable_acting_master: bool,
    /// Zone (5.x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
}

impl BrokerData {
    /// The master's address, if the group has a live master.
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&MASTER_ID).map(String::as_str)
    }
}

/// A topic's queues on one broker (`QueueData`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueData {
    /// Broker name.
    #[serde(default, deserialize_with = "scalar")]
    pub broker_name: String,
    /// Permission bits (read 4, write 2).
    #[serde(default, deserialize_with = "scalar")]
    pub perm: i32,
    /// Readable queue count.
    #[serde(default, deserialize_with = "scalar")]
    pub read_queue_nums: i32,
    /// Topic sysFlag.
    #[serde(default, deserialize_with = "scalar")]
    pub topic_sys_flag: i32,
    /// Writable queue count.
    #[serde(default, deserialize_with = "scalar")]
    pub write_queue_nums: i32,
}

/// A topic's route, the GET_ROUTEINFO_BY_TOPIC body (`TopicRouteData`).
///
/// Two JSON flavours exist: fastjson's, where `brokerAddrs` keys are bare numbers, and
/// standard JSON. [`TopicRouteData::encode_for`] picks the one the requester accepts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicRouteData {
    /// Broker groups serving the topic.
    #[serde(default, deserialize_with = "null_default")]
    pub broker_datas: Vec<BrokerData>,
    /// Broker address → filter servers (legacy, usually empty).
    #[serde(default, deserialize_with = "null_default")]
    pub filter_server_table: BTreeMap<String, Vec<String>>,
    /// Ordered-topic queue layout, `broker-a:4;broker-b:4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    /// The topic's queues per broker.
    #[serde(default, deserialize_with = "null_default")]
    pub queue_datas: Vec<QueueData>,
    /// Static-topic mapping per broker name (`TopicQueueMappingInfo`, kept as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_by_broker: Option<BTreeMap<String, serde_json::Value>>,
}

impl JsonBody for TopicRouteData {
    const WHAT: &'static str = "TopicRouteData";
}

impl TopicRouteData {
    /// Whether a requester gets standard JSON: the name server's rule (request version
    /// ≥ V4_9_4, or `acceptStandardJsonOnly`).
    pub fn wants_standard_json(request_version: i16, accept_standard_json_only: bool) -> bool {
        accept_standard_json_only || request_version >= version::V4_9_4
    }

    /// Encodes the route the way the name server answers a request of this version.
    ///
    /// # Errors
    /// [`ProtocolError`] when the route cannot be
    /// serialized in the chosen form.
    pub fn encode_for(
        &self,
        request_version: i16,
        accept_standard_json_only: bool,
    ) -> Result<Vec<u8>, ProtocolError> {
        if Self::wants_standard_json(request_version, accept_standard_json_only) {
            self.encode_standard()
        } else {
            self.encode()
        }
    }
}

/// The GET_BROKER_CLUSTER_INFO body (`ClusterInfo`); always written by fastjson, so
/// `brokerAddrs` keys are bare.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    /// Broker name → broker group.
    #[serde(default, deserialize_with = "null_default")]
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    /// Cluster name → broker names.
    #[serde(default, deserialize_with = "null_default")]
    pub cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

impl JsonBody for ClusterInfo {
    const WHAT: &'static str = "ClusterInfo";
}
