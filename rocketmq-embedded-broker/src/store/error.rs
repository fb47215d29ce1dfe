//! The store's error type.
//!
//! Errors are values the broker maps to response codes; the store never panics on bad data
//! read from disk or handed in by a client.

use std::io;
use std::path::PathBuf;

/// Why a store operation failed.
///
/// Statuses that upstream RocketMQ reports as a *result* of a put (message illegal, flush
/// timeout, ...) are in [`PutStatus`](crate::store::PutStatus) instead; this enum is for
/// conditions where no meaningful result exists.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A read, write, sync, rename or directory operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory the operation was about.
        path: PathBuf,
        /// The operating system's (or the fault injector's) error.
        #[source]
        source: io::Error,
    },
    /// Another store instance holds the `lock` file of this root directory.
    #[error("store directory {0} is locked by another store instance")]
    Locked(PathBuf),
    /// A configuration value is out of range; names the builder field.
    #[error("invalid store configuration `{field}`: {reason}")]
    Config {
        /// The builder method / field name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A file exists but its content cannot be used (wrong size, unparsable name, ...).
    #[error("corrupt store file {path}: {reason}")]
    Corrupt {
        /// The offending file.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// A JSON config file (and its `.bak`) could not be parsed.
    #[error("config file {path}: {reason}")]
    ConfigFile {
        /// The file that failed to parse.
        path: PathBuf,
        /// The parse error.
        reason: String,
    },
    /// Replicated records do not fit this store (master/slave replication): a gap, a
    /// divergent history, or a commit-log offset the master no longer has.
    #[error("replication at commit-log offset {offset}: {reason}")]
    Replication {
        /// The commit-log offset concerned.
        offset: i64,
        /// What is wrong.
        reason: String,
    },
    /// The store has been shut down (or crashed) and accepts no more work.
    #[error("the store is shut down")]
    ShutDown,
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        StoreError::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Shorthand used throughout the store.
pub type StoreResult<T> = Result<T, StoreError>;
