//! Consumer group configs: `SubscriptionGroupConfig` (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP's
//! body, GET_SUBSCRIPTIONGROUP_CONFIG's answer) and `SubscriptionGroupWrapper`
//! (GET_ALL_SUBSCRIPTIONGROUP_CONFIG).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lenient::{null_default, scalar, string_map};
use super::{DataVersion, JsonBody};

/// One consumer group's settings (`SubscriptionGroupConfig`), with upstream's defaults.
/// Fields this type does not model (5.x `groupRetryPolicy`, `subscriptionDataSet`) are
/// kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionGroupConfig {
    /// Group attributes (5.x).
    #[serde(default, deserialize_with = "string_map")]
    pub attributes: BTreeMap<String, String>,
    /// Broker id to pull from (0 = master).
    #[serde(default, deserialize_with = "scalar")]
    pub broker_id: i64,
    /// Whether broadcasting consumption is allowed.
    #[serde(default = "yes", deserialize_with = "scalar")]
    pub consume_broadcast_enable: bool,
    /// Whether the group may consume at all.
    #[serde(default = "yes", deserialize_with = "scalar")]
    pub consume_enable: bool,
    /// Whether a new group starts from the minimum offset.
    #[serde(default = "yes", deserialize_with = "scalar")]
    pub consume_from_min_enable: bool,
    /// Whether the group consumes orderly.
    #[serde(default, deserialize_with = "scalar")]
    pub consume_message_orderly: bool,
    /// Consume timeout, minutes (5.x).
    #[serde(default = "fifteen", deserialize_with = "scalar")]
    pub consume_timeout_minute: i32,
    /// Group name.
    #[serde(default, deserialize_with = "scalar")]
    pub group_name: String,
    /// Group system flag.
    #[serde(default, deserialize_with = "scalar")]
    pub group_sys_flag: i32,
    /// Whether members are told when the group changes.
    #[serde(default = "yes", deserialize_with = "scalar")]
    pub notify_consumer_ids_changed_enable: bool,
    /// Reconsume attempts before the DLQ.
    #[serde(default = "sixteen", deserialize_with = "scalar")]
    pub retry_max_times: i32,
    /// Retry queues.
    #[serde(default = "one_i32", deserialize_with = "scalar")]
    pub retry_queue_nums: i32,
    /// Broker id to pull from when consumption is slow.
    #[serde(default = "one_i64", deserialize_with = "scalar")]
    pub which_broker_when_consume_slowly: i64,
    /// Fields not modelled here, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn yes() -> bool {
    true
}
fn fifteen() -> i32 {
    15
}
fn sixteen() -> i32 {
    16
}
fn one_i32() -> i32 {
    1
}
fn one_i64() -> i64 {
    1
}

impl Default for SubscriptionGroupConfig {
    fn default() -> Self {
        SubscriptionGroupConfig {
            attributes: BTreeMap::new(),
            broker_id: 0,
            consume_broadcast_enable: true,
            consume_enable: true,
            consume_from_min_enable: true,
            consume_message_orderly: false,
            consume_timeout_minute: 15,
            group_name: String::new(),
            group_sys_flag: 0,
            notify_consumer_ids_changed_enable: true,
            retry_max_times: 16,
            retry_queue_nums: 1,
            which_broker_when_consume_slowly: 1,
            extra: Map::new(),
        }
    }
}

impl SubscriptionGroupConfig {
    /// A group with upstream's defaults.
    pub fn new(group_name: impl Into<String>) -> Self {
        SubscriptionGroupConfig {
            group_name: group_name.into(),
            ..Self::default()
        }
    }
}

impl JsonBody for SubscriptionGroupConfig {
    const WHAT: &'static str = "SubscriptionGroupConfig";
}

/// Every group of a broker (`SubscriptionGroupWrapper`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionGroupWrapper {
    /// Version of the table.
    #[serde(default, deserialize_with = "null_default")]
    pub data_version: DataVersion,
    /// Group → topic → forbidden permission bits (5.x).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub forbidden_table: BTreeMap<String, BTreeMap<String, i32>>,
    /// Group name → config.
    #[serde(default, deserialize_with = "null_default")]
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
}

impl JsonBody for SubscriptionGroupWrapper {
    const WHAT: &'static str = "SubscriptionGroupWrapper";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_group_config_keeps_defaults_and_unknown_fields() {
        let g = SubscriptionGroupConfig::decode(
            br#"{"groupName":"G","retryMaxTimes":"3","groupRetryPolicy":{"type":"CUSTOMIZED"}}"#,
        )
        .unwrap();
        assert_eq!(g.retry_max_times, 3);
        assert_eq!(g.retry_queue_nums, 1);
        assert!(g.consume_enable);
        assert!(g.extra.contains_key("groupRetryPolicy"));
        let w = SubscriptionGroupWrapper::decode(
            br#"{"dataVersion":{"counter":2,"timestamp":5},"subscriptionGroupTable":{"G":{"groupName":"G"}}}"#,
        )
        .unwrap();
        assert_eq!(w.subscription_group_table["G"].group_name, "G");
        assert_eq!(w.data_version.counter, 2);
    }
}
