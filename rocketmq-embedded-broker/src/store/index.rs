//! The message index: hash files mapping `topic#key` to commit-log offsets (upstream
//! `IndexFile`, `IndexHeader`, `IndexService`).
//!
//! File layout (big-endian): a 40-byte header (`i64 beginTimestamp, i64 endTimestamp,
//! i64 beginPhyOffset, i64 endPhyOffset, i32 hashSlotCount, i32 indexCount`), then
//! `hashSlotNum` `i32` slots, then `indexNum` 20-byte entries
//! (`i32 keyHash, i64 phyOffset, i32 timeDiffSeconds, i32 prevIndex`). A slot holds the number
//! of the newest entry of its chain, an entry the number of the previous one (0 ends a chain;
//! entry 0 is never used, so `indexCount` starts at 1).
//!
//! Durability: entries, then slots, then header, each step synced ([`IndexFile::flush`]). So on
//! disk a slot may point past `indexCount` only at an entry that is itself durable; opening a
//! file that was not closed cleanly walks such chains back below `indexCount`
//! ([`IndexFile::repair`]), and recovery re-indexes the records after the header's
//! `endPhyOffset`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::clock::CivilTime;
use super::error::{StoreError, StoreResult};
use super::segment::{Segment, read_lock, write_lock};
use super::storage::Storage;

/// Index header size.
pub const INDEX_HEADER_SIZE: u64 = 40;
/// Bytes per hash slot.
pub const INDEX_SLOT_SIZE: u64 = 4;
/// Bytes per index entry.
pub const INDEX_ENTRY_SIZE: u64 = 20;

/// The index file header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct IndexHeader {
    pub(crate) begin_timestamp: i64,
    pub(crate) end_timestamp: i64,
    pub(crate) begin_phy_offset: i64,
    pub(crate) end_phy_offset: i64,
    pub(crate) hash_slot_count: i32,
    pub(crate) index_count: i32,
}

impl IndexHeader {
    fn encode(&self) -> [u8; 40] {
        let mut b = [0u8; 40];
        b[0..8].copy_from_slice(&self.begin_timestamp.to_be_bytes());
        b[8..16].copy_from_slice(&self.end_timestamp.to_be_bytes());
        b[16..24].copy_from_slice(&self.begin_phy_offset.to_be_bytes());
        b[24..32].copy_from_slice(&self.end_phy_offset.to_be_bytes());
        b[32..36].copy_from_slice(&self.hash_slot_count.to_be_bytes());
        b[36..40].copy_from_slice(&self.index_count.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Self {
        let l = |i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[i..i + 8]);
            i64::from_be_bytes(x)
        };
        let n = |i: usize| {
            let mut x = [0u8; 4];
            x.copy_from_slice(&b[i..i + 4]);
            i32::from_be_bytes(x)
        };
        IndexHeader {
            begin_timestamp: l(0),
            end_timestamp: l(8),
            begin_phy_offset: l(16),
            end_phy_offset: l(24),
            hash_slot_count: n(32),
            index_count: n(36).max(1),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    key_hash: i32,
    phy_offset: i64,
    time_diff: i32,
    prev: i32,
}

impl Entry {
    fn decode(b: &[u8]) -> Self {
        let n = |i: usize| {
            let mut x = [0u8; 4];
            x.copy_from_slice(&b[i..i + 4]);
            i32::from_be_bytes(x)
        };
        let mut p = [0u8; 8];
        p.copy_from_slice(&b[4..12]);
        Entry {
            key_hash: n(0),
            phy_offset: i64::from_be_bytes(p),
            time_diff: n(12),
            prev: n(16),
        }
    }

    fn encode(&self) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[0..4].copy_from_slice(&self.key_hash.to_be_bytes());
        b[4..12].copy_from_slice(&self.phy_offset.to_be_bytes());
        b[12..16].copy_from_slice(&self.time_diff.to_be_bytes());
        b[16..20].copy_from_slice(&self.prev.to_be_bytes());
        b
    }
}

#[derive(Debug)]
struct IndexState {
    header: IndexHeader,
    /// `indexCount` as of the last completed flush.
    durable_count: i32,
}

/// One index file.
#[derive(Debug)]
pub(crate) struct IndexFile {
    seg: Segment,
    slot_num: u32,
    entry_num: u32,
    state: RwLock<IndexState>,
}

impl IndexFile {
    pub(crate) fn file_size(slot_num: u32, entry_num: u32) -> u64 {
        INDEX_HEADER_SIZE
            + u64::from(slot_num) * INDEX_SLOT_SIZE
            + u64::from(entry_num) * INDEX_ENTRY_SIZE
    }

    fn slot_pos(&self, slot: u32) -> u64 {
        INDEX_HEADER_SIZE + u64::from(slot) * INDEX_SLOT_SIZE
    }

    fn entry_pos(&self, idx: i32) -> u64 {
        INDEX_HEADER_SIZE
            + u64::from(self.slot_num) * INDEX_SLOT_SIZE
            + u64::try_from(idx).unwrap_or(0) * INDEX_ENTRY_SIZE
    }

    /// Creates a new file whose header continues from the previous file's end (as upstream).
    pub(crate) fn create(
        storage: &dyn Storage,
        path: &Path,
        slot_num: u32,
        entry_num: u32,
        prev_end_phy: i64,
        prev_end_ts: i64,
    ) -> StoreResult<Self> {
        let seg = Segment::open(storage, path, 0, Self::file_size(slot_num, entry_num), true)?;
        seg.pin_below(INDEX_HEADER_SIZE + u64::from(slot_num) * INDEX_SLOT_SIZE);
        let header = IndexHeader {
            begin_timestamp: prev_end_ts,
            end_timestamp: prev_end_ts,
            begin_phy_offset: prev_end_phy,
            end_phy_offset: prev_end_phy,
            hash_slot_count: 0,
            index_count: 1,
        };
        Ok(IndexFile {
            seg,
            slot_num,
            entry_num,
            state: RwLock::new(IndexState {
                header,
                durable_count: 1,
            }),
        })
    }

    /// Opens an existing file. Its slot/entry counts come from the configuration; a file of
    /// another size is reported as corrupt.
    pub(crate) fn open(
        storage: &dyn Storage,
        path: &Path,
        slot_num: u32,
        entry_num: u32,
    ) -> StoreResult<Self> {
        let seg = Segment::open(
            storage,
            path,
            0,
            Self::file_size(slot_num, entry_num),
            false,
        )?;
        seg.pin_below(INDEX_HEADER_SIZE + u64::from(slot_num) * INDEX_SLOT_SIZE);
        let mut b = [0u8; 40];
        seg.read(0, &mut b)?;
        let mut header = IndexHeader::decode(&b);
        if u32::try_from(header.index_count).map_or(true, |c| c > entry_num) {
            tracing::warn!(file = %path.display(), count = header.index_count, "index count out of range, clamping");
            header.index_count = i32::try_from(entry_num).unwrap_or(i32::MAX);
        }
        let durable_count = header.index_count;
        Ok(IndexFile {
            seg,
            slot_num,
            entry_num,
            state: RwLock::new(IndexState {
                header,
                durable_count,
            }),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        self.seg.path()
    }

    pub(crate) fn header(&self) -> IndexHeader {
        read_lock(&self.state).header
    }

    pub(crate) fn is_full(&self) -> bool {
        u32::try_from(read_lock(&self.state).header.index_count)
            .map_or(true, |c| c >= self.entry_num)
    }

    fn read_slot(&self, slot: u32) -> StoreResult<i32> {
        let mut b = [0u8; 4];
        self.seg.read(self.slot_pos(slot), &mut b)?;
        Ok(i32::from_be_bytes(b))
    }

    fn read_entry(&self, idx: i32) -> StoreResult<Entry> {
        let mut b = [0u8; 20];
        self.seg.read(self.entry_pos(idx), &mut b)?;
        Ok(Entry::decode(&b))
    }

    /// Adds one key. Returns false when the file is full.
    pub(crate) fn put(&self, key_hash: i32, phy_offset: i64, store_ts: i64) -> StoreResult<bool> {
        let mut st = write_lock(&self.state);
        let count = st.header.index_count;
        if u32::try_from(count).map_or(true, |c| c >= self.entry_num) {
            return Ok(false);
        }
        let slot = u32::try_from(key_hash).unwrap_or(0) % self.slot_num;
        let mut seg = self.seg.lock_for_update();
        let mut b = [0u8; 4];
        seg.read(self.slot_pos(slot), &mut b)?;
        let mut slot_value = i32::from_be_bytes(b);
        if slot_value <= 0 || slot_value > count {
            slot_value = 0;
        }
        if count <= 1 {
            st.header.begin_phy_offset = phy_offset;
            st.header.begin_timestamp = store_ts;
        }
        let diff = (store_ts - st.header.begin_timestamp) / 1000;
        let time_diff = if st.header.begin_timestamp <= 0 {
            0
        } else {
            i32::try_from(diff.max(0)).unwrap_or(i32::MAX)
        };
        let entry = Entry {
            key_hash,
            phy_offset,
            time_diff,
            prev: slot_value,
        };
        seg.write(self.entry_pos(count), &entry.encode())?;
        seg.write(self.slot_pos(slot), &count.to_be_bytes())?;
        drop(seg);
        if slot_value == 0 {
            st.header.hash_slot_count += 1;
        }
        st.header.index_count = count + 1;
        st.header.end_phy_offset = phy_offset;
        st.header.end_timestamp = store_ts;
        Ok(true)
    }

    /// Upstream `isTimeMatched`.
    pub(crate) fn time_matched(&self, begin: i64, end: i64) -> bool {
        let h = self.header();
        (begin < h.begin_timestamp && end > h.end_timestamp)
            || (begin >= h.begin_timestamp && begin <= h.end_timestamp)
            || (end >= h.begin_timestamp && end <= h.end_timestamp)
    }

    /// Commit-log offsets of entries for `key_hash` stored within `[begin, end]`, newest first.
    pub(crate) fn select(
        &self,
        key_hash: i32,
        max: usize,
        begin: i64,
        end: i64,
        out: &mut Vec<i64>,
    ) -> StoreResult<()> {
        let st = read_lock(&self.state);
        let count = st.header.index_count;
        let slot = u32::try_from(key_hash).unwrap_or(0) % self.slot_num;
        let mut next = self.read_slot(slot)?;
        if next <= 0 || next >= count || count <= 1 {
            return Ok(());
        }
        // Chains only point backwards, so this terminates; the bound guards corrupt files.
        let mut steps = 0i64;
        while out.len() < max && steps <= i64::from(count) {
            steps += 1;
            let e = self.read_entry(next)?;
            if e.time_diff < 0 {
                break;
            }
            let t = st.header.begin_timestamp + i64::from(e.time_diff) * 1000;
            if e.key_hash == key_hash && t >= begin && t <= end {
                out.push(e.phy_offset);
            }
            if e.prev <= 0 || e.prev >= next || t < begin {
                break;
            }
            next = e.prev;
        }
        Ok(())
    }

    /// Makes every entry, slot and the header durable, in that order (see module docs).
    pub(crate) fn flush(&self) -> StoreResult<()> {
        let (header, from, to) = {
            let st = read_lock(&self.state);
            (st.header, st.durable_count, st.header.index_count)
        };
        if from == to && self.seg.dirty_pages() == 0 {
            return Ok(());
        }
        self.seg
            .persist_range(self.entry_pos(from), self.entry_pos(to))?;
        self.seg.sync()?;
        self.seg.flush()?;
        self.seg.write_through(0, &header.encode())?;
        self.seg.sync()?;
        let mut st = write_lock(&self.state);
        st.durable_count = st.durable_count.max(to);
        Ok(())
    }

    /// Points every slot that refers to an entry at or past `indexCount` back along its chain
    /// to the newest entry below it. Needed after a crash between the slot and header steps of
    /// a flush, and after [`truncate_past`](Self::truncate_past).
    pub(crate) fn repair(&self) -> StoreResult<usize> {
        let count = read_lock(&self.state).header.index_count;
        let mut fixed = 0;
        let chunk_slots = 16_384u32;
        let mut slot = 0u32;
        while slot < self.slot_num {
            let n = chunk_slots.min(self.slot_num - slot);
            let buf = self.seg.read_vec(self.slot_pos(slot), (n as usize) * 4)?;
            for (i, v) in buf.chunks_exact(4).enumerate() {
                let mut x = [0u8; 4];
                x.copy_from_slice(v);
                let mut value = i32::from_be_bytes(x);
                if value < count && value >= 0 {
                    continue;
                }
                // Walk back; entries only ever point to smaller numbers.
                let mut guard = 0;
                while value >= count && guard < 1_000_000 {
                    guard += 1;
                    let e = if u32::try_from(value).is_ok_and(|v| v < self.entry_num) {
                        self.read_entry(value)?
                    } else {
                        Entry {
                            key_hash: 0,
                            phy_offset: 0,
                            time_diff: 0,
                            prev: 0,
                        }
                    };
                    if e.prev >= value || e.prev < 0 {
                        value = 0;
                        break;
                    }
                    value = e.prev;
                }
                if value >= count {
                    value = 0;
                }
                self.seg
                    .write(self.slot_pos(slot + i as u32), &value.to_be_bytes())?;
                fixed += 1;
            }
            slot += n;
        }
        if fixed > 0 {
            tracing::info!(file = %self.path().display(), fixed, "repaired index slots");
        }
        Ok(fixed)
    }

    /// Drops entries for records at or past `commit_log_end`. Entries are in commit-log order.
    pub(crate) fn truncate_past(&self, commit_log_end: i64) -> StoreResult<bool> {
        let count = read_lock(&self.state).header.index_count;
        let (mut lo, mut hi) = (1i32, count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.read_entry(mid)?.phy_offset >= commit_log_end {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        if lo >= count {
            return Ok(false);
        }
        {
            let mut st = write_lock(&self.state);
            st.header.index_count = lo;
            st.durable_count = st.durable_count.min(lo);
            if lo > 1 {
                let last = self.read_entry(lo - 1)?;
                st.header.end_phy_offset = last.phy_offset;
                st.header.end_timestamp =
                    st.header.begin_timestamp + i64::from(last.time_diff) * 1000;
            } else {
                st.header.end_phy_offset = st.header.begin_phy_offset;
                st.header.end_timestamp = st.header.begin_timestamp;
            }
        }
        self.repair()?;
        Ok(true)
    }

    pub(crate) fn drop_cache(&self) {
        self.seg.drop_cache();
    }
}

/// All index files, oldest first.
#[derive(Debug)]
pub(crate) struct IndexService {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    slot_num: u32,
    entry_num: u32,
    files: RwLock<Vec<Arc<IndexFile>>>,
    /// Start offset of the newest record indexed; records at or before it are not re-indexed.
    indexed_through: RwLock<Option<i64>>,
}

impl IndexService {
    pub(crate) fn new(
        storage: Arc<dyn Storage>,
        dir: PathBuf,
        slot_num: u32,
        entry_num: u32,
    ) -> Self {
        IndexService {
            storage,
            dir,
            slot_num,
            entry_num,
            files: RwLock::new(Vec::new()),
            indexed_through: RwLock::new(None),
        }
    }

    /// Loads the files; when `clean` is false the newest one is repaired.
    pub(crate) fn load(&self, clean: bool) -> StoreResult<()> {
        let names = match self.storage.read_dir(&self.dir) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(StoreError::io(&self.dir, e)),
        };
        let mut files = Vec::new();
        for name in names {
            if name.len() != 17 || !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let path = self.dir.join(&name);
            files.push(Arc::new(IndexFile::open(
                self.storage.as_ref(),
                &path,
                self.slot_num,
                self.entry_num,
            )?));
        }
        if !clean && let Some(last) = files.last() {
            last.repair()?;
        }
        *write_lock(&self.files) = files;
        self.recompute_indexed_through();
        Ok(())
    }

    fn recompute_indexed_through(&self) {
        let through = read_lock(&self.files)
            .iter()
            .filter(|f| f.header().index_count > 1)
            .map(|f| f.header().end_phy_offset)
            .max();
        *write_lock(&self.indexed_through) = through;
    }

    pub(crate) fn files(&self) -> Vec<Arc<IndexFile>> {
        read_lock(&self.files).clone()
    }

    /// Whether the record at `phy_offset` is already indexed.
    pub(crate) fn already_indexed(&self, phy_offset: i64) -> bool {
        read_lock(&self.indexed_through).is_some_and(|t| phy_offset <= t)
    }

    fn writable_file(&self, now_millis: i64) -> StoreResult<Arc<IndexFile>> {
        if let Some(last) = read_lock(&self.files).last()
            && !last.is_full()
        {
            return Ok(last.clone());
        }
        let mut files = write_lock(&self.files);
        let (prev_phy, prev_ts, mut name_num) = match files.last() {
            Some(l) => {
                // Seal the full file before any entry goes to the next one; its pages are all
                // clean now and it is only read from here on, so let the OS cache it.
                l.flush()?;
                l.drop_cache();
                let h = l.header();
                let n: u64 = l
                    .path()
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                (h.end_phy_offset, h.end_timestamp, n + 1)
            }
            None => (0, 0, 0),
        };
        let candidate: u64 = CivilTime::from_millis(now_millis)
            .file_name()
            .parse()
            .unwrap_or(0);
        name_num = name_num.max(candidate);
        super::storage::create_dir_durable(self.storage.as_ref(), &self.dir)
            .map_err(|e| StoreError::io(&self.dir, e))?;
        let path = self.dir.join(format!("{name_num:017}"));
        let file = Arc::new(IndexFile::create(
            self.storage.as_ref(),
            &path,
            self.slot_num,
            self.entry_num,
            prev_phy,
            prev_ts,
        )?);
        self.storage
            .sync_dir(&self.dir)
            .map_err(|e| StoreError::io(&self.dir, e))?;
        files.push(file.clone());
        Ok(file)
    }

    /// Indexes the given key hashes for one record; skips records already indexed.
    pub(crate) fn put(
        &self,
        phy_offset: i64,
        store_ts: i64,
        key_hashes: &[i32],
        now_millis: i64,
    ) -> StoreResult<()> {
        if self.already_indexed(phy_offset) {
            return Ok(());
        }
        for &h in key_hashes {
            loop {
                let f = self.writable_file(now_millis)?;
                if f.put(h, phy_offset, store_ts)? {
                    break;
                }
            }
        }
        if !key_hashes.is_empty() {
            *write_lock(&self.indexed_through) = Some(phy_offset);
        }
        Ok(())
    }

    /// Commit-log offsets for `key_hash` in `[begin, end]`, newest file first, at most `max`.
    pub(crate) fn query(
        &self,
        key_hash: i32,
        max: usize,
        begin: i64,
        end: i64,
    ) -> StoreResult<Vec<i64>> {
        let mut out = Vec::new();
        let files = self.files();
        for f in files.iter().rev() {
            if out.len() >= max {
                break;
            }
            if f.time_matched(begin, end) {
                f.select(key_hash, max, begin, end, &mut out)?;
            }
            if f.header().begin_timestamp < begin {
                break;
            }
        }
        Ok(out)
    }

    /// Newest index file's end timestamp and end offset (upstream's
    /// `indexLastUpdateTimestamp`/`indexLastUpdatePhyoffset`).
    pub(crate) fn last_update(&self) -> (i64, i64) {
        read_lock(&self.files).last().map_or((0, 0), |f| {
            let h = f.header();
            (h.end_timestamp, h.end_phy_offset)
        })
    }

    pub(crate) fn flush(&self) -> StoreResult<()> {
        for f in self.files().iter().rev().take(2) {
            f.flush()?;
        }
        Ok(())
    }

    /// Drops index entries for records at or past `commit_log_end`; deletes files that start
    /// past it.
    pub(crate) fn truncate_past(&self, commit_log_end: i64) -> StoreResult<()> {
        let files = self.files();
        let mut keep = Vec::new();
        for f in files {
            let h = f.header();
            if h.index_count > 1 && h.begin_phy_offset >= commit_log_end {
                tracing::info!(file = %f.path().display(), "deleting index file past the commit log end");
                self.storage
                    .remove_file(f.path())
                    .map_err(|e| StoreError::io(f.path(), e))?;
                continue;
            }
            f.truncate_past(commit_log_end)?;
            keep.push(f);
        }
        *write_lock(&self.files) = keep;
        self.recompute_indexed_through();
        Ok(())
    }

    /// Deletes files (never the newest) whose every entry is below `commit_log_min`.
    pub(crate) fn delete_expired(&self, commit_log_min: i64) -> StoreResult<usize> {
        let files = self.files();
        let mut gone = 0;
        for f in files.iter().take(files.len().saturating_sub(1)) {
            if f.header().end_phy_offset < commit_log_min {
                tracing::info!(file = %f.path().display(), "deleting expired index file");
                self.storage
                    .remove_file(f.path())
                    .map_err(|e| StoreError::io(f.path(), e))?;
                gone += 1;
            } else {
                break;
            }
        }
        if gone > 0 {
            write_lock(&self.files).drain(..gone);
        }
        Ok(gone)
    }

    pub(crate) fn drop_caches(&self) {
        for f in self.files() {
            f.drop_cache();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::storage::MemoryStorage;

    fn service(s: &MemoryStorage) -> IndexService {
        IndexService::new(Arc::new(s.clone()), PathBuf::from("/r/index"), 8, 16)
    }

    #[test]
    fn chains_survive_rollover_and_crash_after_flush() {
        let s = MemoryStorage::new();
        let svc = service(&s);
        svc.load(true).unwrap();
        for i in 0..40i64 {
            svc.put(
                i * 100,
                1_000_000 + i * 1000,
                &[(i % 3) as i32 + 1],
                1_000_000,
            )
            .unwrap();
        }
        assert!(svc.files().len() >= 3);
        let all = svc.query(1, 64, 0, i64::MAX).unwrap();
        assert_eq!(all.len(), 14);
        assert!(all.windows(2).all(|w| w[0] > w[1]));
        svc.flush().unwrap();
        svc.put(40 * 100, 1_040_000, &[1], 1_000_000).unwrap();
        svc.drop_caches();
        s.power_loss();
        let svc2 = service(&s);
        svc2.load(false).unwrap();
        assert_eq!(svc2.query(1, 64, 0, i64::MAX).unwrap(), all);
        assert!(!svc2.already_indexed(4000));
        assert!(svc2.already_indexed(3900));
        let some = svc2.query(1, 64, 1_030_000, 1_040_000).unwrap();
        assert!(some.iter().all(|&o| (3000..=4000).contains(&o)), "{some:?}");
    }

    #[test]
    fn truncation_repairs_slots() {
        let s = MemoryStorage::new();
        let svc = IndexService::new(Arc::new(s.clone()), PathBuf::from("/r/index"), 4, 100);
        svc.load(true).unwrap();
        for i in 0..20i64 {
            svc.put(i * 10, 5000 + i, &[7], 5000).unwrap();
        }
        svc.truncate_past(105).unwrap();
        let got = svc.query(7, 64, 0, i64::MAX).unwrap();
        assert_eq!(got, (0..=10).rev().map(|i| i * 10).collect::<Vec<_>>());
        svc.put(110, 5011, &[7], 5000).unwrap();
        assert_eq!(svc.query(7, 2, 0, i64::MAX).unwrap(), vec![110, 100]);
    }
}
