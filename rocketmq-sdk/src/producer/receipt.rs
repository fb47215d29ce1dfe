//! The result of a send.

use crate::protocol::ResponseCode;
use crate::protocol::message::MessageQueue;

/// How the broker stored a message. Every variant means the message **is** stored; the
/// non-OK ones say a durability step (disk flush, slave replication) did not complete in
/// time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SendStatus {
    /// Stored, flushed and replicated as configured.
    SendOk,
    /// Stored, but the synchronous disk flush timed out.
    FlushDiskTimeout,
    /// Stored, but replication to the slave timed out.
    FlushSlaveTimeout,
    /// Stored, but no slave is available for synchronous replication.
    SlaveNotAvailable,
}

impl SendStatus {
    /// The status a send response code stands for; `None` for codes that are errors.
    pub fn from_response_code(code: ResponseCode) -> Option<SendStatus> {
        match code {
            ResponseCode::SUCCESS => Some(SendStatus::SendOk),
            ResponseCode::FLUSH_DISK_TIMEOUT => Some(SendStatus::FlushDiskTimeout),
            ResponseCode::FLUSH_SLAVE_TIMEOUT => Some(SendStatus::FlushSlaveTimeout),
            ResponseCode::SLAVE_NOT_AVAILABLE => Some(SendStatus::SlaveNotAvailable),
            _ => None,
        }
    }
}

/// What the broker said about a sent message (Java `SendResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendReceipt {
    /// Store status.
    pub status: SendStatus,
    /// The client message id (`UNIQ_KEY`); for a batch, the inner ids comma-joined.
    pub msg_id: String,
    /// The broker's offset message id (store host + commit-log offset); comma-joined for
    /// a batch.
    pub offset_msg_id: String,
    /// The queue the message went to.
    pub queue: MessageQueue,
    /// The message's logical offset in that queue (the first one for a batch).
    pub queue_offset: i64,
    /// Transaction id, for transactional messages.
    pub transaction_id: Option<String>,
    /// Which attempt succeeded (1 = first try).
    pub attempts: u32,
}
