//! The commit log: every record of every topic, appended back to back into segments (upstream
//! `CommitLog`). This module owns the segment choice (including the end-of-file blank marker),
//! reads, and the per-record facts that dispatch and recovery need.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use rocketmq_sdk::protocol::message::MessageExt;
use rocketmq_sdk::protocol::message::hash::{
    java_string_hash, java_string_hash_continue, tags_code_opt,
};
use rocketmq_sdk::protocol::message::keys;
use rocketmq_sdk::protocol::message::record::{
    BLANK_MAGIC, BLANK_MARKER_LEN, MAGIC_V1, MAGIC_V2, RecordRead, RecordView, read_record,
};
use rocketmq_sdk::protocol::message::sysflag;

use super::error::{StoreError, StoreResult};
use super::schedule::{SCHEDULE_TOPIC, ScheduleHook};
use super::segment::Segment;
use super::segment_queue::SegmentQueue;
use super::storage::Storage;

/// Cache granularity of commit-log segments: appends are sequential, so big pages mean fewer
/// cache entries and bigger writes.
const COMMIT_LOG_CACHE_PAGE: u64 = 64 * 1024;

/// Why a segment could not be chosen for an append.
#[derive(Debug)]
pub(crate) enum AppendError {
    /// The record can never fit a segment.
    TooLarge,
    /// Creating the next segment failed.
    CreateFailed(StoreError),
    /// Writing the blank marker failed.
    Io(StoreError),
}

#[derive(Debug)]
pub(crate) struct CommitLog {
    segs: SegmentQueue,
    /// Store timestamp of the newest appended record.
    last_store_ts: AtomicI64,
    /// Successful commit-log syncs (for "fsyncs per ack").
    syncs: AtomicU64,
}

/// What dispatch needs from one record: its consume-queue unit and index keys.
#[derive(Debug, Clone)]
pub(crate) struct DispatchInfo {
    /// Empty on the put path, where the caller knows the topic.
    pub(crate) topic: String,
    pub(crate) queue_id: i32,
    pub(crate) queue_offset: i64,
    pub(crate) phy_offset: i64,
    pub(crate) size: i32,
    pub(crate) tags_code: i64,
    pub(crate) store_ts: i64,
    pub(crate) to_consume_queue: bool,
    pub(crate) key_hashes: Vec<i32>,
}

/// Tags code of a record: the delivery time on the schedule topic (when the message has a
/// positive `DELAY` level), else the tag hash.
fn compute_tags_code(
    topic: &str,
    tags: Option<&str>,
    delay: Option<&str>,
    store_ts: i64,
    schedule: &dyn ScheduleHook,
) -> i64 {
    if topic == SCHEDULE_TOPIC
        && let Some(level) = delay.and_then(|v| v.trim().parse::<i32>().ok())
    {
        let level = level.min(schedule.max_level());
        if level > 0 {
            return schedule.delivery_time(level, store_ts);
        }
    }
    tags_code_opt(tags)
}

fn key_hashes(topic: &str, uniq: Option<&str>, keys_prop: Option<&str>) -> Vec<i32> {
    // `abs(hashCode(topic + "#" + key))`: hash the shared prefix once, then continue per key.
    let mut out = Vec::new();
    let mut prefix = None;
    let mut push = |key: &str| {
        let p =
            *prefix.get_or_insert_with(|| java_string_hash_continue(java_string_hash(topic), "#"));
        let h = java_string_hash_continue(p, key);
        out.push(if h == i32::MIN { 0 } else { h.abs() });
    };
    if let Some(u) = uniq.filter(|u| !u.is_empty()) {
        push(u);
    }
    if let Some(ks) = keys_prop {
        for k in ks.split(keys::KEY_SEPARATOR).filter(|k| !k.is_empty()) {
            push(k);
        }
    }
    out
}

fn dispatch_kind(sys_flag: i32) -> (bool, bool) {
    let tx = sys_flag & sysflag::TRANSACTION_ROLLBACK_TYPE;
    let to_cq =
        tx != sysflag::TRANSACTION_PREPARED_TYPE && tx != sysflag::TRANSACTION_ROLLBACK_TYPE;
    let to_index = tx != sysflag::TRANSACTION_ROLLBACK_TYPE;
    (to_cq, to_index)
}

impl DispatchInfo {
    /// Extracts dispatch facts from a parsed record (upstream
    /// `checkMessageAndReturnSize` + `CommitLogDispatcherBuildIndex`); used by recovery.
    pub(crate) fn from_view(view: &RecordView<'_>, schedule: &dyn ScheduleHook) -> Self {
        let topic = view.topic();
        let (to_consume_queue, to_index) = dispatch_kind(view.sys_flag());
        let store_ts = view.store_timestamp();
        let tags_code = compute_tags_code(
            topic,
            view.property(keys::TAGS).as_deref(),
            view.property(keys::DELAY).as_deref(),
            store_ts,
            schedule,
        );
        let key_hashes = if to_index {
            key_hashes(
                topic,
                view.property(keys::UNIQ_KEY).as_deref(),
                view.property(keys::KEYS).as_deref(),
            )
        } else {
            Vec::new()
        };
        DispatchInfo {
            topic: topic.to_owned(),
            queue_id: view.queue_id(),
            queue_offset: view.queue_offset(),
            phy_offset: view.physical_offset(),
            size: view.total_size(),
            tags_code,
            store_ts,
            to_consume_queue,
            key_hashes,
        }
    }

    /// The same facts from the message being put, before it is encoded (the put path: no
    /// re-parse). Offsets, size and store time are filled in under the put lock.
    pub(crate) fn from_message(
        msg: &MessageExt,
        schedule: &dyn ScheduleHook,
        store_ts: i64,
    ) -> Self {
        let m = &msg.message;
        let (to_consume_queue, to_index) = dispatch_kind(msg.sys_flag);
        let props = &m.properties;
        DispatchInfo {
            topic: String::new(),
            queue_id: msg.queue_id,
            queue_offset: 0,
            phy_offset: 0,
            size: 0,
            tags_code: compute_tags_code(
                &m.topic,
                props.get(keys::TAGS),
                props.get(keys::DELAY),
                store_ts,
                schedule,
            ),
            store_ts,
            to_consume_queue,
            key_hashes: if to_index {
                key_hashes(&m.topic, props.get(keys::UNIQ_KEY), props.get(keys::KEYS))
            } else {
                Vec::new()
            },
        }
    }
}

impl CommitLog {
    pub(crate) fn new(
        storage: Arc<dyn Storage>,
        dir: std::path::PathBuf,
        segment_size: u64,
    ) -> Self {
        CommitLog {
            segs: SegmentQueue::with_page_size(storage, dir, segment_size, COMMIT_LOG_CACHE_PAGE),
            last_store_ts: AtomicI64::new(0),
            syncs: AtomicU64::new(0),
        }
    }

    pub(crate) fn segments(&self) -> &SegmentQueue {
        &self.segs
    }

    pub(crate) fn segment_size(&self) -> u64 {
        self.segs.segment_size()
    }

    pub(crate) fn min_offset(&self) -> i64 {
        i64::try_from(self.segs.min_offset()).unwrap_or(i64::MAX)
    }

    pub(crate) fn max_offset(&self) -> i64 {
        i64::try_from(self.segs.max_offset()).unwrap_or(i64::MAX)
    }

    pub(crate) fn flushed_offset(&self) -> i64 {
        i64::try_from(self.segs.flushed_offset()).unwrap_or(i64::MAX)
    }

    pub(crate) fn last_store_ts(&self) -> i64 {
        self.last_store_ts.load(Ordering::Acquire)
    }

    pub(crate) fn set_last_store_ts(&self, ts: i64) {
        self.last_store_ts.store(ts, Ordering::Release);
    }

    pub(crate) fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// The segment to append `len` bytes to and the absolute offset they will get; writes the
    /// blank marker and rolls to a new segment when `len + 8` does not fit (upstream
    /// `END_FILE_MIN_BLANK_LENGTH`). Called under the put lock.
    pub(crate) fn segment_for_append(&self, len: u64) -> Result<(Arc<Segment>, i64), AppendError> {
        if len + BLANK_MARKER_LEN as u64 > self.segs.segment_size() {
            return Err(AppendError::TooLarge);
        }
        let mut seg = self
            .segs
            .last_or_create(0)
            .map_err(AppendError::CreateFailed)?;
        if len + BLANK_MARKER_LEN as u64 > seg.remaining() {
            let remaining = i32::try_from(seg.remaining()).unwrap_or(i32::MAX);
            let mut marker = [0u8; 8];
            marker[..4].copy_from_slice(&remaining.to_be_bytes());
            marker[4..].copy_from_slice(&BLANK_MAGIC.to_be_bytes());
            seg.append(&marker).map_err(AppendError::Io)?;
            seg.mark_full();
            seg = self
                .segs
                .create_next(0)
                .map_err(AppendError::CreateFailed)?;
        }
        let at = seg.start() + seg.wrote();
        Ok((seg, i64::try_from(at).unwrap_or(i64::MAX)))
    }

    /// The segment to append a replicated record of `len` bytes to, which the master stored
    /// at `at`: the current segment when `at` is its write position, or, when `at` starts
    /// the next segment (the master rolled over there, maybe for a whole batch that the
    /// slave receives record by record), the next one after writing the blank marker.
    /// `None` when `at` is neither (a gap or a divergent history). Called under the put lock.
    pub(crate) fn segment_for_replica(
        &self,
        len: u64,
        at: i64,
    ) -> Result<Option<Arc<Segment>>, AppendError> {
        let Ok(at) = u64::try_from(at) else {
            return Ok(None);
        };
        if len + BLANK_MARKER_LEN as u64 > self.segs.segment_size() {
            return Err(AppendError::TooLarge);
        }
        let seg = self
            .segs
            .last_or_create(0)
            .map_err(AppendError::CreateFailed)?;
        let pos = seg.start() + seg.wrote();
        let end = seg.start() + seg.size();
        if at == pos && len + BLANK_MARKER_LEN as u64 <= seg.remaining() {
            return Ok(Some(seg));
        }
        if at != end || pos >= end {
            return Ok(None);
        }
        if seg.remaining() >= BLANK_MARKER_LEN as u64 {
            let remaining = i32::try_from(seg.remaining()).unwrap_or(i32::MAX);
            let mut marker = [0u8; 8];
            marker[..4].copy_from_slice(&remaining.to_be_bytes());
            marker[4..].copy_from_slice(&BLANK_MAGIC.to_be_bytes());
            seg.append(&marker).map_err(AppendError::Io)?;
        }
        seg.mark_full();
        let next = self
            .segs
            .create_next(0)
            .map_err(AppendError::CreateFailed)?;
        Ok((next.start() == at).then_some(next))
    }

    /// Reads `size` bytes at absolute `offset` if they lie within one segment and below the
    /// write position; `None` otherwise (deleted, not yet written, or crossing a boundary).
    pub(crate) fn read(&self, offset: i64, size: usize) -> StoreResult<Option<Vec<u8>>> {
        let Ok(off) = u64::try_from(offset) else {
            return Ok(None);
        };
        let Some(seg) = self.segs.find(off) else {
            return Ok(None);
        };
        let rel = off - seg.start();
        if rel + size as u64 > seg.wrote() {
            return Ok(None);
        }
        seg.read_vec(rel, size).map(Some)
    }

    /// The whole record starting at `offset`, validated (magic, length, physical offset);
    /// `None` if there is no intact record there.
    pub(crate) fn record_at(&self, offset: i64) -> StoreResult<Option<Vec<u8>>> {
        let Some(head) = self.read(offset, 8)? else {
            return Ok(None);
        };
        let total = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let magic = i32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        if magic != MAGIC_V1 && magic != MAGIC_V2 {
            return Ok(None);
        }
        let Ok(total) = usize::try_from(total) else {
            return Ok(None);
        };
        let Some(buf) = self.read(offset, total)? else {
            return Ok(None);
        };
        match read_record(&buf) {
            Ok(RecordRead::Record(v)) if v.len() == total && v.physical_offset() == offset => {
                Ok(Some(buf))
            }
            _ => Ok(None),
        }
    }

    /// Store timestamp of the first record of `seg`, if it holds an intact one.
    pub(crate) fn first_store_ts(&self, seg: &Segment) -> Option<i64> {
        let start = i64::try_from(seg.start()).ok()?;
        let rec = self.record_at(start).ok()??;
        match read_record(&rec) {
            Ok(RecordRead::Record(v)) => Some(v.store_timestamp()),
            _ => None,
        }
    }

    /// Flushes, counting the sync. Returns the durable offset.
    pub(crate) fn flush(&self) -> StoreResult<i64> {
        let before = self.segs.unflushed_bytes();
        let r = self.segs.flush()?;
        if before > 0 {
            self.syncs.fetch_add(1, Ordering::Relaxed);
        }
        Ok(i64::try_from(r).unwrap_or(i64::MAX))
    }

    /// Deletes leading segments: expired ones (the next segment's first record is older than
    /// `now - reserved_ms`), or any when `ignore_age`; at most `max`, never the newest.
    pub(crate) fn delete_expired(
        &self,
        now: i64,
        reserved_ms: i64,
        max: usize,
        ignore_age: bool,
    ) -> StoreResult<usize> {
        let gone = self.segs.delete_leading(max, |_seg, next| {
            if ignore_age {
                return true;
            }
            match next.and_then(|n| self.first_store_ts(n)) {
                Some(ts) => ts.saturating_add(reserved_ms) <= now,
                None => false,
            }
        })?;
        Ok(gone.len())
    }
}

#[cfg(test)]
mod tests {
    use rocketmq_sdk::protocol::message::hash::index_key_hash;

    #[test]
    fn key_hashes_match_the_sdk_index_hash() {
        for topic in ["T", "orders", "%RETRY%g", "中文"] {
            let got = super::key_hashes(topic, Some("UNIQ"), Some("a  bb ccc"));
            let want: Vec<i32> = ["UNIQ", "a", "bb", "ccc"]
                .iter()
                .map(|k| index_key_hash(topic, k))
                .collect();
            assert_eq!(got, want);
        }
        assert!(super::key_hashes("T", Some(""), None).is_empty());
    }
}
