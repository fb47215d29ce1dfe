//! HEART_BEAT body (`R/protocol/heartbeat/*`) and subscription building (`FilterAPI`).
//!
//! Reading is lenient the way the Java broker's fastjson is: enums may come as names,
//! ordinals or ordinals in strings (C++ clients send ordinals), numbers as strings of
//! digits, strings as numbers, booleans as `0`/`1`/`"true"`/`"0"`, unknown fields are
//! ignored and a missing or null field takes Java's default (see `lenient`). Writing
//! uses names, as the Rust broker and Java expect.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::JsonBody;
use super::lenient::{enum_opt, null_default, scalar, scalar_opt, scalar_set};
use crate::protocol::ProtocolError;
use crate::protocol::header::ExpressionType;
use crate::protocol::header::macros::java_enum;

java_enum! {
    /// How a consumer gets messages (`ConsumeType`).
    pub enum ConsumeType {
        /// Pull and lite-pull consumers.
        ConsumeActively = "CONSUME_ACTIVELY",
        /// Push consumers.
        ConsumePassively = "CONSUME_PASSIVELY",
        /// POP consumers (5.x).
        ConsumePop = "CONSUME_POP",
    }
}

java_enum! {
    /// How a group shares messages (`MessageModel`).
    pub enum MessageModel {
        /// Every instance gets every message; offsets are local.
        Broadcasting = "BROADCASTING",
        /// Instances share queues; offsets are on the broker.
        Clustering = "CLUSTERING",
    }
}

java_enum! {
    /// Where a new push consumer starts (`ConsumeFromWhere`).
    pub enum ConsumeFromWhere {
        /// The stored offset, else the queue end (the default).
        ConsumeFromLastOffset = "CONSUME_FROM_LAST_OFFSET",
        /// Deprecated upstream.
        ConsumeFromLastOffsetAndFromMinWhenBootFirst =
            "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
        /// Deprecated upstream.
        ConsumeFromMinOffset = "CONSUME_FROM_MIN_OFFSET",
        /// Deprecated upstream.
        ConsumeFromMaxOffset = "CONSUME_FROM_MAX_OFFSET",
        /// The stored offset, else the queue start.
        ConsumeFromFirstOffset = "CONSUME_FROM_FIRST_OFFSET",
        /// The stored offset, else a timestamp search.
        ConsumeFromTimestamp = "CONSUME_FROM_TIMESTAMP",
    }
}

/// `SubscriptionData.SUB_ALL`: the expression that matches every tag.
pub const SUB_ALL: &str = "*";

/// One topic subscription of a consumer group (`SubscriptionData`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionData {
    /// Legacy class filter mode.
    #[serde(default, deserialize_with = "scalar")]
    pub class_filter_mode: bool,
    /// Java `String.hashCode` of each tag, what the broker matches against.
    #[serde(default, deserialize_with = "scalar_set")]
    pub code_set: BTreeSet<i32>,
    /// Filter language.
    #[serde(default, deserialize_with = "expression_type")]
    pub expression_type: ExpressionType,
    /// The expression as written (`*`, `A || B`, or SQL92).
    #[serde(default, deserialize_with = "scalar")]
    pub sub_string: String,
    /// Version: the subscription's creation time, ms. Missing or null reads as now, as
    /// Java's field initialiser (`System.currentTimeMillis()`), so that a client that
    /// omits it still gets its subscription changes applied by the broker.
    #[serde(default = "now_millis", deserialize_with = "sub_version")]
    pub sub_version: i64,
    /// The tags of a TAG expression.
    #[serde(default, deserialize_with = "scalar_set")]
    pub tags_set: BTreeSet<String>,
    /// Topic.
    #[serde(default, deserialize_with = "scalar")]
    pub topic: String,
}

/// `expressionType` is a Java `String`: any scalar, its name parsed; empty is `TAG`.
fn expression_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ExpressionType, D::Error> {
    let name: String = scalar(d)?;
    let name = name.trim();
    Ok(if name.is_empty() {
        ExpressionType::default()
    } else {
        ExpressionType::from_name(name)
    })
}

fn sub_version<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(scalar_opt(d)?.unwrap_or_else(now_millis))
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl SubscriptionData {
    /// Builds a subscription like `FilterAPI.build`, with `sub_version` = now.
    ///
    /// TAG (or `None`): `""` or `*` subscribes to everything (`subString = "*"`, no
    /// tags); otherwise the expression is split on `||`, each part trimmed and empties
    /// dropped, giving `tagsSet` and their hash codes in `codeSet`. An expression made
    /// only of `||` separators is an error, as upstream. Other languages keep the
    /// expression as is (it must not be empty).
    ///
    /// # Errors
    /// [`ProtocolError`] for an expression made only of
    /// `||` separators, or an empty expression of another type.
    pub fn build(
        topic: impl Into<String>,
        expression: &str,
        expression_type: Option<ExpressionType>,
    ) -> Result<Self, ProtocolError> {
        let topic = topic.into();
        let expression_type = expression_type.unwrap_or_default();
        let mut data = SubscriptionData {
            topic,
            sub_version: now_millis(),
            expression_type: ExpressionType::Tag,
            ..SubscriptionData::default()
        };
        if !matches!(expression_type, ExpressionType::Tag) {
            if expression.is_empty() {
                return Err(ProtocolError::InvalidField {
                    field: "subString",
                    value: String::new(),
                });
            }
            data.sub_string = expression.to_owned();
            data.expression_type = expression_type;
            return Ok(data);
        }
        if expression.is_empty() || expression == SUB_ALL {
            data.sub_string = SUB_ALL.to_owned();
            return Ok(data);
        }
        data.sub_string = expression.to_owned();
        let parts: Vec<&str> = expression.split("||").collect();
        // Java's `split` drops trailing empty strings and fails when nothing is left.
        if parts.iter().all(|p| p.is_empty()) {
            return Err(ProtocolError::InvalidField {
                field: "subString",
                value: expression.to_owned(),
            });
        }
        for tag in parts.into_iter().map(str::trim).filter(|t| !t.is_empty()) {
            data.code_set
                .insert(crate::protocol::message::hash::java_string_hash(tag));
            data.tags_set.insert(tag.to_owned());
        }
        Ok(data)
    }

    /// Whether the subscription takes every message (`*` with no tags).
    pub fn is_sub_all(&self) -> bool {
        self.expression_type.is_tag() && (self.sub_string.is_empty() || self.sub_string == SUB_ALL)
    }
}

/// A producer group of the client (`ProducerData`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProducerData {
    /// Producer group.
    #[serde(default, deserialize_with = "scalar")]
    pub group_name: String,
}

/// `MixAll.CLIENT_INNER_PRODUCER_GROUP`, which Java clients always list.
pub const CLIENT_INNER_PRODUCER_GROUP: &str = "CLIENT_INNER_PRODUCER";

/// A consumer group of the client (`ConsumerData`).
///
/// The enum fields are nullable upstream; a missing value reads as `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerData {
    /// Where a new consumer starts.
    #[serde(
        default,
        deserialize_with = "enum_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub consume_from_where: Option<ConsumeFromWhere>,
    /// Push, pull or pop.
    #[serde(
        default,
        deserialize_with = "enum_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub consume_type: Option<ConsumeType>,
    /// Consumer group.
    #[serde(default, deserialize_with = "scalar")]
    pub group_name: String,
    /// Clustering or broadcasting.
    #[serde(
        default,
        deserialize_with = "enum_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_model: Option<MessageModel>,
    /// The group's subscriptions.
    #[serde(default, deserialize_with = "null_default")]
    pub subscription_data_set: Vec<SubscriptionData>,
    /// Unit mode.
    #[serde(default, deserialize_with = "scalar")]
    pub unit_mode: bool,
}

/// The HEART_BEAT body (`HeartbeatData`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HeartbeatData {
    /// Client id, `ip@instance[@unit]`.
    #[serde(rename = "clientID", default, deserialize_with = "scalar")]
    pub client_id: String,
    /// Consumer groups of the client.
    #[serde(rename = "consumerDataSet", default, deserialize_with = "null_default")]
    pub consumer_data_set: Vec<ConsumerData>,
    /// Heartbeat V2 fingerprint; non-zero selects V2.
    #[serde(rename = "heartbeatFingerprint", default, deserialize_with = "scalar")]
    pub heartbeat_fingerprint: i32,
    /// Producer groups of the client.
    #[serde(rename = "producerDataSet", default, deserialize_with = "null_default")]
    pub producer_data_set: Vec<ProducerData>,
    /// V2: the subscriptions are unchanged and omitted (getter `isWithoutSub`).
    #[serde(
        rename = "withoutSub",
        alias = "isWithoutSub",
        default,
        deserialize_with = "scalar"
    )]
    pub without_sub: bool,
}

impl JsonBody for HeartbeatData {
    const WHAT: &'static str = "HeartbeatData";
}

/// The CHECK_CLIENT_CONFIG body (`CheckClientRequestBody`): a consumer asks a broker,
/// before it starts, whether the broker can serve a subscription that is not a tag
/// expression (SQL92).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckClientRequestBody {
    /// Client id.
    #[serde(default, deserialize_with = "scalar")]
    pub client_id: String,
    /// Consumer group.
    #[serde(default, deserialize_with = "scalar")]
    pub group: String,
    /// The subscription to check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_data: Option<SubscriptionData>,
}

impl JsonBody for CheckClientRequestBody {
    const WHAT: &'static str = "CheckClientRequestBody";
}
