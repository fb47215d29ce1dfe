//! SEND_BATCH_MESSAGE bodies (Java `MessageDecoder.encodeMessages` / `decodeMessages`)
//! and the rules the Java producer applies before batching.
//!
//! Each inner message is:
//!
//! ```text
//! TOTALSIZE int32 = 22 + N + P | MAGICCODE int32 = 0 | BODYCRC int32 = 0 | FLAG int32
//! | BODYLEN int32 + N bytes | PROPLEN int16 + P bytes
//! ```
//!
//! The topic, queue, born host and timestamps come from the request header; the broker
//! recomputes the CRC when it expands each entry into a stored record.

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

use super::id::UniqIdGenerator;
use super::model::Message;
use super::properties::{MAX_PROPERTIES_LEN, Properties};
use crate::protocol::error::ProtocolError;

/// Fixed bytes per inner message: TOTALSIZE, MAGICCODE, BODYCRC, FLAG, BODYLEN, PROPLEN.
pub const INNER_HEADER_LEN: usize = 22;
/// Topic prefix of retry topics, which cannot be batched.
pub const RETRY_TOPIC_PREFIX: &str = "%RETRY%";

const WHAT: &str = "batch entry";

/// Why a list of messages cannot be sent as one batch.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BatchError {
    /// No messages.
    #[error("a batch needs at least one message")]
    Empty,
    /// A message's topic differs from the first one's.
    #[error("message {index} has topic {found:?} but the batch topic is {expected:?}")]
    MixedTopics {
        /// Position of the offending message.
        index: usize,
        /// The first message's topic.
        expected: String,
        /// This message's topic.
        found: String,
    },
    /// A message's WAIT differs from the first one's.
    #[error("message {index} has WAIT={found} but the batch has WAIT={expected}")]
    MixedWait {
        /// Position of the offending message.
        index: usize,
        /// The first message's WAIT.
        expected: bool,
        /// This message's WAIT.
        found: bool,
    },
    /// A message has a delay level.
    #[error("message {index} has a delay level; delayed messages cannot be batched")]
    Delay {
        /// Position of the offending message.
        index: usize,
    },
    /// A message targets a retry topic.
    #[error("message {index} targets retry topic {topic:?}, which cannot be batched")]
    RetryTopic {
        /// Position of the offending message.
        index: usize,
        /// Its topic.
        topic: String,
    },
    /// Encoding the body failed.
    #[error(transparent)]
    Encode(#[from] ProtocolError),
}

/// Checks the Java producer's batch rules: at least one message, one topic, one WAIT
/// value, no delay level, no `%RETRY%` topic.
///
/// # Errors
/// [`BatchError`] naming the rule the batch breaks.
pub fn validate_batch(messages: &[Message]) -> Result<(), BatchError> {
    let first = messages.first().ok_or(BatchError::Empty)?;
    let wait = first.wait_store_msg_ok();
    for (index, m) in messages.iter().enumerate() {
        if m.delay_level() > 0 {
            return Err(BatchError::Delay { index });
        }
        if m.topic.starts_with(RETRY_TOPIC_PREFIX) {
            return Err(BatchError::RetryTopic {
                index,
                topic: m.topic.clone(),
            });
        }
        if m.topic != first.topic {
            return Err(BatchError::MixedTopics {
                index,
                expected: first.topic.clone(),
                found: m.topic.clone(),
            });
        }
        if m.wait_store_msg_ok() != wait {
            return Err(BatchError::MixedWait {
                index,
                expected: wait,
                found: !wait,
            });
        }
    }
    Ok(())
}

/// Properties length of one inner message, checked.
fn inner_props_len(m: &Message) -> Result<usize, ProtocolError> {
    let p = m.properties.encoded_len_filtered(true)?;
    if p > MAX_PROPERTIES_LEN {
        return Err(ProtocolError::TooLarge {
            what: "properties",
            len: p,
            max: MAX_PROPERTIES_LEN,
        });
    }
    Ok(p)
}

/// Size of one inner message, checked.
fn inner_len(m: &Message) -> Result<usize, ProtocolError> {
    let total = INNER_HEADER_LEN + m.body.len() + inner_props_len(m)?;
    if total > i32::MAX as usize {
        return Err(ProtocolError::TooLarge {
            what: WHAT,
            len: total,
            max: i32::MAX as usize,
        });
    }
    Ok(total)
}

/// Size of the batch body for `messages`, after the encoder's checks.
///
/// # Errors
/// As [`encode_batch`].
pub fn encoded_len(messages: &[Message]) -> Result<usize, ProtocolError> {
    messages
        .iter()
        .try_fold(0usize, |acc, m| Ok(acc.saturating_add(inner_len(m)?)))
}

/// Appends the batch body for `messages` to `out`. Topics and batch rules are not
/// checked here (see [`validate_batch`]); transient properties are left out. On error
/// nothing is written.
///
/// # Errors
/// [`ProtocolError`] when a message breaks the batch rules
/// or a property holds a separator byte.
pub fn encode_batch(messages: &[Message], out: &mut BytesMut) -> Result<(), ProtocolError> {
    let total = encoded_len(messages)?;
    out.reserve(total);
    for m in messages {
        let props_len = inner_props_len(m)?;
        out.put_i32((INNER_HEADER_LEN + m.body.len() + props_len) as i32);
        out.put_i32(0);
        out.put_i32(0);
        out.put_i32(m.flag);
        out.put_i32(m.body.len() as i32);
        out.put_slice(&m.body);
        out.put_i16(props_len as i16);
        m.properties.write_unchecked(out, true);
    }
    Ok(())
}

/// Builds the message the Java producer sends for a batch: validates `messages`, gives
/// each one (and, when `ids` is given, the batch) a `UNIQ_KEY` if missing, and returns a
/// message with the batch topic, the shared `WAIT` and the encoded body.
///
/// # Errors
/// As [`encode_batch`].
pub fn build_batch(
    messages: &mut [Message],
    ids: Option<&UniqIdGenerator>,
) -> Result<Message, BatchError> {
    validate_batch(messages)?;
    if let Some(ids) = ids {
        for m in messages.iter_mut() {
            m.ensure_uniq_key(ids);
        }
    }
    let mut body = BytesMut::new();
    encode_batch(messages, &mut body)?;
    let first = &messages[0];
    let mut batch = Message {
        topic: first.topic.clone(),
        body: body.freeze(),
        ..Message::default()
    };
    batch.set_wait_store_msg_ok(first.wait_store_msg_ok());
    if let Some(ids) = ids {
        batch.ensure_uniq_key(ids);
    }
    Ok(batch)
}

/// One inner message of a batch body, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct InnerMessage<'a> {
    flag: i32,
    body: &'a [u8],
    properties: &'a [u8],
    offset: usize,
}

impl<'a> InnerMessage<'a> {
    /// FLAG.
    pub fn flag(&self) -> i32 {
        self.flag
    }

    /// The body.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The raw properties string.
    pub fn properties_bytes(&self) -> &'a [u8] {
        self.properties
    }

    /// The parsed properties.
    pub fn properties(&self) -> Properties {
        Properties::decode(self.properties)
    }

    /// TOTALSIZE of this entry.
    pub fn len(&self) -> usize {
        INNER_HEADER_LEN + self.body.len() + self.properties.len()
    }

    /// Always false: an entry has at least its 22 header bytes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Where this entry's body sits in the batch body.
    pub fn body_range(&self) -> std::ops::Range<usize> {
        let start = self.offset + 20;
        start..start + self.body.len()
    }
}

fn be_i32(b: &[u8], pos: usize) -> i32 {
    i32::from_be_bytes([b[pos], b[pos + 1], b[pos + 2], b[pos + 3]])
}

/// Parses the entry at `buf[offset..]`; `rest` is that slice.
fn parse_inner(rest: &[u8], offset: usize) -> Result<InnerMessage<'_>, ProtocolError> {
    let need = |n: usize| -> Result<(), ProtocolError> {
        if rest.len() < n {
            Err(ProtocolError::Truncated {
                what: WHAT,
                needed: n - rest.len(),
            })
        } else {
            Ok(())
        }
    };
    need(20)?;
    let total = be_i32(rest, 0);
    let flag = be_i32(rest, 12);
    let body_len = be_i32(rest, 16);
    let body_len = usize::try_from(body_len).map_err(|_| ProtocolError::BadLength {
        what: WHAT,
        detail: format!("negative body length {body_len}"),
    })?;
    need(20usize.saturating_add(body_len).saturating_add(2))?;
    let body = &rest[20..20 + body_len];
    let p = 20 + body_len;
    let props_len = i16::from_be_bytes([rest[p], rest[p + 1]]);
    let props_len = usize::try_from(props_len).map_err(|_| ProtocolError::BadLength {
        what: WHAT,
        detail: format!("negative properties length {props_len}"),
    })?;
    need(p + 2 + props_len)?;
    let properties = &rest[p + 2..p + 2 + props_len];
    let actual = INNER_HEADER_LEN + body_len + props_len;
    if usize::try_from(total).ok() != Some(actual) {
        return Err(ProtocolError::BadLength {
            what: WHAT,
            detail: format!("TOTALSIZE {total} but the fields take {actual} bytes"),
        });
    }
    Ok(InnerMessage {
        flag,
        body,
        properties,
        offset,
    })
}

/// Iterates over the entries of a batch body; after an error it stops.
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> BatchIter<'a> {
    /// Iterates over `body`.
    pub fn new(body: &'a [u8]) -> Self {
        BatchIter {
            buf: body,
            pos: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<InnerMessage<'a>, ProtocolError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        match parse_inner(&self.buf[self.pos..], self.pos) {
            Ok(m) => {
                self.pos += m.len();
                Some(Ok(m))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Decodes a batch body into messages sharing `body`'s storage. The topic is not part
/// of the body, so it is left empty: set it from the request header.
///
/// # Errors
/// [`ProtocolError`] for a truncated entry, a bad magic
/// code or a length that lies.
pub fn decode_batch(body: &Bytes) -> Result<Vec<Message>, ProtocolError> {
    BatchIter::new(body)
        .map(|m| {
            let m = m?;
            Ok(Message {
                flag: m.flag(),
                properties: m.properties(),
                body: body.slice(m.body_range()),
                ..Message::default()
            })
        })
        .collect()
}

/// Number of entries in a batch body (Java `countInnerMsgNum`), checking each entry.
///
/// # Errors
/// As [`decode_batch`].
pub fn count_inner(body: &[u8]) -> Result<usize, ProtocolError> {
    BatchIter::new(body).try_fold(0, |n, m| m.map(|_| n + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::message::id::from_hex;
    use crate::protocol::message::keys;

    fn msg(topic: &str, body: &'static [u8]) -> Message {
        Message::new(topic, Bytes::from_static(body))
    }

    #[test]
    fn golden_batch_body() {
        let mut a = Message {
            topic: "T".into(),
            flag: 1,
            body: Bytes::from_static(b"hi"),
            ..Message::default()
        };
        a.put_property("K", "v");
        let b = Message {
            topic: "T".into(),
            body: Bytes::new(),
            ..Message::default()
        };
        let mut out = BytesMut::new();
        encode_batch(&[a.clone(), b], &mut out).unwrap();
        // Entry 1: 22 + 2 + 4 = 28. Entry 2: 22.
        let expect = from_hex(concat!(
            "0000001C", "00000000", "00000000", "00000001", "00000002", "6869", "0004", "4B017602",
            "00000016", "00000000", "00000000", "00000000", "00000000", "0000",
        ))
        .unwrap();
        assert_eq!(out.to_vec(), expect);
        assert_eq!(encoded_len(&[a.clone()]).unwrap(), 28);
        let back = decode_batch(&out.freeze()).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!((back[0].flag, &back[0].body[..]), (1, &b"hi"[..]));
        assert_eq!(back[0].property("K"), Some("v"));
        assert!(back[1].body.is_empty() && back[1].properties.is_empty());
        assert_eq!(count_inner(&expect).unwrap(), 2);
    }

    #[test]
    fn rules() {
        assert!(matches!(validate_batch(&[]), Err(BatchError::Empty)));
        let ok = [msg("T", b"1"), msg("T", b"2")];
        validate_batch(&ok).unwrap();
        assert!(matches!(
            validate_batch(&[msg("T", b"1"), msg("U", b"2")]),
            Err(BatchError::MixedTopics { index: 1, .. })
        ));
        let mut nowait = msg("T", b"2");
        nowait.set_wait_store_msg_ok(false);
        assert!(matches!(
            validate_batch(&[msg("T", b"1"), nowait]),
            Err(BatchError::MixedWait {
                index: 1,
                expected: true,
                found: false
            })
        ));
        let mut delayed = msg("T", b"2");
        delayed.set_delay_level(2);
        assert!(matches!(
            validate_batch(&[msg("T", b"1"), delayed]),
            Err(BatchError::Delay { index: 1 })
        ));
        assert!(matches!(
            validate_batch(&[msg("%RETRY%G", b"1")]),
            Err(BatchError::RetryTopic { index: 0, .. })
        ));
    }

    #[test]
    fn build() {
        let ids = UniqIdGenerator::with_parts("1.2.3.4".parse().unwrap(), 7, 9);
        let mut ms = [msg("T", b"1"), msg("T", b"2")];
        ms[0].set_wait_store_msg_ok(false);
        ms[1].set_wait_store_msg_ok(false);
        let batch = build_batch(&mut ms, Some(&ids)).unwrap();
        assert_eq!(batch.topic, "T");
        assert_eq!(batch.property(keys::WAIT), Some("false"));
        assert!(batch.uniq_key().is_some());
        assert!(ms.iter().all(|m| m.uniq_key().is_some()));
        let inner = decode_batch(&batch.body).unwrap();
        assert_eq!(inner[1].uniq_key(), ms[1].uniq_key());
        assert_eq!(inner[0].body, Bytes::from_static(b"1"));
    }

    #[test]
    fn lying_lengths() {
        let mut out = BytesMut::new();
        encode_batch(&[msg("T", b"abc")], &mut out).unwrap();
        let good = out.to_vec();
        let mut t = good.clone();
        t[3] += 1;
        assert!(matches!(
            count_inner(&t),
            Err(ProtocolError::BadLength { .. })
        ));
        let mut t = good.clone();
        t[16..20].copy_from_slice(&1000i32.to_be_bytes());
        assert!(matches!(
            count_inner(&t),
            Err(ProtocolError::Truncated { .. })
        ));
        t[16..20].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(matches!(
            count_inner(&t),
            Err(ProtocolError::BadLength { .. })
        ));
        for cut in 1..good.len() {
            assert!(
                matches!(
                    count_inner(&good[..cut]),
                    Err(ProtocolError::Truncated { .. })
                ),
                "{cut}"
            );
        }
    }
}
