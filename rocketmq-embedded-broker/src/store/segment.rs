//! One fixed-size file with a user-space page cache: the store's stand-in for upstream's
//! `MappedFile`, built on positioned I/O because the workspace forbids the `unsafe` an mmap
//! needs.
//!
//! Appends (the commit log, the consume queues) go into 4 KiB pages held in memory *and* to
//! the file with `pwrite` before [`Segment::append`] returns, so the kernel holds every
//! appended byte as soon as the caller acknowledges it, as with upstream's mmap: a crash of
//! the process loses nothing. [`Segment::flush`] then only `fdatasync`s those pages; pages
//! dirtied by cache-only random writes (the index's hash slots) are written by the flush
//! first. After a crash of the machine exactly the flushed prefix is guaranteed (upstream's
//! "unflushed tail may be lost" contract). Reads see cached pages first and fall back to the
//! file.
//!
//! Appends (`append`) move a write cursor (`wrote`); `flushed` is the cursor value covered by
//! the last successful flush. Random writes (`write`) serve the index file's hash slots.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::error::{StoreError, StoreResult};
use super::storage::{Storage, StorageFile, read_exact_at, write_all_at};

/// Page granularity of the cache and of the "least pages" flush thresholds (upstream's
/// `OS_PAGE_SIZE`).
pub(crate) const PAGE_SIZE: u64 = 4096;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn read_lock<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn write_lock<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

/// A cached page. The data is shared with an in-flight flush (`Arc`), and copied on write
/// only if a flush still holds it.
#[derive(Debug)]
struct Page {
    data: Arc<Vec<u8>>,
    dirty: bool,
    /// The file already holds this page's bytes (an append wrote them through before it
    /// returned), so a flush only has to `fdatasync`, not write the page again. False as soon
    /// as a cache-only write (index slots) dirties the page.
    in_kernel: bool,
    version: u64,
}

/// Cached pages by page number: a vector indexed directly (grown on demand), because index
/// slots hit thousands of pages at random and a tree search per write showed in profiles.
#[derive(Debug, Default)]
struct PageTable {
    slots: Vec<Option<Page>>,
    len: usize,
}

impl PageTable {
    fn slot(idx: u64) -> usize {
        usize::try_from(idx).unwrap_or(usize::MAX)
    }

    fn contains_key(&self, idx: &u64) -> bool {
        self.get(idx).is_some()
    }

    fn get(&self, idx: &u64) -> Option<&Page> {
        self.slots.get(Self::slot(*idx)).and_then(Option::as_ref)
    }

    fn get_mut(&mut self, idx: &u64) -> Option<&mut Page> {
        self.slots
            .get_mut(Self::slot(*idx))
            .and_then(Option::as_mut)
    }

    fn insert(&mut self, idx: u64, page: Page) {
        let i = Self::slot(idx);
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        if self.slots[i].replace(page).is_none() {
            self.len += 1;
        }
    }

    fn remove(&mut self, idx: &u64) -> Option<Page> {
        let p = self.slots.get_mut(Self::slot(*idx)).and_then(Option::take);
        if p.is_some() {
            self.len -= 1;
        }
        p
    }

    fn clear(&mut self) {
        self.slots.clear();
        self.len = 0;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    /// Page numbers present at or after `first`, ascending.
    fn keys_from(&self, first: u64) -> Vec<u64> {
        let start = Self::slot(first).min(self.slots.len());
        self.slots[start..]
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_some())
            .map(|(i, _)| (start + i) as u64)
            .collect()
    }
}

#[derive(Debug, Default)]
struct PageCache {
    pages: PageTable,
    /// Pages that turned dirty since the last snapshot (may hold duplicates and pages removed
    /// since; the flush filters).
    dirty_list: Vec<u64>,
    dirty: usize,
    version: u64,
    /// Buffers of evicted pages, reused (zeroed) for new pages instead of fresh allocations.
    free: Vec<Vec<u8>>,
}

/// Evicted page buffers kept per segment for reuse.
const FREE_PAGES: usize = 256;

/// A file of fixed size whose name is the absolute offset of its first byte.
#[derive(Debug)]
pub(crate) struct Segment {
    path: PathBuf,
    start: u64,
    size: u64,
    /// Cache granularity: [`PAGE_SIZE`] for random writes (index slots, consume queues), larger
    /// for the append-only commit log.
    page_size: u64,
    file: Arc<dyn StorageFile>,
    cache: RwLock<PageCache>,
    wrote: AtomicU64,
    flushed: AtomicU64,
    /// Bytes at or past this relative offset were never written to the file by us and read as
    /// zeros, so a fresh page there needs no `pread`.
    high_water: AtomicU64,
    /// Pages wholly below this relative offset stay cached after a flush.
    pin_below: AtomicU64,
    flush_lock: Mutex<()>,
}

impl Segment {
    /// Opens (or creates, preallocated sparse to `size`) the segment file at `path`, caching
    /// [`PAGE_SIZE`] pages.
    pub(crate) fn open(
        storage: &dyn Storage,
        path: &Path,
        start: u64,
        size: u64,
        create: bool,
    ) -> StoreResult<Self> {
        Self::open_with_page_size(storage, path, start, size, create, PAGE_SIZE)
    }

    /// [`open`](Self::open) with another cache granularity (a multiple of [`PAGE_SIZE`]).
    pub(crate) fn open_with_page_size(
        storage: &dyn Storage,
        path: &Path,
        start: u64,
        size: u64,
        create: bool,
        page_size: u64,
    ) -> StoreResult<Self> {
        let existed = storage.exists(path);
        let file = storage
            .open_file(path, create)
            .map_err(|e| StoreError::io(path, e))?;
        let len = file.len().map_err(|e| StoreError::io(path, e))?;
        if len != size {
            if existed && len > size {
                return Err(StoreError::corrupt(
                    path,
                    format!("file is {len} bytes, expected {size}"),
                ));
            }
            // A new file, or one whose creation was interrupted before it reached full size.
            file.set_len(size).map_err(|e| StoreError::io(path, e))?;
        }
        let high_water = if existed { len.min(size) } else { 0 };
        Ok(Segment {
            path: path.to_path_buf(),
            start,
            size,
            page_size: page_size.max(PAGE_SIZE),
            file,
            cache: RwLock::new(PageCache::default()),
            wrote: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            high_water: AtomicU64::new(high_water),
            pin_below: AtomicU64::new(0),
            flush_lock: Mutex::new(()),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Absolute offset of the first byte (the file name).
    pub(crate) fn start(&self) -> u64 {
        self.start
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Relative append cursor.
    pub(crate) fn wrote(&self) -> u64 {
        self.wrote.load(Ordering::Acquire)
    }

    /// Relative position covered by the last successful flush.
    pub(crate) fn flushed(&self) -> u64 {
        self.flushed.load(Ordering::Acquire)
    }

    pub(crate) fn is_full(&self) -> bool {
        self.wrote() >= self.size
    }

    pub(crate) fn remaining(&self) -> u64 {
        self.size.saturating_sub(self.wrote())
    }

    /// Sets both cursors, used by recovery once it knows where valid data ends.
    pub(crate) fn set_positions(&self, pos: u64) {
        let pos = pos.min(self.size);
        self.wrote.store(pos, Ordering::Release);
        self.flushed.store(pos, Ordering::Release);
    }

    /// Keeps pages below relative offset `rel` cached across flushes (the index's hash slots,
    /// which are read and written at random).
    pub(crate) fn pin_below(&self, rel: u64) {
        self.pin_below.store(rel, Ordering::Release);
    }

    /// Number of dirty pages in the cache.
    pub(crate) fn dirty_pages(&self) -> usize {
        read_lock(&self.cache).dirty
    }

    fn load_page(&self, idx: u64, free: Option<&mut Vec<Vec<u8>>>) -> io::Result<Page> {
        let ps = self.page_size;
        let mut data = match free.and_then(|f| f.pop()) {
            Some(mut d) => {
                d.fill(0);
                d
            }
            None => vec![0u8; ps as usize],
        };
        let off = idx * ps;
        if off < self.high_water.load(Ordering::Acquire) {
            let n = ps.min(self.size.saturating_sub(off)) as usize;
            read_exact_at(self.file.as_ref(), &mut data[..n], off)?;
        }
        Ok(Page {
            data: Arc::new(data),
            dirty: false,
            in_kernel: false,
            version: 0,
        })
    }

    /// Copies `bytes` into the cached pages. `through` says the caller writes the same bytes to
    /// the file before releasing the cache lock (appends), so the pages need no write at flush
    /// time unless a cache-only write dirtied them too.
    fn write_locked(
        &self,
        cache: &mut PageCache,
        rel: u64,
        bytes: &[u8],
        through: bool,
    ) -> io::Result<()> {
        let end = rel + bytes.len() as u64;
        if end > self.size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "write of {} bytes at {rel} past end of {}-byte segment",
                    bytes.len(),
                    self.size
                ),
            ));
        }
        cache.version += 1;
        let version = cache.version;
        let ps = self.page_size;
        let mut pos = rel;
        while pos < end {
            let idx = pos / ps;
            let in_page = (pos % ps) as usize;
            let n = ((ps - pos % ps).min(end - pos)) as usize;
            if !cache.pages.contains_key(&idx) {
                let page = self.load_page(idx, Some(&mut cache.free))?;
                cache.pages.insert(idx, page);
            }
            let Some(page) = cache.pages.get_mut(&idx) else {
                return Err(io::Error::other("page vanished"));
            };
            let src = (pos - rel) as usize;
            Arc::make_mut(&mut page.data)[in_page..in_page + n]
                .copy_from_slice(&bytes[src..src + n]);
            page.version = version;
            if !page.dirty {
                page.dirty = true;
                page.in_kernel = through;
                cache.dirty += 1;
                cache.dirty_list.push(idx);
            } else if !through {
                page.in_kernel = false;
            }
            pos += n as u64;
        }
        Ok(())
    }

    /// Writes `bytes` at relative offset `rel` into the cache (not the file).
    pub(crate) fn write(&self, rel: u64, bytes: &[u8]) -> StoreResult<()> {
        let mut cache = write_lock(&self.cache);
        self.write_locked(&mut cache, rel, bytes, false)
            .map_err(|e| StoreError::io(&self.path, e))
    }

    /// Holds the cache lock for a read-modify-write sequence (an index insert reads a slot and
    /// writes an entry and the slot), so it costs one lock instead of three.
    pub(crate) fn lock_for_update(&self) -> LockedSegment<'_> {
        LockedSegment {
            seg: self,
            cache: write_lock(&self.cache),
        }
    }

    /// Appends at the write cursor; the caller has checked that `bytes` fits.
    /// Returns the relative offset written at.
    ///
    /// The bytes reach the kernel (`pwrite`) before this returns, as upstream's mmap store
    /// puts every message into the page cache before SEND_OK: a crash of the process then
    /// loses nothing appended, in every flush mode; only `fdatasync` is left to the flush.
    /// The write happens under the cache lock so a concurrent flush never writes an older
    /// copy of the page over it (flushes skip pages already in the kernel).
    pub(crate) fn append(&self, bytes: &[u8]) -> StoreResult<u64> {
        let mut cache = write_lock(&self.cache);
        let at = self.wrote.load(Ordering::Acquire);
        self.write_locked(&mut cache, at, bytes, true)
            .map_err(|e| StoreError::io(&self.path, e))?;
        write_all_at(self.file.as_ref(), bytes, at).map_err(|e| StoreError::io(&self.path, e))?;
        self.high_water
            .fetch_max(at + bytes.len() as u64, Ordering::AcqRel);
        // Published under the cache lock so a flush snapshot sees pages and cursor together.
        self.wrote.store(at + bytes.len() as u64, Ordering::Release);
        Ok(at)
    }

    /// Appends at the write cursor into the cache only: the bytes reach the file at the
    /// next flush. For files that recovery rebuilds from the commit log after a crash (the
    /// consume queues): one `pwrite` per message instead of two on the put path.
    pub(crate) fn append_cached(&self, bytes: &[u8]) -> StoreResult<u64> {
        let mut cache = write_lock(&self.cache);
        let at = self.wrote.load(Ordering::Acquire);
        self.write_locked(&mut cache, at, bytes, false)
            .map_err(|e| StoreError::io(&self.path, e))?;
        self.high_water
            .fetch_max(at + bytes.len() as u64, Ordering::AcqRel);
        self.wrote.store(at + bytes.len() as u64, Ordering::Release);
        Ok(at)
    }

    /// Marks the rest of the file as written (after an end-of-file blank marker).
    pub(crate) fn mark_full(&self) {
        let _cache = write_lock(&self.cache);
        self.wrote.store(self.size, Ordering::Release);
    }

    /// Reads `buf.len()` bytes at relative offset `rel`: cached pages first, the file for the
    /// rest. Bytes past the end of the segment are an error.
    pub(crate) fn read(&self, rel: u64, buf: &mut [u8]) -> StoreResult<()> {
        let end = rel + buf.len() as u64;
        if end > self.size {
            return Err(StoreError::io(
                &self.path,
                io::Error::new(io::ErrorKind::UnexpectedEof, "read past end of segment"),
            ));
        }
        // Copy what is cached while holding the lock; read the rest from the file after
        // releasing it, so slow disk reads never stall appenders.
        let mut misses: Vec<(u64, u64)> = Vec::new();
        {
            let cache = read_lock(&self.cache);
            let ps = self.page_size;
            let mut pos = rel;
            while pos < end {
                let idx = pos / ps;
                let in_page = (pos % ps) as usize;
                let n = (ps - pos % ps).min(end - pos);
                let dst = (pos - rel) as usize;
                match cache.pages.get(&idx) {
                    Some(page) => buf[dst..dst + n as usize]
                        .copy_from_slice(&page.data[in_page..in_page + n as usize]),
                    None => match misses.last_mut() {
                        Some((_, e)) if *e == pos => *e = pos + n,
                        _ => misses.push((pos, pos + n)),
                    },
                }
                pos += n;
            }
        }
        let high_water = self.high_water.load(Ordering::Acquire);
        for (lo, hi) in misses {
            let dst = &mut buf[(lo - rel) as usize..(hi - rel) as usize];
            if lo >= high_water {
                dst.fill(0);
                continue;
            }
            read_exact_at(self.file.as_ref(), dst, lo)
                .map_err(|e| StoreError::io(&self.path, e))?;
        }
        Ok(())
    }

    /// Reads a vector of `len` bytes at `rel`.
    pub(crate) fn read_vec(&self, rel: u64, len: usize) -> StoreResult<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.read(rel, &mut buf)?;
        Ok(buf)
    }

    /// Writes `bytes` straight to the file at `rel` (no sync) and patches any cached copy
    /// without changing its dirty state; for headers that must reach the disk only at a chosen
    /// moment (the index header).
    pub(crate) fn write_through(&self, rel: u64, bytes: &[u8]) -> StoreResult<()> {
        let _flush = lock(&self.flush_lock);
        let mut cache = write_lock(&self.cache);
        write_all_at(self.file.as_ref(), bytes, rel).map_err(|e| StoreError::io(&self.path, e))?;
        let end = rel + bytes.len() as u64;
        self.high_water.fetch_max(end, Ordering::AcqRel);
        let ps = self.page_size;
        let mut pos = rel;
        while pos < end {
            let idx = pos / ps;
            let in_page = (pos % ps) as usize;
            let n = ((ps - pos % ps).min(end - pos)) as usize;
            if let Some(page) = cache.pages.get_mut(&idx) {
                let src = (pos - rel) as usize;
                Arc::make_mut(&mut page.data)[in_page..in_page + n]
                    .copy_from_slice(&bytes[src..src + n]);
            }
            pos += n as u64;
        }
        Ok(())
    }

    /// Writes the cached bytes of `[lo, hi)` to the file (no sync, dirty flags untouched): the
    /// index uses it to make entries durable before the slots that point at them.
    pub(crate) fn persist_range(&self, lo: u64, hi: u64) -> StoreResult<()> {
        if lo >= hi {
            return Ok(());
        }
        let _flush = lock(&self.flush_lock);
        let mut buf = vec![0u8; (hi - lo) as usize];
        self.read(lo, &mut buf)?;
        write_all_at(self.file.as_ref(), &buf, lo).map_err(|e| StoreError::io(&self.path, e))?;
        self.high_water.fetch_max(hi, Ordering::AcqRel);
        Ok(())
    }

    /// `fdatasync` only.
    pub(crate) fn sync(&self) -> StoreResult<()> {
        self.file
            .sync_data()
            .map_err(|e| StoreError::io(&self.path, e))
    }

    /// Writes every dirty page to the file, syncs, and advances `flushed` to the write cursor
    /// seen when the dirty pages were collected. Returns the new `flushed` value. On failure
    /// the pages stay dirty, so a later flush retries them.
    pub(crate) fn flush(&self) -> StoreResult<u64> {
        let _flush = lock(&self.flush_lock);
        let (snapshot, target) = {
            let mut cache = write_lock(&self.cache);
            let target = self.wrote.load(Ordering::Acquire);
            if cache.dirty == 0 {
                drop(cache);
                if self.flushed() < target {
                    // Cursor moved without dirty pages (blank tail): nothing to write.
                    self.flushed.fetch_max(target, Ordering::AcqRel);
                }
                return Ok(self.flushed());
            }
            let mut snap = Vec::with_capacity(cache.dirty);
            let mut list = std::mem::take(&mut cache.dirty_list);
            list.sort_unstable();
            list.dedup();
            for idx in list {
                if let Some(page) = cache.pages.get_mut(&idx)
                    && page.dirty
                {
                    page.dirty = false;
                    let in_kernel = std::mem::replace(&mut page.in_kernel, false);
                    snap.push((idx, page.version, page.data.clone(), in_kernel));
                }
            }
            cache.dirty = 0;
            (snap, target)
        };
        let result = self.write_pages(&snapshot).and_then(|()| {
            self.file
                .sync_data()
                .map_err(|e| StoreError::io(&self.path, e))
        });
        let mut cache = write_lock(&self.cache);
        match result {
            Ok(()) => {
                self.flushed.fetch_max(target, Ordering::AcqRel);
                // Evict the written pages, they are in the file now; keep the page appends go
                // to next and the pinned prefix (hot index slots).
                let tail_page = self.wrote.load(Ordering::Acquire) / self.page_size;
                let pinned = self.pin_below.load(Ordering::Acquire);
                for (idx, version, data, _) in snapshot {
                    if idx == tail_page || (idx + 1) * self.page_size <= pinned {
                        continue;
                    }
                    let evict = cache
                        .pages
                        .get(&idx)
                        .is_some_and(|p| !p.dirty && p.version == version);
                    if evict {
                        cache.pages.remove(&idx);
                        // The cache's reference is gone; ours may be the last one.
                        if cache.free.len() < FREE_PAGES
                            && let Ok(buf) = Arc::try_unwrap(data)
                            && buf.len() == self.page_size as usize
                        {
                            cache.free.push(buf);
                        }
                    }
                }
                if self.is_full() {
                    // Nothing is appended to a full segment again, so its recycled buffers
                    // (up to FREE_PAGES pages: 16 MiB for the commit log) and its page table
                    // would only sit there until retention deletes the file; the soak showed
                    // RSS growing by that much per rolled segment.
                    cache.free = Vec::new();
                    if cache.pages.len == 0 {
                        cache.pages.slots = Vec::new();
                    }
                }
                Ok(self.flushed())
            }
            Err(e) => {
                for (idx, _, _, in_kernel) in &snapshot {
                    if let Some(p) = cache.pages.get_mut(idx)
                        && !p.dirty
                    {
                        p.dirty = true;
                        p.in_kernel = *in_kernel;
                        cache.dirty += 1;
                        cache.dirty_list.push(*idx);
                    }
                }
                Err(e)
            }
        }
    }

    /// Writes the snapshot's pages, coalescing consecutive pages into writes of up to 1 MiB
    /// through one reused buffer.
    fn write_pages(&self, snapshot: &[(u64, u64, Arc<Vec<u8>>, bool)]) -> StoreResult<()> {
        const MAX_WRITE: usize = 1 << 20;
        let ps = self.page_size;
        let mut buf: Vec<u8> = Vec::with_capacity(MAX_WRITE.max(ps as usize));
        let mut buf_off = 0u64;
        let flush_buf = |buf: &mut Vec<u8>, off: u64| -> StoreResult<()> {
            if buf.is_empty() {
                return Ok(());
            }
            let len = (buf.len() as u64).min(self.size.saturating_sub(off)) as usize;
            write_all_at(self.file.as_ref(), &buf[..len], off)
                .map_err(|e| StoreError::io(&self.path, e))?;
            self.high_water
                .fetch_max(off + len as u64, Ordering::AcqRel);
            buf.clear();
            Ok(())
        };
        for (idx, _, data, in_kernel) in snapshot {
            if *in_kernel {
                continue;
            }
            let off = idx * ps;
            if ps >= 64 * 1024 {
                // Big pages go out as they are: no copy into the buffer.
                let len = (data.len() as u64).min(self.size.saturating_sub(off)) as usize;
                write_all_at(self.file.as_ref(), &data[..len], off)
                    .map_err(|e| StoreError::io(&self.path, e))?;
                self.high_water
                    .fetch_max(off + len as u64, Ordering::AcqRel);
                continue;
            }
            let contiguous = !buf.is_empty() && buf_off + buf.len() as u64 == off;
            if !contiguous || buf.len() + data.len() > MAX_WRITE {
                flush_buf(&mut buf, buf_off)?;
                buf_off = off;
            }
            buf.extend_from_slice(data);
        }
        flush_buf(&mut buf, buf_off)
    }

    /// Discards everything at or past relative offset `rel`: cached pages, file content (by
    /// shrinking and re-growing the file, which zeroes the tail), and moves both cursors back.
    pub(crate) fn truncate(&self, rel: u64) -> StoreResult<()> {
        let rel = rel.min(self.size);
        let _flush = lock(&self.flush_lock);
        let mut cache = write_lock(&self.cache);
        let ps = self.page_size;
        let first_gone = rel.div_ceil(ps);
        let gone = cache.pages.keys_from(first_gone);
        for idx in gone {
            if let Some(p) = cache.pages.remove(&idx)
                && p.dirty
            {
                cache.dirty -= 1;
            }
        }
        if !rel.is_multiple_of(ps)
            && let Some(p) = cache.pages.get_mut(&(rel / ps))
        {
            Arc::make_mut(&mut p.data)[(rel % ps) as usize..].fill(0);
        }
        let io = |e| StoreError::io(&self.path, e);
        self.file.set_len(rel).map_err(io)?;
        self.file.set_len(self.size).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.high_water.fetch_min(rel, Ordering::AcqRel);
        self.wrote.store(rel, Ordering::Release);
        self.flushed.fetch_min(rel, Ordering::AcqRel);
        Ok(())
    }

    /// Drops every cached page, dirty or not: what a process crash does to them.
    pub(crate) fn drop_cache(&self) {
        let mut cache = write_lock(&self.cache);
        cache.pages.clear();
        cache.dirty_list.clear();
        cache.dirty = 0;
    }
}

/// A segment with its cache lock held; see [`Segment::lock_for_update`].
pub(crate) struct LockedSegment<'a> {
    seg: &'a Segment,
    cache: RwLockWriteGuard<'a, PageCache>,
}

impl LockedSegment<'_> {
    /// Reads `buf.len()` bytes at `rel`, loading missing pages into the cache.
    pub(crate) fn read(&mut self, rel: u64, buf: &mut [u8]) -> StoreResult<()> {
        let seg = self.seg;
        let end = rel + buf.len() as u64;
        if end > seg.size {
            return Err(StoreError::io(
                &seg.path,
                io::Error::new(io::ErrorKind::UnexpectedEof, "read past end of segment"),
            ));
        }
        let ps = seg.page_size;
        let mut pos = rel;
        while pos < end {
            let idx = pos / ps;
            let in_page = (pos % ps) as usize;
            let n = ((ps - pos % ps).min(end - pos)) as usize;
            if !self.cache.pages.contains_key(&idx) {
                let page = seg
                    .load_page(idx, Some(&mut self.cache.free))
                    .map_err(|e| StoreError::io(&seg.path, e))?;
                self.cache.pages.insert(idx, page);
            }
            if let Some(page) = self.cache.pages.get(&idx) {
                let dst = (pos - rel) as usize;
                buf[dst..dst + n].copy_from_slice(&page.data[in_page..in_page + n]);
            }
            pos += n as u64;
        }
        Ok(())
    }

    /// Writes into the cache, like [`Segment::write`].
    pub(crate) fn write(&mut self, rel: u64, bytes: &[u8]) -> StoreResult<()> {
        self.seg
            .write_locked(&mut self.cache, rel, bytes, false)
            .map_err(|e| StoreError::io(&self.seg.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::storage::MemoryStorage;

    fn seg(storage: &MemoryStorage, size: u64) -> Segment {
        storage.create_dir_all(Path::new("/s")).unwrap();
        Segment::open(storage, Path::new("/s/00000000000000000000"), 0, size, true).unwrap()
    }

    #[test]
    fn appends_survive_a_process_crash_and_only_flushed_ones_a_power_loss() {
        let storage = MemoryStorage::new();
        let s = seg(&storage, 3 * PAGE_SIZE + 100);
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        s.append(&data).unwrap();
        assert_eq!(s.read_vec(5, 9000).unwrap(), &data[5..9005]);
        assert_eq!(s.flush().unwrap(), 10_000);
        s.append(b"tail").unwrap();
        assert_eq!(s.read_vec(10_000, 4).unwrap(), b"tail");
        // A process crash loses the user-space cache, not what the append gave the kernel.
        s.drop_cache();
        assert_eq!(s.read_vec(10_000, 4).unwrap(), b"tail");
        assert_eq!(s.read_vec(0, 10_000).unwrap(), data);
        // A machine crash keeps only what was synced.
        drop(s);
        storage.power_loss();
        let s = seg(&storage, 3 * PAGE_SIZE + 100);
        assert_eq!(s.read_vec(10_000, 4).unwrap(), [0, 0, 0, 0]);
        assert_eq!(s.read_vec(0, 10_000).unwrap(), data);
    }

    #[test]
    fn a_flush_syncs_appended_pages_without_writing_them_again() {
        use crate::store::storage::{FaultKind, FaultyStorage};
        let storage = MemoryStorage::new();
        let faulty = FaultyStorage::new(Arc::new(storage.clone()));
        let faults = faulty.faults();
        faulty.create_dir_all(Path::new("/s")).unwrap();
        let s = Segment::open(
            &faulty,
            Path::new("/s/00000000000000000000"),
            0,
            8 * PAGE_SIZE,
            true,
        )
        .unwrap();
        s.append(&[7u8; 3 * PAGE_SIZE as usize]).unwrap();
        assert_eq!(s.dirty_pages(), 3);
        // Any write from here on fails: the flush must get by with `fdatasync` alone.
        faults.fail_writes_after(0, FaultKind::Io);
        assert_eq!(s.flush().unwrap(), 3 * PAGE_SIZE);
        assert_eq!(faults.injected(), 0, "the flush wrote pages again");
        faults.heal();
        assert_eq!(s.dirty_pages(), 0);
        drop(s);
        storage.power_loss();
        let s = seg(&storage, 8 * PAGE_SIZE);
        assert_eq!(
            s.read_vec(0, 3 * PAGE_SIZE as usize).unwrap(),
            vec![7u8; 3 * PAGE_SIZE as usize]
        );
    }

    #[test]
    fn a_full_flushed_segment_keeps_no_spare_buffers() {
        let storage = MemoryStorage::new();
        let s = seg(&storage, 8 * PAGE_SIZE);
        s.append(&vec![7u8; 4 * PAGE_SIZE as usize]).unwrap();
        s.flush().unwrap();
        assert!(
            !read_lock(&s.cache).free.is_empty(),
            "evicted pages are kept for reuse"
        );
        s.append(&vec![7u8; 4 * PAGE_SIZE as usize]).unwrap();
        s.flush().unwrap();
        let cache = read_lock(&s.cache);
        assert!(cache.free.is_empty());
        assert_eq!(cache.pages.slots.capacity(), 0);
        drop(cache);
        assert_eq!(s.read_vec(0, 8).unwrap(), [7u8; 8]);
    }

    #[test]
    fn flushed_pages_leave_the_cache_except_tail_and_pinned() {
        let storage = MemoryStorage::new();
        let s = seg(&storage, 64 * PAGE_SIZE);
        s.pin_below(2 * PAGE_SIZE);
        s.write(0, &[1u8; 100]).unwrap();
        s.write(PAGE_SIZE, &[1u8; 100]).unwrap();
        s.append(&vec![9u8; 20 * PAGE_SIZE as usize + 10]).unwrap();
        assert_eq!(read_lock(&s.cache).pages.len(), 21);
        s.flush().unwrap();
        // Pages 0 and 1 are pinned, page 20 is the tail.
        let cached: Vec<u64> = read_lock(&s.cache).pages.keys_from(0);
        assert_eq!(cached, vec![0, 1, 20]);
        assert_eq!(s.read_vec(5 * PAGE_SIZE, 3).unwrap(), [9, 9, 9]);
    }

    #[test]
    fn truncate_zeroes_the_tail() {
        let storage = MemoryStorage::new();
        let s = seg(&storage, 2 * PAGE_SIZE);
        s.append(&[7u8; 6000]).unwrap();
        s.flush().unwrap();
        s.truncate(4000).unwrap();
        assert_eq!(s.wrote(), 4000);
        assert_eq!(s.read_vec(3999, 2).unwrap(), [7, 0]);
        s.drop_cache();
        assert_eq!(s.read_vec(3999, 2).unwrap(), [7, 0]);
        assert_eq!(s.read_vec(5000, 10).unwrap(), [0; 10]);
    }

    #[test]
    fn writes_past_the_end_are_rejected() {
        let storage = MemoryStorage::new();
        let s = seg(&storage, 100);
        assert!(s.write(90, &[0u8; 20]).is_err());
        let mut buf = [0u8; 20];
        assert!(s.read(90, &mut buf).is_err());
    }
}
