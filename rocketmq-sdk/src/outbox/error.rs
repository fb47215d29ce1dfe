//! The outbox's error type.

use thiserror::Error;

/// Result alias for the outbox.
pub type OutboxResult<T> = std::result::Result<T, OutboxError>;

/// Everything the outbox's operations can fail with.
///
/// Send failures are not errors of the API: the relay records them on the row (attempts,
/// `last_error`, next attempt time) and parks the row after the last attempt.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The database refused or failed a statement, or the connection broke.
    #[error("outbox database error: {0}")]
    Database(#[from] sqlx::Error),
    /// An SDK error: [`crate::Error::InvalidMessage`] for a message refused at enqueue
    /// time (bad topic, empty body, a property holding a separator byte, a sharding key
    /// longer than 255 characters), [`crate::Error::Config`] for an invalid table name or
    /// relay setting.
    #[error(transparent)]
    Sdk(#[from] crate::Error),
    /// A stored row cannot be turned back into a message (someone edited it by hand).
    #[error("outbox row {id} is unreadable: {reason}")]
    CorruptRow {
        /// The row id.
        id: i64,
        /// What is wrong with it.
        reason: String,
    },
    /// The relay task ended abnormally (it panicked).
    #[error("the outbox relay task failed: {0}")]
    RelayTask(String),
}
