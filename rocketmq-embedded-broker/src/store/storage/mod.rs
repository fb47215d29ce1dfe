//! The storage backend: the only place the store touches files.
//!
//! Everything above this module (segments, commit log, consume queues, index, checkpoint,
//! config files) goes through [`Storage`] and [`StorageFile`], so the same code runs over
//! real files ([`FileStorage`]), over memory with a simulated page cache
//! ([`MemoryStorage`], whose [`power_loss`](MemoryStorage::power_loss) drops what was never
//! synced), and over either with injected faults ([`FaultyStorage`]).
//!
//! The contract mirrors POSIX positioned I/O: `write_at` may write fewer bytes than asked
//! (callers loop), data is durable only after `sync_data`, and a directory entry (create,
//! rename, delete) is durable after `sync_dir` of its parent.

mod faulty;
mod file;
mod memory;

pub use faulty::{FaultKind, Faults, FaultyStorage};
pub use file::FileStorage;
pub use memory::MemoryStorage;

use std::fmt::Debug;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// A handle to one open file, shared by readers and the writer.
pub trait StorageFile: Send + Sync + Debug {
    /// Reads up to `buf.len()` bytes at `offset`; fewer only at end of file.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes some prefix of `buf` at `offset`, returning how much; may be short.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize>;
    /// Makes every completed write of this file durable (`fdatasync`).
    ///
    /// # Errors
    /// The underlying I/O error.
    fn sync_data(&self) -> io::Result<()>;
    /// The file's length in bytes.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file has length zero.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Truncates or extends (with zeros) the file.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn set_len(&self, len: u64) -> io::Result<()>;
}

/// An exclusive lock on a path, released on drop; keeps two stores off one directory.
#[derive(Debug)]
pub struct StorageLock {
    _guard: Box<dyn Debug + Send + Sync>,
}

impl StorageLock {
    /// Wraps a backend-specific guard whose `Drop` releases the lock.
    pub fn new(guard: Box<dyn Debug + Send + Sync>) -> Self {
        StorageLock { _guard: guard }
    }
}

/// A file system as the store needs it; object safe so tests can wrap and replace it.
pub trait Storage: Send + Sync + Debug {
    /// Opens `path` for reading and writing, creating an empty file when `create` is set.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn open_file(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>>;
    /// Creates a directory and its parents.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// The names (not paths) of the entries of a directory; `NotFound` if it does not exist.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Whether `path` names a directory.
    fn is_dir(&self, path: &Path) -> bool;
    /// Whether `path` names a file or directory.
    fn exists(&self, path: &Path) -> bool;
    /// Removes a file.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory and everything below it.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Atomically renames `from` to `to`, replacing `to`.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creates, renames, deletes) durable.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Takes an exclusive lock on `path` (created if missing); fails with `WouldBlock` when
    /// another holder has it.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn lock(&self, path: &Path) -> io::Result<StorageLock>;
}

/// Reads exactly `buf.len()` bytes at `offset`, or fails with `UnexpectedEof`.
pub(crate) fn read_exact_at(file: &dyn StorageFile, buf: &mut [u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "read past end of file",
                ));
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes all of `buf` at `offset`, looping over short writes.
pub(crate) fn write_all_at(file: &dyn StorageFile, buf: &[u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match file.write_at(&buf[done..], offset + done as u64) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "storage accepted no bytes",
                ));
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Creates `dir` (and parents) if missing and makes the new directory entries durable by
/// syncing each newly created directory's parent, so files synced inside it cannot vanish
/// with their directory after a power loss.
pub(crate) fn create_dir_durable(storage: &dyn Storage, dir: &Path) -> io::Result<()> {
    if storage.is_dir(dir) {
        return Ok(());
    }
    let mut created = Vec::new();
    let mut p = Some(dir);
    while let Some(d) = p {
        if d.as_os_str().is_empty() || storage.is_dir(d) {
            break;
        }
        created.push(d.to_path_buf());
        p = d.parent();
    }
    storage.create_dir_all(dir)?;
    for d in created.iter().rev() {
        if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
            storage.sync_dir(parent)?;
        }
    }
    Ok(())
}
