//! The store's side of master/slave replication (upstream `HAService` moves raw commit-log
//! bytes; here whole records move): the master reads whole records from a commit-log
//! offset on, the slave appends them at the very same offsets and dispatches them to its
//! consume queues and index like any put.
//!
//! Both stores must use the same commit-log segment size: the slave then rolls to the next
//! segment (writing the blank marker) exactly where the master did, so every record lands
//! at the physical offset the master gave it. Nothing of the file format changes.

use std::sync::atomic::Ordering;

use rocketmq_sdk::protocol::message::record::{BLANK_MARKER_LEN, RecordRead, read_record};

use super::commit_log::{AppendError, DispatchInfo};
use super::error::{StoreError, StoreResult};
use super::message_store::Store;
use super::segment::lock;

/// Whole records read from a master's commit log for a slave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaChunk {
    /// Commit-log offset of the first record (past any end-of-file padding the reader
    /// skipped).
    pub start: i64,
    /// The records, back to back, exactly as stored.
    pub bytes: Vec<u8>,
}

impl ReplicaChunk {
    /// Whether there is nothing to ship.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The commit-log offset just past the last record.
    pub fn end(&self) -> i64 {
        self.start + self.bytes.len() as i64
    }
}

impl Store {
    /// Reads whole records from commit-log offset `from` on, about `max_bytes` of them (at
    /// least one record when there is one, however large), without crossing a segment. An
    /// offset at an end-of-file blank marker moves on to the next segment. Empty when
    /// nothing is stored at `from` yet.
    ///
    /// # Errors
    /// [`StoreError::Replication`] when `from` is below the oldest stored offset or not at a
    /// record boundary; I/O errors of the read.
    pub fn read_for_replica(&self, from: i64, max_bytes: usize) -> StoreResult<ReplicaChunk> {
        let log = &self.inner.commit_log;
        let mut at = from;
        loop {
            let empty = ReplicaChunk {
                start: at,
                bytes: Vec::new(),
            };
            let Ok(off) = u64::try_from(at) else {
                return Err(bad_offset(at, "negative offset"));
            };
            if at >= log.max_offset() {
                return Ok(empty);
            }
            let Some(seg) = log.segments().find(off) else {
                return Err(bad_offset(at, "not stored (deleted by retention?)"));
            };
            let rel = off - seg.start();
            let wrote = seg.wrote();
            if rel + BLANK_MARKER_LEN as u64 > seg.size() {
                at = i64::try_from(seg.start() + seg.size()).unwrap_or(i64::MAX);
                continue;
            }
            let avail = usize::try_from(wrote.saturating_sub(rel)).unwrap_or(usize::MAX);
            if avail < BLANK_MARKER_LEN {
                return Ok(empty);
            }
            let mut buf = seg.read_vec(rel, avail.min(max_bytes.max(BLANK_MARKER_LEN)))?;
            let mut pos = 0;
            while buf.len() - pos >= BLANK_MARKER_LEN {
                match read_record(&buf[pos..]) {
                    Ok(RecordRead::Record(v)) => pos += v.len(),
                    Ok(_) => break,
                    Err(_) if pos == 0 => {
                        // The first record may be longer than what was read.
                        let total = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                        let total = usize::try_from(total).unwrap_or(0);
                        if total > buf.len() && total <= avail {
                            buf = seg.read_vec(rel, total)?;
                            continue;
                        }
                        return Err(bad_offset(at, "no record starts here"));
                    }
                    Err(_) => break,
                }
            }
            if pos == 0
                && matches!(read_record(&buf), Ok(RecordRead::Blank { .. }))
                && seg.is_full()
            {
                at = i64::try_from(seg.start() + seg.size()).unwrap_or(i64::MAX);
                continue;
            }
            buf.truncate(pos);
            return Ok(ReplicaChunk {
                start: at,
                bytes: buf,
            });
        }
    }

    /// Appends records a master shipped (see [`read_for_replica`](Self::read_for_replica))
    /// and dispatches them to the consume queues and index, waking held pulls. Each record
    /// must land at the physical offset it carries; the first must start at this store's
    /// end (or at the next segment when the master skipped end-of-file padding). Returns
    /// the commit-log end afterwards.
    ///
    /// # Errors
    /// [`StoreError::ShutDown`]; [`StoreError::Replication`] when the records do not fit
    /// this store's log (a gap, divergent history, or another segment size); I/O errors.
    pub fn append_replica(&self, chunk: &ReplicaChunk) -> StoreResult<i64> {
        let inner = &self.inner;
        let guard = lock(&inner.put_lock);
        if !inner.running.load(Ordering::Acquire) {
            return Err(StoreError::ShutDown);
        }
        let mut pos = 0;
        let mut last_ts = 0;
        let mut arrived = Vec::new();
        while pos < chunk.bytes.len() {
            let at = chunk.start + pos as i64;
            let view = match read_record(&chunk.bytes[pos..]) {
                Ok(RecordRead::Record(v)) => v,
                _ => return Err(bad_offset(at, "shipped bytes are not a record")),
            };
            let len = view.len();
            if view.physical_offset() != at {
                return Err(bad_offset(
                    at,
                    format!("record claims offset {}", view.physical_offset()),
                ));
            }
            let seg = inner
                .commit_log
                .segment_for_replica(len as u64, at)
                .map_err(|e| match e {
                    AppendError::TooLarge => bad_offset(at, "record larger than a segment"),
                    AppendError::CreateFailed(e) | AppendError::Io(e) => e,
                })?
                .ok_or_else(|| {
                    bad_offset(
                        at,
                        format!(
                            "this store's log ends at {}: a gap or a divergent history",
                            inner.commit_log.max_offset()
                        ),
                    )
                })?;
            seg.append(&chunk.bytes[pos..pos + len])?;
            let info = DispatchInfo::from_view(&view, inner.schedule.as_ref());
            last_ts = info.store_ts;
            if let Err(e) = inner.dispatch(&info.topic, None, &info) {
                inner.logics_error.store(true, Ordering::Release);
                return Err(e);
            }
            if info.to_consume_queue {
                arrived.push(info);
            }
            pos += len;
        }
        if last_ts > 0 {
            inner.commit_log.set_last_store_ts(last_ts);
        }
        inner
            .bytes_put
            .fetch_add(chunk.bytes.len() as u64, Ordering::Relaxed);
        let end = inner.commit_log.max_offset();
        drop(guard);
        for info in arrived {
            inner.arrivals.notify(
                &info.topic,
                info.queue_id,
                info.queue_offset + 1,
                info.tags_code,
                info.store_ts,
            );
        }
        Ok(end)
    }
}

fn bad_offset(offset: i64, reason: impl Into<String>) -> StoreError {
    StoreError::Replication {
        offset,
        reason: reason.into(),
    }
}
