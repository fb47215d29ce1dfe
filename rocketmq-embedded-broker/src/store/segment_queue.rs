//! An ordered run of equal-size segments in one directory (upstream `MappedFileQueue`): the
//! commit log and every consume queue are one of these.
//!
//! File names are the 20-digit, zero-padded absolute offset of the segment's first byte
//! (`UtilAll.offset2FileName`), so offsets keep growing across files and deleting the oldest
//! file never renumbers anything.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use super::error::{StoreError, StoreResult};
use super::segment::{PAGE_SIZE, Segment, read_lock, write_lock};
use super::storage::Storage;

/// `UtilAll.offset2FileName`.
pub(crate) fn offset_to_file_name(offset: u64) -> String {
    format!("{offset:020}")
}

/// Parses a 20-digit segment file name.
pub(crate) fn file_name_to_offset(name: &str) -> Option<u64> {
    if name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()) {
        name.parse().ok()
    } else {
        None
    }
}

#[derive(Debug)]
pub(crate) struct SegmentQueue {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    segment_size: u64,
    page_size: u64,
    segments: RwLock<Vec<Arc<Segment>>>,
}

impl SegmentQueue {
    pub(crate) fn new(storage: Arc<dyn Storage>, dir: PathBuf, segment_size: u64) -> Self {
        Self::with_page_size(storage, dir, segment_size, PAGE_SIZE)
    }

    /// A queue whose segments cache `page_size` pages (see [`Segment`]).
    pub(crate) fn with_page_size(
        storage: Arc<dyn Storage>,
        dir: PathBuf,
        segment_size: u64,
        page_size: u64,
    ) -> Self {
        SegmentQueue {
            storage,
            dir,
            segment_size,
            page_size,
            segments: RwLock::new(Vec::new()),
        }
    }

    pub(crate) fn segment_size(&self) -> u64 {
        self.segment_size
    }

    /// Opens every segment file of the directory. Files that are not 20-digit names are
    /// ignored; offsets that are not a multiple apart are reported as corruption.
    pub(crate) fn load(&self) -> StoreResult<()> {
        let names = match self.storage.read_dir(&self.dir) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(StoreError::io(&self.dir, e)),
        };
        let mut offsets: Vec<u64> = names
            .iter()
            .filter_map(|n| {
                let off = file_name_to_offset(n);
                if off.is_none() && !n.ends_with(".tmp") {
                    tracing::warn!(dir = %self.dir.display(), file = %n, "ignoring unexpected file");
                }
                off
            })
            .collect();
        offsets.sort_unstable();
        let mut segs = Vec::with_capacity(offsets.len());
        for (i, off) in offsets.iter().enumerate() {
            let path = self.dir.join(offset_to_file_name(*off));
            if off % self.segment_size != 0 {
                return Err(StoreError::corrupt(
                    &path,
                    format!(
                        "start offset is not a multiple of the segment size {}",
                        self.segment_size
                    ),
                ));
            }
            if i > 0 && *off != offsets[i - 1] + self.segment_size {
                return Err(StoreError::corrupt(
                    &path,
                    format!(
                        "segment does not follow {} (missing file in between)",
                        offsets[i - 1]
                    ),
                ));
            }
            let seg = Segment::open_with_page_size(
                self.storage.as_ref(),
                &path,
                *off,
                self.segment_size,
                false,
                self.page_size,
            )?;
            // Until recovery says otherwise, assume older segments are full.
            seg.set_positions(self.segment_size);
            segs.push(Arc::new(seg));
        }
        *write_lock(&self.segments) = segs;
        Ok(())
    }

    pub(crate) fn segments(&self) -> Vec<Arc<Segment>> {
        read_lock(&self.segments).clone()
    }

    pub(crate) fn first(&self) -> Option<Arc<Segment>> {
        read_lock(&self.segments).first().cloned()
    }

    pub(crate) fn last(&self) -> Option<Arc<Segment>> {
        read_lock(&self.segments).last().cloned()
    }

    /// The segment holding absolute `offset`, if any.
    pub(crate) fn find(&self, offset: u64) -> Option<Arc<Segment>> {
        let segs = read_lock(&self.segments);
        let first = segs.first()?;
        if offset < first.start() {
            return None;
        }
        let idx = usize::try_from((offset - first.start()) / self.segment_size).ok()?;
        segs.get(idx).cloned()
    }

    /// The last segment if it has room, else a new one. `start_if_empty` (rounded down to the
    /// segment size) names the first segment of an empty queue.
    pub(crate) fn last_or_create(&self, start_if_empty: u64) -> StoreResult<Arc<Segment>> {
        if let Some(last) = self.last()
            && !last.is_full()
        {
            return Ok(last);
        }
        self.create_next(start_if_empty)
    }

    /// Creates the segment after the last one (or at `start_if_empty`).
    pub(crate) fn create_next(&self, start_if_empty: u64) -> StoreResult<Arc<Segment>> {
        let mut segs = write_lock(&self.segments);
        let start = match segs.last() {
            Some(l) => l.start() + self.segment_size,
            None => start_if_empty - start_if_empty % self.segment_size,
        };
        super::storage::create_dir_durable(self.storage.as_ref(), &self.dir)
            .map_err(|e| StoreError::io(&self.dir, e))?;
        let path = self.dir.join(offset_to_file_name(start));
        let seg = Arc::new(Segment::open_with_page_size(
            self.storage.as_ref(),
            &path,
            start,
            self.segment_size,
            true,
            self.page_size,
        )?);
        // A new file name must survive a crash before data in it is acknowledged.
        self.storage
            .sync_dir(&self.dir)
            .map_err(|e| StoreError::io(&self.dir, e))?;
        segs.push(seg.clone());
        Ok(seg)
    }

    /// Absolute offset of the first byte of the first segment (0 when empty).
    pub(crate) fn min_offset(&self) -> u64 {
        self.first().map_or(0, |s| s.start())
    }

    /// Absolute offset just past the last written byte.
    pub(crate) fn max_offset(&self) -> u64 {
        self.last().map_or(0, |s| s.start() + s.wrote())
    }

    /// Absolute offset up to which everything is durable.
    pub(crate) fn flushed_offset(&self) -> u64 {
        let segs = read_lock(&self.segments);
        // The oldest segment that is not fully flushed decides.
        for s in segs.iter() {
            if s.flushed() < s.wrote() {
                return s.start() + s.flushed();
            }
        }
        segs.last().map_or(0, |s| s.start() + s.flushed())
    }

    /// Flushes every segment with unflushed data, oldest first. Returns the durable offset.
    pub(crate) fn flush(&self) -> StoreResult<u64> {
        for s in self.segments() {
            if s.flushed() < s.wrote() || s.dirty_pages() > 0 {
                s.flush()?;
            }
        }
        Ok(self.flushed_offset())
    }

    /// Dirty bytes not yet flushed (`wrote - flushed` over all segments).
    pub(crate) fn unflushed_bytes(&self) -> u64 {
        read_lock(&self.segments)
            .iter()
            .map(|s| s.wrote().saturating_sub(s.flushed()))
            .sum()
    }

    /// Cuts everything at or past absolute `offset`: segments wholly past it are deleted, the one
    /// containing it is truncated, earlier ones are marked full.
    pub(crate) fn truncate_from(&self, offset: u64) -> StoreResult<()> {
        let mut segs = write_lock(&self.segments);
        let mut keep = Vec::with_capacity(segs.len());
        let all: Vec<Arc<Segment>> = segs.drain(..).collect();
        let mut rest = all.into_iter();
        while let Some(s) = rest.next() {
            if s.start() + self.segment_size <= offset {
                s.set_positions(self.segment_size);
                keep.push(s);
            } else if s.start() <= offset {
                s.truncate(offset - s.start())?;
                s.set_positions(offset - s.start());
                keep.push(s);
            } else {
                tracing::info!(file = %s.path().display(), "deleting segment past truncation point");
                if let Err(e) = self.storage.remove_file(s.path()) {
                    keep.push(s.clone());
                    keep.extend(rest);
                    *segs = keep;
                    return Err(StoreError::io(s.path(), e));
                }
            }
        }
        *segs = keep;
        drop(segs);
        self.storage
            .sync_dir(&self.dir)
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .map_err(|e| StoreError::io(&self.dir, e))
    }

    /// Deletes the first segments for which `expired` says yes, stopping at the first no, never
    /// deleting the last segment and at most `max` files. Returns the deleted segments.
    pub(crate) fn delete_leading(
        &self,
        max: usize,
        mut expired: impl FnMut(&Segment, Option<&Segment>) -> bool,
    ) -> StoreResult<Vec<Arc<Segment>>> {
        let candidates = self.segments();
        let mut gone = Vec::new();
        for (i, s) in candidates.iter().enumerate() {
            if gone.len() >= max || i + 1 >= candidates.len() {
                break;
            }
            if !expired(s, candidates.get(i + 1).map(|n| n.as_ref())) {
                break;
            }
            gone.push(s.clone());
        }
        if gone.is_empty() {
            return Ok(gone);
        }
        {
            let mut segs = write_lock(&self.segments);
            segs.drain(..gone.len());
        }
        for s in &gone {
            tracing::info!(file = %s.path().display(), "deleting expired segment");
            self.storage
                .remove_file(s.path())
                .map_err(|e| StoreError::io(s.path(), e))?;
        }
        let _ = self.storage.sync_dir(&self.dir);
        Ok(gone)
    }

    /// Forgets every cached page (a simulated process crash).
    pub(crate) fn drop_caches(&self) {
        for s in self.segments() {
            s.drop_cache();
        }
    }
}
