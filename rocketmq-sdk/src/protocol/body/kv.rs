//! Small name-and-value bodies: `KVTable` (the name server's KV namespaces,
//! GET_BROKER_RUNTIME_INFO), `GroupList` (QUERY_TOPIC_CONSUME_BY_WHO) and `TopicList`
//! (GET_ALL_TOPIC_LIST_FROM_NAMESERVER, GET_TOPICS_BY_CLUSTER).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::JsonBody;
use super::lenient::{null_default, string_map};

/// String → string (`KVTable`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KvTable {
    /// The entries.
    #[serde(default, deserialize_with = "string_map")]
    pub table: BTreeMap<String, String>,
}

impl JsonBody for KvTable {
    const WHAT: &'static str = "KVTable";
}

/// A set of group names (`GroupList`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupList {
    /// Group names.
    #[serde(default, deserialize_with = "null_default")]
    pub group_list: BTreeSet<String>,
}

impl JsonBody for GroupList {
    const WHAT: &'static str = "GroupList";
}

/// A set of topic names (`TopicList`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicList {
    /// The broker the list came from, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
    /// Topic names.
    #[serde(default, deserialize_with = "null_default")]
    pub topic_list: BTreeSet<String>,
}

impl JsonBody for TopicList {
    const WHAT: &'static str = "TopicList";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_kv_table_and_lists_decode() {
        let t = KvTable::decode(br#"{"table":{"SurfT4721":"broker-a:2","n":3}}"#).unwrap();
        assert_eq!(t.table["SurfT4721"], "broker-a:2");
        assert_eq!(t.table["n"], "3");
        let g = GroupList::decode(br#"{"groupList":["G1","G1","G2"]}"#).unwrap();
        assert_eq!(g.group_list.len(), 2);
        let l = TopicList::decode(br#"{"topicList":["A"],"brokerAddr":null}"#).unwrap();
        assert_eq!(l.topic_list.len(), 1);
        assert_eq!(l.encode().unwrap(), br#"{"topicList":["A"]}"#);
    }
}
