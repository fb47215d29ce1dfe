//! Who is connected: `ConsumerConnection` (GET_CONSUMER_CONNECTION_LIST) and
//! `ProducerConnection` (GET_PRODUCER_CONNECTION_LIST), each a set of `Connection`s.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::lenient::{enum_opt, null_default, scalar};
use super::{ConsumeFromWhere, ConsumeType, JsonBody, MessageModel, SubscriptionData};

/// One client connection (`Connection`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// The client's `ip:port` as the broker sees it.
    #[serde(default, deserialize_with = "scalar")]
    pub client_addr: String,
    /// Client id (`ip@instance`).
    #[serde(default, deserialize_with = "scalar")]
    pub client_id: String,
    /// The client's language by its `LanguageCode` name, e.g. `JAVA`.
    #[serde(default, deserialize_with = "scalar")]
    pub language: String,
    /// The client's protocol version (`MQVersion` ordinal).
    #[serde(default, deserialize_with = "scalar")]
    pub version: i32,
}

/// A consumer group's members and what it subscribes to (`ConsumerConnection`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerConnection {
    /// Connections of the group's online clients.
    #[serde(default, deserialize_with = "null_default")]
    pub connection_set: Vec<Connection>,
    /// Where new consumers start.
    #[serde(
        default,
        deserialize_with = "enum_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub consume_from_where: Option<ConsumeFromWhere>,
    /// Push or pull.
    #[serde(
        default,
        deserialize_with = "enum_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub consume_type: Option<ConsumeType>,
    /// Clustering or broadcasting.
    #[serde(
        default,
        deserialize_with = "enum_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_model: Option<MessageModel>,
    /// Topic → subscription.
    #[serde(default, deserialize_with = "null_default")]
    pub subscription_table: BTreeMap<String, SubscriptionData>,
}

impl ConsumerConnection {
    /// The oldest protocol version among the connections (upstream `computeMinVersion`).
    pub fn min_version(&self) -> Option<i32> {
        self.connection_set.iter().map(|c| c.version).min()
    }
}

impl JsonBody for ConsumerConnection {
    const WHAT: &'static str = "ConsumerConnection";
}

/// A producer group's members (`ProducerConnection`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProducerConnection {
    /// Connections of the group's online producers.
    #[serde(default, deserialize_with = "null_default")]
    pub connection_set: Vec<Connection>,
}

impl JsonBody for ProducerConnection {
    const WHAT: &'static str = "ProducerConnection";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_consumer_connection_decodes() {
        let java = br#"{"connectionSet":[{"clientAddr":"127.0.0.1:45702","clientId":"192.0.2.2@i_G","language":"JAVA","version":409}],"consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","subscriptionTable":{"T":{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":1796664992274,"tagsSet":[],"topic":"T"}}}"#;
        let c = ConsumerConnection::decode(java).unwrap();
        assert_eq!(c.connection_set[0].version, 409);
        assert_eq!(c.message_model, Some(MessageModel::Clustering));
        assert_eq!(c.consume_type, Some(ConsumeType::ConsumePassively));
        assert_eq!(c.subscription_table["T"].sub_string, "*");
        assert_eq!(c.min_version(), Some(409));
        let again = ConsumerConnection::decode(&c.encode().unwrap()).unwrap();
        assert_eq!(again, c);
    }
}
