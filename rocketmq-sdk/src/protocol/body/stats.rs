//! Statistics bodies: a topic's queue offsets (`TopicStatsTable`, GET_TOPIC_STATS_INFO), a
//! group's progress (`ConsumeStats`, GET_CONSUME_STATS), every group's progress on a broker
//! (`ConsumeStatsList`, GET_BROKER_CONSUME_STATS) and the offsets consumers report
//! (`GetConsumerStatusBody`, INVOKE_BROKER_TO_GET_CONSUMER_STATUS).
//!
//! The queue-keyed tables are written with fastjson object keys,
//! `{{"brokerName":"b","queueId":0,"topic":"T"}:{...}}`, as a Java broker writes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::fastjson::object_key_map;
use super::lenient::{null_default, scalar};
use super::{JsonBody, MessageQueue};

/// One queue's offsets and the store time of its newest message (`TopicOffset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicOffset {
    /// Store time of the last message, ms; 0 for an empty queue.
    #[serde(default, deserialize_with = "scalar")]
    pub last_update_timestamp: i64,
    /// Next offset to be written.
    #[serde(default, deserialize_with = "scalar")]
    pub max_offset: i64,
    /// Smallest offset still stored.
    #[serde(default, deserialize_with = "scalar")]
    pub min_offset: i64,
}

/// A topic's queues on one broker (`TopicStatsTable`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicStatsTable {
    /// Queue → offsets.
    #[serde(default, deserialize_with = "object_key_map::deserialize")]
    pub offset_table: BTreeMap<MessageQueue, TopicOffset>,
}

impl JsonBody for TopicStatsTable {
    const WHAT: &'static str = "TopicStatsTable";
}

/// One queue's progress for a group (`OffsetWrapper`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OffsetWrapper {
    /// Next offset the broker will write (the queue's max offset).
    #[serde(default, deserialize_with = "scalar")]
    pub broker_offset: i64,
    /// The group's committed offset (0 when none).
    #[serde(default, deserialize_with = "scalar")]
    pub consumer_offset: i64,
    /// Store time of the last consumed message, ms; 0 when none.
    #[serde(default, deserialize_with = "scalar")]
    pub last_timestamp: i64,
}

impl OffsetWrapper {
    /// Messages stored but not yet consumed.
    pub fn lag(&self) -> i64 {
        (self.broker_offset - self.consumer_offset).max(0)
    }
}

/// A group's progress on one broker (`ConsumeStats`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumeStats {
    /// Messages pulled per second over the last minute, summed over the topics.
    #[serde(default)]
    pub consume_tps: f64,
    /// Queue → progress.
    #[serde(default, deserialize_with = "object_key_map::deserialize")]
    pub offset_table: BTreeMap<MessageQueue, OffsetWrapper>,
}

impl ConsumeStats {
    /// Total lag over every queue (upstream `computeTotalDiff`).
    pub fn total_diff(&self) -> i64 {
        self.offset_table
            .values()
            .map(|o| o.broker_offset - o.consumer_offset)
            .sum()
    }
}

impl JsonBody for ConsumeStats {
    const WHAT: &'static str = "ConsumeStats";
}

/// Every group's progress on a broker (`ConsumeStatsList`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumeStatsList {
    /// The broker's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
    /// One map per group: group → its stats per topic.
    #[serde(default, deserialize_with = "null_default")]
    pub consume_stats_list: Vec<BTreeMap<String, Vec<ConsumeStats>>>,
    /// Total lag of every group.
    #[serde(default, deserialize_with = "scalar")]
    pub total_diff: i64,
}

impl JsonBody for ConsumeStatsList {
    const WHAT: &'static str = "ConsumeStatsList";
}

/// What consumers report of their offsets (`GetConsumerStatusBody`): a client answering
/// GET_CONSUMER_STATUS_FROM_CLIENT fills `message_queue_table`; the broker's answer to
/// INVOKE_BROKER_TO_GET_CONSUMER_STATUS fills `consumer_table` by client id.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetConsumerStatusBody {
    /// Client id → its queues' offsets.
    #[serde(default, deserialize_with = "consumer_table")]
    pub consumer_table: BTreeMap<String, BTreeMap<MessageQueue, i64>>,
    /// Queue → offset (one client's answer).
    #[serde(default, deserialize_with = "object_key_map::deserialize")]
    pub message_queue_table: BTreeMap<MessageQueue, i64>,
}

impl JsonBody for GetConsumerStatusBody {
    const WHAT: &'static str = "GetConsumerStatusBody";
}

fn consumer_table<'de, D>(d: D) -> Result<BTreeMap<String, BTreeMap<MessageQueue, i64>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    struct Queues(
        #[serde(deserialize_with = "object_key_map::deserialize")] BTreeMap<MessageQueue, i64>,
    );
    let m: Option<BTreeMap<String, Queues>> = Option::deserialize(d)?;
    Ok(m.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_topic_stats_decode_and_encode_with_object_keys() {
        let java = br#"{"offsetTable":{{"brokerName":"broker-a","queueId":1,"topic":"T"}:{"lastUpdateTimestamp":0,"maxOffset":0,"minOffset":0},{"brokerName":"broker-a","queueId":2,"topic":"T"}:{"lastUpdateTimestamp":1796664992130,"maxOffset":1,"minOffset":0}}}"#;
        let t = TopicStatsTable::decode(java).unwrap();
        assert_eq!(t.offset_table.len(), 2);
        let q2 = &t.offset_table[&MessageQueue::new("T", "broker-a", 2)];
        assert_eq!(
            (q2.max_offset, q2.last_update_timestamp),
            (1, 1796664992130)
        );
        let again = String::from_utf8(t.encode().unwrap()).unwrap();
        assert!(again.starts_with(
            r#"{"offsetTable":{{"brokerName":"broker-a","queueId":1,"topic":"T"}:{"lastUpdateTimestamp":0,"maxOffset":0,"minOffset":0},"#
        ));
        assert_eq!(TopicStatsTable::decode(again.as_bytes()).unwrap(), t);
    }

    #[test]
    fn java_consume_stats_decode_with_lag() {
        let java = br#"{"consumeTps":0.15,"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":5,"consumerOffset":2,"lastTimestamp":7}}}"#;
        let s = ConsumeStats::decode(java).unwrap();
        assert_eq!(s.consume_tps, 0.15);
        assert_eq!(s.total_diff(), 3);
        assert_eq!(s.offset_table.values().next().unwrap().lag(), 3);
        let text = String::from_utf8(s.encode().unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"consumeTps":0.15,"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":5,"consumerOffset":2,"lastTimestamp":7}}}"#
        );
    }

    #[test]
    fn consumer_status_round_trips() {
        let mut b = GetConsumerStatusBody::default();
        b.consumer_table.insert(
            "c1".into(),
            BTreeMap::from([(MessageQueue::new("T", "b", 0), 4)]),
        );
        let text = b.encode().unwrap();
        assert_eq!(GetConsumerStatusBody::decode(&text).unwrap(), b);
    }
}
