//! Typed command bodies (`R/protocol/{body,heartbeat,route}`), JSON in the shapes the Java
//! peers write and read, fastjson quirks included.
//!
//! Every JSON body implements [`JsonBody`]: `decode` accepts standard JSON and fastjson
//! output (bare numeric and object map keys, see [`fastjson`]); `encode` writes what a
//! Java peer writes (fastjson's shape: fields in alphabetical order, nulls omitted, enums
//! by name, non-string keys bare); `encode_standard` writes the same with quoted keys.
//!
//! * [`route`] — `TopicRouteData`, `BrokerData`, `QueueData`, `ClusterInfo`;
//! * [`heartbeat`] — `HeartbeatData` and its consumer/producer/subscription parts;
//! * [`lock`] — batch lock and unlock of queues;
//! * [`offset`] — offset reset bodies (MessageQueue-keyed);
//! * [`consumer`] — consumer list, direct consumption, running info;
//! * [`register`] — broker registration (plain and compressed) and topic configs;
//! * [`stats`] — topic stats, consume stats and lag, consumer-reported offsets;
//! * [`connection`] — consumer and producer connections;
//! * [`group`] — consumer group configs;
//! * [`kv`] — `KVTable`, `GroupList`, `TopicList`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ProtocolError;

pub mod connection;
pub mod consumer;
pub mod fastjson;
pub mod group;
pub mod heartbeat;
pub mod kv;
mod lenient;
pub mod lock;
pub mod offset;
pub mod register;
pub mod route;
pub mod stats;

/// Re-exported so bodies and their users name one queue type.
pub use crate::protocol::message::MessageQueue;
pub use connection::{Connection, ConsumerConnection, ProducerConnection};
pub use consumer::{
    CMResult, ConsumeMessageDirectlyResult, ConsumeStatus, ConsumerListByGroupResponseBody,
    ConsumerRunningInfo, PopProcessQueueInfo, ProcessQueueInfo,
};
pub use group::{SubscriptionGroupConfig, SubscriptionGroupWrapper};
pub use heartbeat::{
    CheckClientRequestBody, ConsumeFromWhere, ConsumeType, ConsumerData, HeartbeatData,
    MessageModel, ProducerData, SubscriptionData,
};
pub use kv::{GroupList, KvTable, TopicList};
pub use lock::{LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody};
pub use offset::{MessageQueueForC, ResetOffsetBody, ResetOffsetBodyForC};
pub use register::{DataVersion, RegisterBrokerBody, TopicConfig, TopicConfigSerializeWrapper};
pub use route::{BrokerData, ClusterInfo, QueueData, TopicRouteData};
pub use stats::{
    ConsumeStats, ConsumeStatsList, GetConsumerStatusBody, OffsetWrapper, TopicOffset,
    TopicStatsTable,
};

/// A JSON command body.
pub trait JsonBody: Serialize + DeserializeOwned {
    /// The body's name in errors.
    const WHAT: &'static str;

    /// Decodes standard JSON or fastjson output.
    ///
    /// # Errors
    /// [`ProtocolError`] when the bytes are neither
    /// standard JSON nor fastjson output of this body.
    fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        fastjson::from_slice(bytes, Self::WHAT)
    }

    /// Encodes as a Java peer would (fastjson's shape, non-string map keys bare).
    ///
    /// # Errors
    /// [`ProtocolError`] when a field cannot be serialized.
    fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        fastjson::to_vec(self)
    }

    /// Encodes as standard JSON (every map key quoted); an error for bodies with
    /// object-keyed maps, which only have the fastjson form.
    ///
    /// # Errors
    /// [`ProtocolError`] for bodies with object-keyed maps,
    /// or a field that cannot be serialized.
    fn encode_standard(&self) -> Result<Vec<u8>, ProtocolError> {
        fastjson::to_standard_vec(self)
    }
}
