//! Start-up recovery (upstream `CommitLog.recoverNormally/recoverAbnormally` +
//! `DefaultMessageStore.recover`).
//!
//! 1. Load the commit-log segments, every consume queue (each trimmed to its valid units) and
//!    the index files (the newest one repaired when the last run did not shut down cleanly).
//! 2. Pick the first segment to scan: after a clean shutdown the third-last; after a crash the
//!    newest segment whose first record is older than the checkpoint's safe timestamp.
//! 3. Scan record by record, validating magic, length, physical offset and body CRC, and
//!    re-dispatch each record to its consume queue and the index (both skip what they have).
//! 4. At the first invalid record, stop: the log ends at the last good record. The rest of that
//!    segment is zeroed, later segments are deleted, and consume-queue units and index entries
//!    pointing at or past the end are dropped.
//!
//! A damaged record therefore costs everything after it, as upstream; [`RecoveryReport`] says
//! where and why.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rocketmq_sdk::protocol::message::record::{
    BLANK_MAGIC, MAGIC_V1, MAGIC_V2, RecordRead, read_record,
};

use super::commit_log::DispatchInfo;
use super::consume_queue::ConsumeQueue;
use super::error::{StoreError, StoreResult};
use super::message_store::Inner;
use super::segment::{Segment, write_lock};

/// Why recovery cut the commit log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TruncationReason {
    /// A record's header announces more bytes than the segment has, or its length is
    /// impossible: typically a write torn by a crash.
    BadLength {
        /// The TOTALSIZE found.
        total_size: i32,
    },
    /// The magic code is neither a record's nor the blank marker's.
    BadMagic {
        /// The magic found.
        magic: u32,
    },
    /// The stored body CRC does not match the body.
    CrcMismatch,
    /// The record's PHYSICALOFFSET is not where it was found (stale or misplaced bytes).
    OffsetMismatch {
        /// The offset stored in the record.
        stored: i64,
    },
    /// The record's fields are inconsistent.
    Malformed(String),
    /// A blank end-of-file marker whose length does not reach the end of the segment.
    BadBlankMarker {
        /// The length in the marker.
        remaining: i32,
    },
    /// The segment could not be read.
    ReadError(String),
}

impl fmt::Display for TruncationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TruncationReason::BadLength { total_size } => {
                write!(
                    f,
                    "record length {total_size} is impossible here (torn write?)"
                )
            }
            TruncationReason::BadMagic { magic } => write!(f, "bad magic code {magic:#010x}"),
            TruncationReason::CrcMismatch => write!(f, "body CRC mismatch"),
            TruncationReason::OffsetMismatch { stored } => {
                write!(f, "record claims physical offset {stored}")
            }
            TruncationReason::Malformed(e) => write!(f, "malformed record: {e}"),
            TruncationReason::BadBlankMarker { remaining } => {
                write!(
                    f,
                    "blank marker length {remaining} does not reach the end of the file"
                )
            }
            TruncationReason::ReadError(e) => write!(f, "read error: {e}"),
        }
    }
}

/// Where the commit log was cut, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Truncation {
    /// Commit-log offset of the first invalid byte (the new end of the log).
    pub offset: i64,
    /// What was found there.
    pub reason: TruncationReason,
    /// Whether later segments existed (and were deleted): damage in the middle, not a torn tail.
    pub in_middle: bool,
}

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// The previous run did not shut down cleanly (`abort` marker present).
    pub abnormal: bool,
    /// Commit-log segments present at start.
    pub segments_found: usize,
    /// Segments scanned record by record.
    pub files_scanned: usize,
    /// Commit-log offset the scan started at.
    pub scan_start_offset: i64,
    /// Valid records found by the scan.
    pub records_recovered: u64,
    /// Commit-log end after recovery.
    pub commit_log_end: i64,
    /// Set when the scan stopped at invalid data rather than at the clean end of the log.
    pub truncation: Option<Truncation>,
    /// Non-zero bytes discarded after the end in the segment where the scan stopped.
    pub truncated_bytes: u64,
    /// Segments after the end that were deleted.
    pub segments_deleted: usize,
    /// Consume queues loaded.
    pub consume_queues: usize,
    /// Consume-queue units re-created from the commit log.
    pub consume_queue_units_rebuilt: u64,
    /// Consume-queue units dropped because their record is gone.
    pub consume_queue_units_truncated: u64,
}

fn load_consume_queues(inner: &Inner) -> StoreResult<usize> {
    let dir = inner.config.consume_queue_dir();
    let storage = &inner.storage;
    let topics = match storage.read_dir(&dir) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(StoreError::io(&dir, e)),
    };
    let mut n = 0;
    let mut map = write_lock(&inner.queues);
    for topic in topics {
        if super::put::validate_topic(&topic).is_err() {
            tracing::warn!(topic = %topic, "ignoring consume queue directory with an illegal topic name");
            continue;
        }
        let tdir = dir.join(&topic);
        let ids = storage
            .read_dir(&tdir)
            .map_err(|e| StoreError::io(&tdir, e))?;
        for id in ids {
            let Ok(qid) = id.parse::<i32>() else {
                continue;
            };
            if qid < 0 || qid.to_string() != id {
                continue;
            }
            let cq = ConsumeQueue::new(
                storage.clone(),
                tdir.join(&id),
                &topic,
                qid,
                inner.config.consume_queue_units_per_file,
            );
            cq.load_and_recover()?;
            map.entry(topic.clone())
                .or_default()
                .insert(qid, Arc::new(cq));
            n += 1;
        }
    }
    Ok(n)
}

/// Picks the scan start after a crash: the newest segment whose first record was stored at or
/// before the checkpoint's safe time (`isMappedFileMatchedRecover`).
fn abnormal_start(inner: &Inner, segs: &[Arc<Segment>]) -> usize {
    let safe = inner.checkpoint.values().min_timestamp_index();
    for (i, seg) in segs.iter().enumerate().rev() {
        if let Some(ts) = inner.commit_log.first_store_ts(seg)
            && ts != 0
            && ts <= safe
        {
            return i;
        }
    }
    0
}

enum Step {
    Record(usize),
    EndOfSegment,
    End,
    Bad(TruncationReason),
}

/// Reads records of one segment through a large buffer.
struct SegmentReader<'a> {
    seg: &'a Segment,
    buf: Vec<u8>,
    buf_start: u64,
}

const READ_CHUNK: u64 = 4 << 20;

impl<'a> SegmentReader<'a> {
    fn new(seg: &'a Segment) -> Self {
        SegmentReader {
            seg,
            buf: Vec::new(),
            buf_start: 0,
        }
    }

    fn bytes(&mut self, pos: u64, len: u64) -> StoreResult<&[u8]> {
        let end = pos + len;
        if pos < self.buf_start || end > self.buf_start + self.buf.len() as u64 {
            let n = READ_CHUNK.max(len).min(self.seg.size() - pos);
            self.buf = self.seg.read_vec(pos, n as usize)?;
            self.buf_start = pos;
        }
        let off = (pos - self.buf_start) as usize;
        Ok(&self.buf[off..off + len as usize])
    }

    fn step(
        &mut self,
        pos: u64,
        check_crc: bool,
        mut sink: impl FnMut(&rocketmq_sdk::protocol::message::RecordView<'_>),
    ) -> Step {
        let size = self.seg.size();
        if pos + 8 > size {
            return Step::EndOfSegment;
        }
        let head = match self.bytes(pos, 8) {
            Ok(h) => [h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]],
            Err(e) => return Step::Bad(TruncationReason::ReadError(e.to_string())),
        };
        let total = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let magic = i32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        if magic == BLANK_MAGIC {
            return if i64::from(total) == (size - pos) as i64 {
                Step::EndOfSegment
            } else {
                Step::Bad(TruncationReason::BadBlankMarker { remaining: total })
            };
        }
        if magic == 0 && total == 0 {
            return Step::End;
        }
        if magic != MAGIC_V1 && magic != MAGIC_V2 {
            return Step::Bad(TruncationReason::BadMagic {
                magic: magic as u32,
            });
        }
        let Ok(len) = u64::try_from(total) else {
            return Step::Bad(TruncationReason::BadLength { total_size: total });
        };
        if len < 8 || pos + len > size {
            return Step::Bad(TruncationReason::BadLength { total_size: total });
        }
        let expected = (self.seg.start() + pos) as i64;
        let rec = match self.bytes(pos, len) {
            Ok(r) => r,
            Err(e) => return Step::Bad(TruncationReason::ReadError(e.to_string())),
        };
        match read_record(rec) {
            Ok(RecordRead::Record(v)) => {
                if v.len() as u64 != len {
                    return Step::Bad(TruncationReason::BadLength { total_size: total });
                }
                if v.physical_offset() != expected {
                    return Step::Bad(TruncationReason::OffsetMismatch {
                        stored: v.physical_offset(),
                    });
                }
                if check_crc && !v.verify_crc() {
                    return Step::Bad(TruncationReason::CrcMismatch);
                }
                sink(&v);
                Step::Record(v.len())
            }
            Ok(_) => Step::Bad(TruncationReason::Malformed("not a record".into())),
            Err(e) => Step::Bad(TruncationReason::Malformed(e.to_string())),
        }
    }
}

/// Non-zero extent after `rel` in `seg` (how much garbage the cut discards).
fn garbage_after(seg: &Segment, rel: u64) -> u64 {
    let mut last_nonzero = rel;
    let mut pos = rel;
    while pos < seg.size() {
        let n = (1u64 << 20).min(seg.size() - pos);
        let Ok(buf) = seg.read_vec(pos, n as usize) else {
            break;
        };
        if let Some(i) = buf.iter().rposition(|&b| b != 0) {
            last_nonzero = pos + i as u64 + 1;
        }
        pos += n;
    }
    last_nonzero - rel
}

pub(crate) fn recover(inner: &Inner, abnormal: bool) -> StoreResult<RecoveryReport> {
    let mut report = RecoveryReport {
        abnormal,
        ..RecoveryReport::default()
    };
    let cl = &inner.commit_log;
    cl.segments().load()?;
    report.consume_queues = load_consume_queues(inner)?;
    inner.index.load(!abnormal)?;
    let segs = cl.segments().segments();
    report.segments_found = segs.len();
    let start = if abnormal {
        abnormal_start(inner, &segs)
    } else {
        segs.len().saturating_sub(3)
    };
    let check_crc = inner.config.check_crc_on_recover;
    let mut end: i64 = segs.get(start).map_or(0, |s| s.start() as i64);
    report.scan_start_offset = end;
    let mut last_ts = 0i64;
    let mut dispatch_error: Option<StoreError> = None;
    let mut rebuilt = 0u64;
    'segments: for (i, seg) in segs.iter().enumerate().skip(start) {
        report.files_scanned += 1;
        let mut reader = SegmentReader::new(seg);
        let mut pos = 0u64;
        loop {
            let step = reader.step(pos, check_crc, |v| {
                last_ts = v.store_timestamp();
                if dispatch_error.is_none() {
                    let info = DispatchInfo::from_view(v, inner.schedule.as_ref());
                    match inner.dispatch(&info.topic, None, &info) {
                        Ok(true) => rebuilt += 1,
                        Ok(false) => {}
                        Err(e) => dispatch_error = Some(e),
                    }
                }
            });
            match step {
                Step::Record(len) => {
                    report.records_recovered += 1;
                    pos += len as u64;
                    end = (seg.start() + pos) as i64;
                }
                Step::EndOfSegment => {
                    end = (seg.start() + seg.size()) as i64;
                    continue 'segments;
                }
                Step::End => break 'segments,
                Step::Bad(reason) => {
                    let in_middle = i + 1 < segs.len();
                    tracing::warn!(
                        offset = end, %reason, in_middle,
                        "commit log recovery stopped at invalid data"
                    );
                    report.truncated_bytes = garbage_after(seg, pos);
                    report.truncation = Some(Truncation {
                        offset: end,
                        reason,
                        in_middle,
                    });
                    break 'segments;
                }
            }
        }
    }
    if let Some(e) = dispatch_error {
        return Err(e);
    }
    report.consume_queue_units_rebuilt = rebuilt;
    report.commit_log_end = end;
    let end_u = u64::try_from(end).unwrap_or(0);
    report.segments_deleted = segs.iter().filter(|s| s.start() > end_u).count();
    cl.segments().truncate_from(end_u)?;
    if last_ts > 0 {
        cl.set_last_store_ts(last_ts);
        inner.physic_ts_flushed.store(last_ts, Ordering::Release);
    }
    let cl_min = cl.min_offset();
    let mut truncated_units = 0;
    for cq in inner.all_queues() {
        let before = cq.max_offset();
        cq.truncate_past(end)?;
        truncated_units += before.saturating_sub(cq.max_offset());
        cq.correct_min_offset(cl_min)?;
    }
    report.consume_queue_units_truncated = truncated_units;
    inner.index.truncate_past(end)?;
    tracing::info!(?report, "store recovery finished");
    Ok(report)
}
