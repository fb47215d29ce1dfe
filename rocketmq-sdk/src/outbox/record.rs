//! Rows of the outbox table as Rust values, and the message <-> row mapping.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Serializer;
use serde::ser::SerializeMap;

use super::error::{OutboxError, OutboxResult};
use crate::error::Error;
use crate::protocol::message::Message;
use crate::protocol::topic::{is_not_allowed_send_topic, validate_topic};

/// The longest sharding key accepted (characters): the column is `VARCHAR(255)`.
pub const MAX_SHARD_KEY_CHARS: usize = 255;

/// The id of an outbox row (the table's `id` column).
pub type OutboxId = i64;

/// Anything the outbox can store: converted to a [`Message`] once, at enqueue time.
///
/// Every `T: Into<Message>` (a [`Message`] itself included) implements it, so typed
/// messages plug in by providing `From<T> for Message`; a type whose conversion can fail
/// implements this trait directly and returns [`crate::Error::InvalidMessage`].
pub trait IntoOutboxMessage {
    /// The message to store.
    ///
    /// # Errors
    /// An SDK error (usually [`crate::Error::InvalidMessage`]) when the value cannot be
    /// turned into a message; the enqueue then fails and the caller's transaction can
    /// roll back.
    fn into_outbox_message(self) -> Result<Message, Error>;
}

impl<T: Into<Message>> IntoOutboxMessage for T {
    fn into_outbox_message(self) -> Result<Message, Error> {
        Ok(self.into())
    }
}

/// Where a row is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutboxStatus {
    /// Waiting to be sent (first time or again after a failure). Stored as `pending`.
    Pending,
    /// The broker stored it with an accepted status. Stored as `sent`.
    Sent,
    /// Every attempt failed; waiting for a human ([`crate::outbox::Outbox::requeue`] or
    /// [`crate::outbox::Outbox::discard`]). Stored as `parked`.
    Parked,
    /// A parked row a human gave up on; never sent. Stored as `discarded`.
    Discarded,
}

impl OutboxStatus {
    /// The value stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Parked => "parked",
            OutboxStatus::Discarded => "discarded",
        }
    }

    /// Parses the `status` column.
    pub fn parse(s: &str) -> Option<OutboxStatus> {
        Some(match s {
            "pending" => OutboxStatus::Pending,
            "sent" => OutboxStatus::Sent,
            "parked" => OutboxStatus::Parked,
            "discarded" => OutboxStatus::Discarded,
            _ => return None,
        })
    }
}

impl fmt::Display for OutboxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the outbox table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxRecord {
    /// Row id; rows are claimed in id order.
    pub id: OutboxId,
    /// Topic.
    pub topic: String,
    /// Tags (copy of the `TAGS` property, for people reading the table).
    pub tags: Option<String>,
    /// Keys (copy of the `KEYS` property).
    pub keys: Option<String>,
    /// Sharding key (`__SHARDINGKEY`): rows with the same key are sent in id order, to
    /// one queue.
    pub shard_key: Option<String>,
    /// The message's user flag.
    pub flag: i32,
    /// Every property, as the JSON object stored in the `properties` column.
    pub properties_json: String,
    /// Body.
    pub body: Bytes,
    /// Status.
    pub status: OutboxStatus,
    /// Send attempts made so far.
    pub attempts: u32,
    /// When the row is due next (for a claimed row: when its lease runs out).
    pub next_attempt_at: SystemTime,
    /// The last send error, if any attempt failed.
    pub last_error: Option<String>,
    /// When the row was enqueued.
    pub created_at: SystemTime,
    /// When the broker accepted it.
    pub sent_at: Option<SystemTime>,
    /// The client message id (`UNIQ_KEY`), fixed at enqueue time so that every resend of
    /// the row carries the same id: consumers deduplicate on it.
    pub msg_id: Option<String>,
}

impl OutboxRecord {
    /// The message this row sends: topic, flag, properties (the `UNIQ_KEY` included) and
    /// body, as enqueued.
    ///
    /// # Errors
    /// [`OutboxError::CorruptRow`] when the `properties` column is not a JSON object of
    /// strings.
    pub fn message(&self) -> OutboxResult<Message> {
        let props: BTreeMap<String, String> =
            serde_json::from_str(&self.properties_json).map_err(|e| OutboxError::CorruptRow {
                id: self.id,
                reason: format!("properties: {e}"),
            })?;
        let mut message = Message {
            topic: self.topic.clone(),
            flag: self.flag,
            body: self.body.clone(),
            ..Message::default()
        };
        for (k, v) in props {
            message.properties.insert(k, v);
        }
        Ok(message)
    }
}

/// How many rows are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxCounts {
    /// Rows waiting to be sent (including those being sent right now).
    pub pending: u64,
    /// Rows sent.
    pub sent: u64,
    /// Rows parked for a human.
    pub parked: u64,
    /// Rows discarded by a human.
    pub discarded: u64,
}

/// A row about to be inserted (internal).
#[doc(hidden)]
#[derive(Debug)]
pub struct NewRow {
    pub(crate) topic: String,
    pub(crate) tags: Option<String>,
    pub(crate) keys: Option<String>,
    pub(crate) shard_key: Option<String>,
    pub(crate) flag: i32,
    pub(crate) properties: String,
    pub(crate) body: Bytes,
    pub(crate) msg_id: String,
    pub(crate) now_ms: i64,
}

impl NewRow {
    /// Checks `message` the way the producer will (so a message that can never be sent is
    /// refused inside the business transaction) and maps it to a row.
    pub(crate) fn from_message(message: Message, now_ms: i64) -> OutboxResult<NewRow> {
        let invalid = |reason: String| OutboxError::Sdk(Error::InvalidMessage(reason));
        validate_topic(&message.topic).map_err(|e| invalid(e.to_string()))?;
        if is_not_allowed_send_topic(&message.topic) {
            return Err(invalid(format!(
                "Sending message to topic[{}] is forbidden (a broker-internal topic).",
                message.topic
            )));
        }
        if message.body.is_empty() {
            return Err(invalid("the message body is empty".into()));
        }
        message
            .properties
            .encoded_len()
            .map_err(|e| invalid(e.to_string()))?;
        if let Some(key) = message.sharding_key()
            && key.chars().count() > MAX_SHARD_KEY_CHARS
        {
            return Err(invalid(format!(
                "the sharding key is longer than {MAX_SHARD_KEY_CHARS} characters"
            )));
        }
        let properties = properties_json(&message)?;
        Ok(NewRow {
            tags: message.tags().map(str::to_owned),
            keys: message.keys().map(str::to_owned),
            shard_key: message.sharding_key().map(str::to_owned),
            msg_id: message.uniq_key().unwrap_or_default().to_owned(),
            topic: message.topic,
            flag: message.flag,
            properties,
            body: message.body,
            now_ms,
        })
    }
}

fn properties_json(message: &Message) -> OutboxResult<String> {
    let mut out = Vec::with_capacity(64);
    let mut ser = serde_json::Serializer::new(&mut out);
    let result = (|| {
        let mut map = ser.serialize_map(Some(message.properties.len()))?;
        for (k, v) in message.properties.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    })();
    result.map_err(|e| OutboxError::Sdk(Error::InvalidMessage(e.to_string())))?;
    String::from_utf8(out).map_err(|e| OutboxError::Sdk(Error::InvalidMessage(e.to_string())))
}

/// Milliseconds since the Unix epoch (the unit of every time column).
pub(crate) fn to_system_time(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_for(row: &NewRow) -> OutboxRecord {
        OutboxRecord {
            id: 1,
            topic: row.topic.clone(),
            tags: row.tags.clone(),
            keys: row.keys.clone(),
            shard_key: row.shard_key.clone(),
            flag: row.flag,
            properties_json: row.properties.clone(),
            body: row.body.clone(),
            status: OutboxStatus::Pending,
            attempts: 0,
            next_attempt_at: to_system_time(row.now_ms),
            last_error: None,
            created_at: to_system_time(row.now_ms),
            sent_at: None,
            msg_id: Some(row.msg_id.clone()),
        }
    }

    #[test]
    fn a_message_survives_the_row_round_trip() {
        let mut m = Message::new("orders", "body");
        m.flag = 7;
        m.set_tags("created");
        m.set_keys(["o-1", "c-2"]);
        m.set_sharding_key("o-1");
        m.set_uniq_key("ABC");
        m.put_property("unicode", "é\"{}");
        let row = NewRow::from_message(m.clone(), 1_700_000_000_000).unwrap();
        assert_eq!(row.tags.as_deref(), Some("created"));
        assert_eq!(row.keys.as_deref(), Some("o-1 c-2"));
        assert_eq!(row.shard_key.as_deref(), Some("o-1"));
        assert_eq!(row.msg_id, "ABC");
        let back = record_for(&row).message().unwrap();
        assert_eq!(back.topic, m.topic);
        assert_eq!(back.flag, 7);
        assert_eq!(back.body, m.body);
        let mut a: Vec<_> = back.properties.iter().collect();
        let mut b: Vec<_> = m.properties.iter().collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn unsendable_messages_are_refused_at_enqueue() {
        let bad = [
            Message::new("", "x"),
            Message::new("bad topic!", "x"),
            Message::new("t", ""),
            Message::new("RMQ_SYS_TRANS_HALF_TOPIC", "x"),
            {
                let mut m = Message::new("t", "x");
                m.put_property("k", "a\u{1}b");
                m
            },
            {
                let mut m = Message::new("t", "x");
                m.set_sharding_key("k".repeat(256));
                m
            },
        ];
        for m in bad {
            let err = NewRow::from_message(m.clone(), 0).unwrap_err();
            assert!(
                matches!(err, OutboxError::Sdk(Error::InvalidMessage(_))),
                "{m:?}: {err}"
            );
        }
    }

    #[test]
    fn corrupt_properties_are_reported_with_the_row() {
        let row = NewRow::from_message(Message::new("t", "x"), 0).unwrap();
        let mut rec = record_for(&row);
        rec.properties_json = "not json".into();
        assert!(matches!(
            rec.message(),
            Err(OutboxError::CorruptRow { id: 1, .. })
        ));
    }

    #[test]
    fn status_names_round_trip() {
        for s in [
            OutboxStatus::Pending,
            OutboxStatus::Sent,
            OutboxStatus::Parked,
            OutboxStatus::Discarded,
        ] {
            assert_eq!(OutboxStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(OutboxStatus::parse("other"), None);
    }
}
