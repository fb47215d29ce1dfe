//! UPDATE_AND_CREATE_TOPIC (17).

use super::macros::command_header;
use super::{RpcBase, TopicFilterType};

command_header! {
    /// Creates or updates a topic on a broker (`CreateTopicRequestHeader`).
    pub struct CreateTopicRequestHeader {
        /// Topic.
        topic: String = required "topic",
        /// Template topic.
        default_topic: String = required "defaultTopic" => super::send::DEFAULT_TOPIC.to_owned(),
        /// Read queue count.
        read_queue_nums: i32 = required "readQueueNums",
        /// Write queue count.
        write_queue_nums: i32 = required "writeQueueNums",
        /// Permission bits (read 4, write 2, inherit 1).
        perm: i32 = required "perm" => 6,
        /// Tag filter type.
        topic_filter_type: TopicFilterType = required "topicFilterType",
        /// Topic sysFlag.
        topic_sys_flag: Option<i32> = optional "topicSysFlag",
        /// Whether the topic is ordered.
        order: bool = required "order",
        /// Attribute changes, `+k=v,+k2=v2,-k3`.
        attributes: Option<String> = optional "attributes",
        /// Force the update (5.x; initialized to false upstream).
        force: bool = primitive "force",
        /// RPC base fields.
        rpc: RpcBase = base,
    }
}
