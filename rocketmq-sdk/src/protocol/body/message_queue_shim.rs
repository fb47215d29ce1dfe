// TEMPORARY: replaced by protocol::message::MessageQueue at merge.
//! A minimal `MessageQueue` until `protocol::message::MessageQueue` lands on this branch.

use serde::{Deserialize, Serialize};

/// One queue of a topic on one broker (`MessageQueue`).
///
/// The derived order (topic, broker name, queue id) is Java's `compareTo`, the order in
/// which rebalancing sorts queues.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageQueue {
    /// Topic.
    pub topic: String,
    /// Broker name.
    #[serde(rename = "brokerName")]
    pub broker_name: String,
    /// Queue id.
    #[serde(rename = "queueId")]
    pub queue_id: i32,
}

impl MessageQueue {
    /// A queue.
    pub fn new(topic: impl Into<String>, broker_name: impl Into<String>, queue_id: i32) -> Self {
        MessageQueue {
            topic: topic.into(),
            broker_name: broker_name.into(),
            queue_id,
        }
    }
}
