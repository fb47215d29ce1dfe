//! Pull bodies as the Java client digests them (`MessageDecoder.decodesBatch` followed by
//! the INNER_BATCH unwrapping of 5.x's `PullAPIWrapper.processPullResult`), except that
//! one bad record never costs the good ones: it is reported and stepped over.

use bytes::Bytes;

use super::decode::{DecodeOptions, to_ext};
use super::layout::QUEUE_OFFSET_POS;
use super::view::{RecordIter, be_i64};
use crate::protocol::error::ProtocolError;
use crate::protocol::message::batch::BatchIter;
use crate::protocol::message::model::{Message, MessageExt};
use crate::protocol::message::sysflag;

/// A record of a pull body that could not be turned into messages.
#[derive(Debug)]
#[non_exhaustive]
pub struct UndecodableRecord {
    /// Its queue offset, when the record's fixed header could be read.
    pub queue_offset: Option<i64>,
    /// Why it failed.
    pub error: ProtocolError,
    /// True when the record's framing was broken, so nothing after it in the body could
    /// be read either (the pull's next offset still moves past all of them).
    pub rest_lost: bool,
}

/// What [`decode_pulled`] made of a pull body.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct PulledRecords {
    /// The messages, in body order, inner batches unwrapped.
    pub messages: Vec<MessageExt>,
    /// The records that were stepped over.
    pub undecodable: Vec<UndecodableRecord>,
}

/// Decodes a pull body record by record: a record whose framing holds but whose content
/// does not decode (an unknown compression, a corrupt compressed body, a bad inner batch)
/// is reported in [`PulledRecords::undecodable`] and skipped; broken framing ends the
/// body there (as Java's `decodesBatch` stops), the records before it kept. Records
/// flagged both INNER_BATCH and NEED_UNWRAP (5.x batch consume queues) are replaced by
/// their inner messages, at consecutive queue offsets from the record's own.
pub fn decode_pulled(body: &Bytes, opts: &DecodeOptions) -> PulledRecords {
    let mut out = PulledRecords::default();
    let mut offset = 0usize;
    for view in RecordIter::new(body) {
        let view = match view {
            Ok(v) => v,
            Err(error) => {
                let rest = &body[offset..];
                let queue_offset =
                    (rest.len() >= QUEUE_OFFSET_POS + 8).then(|| be_i64(rest, QUEUE_OFFSET_POS));
                out.undecodable.push(UndecodableRecord {
                    queue_offset,
                    error,
                    rest_lost: true,
                });
                break;
            }
        };
        let start = offset;
        offset += view.len();
        let range = view.body_range();
        let decoded = to_ext(
            &view,
            || body.slice(start + range.start..start + range.end),
            opts,
        )
        .and_then(|m| {
            if needs_unwrap(m.sys_flag) && opts.read_body {
                unwrap_inner_batch(&m)
            } else {
                Ok(vec![m])
            }
        });
        match decoded {
            Ok(msgs) => out.messages.extend(msgs),
            Err(error) => out.undecodable.push(UndecodableRecord {
                queue_offset: Some(view.queue_offset()),
                error,
                rest_lost: false,
            }),
        }
    }
    out
}

/// Whether a record carries a 5.x inner batch to unwrap.
pub const fn needs_unwrap(sys_flag: i32) -> bool {
    sysflag::has(sys_flag, sysflag::INNER_BATCH) && sysflag::has(sys_flag, sysflag::NEED_UNWRAP)
}

/// The inner messages of an INNER_BATCH record (`MessageDecoder.decodeMessage(ext, list)`):
/// flag, properties and body from each entry; topic, queue, hosts, timestamps, sysFlag
/// and commit-log offset from the record; queue offsets counting up from the record's.
///
/// # Errors
/// [`ProtocolError`] when the body is not a valid batch body.
pub fn unwrap_inner_batch(outer: &MessageExt) -> Result<Vec<MessageExt>, ProtocolError> {
    let body = &outer.message.body;
    let mut out = Vec::new();
    for (i, entry) in BatchIter::new(body).enumerate() {
        let entry = entry?;
        let i = i64::try_from(i).unwrap_or(i64::MAX);
        out.push(MessageExt {
            message: Message {
                topic: outer.message.topic.clone(),
                flag: entry.flag(),
                properties: entry.properties(),
                body: body.slice(entry.body_range()),
                transaction_id: None,
            },
            queue_id: outer.queue_id,
            queue_offset: outer.queue_offset.saturating_add(i),
            sys_flag: outer.sys_flag,
            born_timestamp: outer.born_timestamp,
            born_host: outer.born_host,
            store_timestamp: outer.store_timestamp,
            store_host: outer.store_host,
            commit_log_offset: outer.commit_log_offset,
            ..MessageExt::default()
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::protocol::message::batch::encode_batch;
    use crate::protocol::message::record::encode_record;

    fn rec(offset: i64, body: &'static [u8], sys_flag: i32, out: &mut BytesMut) {
        let mut m = MessageExt::from(Message::new("T", Bytes::from_static(body)));
        m.queue_id = 3;
        m.queue_offset = offset;
        m.sys_flag = sys_flag;
        m.commit_log_offset = 1000 + offset;
        m.store_timestamp = 77;
        encode_record(&m, out).unwrap();
    }

    #[test]
    fn a_bad_record_in_the_middle_costs_only_itself() {
        let mut b = BytesMut::new();
        rec(10, b"a", 0, &mut b);
        rec(11, b"not zlib", sysflag::COMPRESSED, &mut b);
        rec(12, b"c", 0, &mut b);
        let out = decode_pulled(&b.freeze(), &DecodeOptions::default());
        let offsets: Vec<i64> = out.messages.iter().map(|m| m.queue_offset).collect();
        assert_eq!(offsets, [10, 12]);
        assert_eq!(out.undecodable.len(), 1);
        let bad = &out.undecodable[0];
        assert_eq!(bad.queue_offset, Some(11));
        assert!(!bad.rest_lost);
        assert!(matches!(bad.error, ProtocolError::Decompress(_)));
    }

    #[test]
    fn broken_framing_keeps_what_came_before() {
        let mut b = BytesMut::new();
        rec(0, b"a", 0, &mut b);
        let first = b.len();
        rec(1, b"b", 0, &mut b);
        // The second record keeps only 40 bytes: its length field lies.
        let body = b.freeze().slice(..first + 40);
        let out = decode_pulled(&body, &DecodeOptions::default());
        assert_eq!(out.messages.len(), 1);
        assert_eq!(out.undecodable.len(), 1);
        assert!(out.undecodable[0].rest_lost);
        assert_eq!(out.undecodable[0].queue_offset, Some(1));
        // Garbage too short for a header: no offset to name.
        let out = decode_pulled(
            &Bytes::from_static(b"\x00\x00\x00\x10xx"),
            &DecodeOptions::default(),
        );
        assert!(out.messages.is_empty());
        assert_eq!(out.undecodable[0].queue_offset, None);
    }

    #[test]
    fn inner_batches_unwrap_at_consecutive_offsets() {
        let mut inner = BytesMut::new();
        let mut m1 = Message::new("T", Bytes::from_static(b"x"));
        m1.set_tags("A");
        let mut m2 = Message::new("T", Bytes::from_static(b"yy"));
        m2.flag = 9;
        encode_batch(&[m1, m2], &mut inner).unwrap();
        let mut m = MessageExt::from(Message::new("T", inner.freeze()));
        m.queue_id = 2;
        m.queue_offset = 40;
        m.sys_flag = sysflag::INNER_BATCH | sysflag::NEED_UNWRAP;
        m.commit_log_offset = 5000;
        let mut b = BytesMut::new();
        encode_record(&m, &mut b).unwrap();
        // INNER_BATCH alone (no NEED_UNWRAP) is left as it is.
        let mut alone = m.clone();
        alone.sys_flag = sysflag::INNER_BATCH;
        alone.queue_offset = 42;
        encode_record(&alone, &mut b).unwrap();
        let out = decode_pulled(&b.freeze(), &DecodeOptions::default());
        assert!(out.undecodable.is_empty());
        assert_eq!(out.messages.len(), 3);
        let (a, c) = (&out.messages[0], &out.messages[1]);
        assert_eq!((a.queue_offset, c.queue_offset), (40, 41));
        assert_eq!((&a.body[..], &c.body[..]), (&b"x"[..], &b"yy"[..]));
        assert_eq!((a.tags(), c.flag), (Some("A"), 9));
        assert_eq!(
            (a.queue_id, a.commit_log_offset, a.topic.as_str()),
            (2, 5000, "T")
        );
        assert_eq!(a.sys_flag, m.sys_flag);
        assert_eq!(out.messages[2].queue_offset, 42);
    }
}
