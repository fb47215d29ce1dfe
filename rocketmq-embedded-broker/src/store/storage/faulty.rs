//! A wrapper backend that fails on command: out of space after N bytes, I/O errors on sync,
//! short writes. Tests use it to prove that a failed write is reported and that nothing
//! acknowledged before it is damaged.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Storage, StorageFile, StorageLock};

/// The error an injected fault produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// `ENOSPC`: no space left on device.
    NoSpace,
    /// `EIO`: a generic device error.
    Io,
}

impl FaultKind {
    fn error(self) -> io::Error {
        match self {
            FaultKind::NoSpace => io::Error::from_raw_os_error(28),
            FaultKind::Io => io::Error::from_raw_os_error(5),
        }
    }
}

#[derive(Debug, Default)]
struct FaultState {
    write_budget: Option<(u64, FaultKind)>,
    sync_budget: Option<(u64, FaultKind)>,
    short_writes: bool,
    fail_creates: Option<FaultKind>,
    sync_delay: Option<std::time::Duration>,
}

/// The switchboard of a [`FaultyStorage`]; shared, so a test can flip faults while the store
/// runs.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<FaultState>,
    bytes_written: AtomicU64,
    syncs: AtomicU64,
    injected: AtomicU64,
}

impl Faults {
    fn state(&self) -> MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets the next `bytes` bytes of writes (over all files) through, then fails every write
    /// with `kind`. A write that straddles the limit is torn: its prefix lands, the rest fails.
    pub fn fail_writes_after(&self, bytes: u64, kind: FaultKind) {
        self.state().write_budget = Some((bytes, kind));
    }

    /// Lets the next `syncs` `sync_data` calls succeed, then fails every sync with `kind`.
    pub fn fail_syncs_after(&self, syncs: u64, kind: FaultKind) {
        self.state().sync_budget = Some((syncs, kind));
    }

    /// Makes every write accept at most half of its buffer (at least one byte), as a
    /// signal-interrupted `pwrite` may.
    pub fn short_writes(&self, on: bool) {
        self.state().short_writes = on;
    }

    /// Makes every `sync_data` take at least `delay` (a slow disk), or `None` for full speed.
    pub fn delay_syncs(&self, delay: Option<std::time::Duration>) {
        self.state().sync_delay = delay;
    }

    /// Makes creating new files fail with `kind` (`None` to stop).
    pub fn fail_creates(&self, kind: Option<FaultKind>) {
        self.state().fail_creates = kind;
    }

    /// Removes every fault.
    pub fn heal(&self) {
        *self.state() = FaultState::default();
    }

    /// Bytes accepted by writes so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written.load(Ordering::Relaxed)
    }

    /// Successful `sync_data` calls so far.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// How many operations failed because of an injected fault.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    fn fault(&self, kind: FaultKind) -> io::Error {
        self.injected.fetch_add(1, Ordering::Relaxed);
        kind.error()
    }
}

/// A [`Storage`] that forwards to another one, except when a [`Faults`] switch says fail.
#[derive(Debug, Clone)]
pub struct FaultyStorage {
    inner: Arc<dyn Storage>,
    faults: Arc<Faults>,
}

impl FaultyStorage {
    /// Wraps `inner` with no faults armed.
    pub fn new(inner: Arc<dyn Storage>) -> Self {
        FaultyStorage {
            inner,
            faults: Arc::new(Faults::default()),
        }
    }

    /// The switchboard, to arm faults later.
    pub fn faults(&self) -> Arc<Faults> {
        self.faults.clone()
    }
}

#[derive(Debug)]
struct FaultyFile {
    inner: Arc<dyn StorageFile>,
    faults: Arc<Faults>,
}

impl StorageFile for FaultyFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut allowed = buf.len() as u64;
        {
            let mut st = self.faults.state();
            if st.short_writes {
                allowed = (allowed / 2).max(1);
            }
            if let Some((budget, kind)) = st.write_budget.as_mut() {
                if *budget == 0 {
                    let kind = *kind;
                    drop(st);
                    return Err(self.faults.fault(kind));
                }
                allowed = allowed.min(*budget);
                *budget -= allowed;
            }
        }
        let n = usize::try_from(allowed).unwrap_or(buf.len());
        let written = self.inner.write_at(&buf[..n], offset)?;
        self.faults
            .bytes_written
            .fetch_add(written as u64, Ordering::Relaxed);
        Ok(written)
    }

    fn sync_data(&self) -> io::Result<()> {
        let delay = self.faults.state().sync_delay;
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        {
            let mut st = self.faults.state();
            if let Some((budget, kind)) = st.sync_budget.as_mut() {
                if *budget == 0 {
                    let kind = *kind;
                    drop(st);
                    return Err(self.faults.fault(kind));
                }
                *budget -= 1;
            }
        }
        self.inner.sync_data()?;
        self.faults.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let exhausted = {
            let st = self.faults.state();
            match st.write_budget {
                Some((0, kind)) => Some(kind),
                _ => None,
            }
        };
        if let Some(kind) = exhausted
            && len > self.inner.len()?
        {
            return Err(self.faults.fault(kind));
        }
        self.inner.set_len(len)
    }
}

impl Storage for FaultyStorage {
    fn open_file(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>> {
        if create
            && !self.inner.exists(path)
            && let Some(kind) = self.faults.state().fail_creates
        {
            return Err(self.faults.fault(kind));
        }
        let inner = self.inner.open_file(path, create)?;
        Ok(Arc::new(FaultyFile {
            inner,
            faults: self.faults.clone(),
        }))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.inner.read_dir(path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.inner.is_dir(path)
    }

    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_dir_all(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.sync_dir(path)
    }

    fn lock(&self, path: &Path) -> io::Result<StorageLock> {
        self.inner.lock(path)
    }
}
