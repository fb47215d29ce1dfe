//! Transactional messages, broker side (upstream `broker/transaction/**` and
//! `EndTransactionProcessor`): half messages parked in `RMQ_SYS_TRANS_HALF_TOPIC`, op records
//! in `RMQ_SYS_TRANS_OP_HALF_TOPIC`, the commit/rollback of END_TRANSACTION and the check
//! service that asks producers about transactions nobody ended.
//!
//! The on-disk side is upstream's, byte for byte, so a store written here reads the same in a
//! Java broker: a half message keeps its real topic and queue in `REAL_TOPIC`/`REAL_QID` and
//! sits in queue 0 of the half topic with its transaction bits cleared; an op record has the
//! tag `d` and a body of half-queue offsets, each followed by `,`; the checker's progress is
//! the offsets of group `CID_RMQ_SYS_TRANS`.
//!
//! The bookkeeping differs in one way: the set of open transactions is kept in memory
//! (rebuilt from the half and op queues when the broker starts) rather than re-derived by
//! scanning the queues on every check. That makes a transaction resolve **once**: a second
//! commit of the same transaction (say the producer's late END_TRANSACTION racing the answer
//! to a check) is acknowledged but stores nothing, where upstream would deliver a duplicate.
//!
//! Ages are measured with the broker's [`Clock`](crate::store::Clock) from when the broker
//! first stored the half, not from the producer's born timestamp, so a test's manual clock
//! drives the checker and a producer with a skewed clock cannot make it check early.

mod book;
mod check;
mod half;

use std::time::Duration;

use rocketmq_sdk::protocol::message::MessageExt;

pub(crate) use book::Transactions;
pub(crate) use check::spawn_checker;
pub(crate) use half::{end_transaction, inspect, is_half, put_half, recover};

/// Consumer group whose offsets record the checker's progress through the half and op
/// queues (upstream `MixAll.CID_SYS_RMQ_TRANS`).
pub const CHECKER_GROUP: &str = "CID_RMQ_SYS_TRANS";

/// Tag of op records that mark half messages as resolved (upstream `REMOVE_TAG`).
pub const REMOVE_TAG: &str = "d";

/// Where a transactional message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransactionStatus {
    /// Stored as a half message; neither committed nor rolled back yet.
    Pending,
    /// Committed: the message was stored in its real topic.
    Committed,
    /// Rolled back: the message will never be delivered.
    RolledBack,
    /// Checked the maximum number of times without an answer (or older than the store's
    /// file reserved time) and moved to `TRANS_CHECK_MAX_TIME_TOPIC`.
    Parked,
}

/// A transactional message as a broker knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionInfo {
    /// The transaction id (`__transactionId__`, i.e. the message's `UNIQ_KEY`).
    pub transaction_id: String,
    /// The producer group (`PGROUP`) checks are sent to.
    pub producer_group: String,
    /// The topic the message goes to on commit (`REAL_TOPIC`).
    pub topic: String,
    /// The queue the message goes to on commit (`REAL_QID`).
    pub queue_id: i32,
    /// Where it stands.
    pub status: TransactionStatus,
    /// How many times the broker asked the producer group (`TRANSACTION_CHECK_TIMES`).
    pub check_times: u32,
    /// The record as last stored: the current half message (in `RMQ_SYS_TRANS_HALF_TOPIC`),
    /// or for a parked transaction its copy in `TRANS_CHECK_MAX_TIME_TOPIC`. The body is
    /// as stored, i.e. still compressed if the producer compressed it.
    pub message: MessageExt,
}

/// The checker's settings (upstream `BrokerConfig.transaction*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TransactionConfig {
    /// How often the checker runs (`transactionCheckInterval`, 60 s in 4.9.x and 5.x).
    pub(crate) check_interval: Duration,
    /// How old a half must be before it is checked (`transactionTimeOut`, 6 s).
    pub(crate) timeout: Duration,
    /// Checks before a half is parked (`transactionCheckMax`, 15).
    pub(crate) check_max: u32,
}

impl Default for TransactionConfig {
    fn default() -> Self {
        TransactionConfig {
            check_interval: Duration::from_secs(60),
            timeout: Duration::from_secs(6),
            check_max: 15,
        }
    }
}

impl TransactionConfig {
    fn interval_ms(&self) -> i64 {
        i64::try_from(self.check_interval.as_millis()).unwrap_or(i64::MAX)
    }

    fn timeout_ms(&self) -> i64 {
        i64::try_from(self.timeout.as_millis()).unwrap_or(i64::MAX)
    }

    /// Upstream `TransactionalMessageUtil.getImmunityTime`: the message's
    /// `CHECK_IMMUNITY_TIME_IN_SECONDS`, never less than the transaction timeout.
    fn immunity_ms(&self, property: Option<&str>) -> i64 {
        let timeout = self.timeout_ms();
        match property {
            None => timeout,
            Some(secs) => secs
                .trim()
                .parse::<i64>()
                .map(|s| s.saturating_mul(1000))
                .unwrap_or(0)
                .max(timeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_upstreams() {
        let c = TransactionConfig::default();
        assert_eq!(c.check_interval, Duration::from_secs(60));
        assert_eq!(c.timeout, Duration::from_secs(6));
        assert_eq!(c.check_max, 15);
    }

    #[test]
    fn immunity_is_never_below_the_timeout() {
        let c = TransactionConfig::default();
        assert_eq!(c.immunity_ms(None), 6_000);
        assert_eq!(c.immunity_ms(Some("60")), 60_000);
        assert_eq!(c.immunity_ms(Some("1")), 6_000);
        assert_eq!(c.immunity_ms(Some("junk")), 6_000);
        assert_eq!(c.immunity_ms(Some("-5")), 6_000);
        assert_eq!(c.immunity_ms(Some("9223372036854775807")), i64::MAX);
    }
}
