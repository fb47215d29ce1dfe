//! LOCK_BATCH_MQ / UNLOCK_BATCH_MQ bodies (`LockBatchRequestBody`,
//! `LockBatchResponseBody`, `UnlockBatchRequestBody`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::lenient::{queue_set, scalar, scalar_opt};
use super::{JsonBody, MessageQueue};

/// Asks the broker to lock queues for one client of a group (orderly consumption).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockBatchRequestBody {
    /// Client id.
    #[serde(
        default,
        deserialize_with = "scalar_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_id: Option<String>,
    /// Consumer group.
    #[serde(
        default,
        deserialize_with = "scalar_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub consumer_group: Option<String>,
    /// Queues to lock.
    #[serde(default, deserialize_with = "queue_set")]
    pub mq_set: BTreeSet<MessageQueue>,
    /// Only lock on this broker (5.x proxy).
    #[serde(default, deserialize_with = "scalar")]
    pub only_this_broker: bool,
}

impl JsonBody for LockBatchRequestBody {
    const WHAT: &'static str = "LockBatchRequestBody";
}

/// The queues the broker locked for the requester.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LockBatchResponseBody {
    /// Locked queues.
    #[serde(rename = "lockOKMQSet", default, deserialize_with = "queue_set")]
    pub lock_ok_mq_set: BTreeSet<MessageQueue>,
}

impl JsonBody for LockBatchResponseBody {
    const WHAT: &'static str = "LockBatchResponseBody";
}

/// Releases queue locks (often oneway); same shape as [`LockBatchRequestBody`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnlockBatchRequestBody {
    /// Client id.
    #[serde(
        default,
        deserialize_with = "scalar_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_id: Option<String>,
    /// Consumer group.
    #[serde(
        default,
        deserialize_with = "scalar_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub consumer_group: Option<String>,
    /// Queues to unlock.
    #[serde(default, deserialize_with = "queue_set")]
    pub mq_set: BTreeSet<MessageQueue>,
    /// Only unlock on this broker (5.x proxy).
    #[serde(default, deserialize_with = "scalar")]
    pub only_this_broker: bool,
}

impl JsonBody for UnlockBatchRequestBody {
    const WHAT: &'static str = "UnlockBatchRequestBody";
}
