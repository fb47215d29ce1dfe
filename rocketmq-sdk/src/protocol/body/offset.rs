//! Offset reset bodies: `ResetOffsetBody` (MessageQueue-keyed, fastjson object keys) and
//! `ResetOffsetBodyForC` (what C++ admins get).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::fastjson::object_key_map;
use super::lenient::{null_default, scalar};
use super::{JsonBody, MessageQueue};

/// Queue → offset, sent by the broker to consumers (RESET_CONSUMER_CLIENT_OFFSET) and
/// returned by INVOKE_BROKER_TO_RESET_OFFSET.
///
/// Java writes `offsetTable` with object keys,
/// `{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:11110}}`, which is what
/// [`JsonBody::encode`] produces; `decode` also accepts the gson pair-array form.
/// There is no standard-JSON form.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetOffsetBody {
    /// Queue → new offset.
    #[serde(default, deserialize_with = "object_key_map::deserialize")]
    pub offset_table: BTreeMap<MessageQueue, i64>,
}

impl JsonBody for ResetOffsetBody {
    const WHAT: &'static str = "ResetOffsetBody";
}

/// A queue with an offset (`MessageQueueForC`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQueueForC {
    /// Broker name.
    #[serde(default, deserialize_with = "scalar")]
    pub broker_name: String,
    /// New offset.
    #[serde(default, deserialize_with = "scalar")]
    pub offset: i64,
    /// Queue id.
    #[serde(default, deserialize_with = "scalar")]
    pub queue_id: i32,
    /// Topic.
    #[serde(default, deserialize_with = "scalar")]
    pub topic: String,
}

/// The reset body sent when the admin request came from a C++ client: a list instead of
/// an object-keyed map.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetOffsetBodyForC {
    /// Queues with their new offsets.
    #[serde(default, deserialize_with = "null_default")]
    pub offset_table: Vec<MessageQueueForC>,
}

impl JsonBody for ResetOffsetBodyForC {
    const WHAT: &'static str = "ResetOffsetBodyForC";
}

impl From<&ResetOffsetBody> for ResetOffsetBodyForC {
    fn from(body: &ResetOffsetBody) -> Self {
        ResetOffsetBodyForC {
            offset_table: body
                .offset_table
                .iter()
                .map(|(mq, offset)| MessageQueueForC {
                    broker_name: mq.broker_name.clone(),
                    offset: *offset,
                    queue_id: mq.queue_id,
                    topic: mq.topic.clone(),
                })
                .collect(),
        }
    }
}
