//! Consume queues: per topic and queue id, a dense array of 20-byte units pointing into the
//! commit log (upstream `ConsumeQueue`). Logical offset `n` is the unit at byte `n * 20`.
//!
//! Unit: `i64 commitLogOffset | i32 size | i64 tagsCode`, big-endian. A queue whose first file
//! starts mid-file (its older files were deleted, or it was created late) is pre-filled with
//! blank units `(0, i32::MAX, 0)`, never served.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use super::error::StoreResult;
use super::segment_queue::SegmentQueue;
use super::storage::Storage;

/// Bytes per consume-queue unit.
pub const CQ_UNIT_SIZE: u64 = 20;

/// One consume-queue entry, with the logical offset it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CqUnit {
    /// Logical (queue) offset of the unit.
    pub queue_offset: u64,
    /// Commit-log offset of the record.
    pub commit_log_offset: i64,
    /// Record size in bytes.
    pub size: i32,
    /// Tag hash, 0 without tags, delivery time for the schedule topic.
    pub tags_code: i64,
}

impl CqUnit {
    pub(crate) fn encode(commit_log_offset: i64, size: i32, tags_code: i64) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[..8].copy_from_slice(&commit_log_offset.to_be_bytes());
        b[8..12].copy_from_slice(&size.to_be_bytes());
        b[12..].copy_from_slice(&tags_code.to_be_bytes());
        b
    }

    pub(crate) fn decode(queue_offset: u64, b: &[u8]) -> Self {
        let mut o = [0u8; 8];
        o.copy_from_slice(&b[..8]);
        let mut s = [0u8; 4];
        s.copy_from_slice(&b[8..12]);
        let mut t = [0u8; 8];
        t.copy_from_slice(&b[12..20]);
        CqUnit {
            queue_offset,
            commit_log_offset: i64::from_be_bytes(o),
            size: i32::from_be_bytes(s),
            tags_code: i64::from_be_bytes(t),
        }
    }

    /// Recovery's validity test (upstream: `offset >= 0 && size > 0`).
    pub(crate) fn is_valid(&self) -> bool {
        self.commit_log_offset >= 0 && self.size > 0
    }

    /// A pre-fill unit.
    pub(crate) fn is_blank(&self) -> bool {
        self.commit_log_offset == 0 && self.size == i32::MAX && self.tags_code == 0
    }
}

const BLANK_UNIT: [u8; 20] = {
    let mut b = [0u8; 20];
    let m = i32::MAX.to_be_bytes();
    b[8] = m[0];
    b[9] = m[1];
    b[10] = m[2];
    b[11] = m[3];
    b
};

#[derive(Debug)]
pub(crate) struct ConsumeQueue {
    topic: String,
    queue_id: i32,
    segs: SegmentQueue,
    /// Byte offset of the first servable unit.
    min_logic_offset: AtomicU64,
    /// End (offset + size) of the last record dispatched here; -1 when none.
    max_physic_offset: AtomicI64,
}

impl ConsumeQueue {
    pub(crate) fn new(
        storage: Arc<dyn Storage>,
        dir: PathBuf,
        topic: &str,
        queue_id: i32,
        units_per_file: u64,
    ) -> Self {
        ConsumeQueue {
            topic: topic.to_owned(),
            queue_id,
            segs: SegmentQueue::new(storage, dir, units_per_file * CQ_UNIT_SIZE),
            min_logic_offset: AtomicU64::new(0),
            max_physic_offset: AtomicI64::new(-1),
        }
    }

    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    pub(crate) fn queue_id(&self) -> i32 {
        self.queue_id
    }

    pub(crate) fn segments(&self) -> &SegmentQueue {
        &self.segs
    }

    /// Loads the files and finds the end of valid units (upstream `ConsumeQueue.recover`):
    /// scans from the third-last file, stops at the first invalid unit.
    pub(crate) fn load_and_recover(&self) -> StoreResult<()> {
        self.segs.load()?;
        let segs = self.segs.segments();
        if segs.is_empty() {
            return Ok(());
        }
        let from = segs.len().saturating_sub(3);
        let mut end_abs = segs[from].start();
        let mut max_phy = -1i64;
        'files: for seg in &segs[from..] {
            let size = seg.size();
            let mut pos = 0u64;
            // Read in chunks of up to 1 MiB of units.
            let chunk = (1u64 << 20) / CQ_UNIT_SIZE * CQ_UNIT_SIZE;
            while pos < size {
                let n = chunk.min(size - pos);
                let buf = seg.read_vec(pos, n as usize)?;
                for (i, u) in buf.chunks_exact(CQ_UNIT_SIZE as usize).enumerate() {
                    let unit = CqUnit::decode(0, u);
                    if !unit.is_valid() {
                        end_abs = seg.start() + pos + i as u64 * CQ_UNIT_SIZE;
                        break 'files;
                    }
                    if !unit.is_blank() {
                        max_phy = unit.commit_log_offset + i64::from(unit.size);
                    }
                }
                pos += n;
                end_abs = seg.start() + pos;
            }
        }
        self.set_end(end_abs)?;
        if max_phy >= 0 {
            self.max_physic_offset.store(max_phy, Ordering::Release);
        }
        Ok(())
    }

    fn set_end(&self, end_abs: u64) -> StoreResult<()> {
        // Segments wholly before the end are full, the one holding it is cut there (its zeroed
        // tail is exactly what a never-written file has), later ones are deleted.
        let segs = self.segs.segments();
        if let Some(last) = segs.last()
            && end_abs >= last.start() + last.size()
        {
            for s in &segs {
                s.set_positions(s.size());
            }
            return Ok(());
        }
        self.segs.truncate_from(end_abs)
    }

    /// Smallest servable logical offset.
    pub(crate) fn min_offset(&self) -> u64 {
        self.min_logic_offset.load(Ordering::Acquire) / CQ_UNIT_SIZE
    }

    /// Logical offset the next unit will get.
    pub(crate) fn max_offset(&self) -> u64 {
        self.segs.max_offset() / CQ_UNIT_SIZE
    }

    /// Appends the unit for `queue_offset`. A unit for an offset below the current end is a
    /// re-dispatch after recovery and is skipped; a gap is filled with blank units.
    pub(crate) fn put(
        &self,
        queue_offset: u64,
        commit_log_offset: i64,
        size: i32,
        tags_code: i64,
    ) -> StoreResult<bool> {
        let seg_size = self.segs.segment_size();
        let Some(expected) = queue_offset
            .checked_mul(CQ_UNIT_SIZE)
            .filter(|e| *e < i64::MAX as u64 / 2)
        else {
            tracing::error!(topic = %self.topic, queue = self.queue_id, queue_offset, "impossible queue offset, not dispatched");
            return Ok(false);
        };
        if self.segs.last().is_none() {
            let seg = self.segs.create_next(expected)?;
            if expected > seg.start() {
                tracing::info!(
                    topic = %self.topic, queue = self.queue_id, queue_offset,
                    "consume queue starts mid-file, pre-filling blank units"
                );
                self.fill_blanks(seg.start(), expected)?;
            }
            self.min_logic_offset.store(expected, Ordering::Release);
        }
        let last = self.segs.last();
        let cur = last
            .as_ref()
            .map_or_else(|| self.segs.max_offset(), |l| l.start() + l.wrote());
        if expected < cur {
            tracing::debug!(topic = %self.topic, queue = self.queue_id, queue_offset, "unit already present, skipped");
            return Ok(false);
        }
        if expected > cur + seg_size {
            // More than a file of missing units: a damaged header, not a lost tail.
            tracing::error!(
                topic = %self.topic, queue = self.queue_id, expected = queue_offset,
                current = cur / CQ_UNIT_SIZE, "queue offset far past the end, not dispatched"
            );
            return Ok(false);
        }
        let seg = match last {
            // The common case: appending right at the end of a file with room.
            Some(l) if expected == cur && !l.is_full() => l,
            _ => {
                if expected > cur {
                    tracing::warn!(
                        topic = %self.topic, queue = self.queue_id, expected = queue_offset,
                        current = cur / CQ_UNIT_SIZE, "gap in consume queue, filling blank units"
                    );
                    self.fill_blanks(cur, expected)?;
                }
                self.segs.last_or_create(expected - expected % seg_size)?
            }
        };
        // Rebuilt from the commit log by recovery after a crash: no write to the kernel
        // needed before the ack (the commit log's own append already did that).
        seg.append_cached(&CqUnit::encode(commit_log_offset, size, tags_code))?;
        self.max_physic_offset
            .store(commit_log_offset + i64::from(size), Ordering::Release);
        Ok(true)
    }

    fn fill_blanks(&self, from: u64, to: u64) -> StoreResult<()> {
        let mut pos = from;
        while pos < to {
            let seg = self.segs.last_or_create(pos)?;
            let room = seg.remaining().min(to - pos);
            let n = room / CQ_UNIT_SIZE;
            let mut buf = Vec::with_capacity((n * CQ_UNIT_SIZE) as usize);
            for _ in 0..n {
                buf.extend_from_slice(&BLANK_UNIT);
            }
            seg.append_cached(&buf)?;
            pos += n * CQ_UNIT_SIZE;
            if n == 0 {
                break;
            }
        }
        Ok(())
    }

    /// The unit at `queue_offset`, if it is within `[min, max)`.
    pub(crate) fn get(&self, queue_offset: u64) -> StoreResult<Option<CqUnit>> {
        let Some(byte) = queue_offset.checked_mul(CQ_UNIT_SIZE) else {
            return Ok(None);
        };
        if byte < self.min_logic_offset.load(Ordering::Acquire) || byte >= self.segs.max_offset() {
            return Ok(None);
        }
        let Some(seg) = self.segs.find(byte) else {
            return Ok(None);
        };
        let mut b = [0u8; 20];
        seg.read(byte - seg.start(), &mut b)?;
        Ok(Some(CqUnit::decode(queue_offset, &b)))
    }

    /// Up to `max` units from `queue_offset`, all from the file holding it (like upstream's
    /// `getIndexBuffer`); empty when the offset is outside `[min, max)`.
    pub(crate) fn units_from(&self, queue_offset: u64, max: usize) -> StoreResult<Vec<CqUnit>> {
        let Some(byte) = queue_offset.checked_mul(CQ_UNIT_SIZE) else {
            return Ok(Vec::new());
        };
        let end = self.segs.max_offset();
        if byte < self.min_logic_offset.load(Ordering::Acquire) || byte >= end {
            return Ok(Vec::new());
        }
        let Some(seg) = self.segs.find(byte) else {
            return Ok(Vec::new());
        };
        let rel = byte - seg.start();
        let avail = (seg.wrote().min(end - seg.start())).saturating_sub(rel) / CQ_UNIT_SIZE;
        let n = avail.min(max as u64);
        let buf = seg.read_vec(rel, (n * CQ_UNIT_SIZE) as usize)?;
        Ok(buf
            .chunks_exact(CQ_UNIT_SIZE as usize)
            .enumerate()
            .map(|(i, u)| CqUnit::decode(queue_offset + i as u64, u))
            .collect())
    }

    /// Removes units whose record starts at or past `commit_log_end` (the commit log was cut
    /// there). Units are in commit-log order, so a binary search finds the cut.
    pub(crate) fn truncate_past(&self, commit_log_end: i64) -> StoreResult<()> {
        let min = self.min_offset();
        let max = self.max_offset();
        let (mut lo, mut hi) = (min, max);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid)? {
                Some(u) if !u.is_blank() && u.commit_log_offset >= commit_log_end => hi = mid,
                _ => lo = mid + 1,
            }
        }
        if lo < max {
            tracing::info!(
                topic = %self.topic, queue = self.queue_id, from = lo, to = max,
                "truncating consume queue units past the commit log end"
            );
            self.segs.truncate_from(lo * CQ_UNIT_SIZE)?;
            let last = if lo > min { self.get(lo - 1)? } else { None };
            self.max_physic_offset.store(
                last.filter(|u| !u.is_blank())
                    .map_or(-1, |u| u.commit_log_offset + i64::from(u.size)),
                Ordering::Release,
            );
        }
        if self.segs.max_offset() < self.min_logic_offset.load(Ordering::Acquire) {
            self.min_logic_offset
                .store(self.segs.max_offset(), Ordering::Release);
        }
        Ok(())
    }

    /// Moves the minimum offset to the first unit whose record is still in the commit log
    /// (upstream `correctMinOffset`).
    pub(crate) fn correct_min_offset(&self, commit_log_min: i64) -> StoreResult<()> {
        let Some(first) = self.segs.first() else {
            return Ok(());
        };
        let start = self
            .min_logic_offset
            .load(Ordering::Acquire)
            .max(first.start())
            / CQ_UNIT_SIZE;
        let max = self.max_offset();
        let (mut lo, mut hi) = (start, max);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let byte = mid * CQ_UNIT_SIZE;
            let unit = match self.segs.find(byte) {
                Some(seg) => {
                    let mut b = [0u8; 20];
                    seg.read(byte - seg.start(), &mut b)?;
                    CqUnit::decode(mid, &b)
                }
                None => break,
            };
            if !unit.is_blank() && unit.commit_log_offset >= commit_log_min {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        self.min_logic_offset
            .store(lo * CQ_UNIT_SIZE, Ordering::Release);
        Ok(())
    }

    /// Deletes leading files whose every record is below `commit_log_min`; returns how many.
    pub(crate) fn delete_expired(
        &self,
        commit_log_min: i64,
        max_files: usize,
    ) -> StoreResult<usize> {
        let gone = self.segs.delete_leading(max_files, |seg, _| {
            let mut b = [0u8; 20];
            let last = seg.size() - CQ_UNIT_SIZE;
            match seg.read(last, &mut b) {
                Ok(()) => {
                    let u = CqUnit::decode(0, &b);
                    u.is_valid()
                        && !u.is_blank()
                        && u.commit_log_offset + i64::from(u.size) <= commit_log_min
                }
                Err(_) => false,
            }
        })?;
        if !gone.is_empty() {
            self.correct_min_offset(commit_log_min)?;
        }
        Ok(gone.len())
    }

    /// First logical offset whose record was stored at or after `timestamp`; the max offset if
    /// none. `store_ts` reads a record's store timestamp from the commit log.
    pub(crate) fn offset_by_time(
        &self,
        timestamp: i64,
        mut store_ts: impl FnMut(i64, i32) -> Option<i64>,
    ) -> StoreResult<u64> {
        let (mut lo, mut hi) = (self.min_offset(), self.max_offset());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let ts = match self.get(mid)? {
                Some(u) if !u.is_blank() => store_ts(u.commit_log_offset, u.size),
                _ => None,
            };
            match ts {
                Some(t) if t >= timestamp => hi = mid,
                Some(_) => lo = mid + 1,
                // Unreadable (already deleted) records are older than anything readable.
                None => lo = mid + 1,
            }
        }
        Ok(lo)
    }

    pub(crate) fn flush(&self) -> StoreResult<u64> {
        self.segs.flush()
    }
}
