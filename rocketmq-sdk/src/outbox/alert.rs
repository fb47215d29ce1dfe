//! The hook that hands a parked row to a human.

use std::time::UNIX_EPOCH;

use super::record::OutboxRecord;

/// Called once for each row the relay parks (every attempt failed).
///
/// The call runs on the relay's task, inside the round that parked the row: return
/// quickly, and hand slow work (an HTTP call to a pager) to a task of your own. A row is
/// reported exactly once per parking: by the relay whose update parked it. A row that is
/// requeued and parks again is reported again.
pub trait OutboxAlert: Send + Sync + 'static {
    /// `record` has just been parked: its `status` is
    /// [`Parked`](super::OutboxStatus::Parked), `attempts` is the number of attempts made
    /// and `last_error` the last failure.
    fn parked(&self, table: &str, record: &OutboxRecord);
}

/// The default alert: a `tracing::error!` event (target `rocketmq_sdk::outbox`) per parked
/// row, with the table, row id, topic, keys, attempts and last error as fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingAlert;

impl OutboxAlert for TracingAlert {
    fn parked(&self, table: &str, record: &OutboxRecord) {
        let created_ms = record
            .created_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        tracing::error!(
            target: "rocketmq_sdk::outbox",
            table,
            id = record.id,
            topic = %record.topic,
            keys = record.keys.as_deref().unwrap_or(""),
            shard_key = record.shard_key.as_deref().unwrap_or(""),
            attempts = record.attempts,
            created_ms,
            last_error = record.last_error.as_deref().unwrap_or(""),
            "outbox message parked after its last attempt: needs a human (requeue or discard)"
        );
    }
}

/// Any `Fn(&str, &OutboxRecord)` is an alert.
impl<F> OutboxAlert for F
where
    F: Fn(&str, &OutboxRecord) + Send + Sync + 'static,
{
    fn parked(&self, table: &str, record: &OutboxRecord) {
        self(table, record)
    }
}
