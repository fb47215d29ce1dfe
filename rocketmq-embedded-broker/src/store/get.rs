//! The read path: pulls by queue offset (upstream `DefaultMessageStore.getMessage`), lookups
//! by commit-log offset, offset by time, and key queries through the index.

use bytes::Bytes;
use rocketmq_sdk::protocol::message::hash::{index_key_hash, tags_code_opt};
use rocketmq_sdk::protocol::message::keys;
use rocketmq_sdk::protocol::message::record::{RecordRead, read_record, store_timestamp_pos};

use super::consume_queue::CQ_UNIT_SIZE;
use super::error::StoreResult;
use super::message_store::Store;
use super::result::{GetResult, GetStatus, MessageFilter, QueryResult, StoredMessage};

/// Upstream `maxFilterMessageSize` floor: how many unit bytes one get may scan past filtered-out
/// messages.
const MAX_FILTER_MESSAGE_SIZE: u64 = 16_000;

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    /// Reads up to `max_count` messages (and about `max_bytes`, at least one message) of a queue
    /// from logical `offset`, skipping those `filter` rejects. Statuses and `next_begin_offset`
    /// follow upstream's `getMessage` for a master broker; the per-pull caps
    /// `max_transfer_count/bytes_on_message_in_memory` (32 messages / 256 KiB) apply on top.
    pub fn get_messages(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_count: usize,
        max_bytes: usize,
        filter: Option<&dyn MessageFilter>,
    ) -> StoreResult<GetResult> {
        let inner = &self.inner;
        let mut result = GetResult {
            status: GetStatus::NoMessageInQueue,
            next_begin_offset: offset,
            min_offset: 0,
            max_offset: 0,
            messages: Vec::new(),
            total_bytes: 0,
        };
        let Some(cq) = inner.consume_queue(topic, queue_id) else {
            result.status = GetStatus::NoMatchedLogicQueue;
            result.next_begin_offset = 0;
            return Ok(result);
        };
        let min = to_i64(cq.min_offset());
        let max = to_i64(cq.max_offset());
        result.min_offset = min;
        result.max_offset = max;
        if max == 0 {
            result.status = GetStatus::NoMessageInQueue;
            result.next_begin_offset = 0;
            return Ok(result);
        }
        if offset < min {
            result.status = GetStatus::OffsetTooSmall;
            result.next_begin_offset = min;
            return Ok(result);
        }
        if offset == max {
            result.status = GetStatus::OffsetOverflowOne;
            result.next_begin_offset = offset;
            return Ok(result);
        }
        if offset > max {
            result.status = GetStatus::OffsetOverflowBadly;
            result.next_begin_offset = max;
            return Ok(result);
        }
        let cfg = &inner.config;
        let max_count = max_count.clamp(1, cfg.max_transfer_count_on_message_in_memory);
        let max_bytes = max_bytes
            .max(100)
            .min(cfg.max_transfer_bytes_on_message_in_memory);
        let start = u64::try_from(offset).unwrap_or(0);
        let max_filter_bytes = MAX_FILTER_MESSAGE_SIZE.max(max_count as u64 * CQ_UNIT_SIZE);
        let scan = usize::try_from(max_filter_bytes / CQ_UNIT_SIZE).unwrap_or(800);
        let units = cq.units_from(start, scan)?;
        if units.is_empty() {
            // The file holding `offset` is gone: continue at the next file.
            let per_file = cfg.consume_queue_units_per_file;
            result.status = GetStatus::OffsetFoundNull;
            result.next_begin_offset = to_i64((start / per_file + 1) * per_file);
            return Ok(result);
        }
        result.status = GetStatus::NoMatchedMessage;
        let mut next = start;
        let mut bytes = 0usize;
        let cl_min = inner.commit_log.min_offset();
        let mut removing = false;
        // Records are read and filtered as the scan goes, so messages a record filter
        // (SQL92) rejects do not count against `max_count`/`max_bytes`: the scan goes on
        // past them, within the filter budget, as upstream's `getMessage` loop does.
        for u in units {
            let size = usize::try_from(u.size).unwrap_or(0);
            if !result.messages.is_empty()
                && (result.messages.len() >= max_count || bytes + size > max_bytes)
            {
                break;
            }
            next = u.queue_offset + 1;
            if u.is_blank() || !u.is_valid() {
                continue;
            }
            if u.commit_log_offset < cl_min {
                removing = true;
                continue;
            }
            if let Some(f) = filter
                && !f.matches_tags_code(u.tags_code)
            {
                continue;
            }
            let Some(record) = self.read_record(u.commit_log_offset, u.size)? else {
                removing = true;
                continue;
            };
            if let Some(f) = filter {
                let matched = match read_record(&record) {
                    Ok(RecordRead::Record(v)) => f.matches_record(&v),
                    _ => false,
                };
                if !matched {
                    continue;
                }
            }
            bytes += size;
            result.total_bytes += record.len();
            result.messages.push(StoredMessage {
                queue_offset: to_i64(u.queue_offset),
                commit_log_offset: u.commit_log_offset,
                tags_code: u.tags_code,
                record,
            });
        }
        result.next_begin_offset = to_i64(next);
        result.status = if !result.messages.is_empty() {
            GetStatus::Found
        } else if removing {
            GetStatus::MessageWasRemoving
        } else {
            GetStatus::NoMatchedMessage
        };
        Ok(result)
    }

    /// The intact record of exactly `size` bytes at `offset`, or `None`: a unit never serves
    /// bytes that are not the record it claims.
    fn read_record(&self, offset: i64, size: i32) -> StoreResult<Option<Bytes>> {
        let Ok(size_us) = usize::try_from(size) else {
            return Ok(None);
        };
        let Some(buf) = self.inner.commit_log.read(offset, size_us)? else {
            return Ok(None);
        };
        match read_record(&buf) {
            Ok(RecordRead::Record(v)) if v.len() == size_us && v.physical_offset() == offset => {
                Ok(Some(Bytes::from(buf)))
            }
            _ => {
                tracing::warn!(
                    offset,
                    size,
                    "consume queue unit points at no intact record"
                );
                Ok(None)
            }
        }
    }

    /// The record starting at commit-log `offset` (upstream `selectOneMessageByOffset`), if an
    /// intact one starts there.
    pub fn message_by_offset(&self, offset: i64) -> StoreResult<Option<Bytes>> {
        Ok(self.inner.commit_log.record_at(offset)?.map(Bytes::from))
    }

    /// Store timestamp of the record at `offset` of `size` bytes.
    pub(crate) fn store_timestamp_at(&self, offset: i64, size: i32) -> Option<i64> {
        let head = self.inner.commit_log.read(offset, 40).ok()??;
        let sys_flag = i32::from_be_bytes([head[36], head[37], head[38], head[39]]);
        let pos = store_timestamp_pos(sys_flag);
        if pos + 8 > usize::try_from(size).ok()? {
            return None;
        }
        let b = self.inner.commit_log.read(offset + pos as i64, 8).ok()??;
        Some(i64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    /// The first offset of a queue whose message was stored at or after `timestamp` (ms); the
    /// max offset if none (upstream `getOffsetInQueueByTime`, lower boundary).
    pub fn offset_by_time(&self, topic: &str, queue_id: i32, timestamp: i64) -> StoreResult<i64> {
        let Some(cq) = self.inner.consume_queue(topic, queue_id) else {
            return Ok(0);
        };
        cq.offset_by_time(timestamp, |off, size| self.store_timestamp_at(off, size))
            .map(to_i64)
    }

    /// Store timestamp of the message at a queue offset (upstream
    /// `getMessageStoreTimeStamp`), if it is still stored.
    pub fn message_store_timestamp(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
    ) -> StoreResult<Option<i64>> {
        let Some(cq) = self.inner.consume_queue(topic, queue_id) else {
            return Ok(None);
        };
        let Ok(off) = u64::try_from(offset) else {
            return Ok(None);
        };
        Ok(cq
            .get(off)?
            .filter(|u| !u.is_blank())
            .and_then(|u| self.store_timestamp_at(u.commit_log_offset, u.size)))
    }

    /// Messages of `topic` whose `UNIQ_KEY` or one of whose `KEYS` equals `key`, stored within
    /// `[begin, end]` ms, newest first, at most `max` (capped by `max_msgs_num_batch`). Hash
    /// collisions are filtered out by checking each record.
    pub fn query_by_key(
        &self,
        topic: &str,
        key: &str,
        max: usize,
        begin: i64,
        end: i64,
    ) -> StoreResult<QueryResult> {
        let inner = &self.inner;
        let max = max.min(inner.config.max_msgs_num_batch);
        let hash = index_key_hash(topic, key);
        let (ts, phy) = inner.index.last_update();
        let mut out = QueryResult {
            messages: Vec::new(),
            index_last_update_timestamp: ts,
            index_last_update_phy_offset: phy,
        };
        if max == 0 {
            return Ok(out);
        }
        // Ask for more than `max`: collisions are dropped below.
        let offsets = inner.index.query(hash, max.saturating_mul(4), begin, end)?;
        let mut seen = std::collections::HashSet::new();
        for off in offsets {
            if out.messages.len() >= max {
                break;
            }
            if !seen.insert(off) {
                continue;
            }
            let Some(rec) = inner.commit_log.record_at(off)? else {
                continue;
            };
            let Ok(RecordRead::Record(v)) = read_record(&rec) else {
                continue;
            };
            let matches = v.topic() == topic
                && (v.property(keys::UNIQ_KEY).as_deref() == Some(key)
                    || v.property(keys::KEYS)
                        .is_some_and(|ks| ks.split(keys::KEY_SEPARATOR).any(|k| k == key)));
            if !matches {
                continue;
            }
            let tags_code = tags_code_opt(v.property(keys::TAGS).as_deref());
            out.messages.push(StoredMessage {
                queue_offset: v.queue_offset(),
                commit_log_offset: off,
                tags_code,
                record: Bytes::from(rec),
            });
        }
        Ok(out)
    }
}
