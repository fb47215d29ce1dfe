//! What store operations return: put and get results with upstream's status vocabulary, key
//! query results, the filter a pull applies, and counters.

use bytes::Bytes;
use rocketmq_sdk::protocol::message::RecordView;

/// Outcome of a put (upstream `PutMessageStatus`, the subset this store can produce).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PutStatus {
    /// Stored (and, under SYNC_FLUSH, durable).
    PutOk,
    /// Stored, but not confirmed durable within `sync_flush_timeout`; the broker answers
    /// FLUSH_DISK_TIMEOUT and the message stays stored.
    FlushDiskTimeout,
    /// Stored, but the slave of a SYNC_MASTER did not acknowledge it within the slave
    /// timeout; the broker answers FLUSH_SLAVE_TIMEOUT and the message stays stored.
    FlushSlaveTimeout,
    /// Stored, but a SYNC_MASTER has no slave connected (or it lags more than
    /// `haSlaveFallbehindMax`); the broker answers SLAVE_NOT_AVAILABLE.
    SlaveNotAvailable,
    /// The store is shut down, or the disk is above the warning ratio.
    ServiceNotAvailable,
    /// A new commit-log segment could not be created; nothing was stored.
    CreateMappedFileFailed,
    /// Bad topic, oversized body, a record larger than a segment, or an empty batch; nothing
    /// was stored.
    MessageIllegal,
    /// Properties longer than 32767 bytes; nothing was stored.
    PropertiesSizeExceeded,
    /// Writing or syncing failed: the message is not acknowledged. Under SYNC_FLUSH it may
    /// still become durable when a later flush succeeds (like a timeout).
    IoError,
}

impl PutStatus {
    /// Whether the message is in the commit log (so it will be served to consumers).
    pub fn is_stored(self) -> bool {
        matches!(
            self,
            PutStatus::PutOk
                | PutStatus::FlushDiskTimeout
                | PutStatus::FlushSlaveTimeout
                | PutStatus::SlaveNotAvailable
        )
    }
}

/// Result of a put of one message or one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutResult {
    /// The outcome.
    pub status: PutStatus,
    /// Human-readable reason when the status is an error.
    pub detail: Option<String>,
    /// Commit-log offset of the (first) record; -1 if nothing was appended.
    pub physical_offset: i64,
    /// Bytes appended (all records of a batch).
    pub wrote_bytes: usize,
    /// Queue offset of the (first) message; 0 for prepared/rollback transaction messages.
    pub queue_offset: i64,
    /// Offset msgIds (store host + commit-log offset), one per record.
    pub msg_ids: Vec<String>,
    /// Store timestamp given to the record(s).
    pub store_timestamp: i64,
    /// Number of records appended.
    pub message_count: usize,
}

impl PutResult {
    pub(crate) fn error(status: PutStatus, detail: impl Into<String>) -> Self {
        PutResult {
            status,
            detail: Some(detail.into()),
            physical_offset: -1,
            wrote_bytes: 0,
            queue_offset: 0,
            msg_ids: Vec::new(),
            store_timestamp: 0,
            message_count: 0,
        }
    }

    /// Whether the message is stored (`PutOk`, or a flush or slave timeout).
    pub fn is_stored(&self) -> bool {
        self.status.is_stored()
    }
}

/// Outcome of a get (upstream `GetMessageStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GetStatus {
    /// At least one message returned.
    Found,
    /// Units were scanned but none passed the filter.
    NoMatchedMessage,
    /// The records the units point to were deleted by retention.
    MessageWasRemoving,
    /// The consume-queue file holding the offset is gone; `next_begin_offset` skips to the
    /// next file.
    OffsetFoundNull,
    /// Offset beyond max + 1.
    OffsetOverflowBadly,
    /// Offset equal to max: caught up (long polling waits here).
    OffsetOverflowOne,
    /// Offset below the queue's min.
    OffsetTooSmall,
    /// No such topic/queue.
    NoMatchedLogicQueue,
    /// The queue exists but is empty.
    NoMessageInQueue,
}

/// One message returned by a get.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredMessage {
    /// Queue offset.
    pub queue_offset: i64,
    /// Commit-log offset.
    pub commit_log_offset: i64,
    /// The consume-queue tags code.
    pub tags_code: i64,
    /// The whole stored record, exactly as in the commit log (the pull body format).
    pub record: Bytes,
}

/// Result of a get.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetResult {
    /// The outcome.
    pub status: GetStatus,
    /// Where the consumer should continue.
    pub next_begin_offset: i64,
    /// The queue's min offset at the time of the get.
    pub min_offset: i64,
    /// The queue's max offset (next offset to be written).
    pub max_offset: i64,
    /// Messages found, in queue order.
    pub messages: Vec<StoredMessage>,
    /// Sum of the record sizes.
    pub total_bytes: usize,
}

impl GetResult {
    /// The records concatenated, i.e. a pull response body.
    pub fn body(&self) -> Bytes {
        if self.messages.len() == 1 {
            return self.messages[0].record.clone();
        }
        let mut out = Vec::with_capacity(self.total_bytes);
        for m in &self.messages {
            out.extend_from_slice(&m.record);
        }
        Bytes::from(out)
    }
}

/// Decides which messages a get returns (upstream `MessageFilter`): first by consume-queue
/// tags code, then optionally by the record itself (SQL92 property filters).
pub trait MessageFilter: Send + Sync {
    /// Whether a unit with this tags code may match.
    fn matches_tags_code(&self, tags_code: i64) -> bool;
    /// Whether the record matches; called only for units that passed the tags code.
    fn matches_record(&self, _record: &RecordView<'_>) -> bool {
        true
    }
}

impl<F: Fn(i64) -> bool + Send + Sync> MessageFilter for F {
    fn matches_tags_code(&self, tags_code: i64) -> bool {
        self(tags_code)
    }
}

/// Result of a key query.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryResult {
    /// Records whose topic and `UNIQ_KEY`/`KEYS` really contain the key, newest first.
    pub messages: Vec<StoredMessage>,
    /// End timestamp of the newest index file.
    pub index_last_update_timestamp: i64,
    /// End commit-log offset of the newest index file.
    pub index_last_update_phy_offset: i64,
}

/// Counters, for benchmarks and health checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreStats {
    /// Records appended since open.
    pub records_put: u64,
    /// Bytes appended since open.
    pub bytes_put: u64,
    /// Commit-log `fdatasync` calls since open.
    pub commit_log_syncs: u64,
    /// Commit-log min offset.
    pub commit_log_min_offset: i64,
    /// Commit-log max (write) offset.
    pub commit_log_max_offset: i64,
    /// Commit-log offset known durable.
    pub commit_log_flushed_offset: i64,
}
