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
