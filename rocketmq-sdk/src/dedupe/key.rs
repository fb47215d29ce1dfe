//! Dedupe keys: [`DedupeKey`] (consumer group + key) and [`KeySource`] (where a message's
//! key comes from).

use std::fmt;
use std::sync::Arc;

use crate::protocol::message::MessageExt;

use super::guard::DedupeError;

/// Longest accepted consumer group, in bytes.
pub const MAX_GROUP_LEN: usize = 255;
/// Longest accepted key (topic prefix included), in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// A key to deduplicate on: the consumer group and the key within it.
///
/// The group has RocketMQ's group syntax (`[%|A-Za-z0-9_-]`, at most 255 bytes); the key is
/// any non-empty string of at most 1024 bytes. Keys built from messages by a
/// [`Deduplicator`](super::Deduplicator) are `<topic>:<key>` unless topic namespacing is
/// turned off.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DedupeKey {
    group: String,
    key: String,
}

impl DedupeKey {
    /// A key in `group`.
    ///
    /// # Errors
    ///
    /// [`DedupeError::InvalidKey`] if the group is empty, longer than 255 bytes or has a
    /// character outside `[%|A-Za-z0-9_-]`, or the key is empty, longer than 1024 bytes or
    /// contains a NUL.
    pub fn new(group: impl Into<String>, key: impl Into<String>) -> Result<Self, DedupeError> {
        let group = group.into();
        let key = key.into();
        validate_group(&group)?;
        if key.is_empty() {
            return Err(DedupeError::InvalidKey("empty key".into()));
        }
        if key.len() > MAX_KEY_LEN {
            return Err(DedupeError::InvalidKey(format!(
                "key of {} bytes is longer than {MAX_KEY_LEN}",
                key.len()
            )));
        }
        if key.contains('\0') {
            return Err(DedupeError::InvalidKey("key contains NUL".into()));
        }
        Ok(DedupeKey { group, key })
    }

    /// A key in `group` namespaced by `topic`: `<topic>:<key>`.
    ///
    /// # Errors
    ///
    /// As [`DedupeKey::new`]; also if `topic` is empty or contains `:`.
    pub fn with_topic(
        group: impl Into<String>,
        topic: &str,
        key: &str,
    ) -> Result<Self, DedupeError> {
        if topic.is_empty() || topic.contains(':') {
            return Err(DedupeError::InvalidKey(format!(
                "topic `{topic}` is empty or contains `:`"
            )));
        }
        DedupeKey::new(group, format!("{topic}:{key}"))
    }

    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The key within the group.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for DedupeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.group, self.key)
    }
}

fn validate_group(group: &str) -> Result<(), DedupeError> {
    if group.is_empty() || group.len() > MAX_GROUP_LEN {
        return Err(DedupeError::InvalidKey(format!(
            "group `{group}` is empty or longer than {MAX_GROUP_LEN} bytes"
        )));
    }
    if !group
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'))
    {
        return Err(DedupeError::InvalidKey(format!(
            "group `{group}` has a character outside [%|A-Za-z0-9_-]"
        )));
    }
    Ok(())
}

/// A caller-supplied key extractor.
pub type KeyFn = Arc<dyn Fn(&MessageExt) -> Option<String> + Send + Sync>;

/// Where a message's dedupe key comes from.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum KeySource {
    /// The client unique id (`UNIQ_KEY`), set by every RocketMQ producer and kept across
    /// retries; falls back to the offset message id for a message without one (what
    /// [`MessageExt::msg_id`] returns). The default.
    #[default]
    UniqKey,
    /// The whole `KEYS` property (the business keys the producer set, space-separated).
    Keys,
    /// A caller-supplied function, e.g. a field of the payload; `None` means the message
    /// has no key.
    Custom(KeyFn),
}

impl KeySource {
    /// A [`KeySource::Custom`] from a closure.
    ///
    /// ```
    /// use rocketmq_sdk::dedupe::KeySource;
    ///
    /// // The order id is the payload's first line.
    /// let source = KeySource::custom(|m| {
    ///     std::str::from_utf8(&m.body).ok()?.lines().next().map(str::to_owned)
    /// });
    /// # let _ = source;
    /// ```
    pub fn custom<F>(f: F) -> Self
    where
        F: Fn(&MessageExt) -> Option<String> + Send + Sync + 'static,
    {
        KeySource::Custom(Arc::new(f))
    }

    /// The raw key of `msg`, without group or topic.
    ///
    /// # Errors
    ///
    /// [`DedupeError::MissingKey`] when the source finds no (or an empty) key.
    pub fn raw_key(&self, msg: &MessageExt) -> Result<String, DedupeError> {
        let key = match self {
            KeySource::UniqKey => Some(msg.msg_id()),
            KeySource::Keys => msg.keys().map(|k| k.trim().to_owned()),
            KeySource::Custom(f) => f(msg),
        };
        match key {
            Some(k) if !k.is_empty() => Ok(k),
            _ => Err(DedupeError::MissingKey(match self {
                KeySource::UniqKey => "no UNIQ_KEY",
                KeySource::Keys => "no KEYS property",
                KeySource::Custom(_) => "the key extractor returned none",
            })),
        }
    }
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::UniqKey => f.write_str("UniqKey"),
            KeySource::Keys => f.write_str("Keys"),
            KeySource::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// The topic a message's key is namespaced by: the original topic for a retry message.
pub(crate) fn key_topic(msg: &MessageExt) -> &str {
    msg.retry_topic().unwrap_or(&msg.topic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::message::Message;

    #[test]
    fn validation() {
        assert!(DedupeKey::new("g", "k").is_ok());
        assert!(DedupeKey::new("CID_a%b|c-d_1", "k").is_ok());
        assert!(DedupeKey::new("", "k").is_err());
        assert!(DedupeKey::new("g:x", "k").is_err());
        assert!(DedupeKey::new("g x", "k").is_err());
        assert!(DedupeKey::new("g", "").is_err());
        assert!(DedupeKey::new("g", "a\0b").is_err());
        assert!(DedupeKey::new("g".repeat(256), "k").is_err());
        assert!(DedupeKey::new("g", "k".repeat(1025)).is_err());
        assert!(DedupeKey::new("g", "ключ").is_ok());
        let k = DedupeKey::with_topic("g", "orders", "42").unwrap();
        assert_eq!(k.key(), "orders:42");
        assert_eq!(k.to_string(), "g/orders:42");
        assert!(DedupeKey::with_topic("g", "a:b", "42").is_err());
    }

    #[test]
    fn sources() {
        let mut m = MessageExt::from(Message::new("orders", "x"));
        // No UNIQ_KEY: the offset msg id.
        assert_eq!(KeySource::UniqKey.raw_key(&m).unwrap(), m.offset_msg_id());
        m.set_uniq_key("U1");
        assert_eq!(KeySource::UniqKey.raw_key(&m).unwrap(), "U1");
        assert!(matches!(
            KeySource::Keys.raw_key(&m),
            Err(DedupeError::MissingKey(_))
        ));
        m.set_keys(["order-1", "user-2"]);
        assert_eq!(KeySource::Keys.raw_key(&m).unwrap(), "order-1 user-2");
        let c = KeySource::custom(|m| Some(String::from_utf8_lossy(&m.body).into_owned()));
        assert_eq!(c.raw_key(&m).unwrap(), "x");
        let none = KeySource::custom(|_| None);
        assert!(none.raw_key(&m).is_err());
        assert_eq!(format!("{none:?}"), "Custom(..)");
        assert_eq!(key_topic(&m), "orders");
        m.topic = "%RETRY%g".into();
        m.put_property("RETRY_TOPIC", "orders");
        assert_eq!(key_topic(&m), "orders");
    }
}
