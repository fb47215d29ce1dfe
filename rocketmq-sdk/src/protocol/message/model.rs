//! The message model: [`Message`] (what a producer sends), [`MessageExt`] (a stored or
//! received message with every stored-record field) and [`MessageQueue`].

use std::cmp::Ordering;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::ops::{Deref, DerefMut};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::id;
use super::keys;
use super::properties::Properties;

/// A message as a producer builds it: topic, user flag, properties and body.
///
/// The convenience accessors read and write the well-known properties with Java's
/// defaults (e.g. a missing `WAIT` means true, a missing or unparsable `DELAY` means 0).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Topic name.
    pub topic: String,
    /// User flag, stored verbatim (Java `Message.flag`).
    pub flag: i32,
    /// Properties, in wire order.
    pub properties: Properties,
    /// Body bytes (compressed if the record's sysFlag says so).
    pub body: Bytes,
    /// Transaction id kept beside the message by the Java client; not part of any encoding.
    pub transaction_id: Option<String>,
}

impl Message {
    /// A message for `topic` with `body`, with `WAIT=true` set as Java's constructors do.
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        let mut m = Message {
            topic: topic.into(),
            body: body.into(),
            ..Message::default()
        };
        m.set_wait_store_msg_ok(true);
        m
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The value of property `key`.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.get(key)
    }

    /// Sets property `key`, returning the old value.
    pub fn put_property(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Option<String> {
        self.properties.insert(key, value)
    }

    /// Removes property `key`, returning its value.
    pub fn remove_property(&mut self, key: &str) -> Option<String> {
        self.properties.remove(key)
    }

    /// The tag (`TAGS`).
    pub fn tags(&self) -> Option<&str> {
        self.property(keys::TAGS)
    }

    /// Sets the tag (`TAGS`).
    pub fn set_tags(&mut self, tags: impl Into<String>) {
        self.put_property(keys::TAGS, tags);
    }

    /// The raw `KEYS` value (space-separated keys).
    pub fn keys(&self) -> Option<&str> {
        self.property(keys::KEYS)
    }

    /// The individual keys of `KEYS`, empty words skipped.
    pub fn key_list(&self) -> impl Iterator<Item = &str> + '_ {
        self.keys()
            .unwrap_or("")
            .split(keys::KEY_SEPARATOR)
            .filter(|k| !k.is_empty())
    }

    /// Sets `KEYS` to `keys` joined by spaces.
    pub fn set_keys<I, S>(&mut self, keys: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut joined = String::new();
        for k in keys {
            if !joined.is_empty() {
                joined.push_str(keys::KEY_SEPARATOR);
            }
            joined.push_str(k.as_ref());
        }
        self.put_property(keys::KEYS, joined);
    }

    /// The delay level (`DELAY`), 0 when absent or not a number.
    pub fn delay_level(&self) -> i32 {
        self.property(keys::DELAY)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Sets the delay level (`DELAY`).
    pub fn set_delay_level(&mut self, level: i32) {
        self.put_property(keys::DELAY, level.to_string());
    }

    /// The 5.x timer delivery time in ms since the epoch (`TIMER_DELIVER_MS`).
    pub fn deliver_time_ms(&self) -> Option<i64> {
        self.property(keys::TIMER_DELIVER_MS)
            .and_then(|v| v.parse().ok())
    }

    /// Sets the 5.x timer delivery time in ms since the epoch (`TIMER_DELIVER_MS`).
    ///
    /// Brokers before 5.0 ignore it and deliver at once; the producer refuses such a
    /// message for a broker it knows to be older (see `PROTOCOL-NOTES.md`, item 4).
    pub fn set_deliver_time_ms(&mut self, ms: i64) {
        self.put_property(keys::TIMER_DELIVER_MS, ms.to_string());
    }

    /// The 5.x timer delay in seconds (`TIMER_DELAY_SEC`).
    pub fn delay_time_sec(&self) -> Option<i64> {
        self.property(keys::TIMER_DELAY_SEC)
            .and_then(|v| v.parse().ok())
    }

    /// Sets the 5.x timer delay in seconds (`TIMER_DELAY_SEC`).
    pub fn set_delay_time_sec(&mut self, sec: i64) {
        self.put_property(keys::TIMER_DELAY_SEC, sec.to_string());
    }

    /// The 5.x timer delay in ms (`TIMER_DELAY_MS`).
    pub fn delay_time_ms(&self) -> Option<i64> {
        self.property(keys::TIMER_DELAY_MS)
            .and_then(|v| v.parse().ok())
    }

    /// Sets the 5.x timer delay in ms (`TIMER_DELAY_MS`).
    pub fn set_delay_time_ms(&mut self, ms: i64) {
        self.put_property(keys::TIMER_DELAY_MS, ms.to_string());
    }

    /// Whether the broker should wait for the flush before replying (`WAIT`): true when the
    /// property is absent, otherwise Java's `Boolean.parseBoolean` of it (only `true`, in any
    /// case, is true), like `isWaitStoreMsgOK`.
    pub fn wait_store_msg_ok(&self) -> bool {
        self.property(keys::WAIT)
            .is_none_or(|v| v.eq_ignore_ascii_case("true"))
    }

    /// Sets `WAIT`.
    pub fn set_wait_store_msg_ok(&mut self, wait: bool) {
        self.put_property(keys::WAIT, if wait { "true" } else { "false" });
    }

    /// The client unique id (`UNIQ_KEY`).
    pub fn uniq_key(&self) -> Option<&str> {
        self.property(keys::UNIQ_KEY)
    }

    /// Sets the client unique id (`UNIQ_KEY`).
    pub fn set_uniq_key(&mut self, id: impl Into<String>) {
        self.put_property(keys::UNIQ_KEY, id);
    }

    /// Sets `UNIQ_KEY` from `generator` unless one is present, as the Java producer does.
    pub fn ensure_uniq_key(&mut self, generator: &id::UniqIdGenerator) {
        if !self.properties.contains_key(keys::UNIQ_KEY) {
            self.set_uniq_key(generator.next_id());
        }
    }

    /// The sharding key for ordered messages (`__SHARDINGKEY`).
    pub fn sharding_key(&self) -> Option<&str> {
        self.property(keys::SHARDING_KEY)
    }

    /// Sets the sharding key (`__SHARDINGKEY`).
    pub fn set_sharding_key(&mut self, key: impl Into<String>) {
        self.put_property(keys::SHARDING_KEY, key);
    }

    /// The reconsume count carried by a retry send (`RECONSUME_TIME`).
    pub fn reconsume_time(&self) -> Option<i32> {
        self.property(keys::RECONSUME_TIME)
            .and_then(|v| v.parse().ok())
    }

    /// The original topic of a retry message (`RETRY_TOPIC`).
    pub fn retry_topic(&self) -> Option<&str> {
        self.property(keys::RETRY_TOPIC)
    }

    /// The producer group (`PGROUP`).
    pub fn producer_group(&self) -> Option<&str> {
        self.property(keys::PGROUP)
    }
}

fn unspecified_addr() -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
}

/// A stored or received message: the [`Message`] plus every field of the stored record.
///
/// It dereferences to the inner [`Message`], so `ext.tags()` and `ext.topic` work
/// directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageExt {
    /// The message itself.
    pub message: Message,
    /// The record's TOTALSIZE as decoded (ignored by the encoder, which computes it).
    pub store_size: i32,
    /// Queue id.
    pub queue_id: i32,
    /// Logical offset in the consume queue.
    pub queue_offset: i64,
    /// Message sysFlag (see [`super::sysflag`]).
    pub sys_flag: i32,
    /// When the producer created the message, ms since the epoch.
    pub born_timestamp: i64,
    /// The producer's address as seen by the broker.
    pub born_host: SocketAddr,
    /// When the broker stored the message, ms since the epoch.
    pub store_timestamp: i64,
    /// The storing broker's address.
    pub store_host: SocketAddr,
    /// Byte offset of the record in the commit log (PHYSICALOFFSET).
    pub commit_log_offset: i64,
    /// `crc32(body) & 0x7FFFFFFF` as decoded (ignored by the encoder, which computes it).
    pub body_crc: u32,
    /// How many times the message was consumed and sent back.
    pub reconsume_times: i32,
    /// For a committed transactional message, the half message's commit-log offset.
    pub prepared_transaction_offset: i64,
}

impl Default for MessageExt {
    fn default() -> Self {
        MessageExt {
            message: Message::default(),
            store_size: 0,
            queue_id: 0,
            queue_offset: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: unspecified_addr(),
            store_timestamp: 0,
            store_host: unspecified_addr(),
            commit_log_offset: 0,
            body_crc: 0,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }
}

impl Deref for MessageExt {
    type Target = Message;

    fn deref(&self) -> &Message {
        &self.message
    }
}

impl DerefMut for MessageExt {
    fn deref_mut(&mut self) -> &mut Message {
        &mut self.message
    }
}

impl From<Message> for MessageExt {
    fn from(message: Message) -> Self {
        MessageExt {
            message,
            ..MessageExt::default()
        }
    }
}

impl MessageExt {
    /// The offset msgId: store host + commit-log offset, uppercase hex.
    pub fn offset_msg_id(&self) -> String {
        id::offset_msg_id(self.store_host, self.commit_log_offset)
    }

    /// The id Java's `getMsgId()` returns on the client: `UNIQ_KEY` when present, else
    /// the offset msgId.
    pub fn msg_id(&self) -> String {
        match self.message.uniq_key() {
            Some(k) => k.to_owned(),
            None => self.offset_msg_id(),
        }
    }

    /// The tags code the consume queue stores for this message.
    pub fn tags_code(&self) -> i64 {
        super::hash::tags_code_opt(self.message.tags())
    }
}

/// A queue of a topic on one broker.
///
/// Ordered by topic, then broker name, then queue id, comparing strings by UTF-16 code
/// units as Java's `compareTo` does, so sorted queue lists (and hence rebalance
/// allocations) match Java clients.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQueue {
    /// Topic name.
    pub topic: String,
    /// Broker name (not address).
    pub broker_name: String,
    /// Queue id within the topic on that broker.
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

fn java_str_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.cmp(b)
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

impl Ord for MessageQueue {
    fn cmp(&self, other: &Self) -> Ordering {
        java_str_cmp(&self.topic, &other.topic)
            .then_with(|| java_str_cmp(&self.broker_name, &other.broker_name))
            .then_with(|| self.queue_id.cmp(&other.queue_id))
    }
}

impl PartialOrd for MessageQueue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for MessageQueue {
    /// Java's `toString`, which consistent-hash allocation hashes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MessageQueue [topic={}, brokerName={}, queueId={}]",
            self.topic, self.broker_name, self.queue_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_accessors() {
        let mut m = Message::new("T", &b"body"[..]);
        assert_eq!(m.property(keys::WAIT), Some("true"));
        assert!(m.wait_store_msg_ok());
        m.set_wait_store_msg_ok(false);
        assert!(!m.wait_store_msg_ok());
        assert!(Message::default().wait_store_msg_ok());
        for (raw, wait) in [
            ("TRUE", true),
            ("false", false),
            ("0", false),
            ("yes", false),
        ] {
            m.put_property(keys::WAIT, raw);
            assert_eq!(m.wait_store_msg_ok(), wait, "WAIT={raw}");
        }
        m.set_tags("TagA");
        m.set_keys(["k1", "k2"]);
        assert_eq!(m.keys(), Some("k1 k2"));
        assert_eq!(m.key_list().collect::<Vec<_>>(), vec!["k1", "k2"]);
        assert_eq!(m.delay_level(), 0);
        m.set_delay_level(3);
        assert_eq!(m.delay_level(), 3);
        m.put_property(keys::DELAY, "x");
        assert_eq!(m.delay_level(), 0);
        m.set_deliver_time_ms(1_700_000_000_000);
        assert_eq!(m.property("TIMER_DELIVER_MS"), Some("1700000000000"));
        assert_eq!(m.deliver_time_ms(), Some(1_700_000_000_000));
        m.set_sharding_key("s");
        assert_eq!(m.property("__SHARDINGKEY"), Some("s"));
        m.set_uniq_key("U");
        assert_eq!(m.uniq_key(), Some("U"));
        assert_eq!(m.tags(), Some("TagA"));
        let g = id::UniqIdGenerator::with_parts("1.2.3.4".parse().unwrap(), 1, 1);
        m.ensure_uniq_key(&g);
        assert_eq!(m.uniq_key(), Some("U"));
        m.remove_property(keys::UNIQ_KEY);
        m.ensure_uniq_key(&g);
        assert!(m.uniq_key().unwrap().starts_with("01020304"));
    }

    #[test]
    fn msg_ids() {
        let mut ext = MessageExt {
            store_host: "10.0.0.1:10911".parse().unwrap(),
            commit_log_offset: 0x1234,
            ..MessageExt::default()
        };
        assert_eq!(ext.offset_msg_id(), "0A00000100002A9F0000000000001234");
        assert_eq!(ext.msg_id(), ext.offset_msg_id());
        ext.set_uniq_key("AB");
        assert_eq!(ext.msg_id(), "AB");
        ext.set_tags("TagA");
        assert_eq!(ext.tags_code(), 2_598_919);
    }

    #[test]
    fn queue_order_display_json() {
        let mut qs = [
            MessageQueue::new("b", "x", 0),
            MessageQueue::new("a", "y", 1),
            MessageQueue::new("a", "x", 2),
            MessageQueue::new("a", "x", 1),
        ];
        qs.sort();
        assert_eq!(
            qs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec![
                "MessageQueue [topic=a, brokerName=x, queueId=1]",
                "MessageQueue [topic=a, brokerName=x, queueId=2]",
                "MessageQueue [topic=a, brokerName=y, queueId=1]",
                "MessageQueue [topic=b, brokerName=x, queueId=0]",
            ]
        );
        // UTF-16 order: U+FF5E (one unit) sorts after U+1F600 (surrogates 0xD83D...).
        assert!(MessageQueue::new("\u{FF5E}", "", 0) > MessageQueue::new("😀", "", 0));
        let json = serde_json::to_string(&qs[0]).unwrap();
        assert_eq!(json, r#"{"topic":"a","brokerName":"x","queueId":1}"#);
        let back: MessageQueue = serde_json::from_str(&json).unwrap();
        assert_eq!(back, qs[0]);
    }
}
