//! The in-memory ledger of transactions: which halves are open (by half-queue offset and by
//! transaction id), which op records exist (for the checker's op-queue progress), and the
//! recent outcomes the harness reports.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::{TransactionConfig, TransactionStatus};

/// How many settled transactions the ledger remembers for inspection.
const SETTLED_KEPT: usize = 4096;

/// An open transaction: its current half message (each check re-stores the half, so the
/// offsets move).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending {
    pub(crate) id: String,
    pub(crate) group: String,
    pub(crate) topic: String,
    pub(crate) queue_id: i32,
    pub(crate) half_offset: i64,
    pub(crate) commit_log_offset: i64,
    /// Broker time when the first half of this transaction was stored.
    pub(crate) first_stored: i64,
    /// `TRANSACTION_CHECK_TIMES` of the current half (`None` before the first check).
    pub(crate) check_times: Option<u32>,
    /// Age before the first check (timeout or the message's immunity time).
    pub(crate) immunity_ms: i64,
}

/// A transaction that is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settled {
    pub(crate) pending: Pending,
    pub(crate) status: TransactionStatus,
    /// Commit-log offset of the record to show: the last half, or the parked copy.
    pub(crate) record_offset: i64,
}

#[derive(Debug, Default)]
struct Ledger {
    pending: BTreeMap<i64, Pending>,
    by_id: HashMap<String, i64>,
    /// Op-queue offset → highest half offset that op record names.
    ops: BTreeMap<i64, i64>,
    settled: VecDeque<Settled>,
}

/// The transaction state of one broker run.
#[derive(Debug)]
pub(crate) struct Transactions {
    pub(crate) config: TransactionConfig,
    ledger: Mutex<Ledger>,
    /// Held while a transaction is resolved or checked, so that END_TRANSACTION and the
    /// checker never act on the same transaction at once (a transaction resolves once).
    pub(crate) resolving: tokio::sync::Mutex<()>,
    runs: AtomicU64,
    checks_sent: AtomicU64,
    next_channel: AtomicUsize,
}

impl Transactions {
    pub(crate) fn new(config: TransactionConfig) -> Self {
        Transactions {
            config,
            ledger: Mutex::new(Ledger::default()),
            resolving: tokio::sync::Mutex::new(()),
            runs: AtomicU64::new(0),
            checks_sent: AtomicU64::new(0),
            next_channel: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an open transaction, replacing an older half of the same transaction.
    pub(crate) fn open(&self, p: Pending) {
        let mut l = self.lock();
        if let Some(old) = l.by_id.insert(p.id.clone(), p.half_offset) {
            l.pending.remove(&old);
        }
        l.pending.insert(p.half_offset, p);
    }

    /// The open transaction with this id.
    pub(crate) fn pending_by_id(&self, id: &str) -> Option<Pending> {
        let l = self.lock();
        l.by_id.get(id).and_then(|o| l.pending.get(o)).cloned()
    }

    /// Every open transaction, in half-queue order.
    pub(crate) fn pending(&self) -> Vec<Pending> {
        self.lock().pending.values().cloned().collect()
    }

    /// Closes the transaction `id` with `status`; returns what was open.
    pub(crate) fn settle(
        &self,
        id: &str,
        status: TransactionStatus,
        record_offset: Option<i64>,
    ) -> Option<Pending> {
        let mut l = self.lock();
        let offset = l.by_id.remove(id)?;
        let pending = l.pending.remove(&offset)?;
        if l.settled.len() == SETTLED_KEPT {
            l.settled.pop_front();
        }
        l.settled.push_back(Settled {
            record_offset: record_offset.unwrap_or(pending.commit_log_offset),
            pending: pending.clone(),
            status,
        });
        Some(pending)
    }

    /// Drops an open transaction whose half message is gone (removed by retention).
    pub(crate) fn forget(&self, id: &str) {
        let mut l = self.lock();
        if let Some(offset) = l.by_id.remove(id) {
            l.pending.remove(&offset);
        }
    }

    /// Recently settled transactions, oldest first.
    pub(crate) fn settled(&self) -> Vec<Settled> {
        self.lock().settled.iter().cloned().collect()
    }

    /// Remembers an op record naming half offsets up to `max_half`.
    pub(crate) fn op_written(&self, op_offset: i64, max_half: i64) {
        self.lock().ops.insert(op_offset, max_half);
    }

    /// The checker's progress: (half offset, op offset). Everything below the half offset
    /// is settled or superseded; every op record naming a half at or above it is at or
    /// above the op offset, so a restart that reads from there misses nothing.
    pub(crate) fn progress(&self, half_max: i64, op_max: i64) -> (i64, i64) {
        let mut l = self.lock();
        let half = l.pending.keys().next().copied().unwrap_or(half_max);
        let first_needed = l
            .ops
            .iter()
            .find(|(_, max_half)| **max_half >= half)
            .map(|(op, _)| *op);
        let op = match first_needed {
            Some(op) => op,
            None => op_max,
        };
        l.ops = l.ops.split_off(&op);
        (half, op)
    }

    pub(crate) fn run_done(&self) {
        self.runs.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn runs(&self) -> u64 {
        self.runs.load(Ordering::Acquire)
    }

    pub(crate) fn check_sent(&self) {
        self.checks_sent.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn checks_sent(&self) -> u64 {
        self.checks_sent.load(Ordering::Acquire)
    }

    /// Round-robin index among `n` producer connections.
    pub(crate) fn next_channel(&self, n: usize) -> usize {
        self.next_channel.fetch_add(1, Ordering::Relaxed) % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(id: &str, half_offset: i64) -> Pending {
        Pending {
            id: id.into(),
            group: "g".into(),
            topic: "t".into(),
            queue_id: 0,
            half_offset,
            commit_log_offset: half_offset * 100,
            first_stored: 0,
            check_times: None,
            immunity_ms: 6000,
        }
    }

    #[test]
    fn a_newer_half_replaces_the_older_one() {
        let t = Transactions::new(TransactionConfig::default());
        t.open(pending("a", 0));
        t.open(pending("b", 1));
        t.open(pending("a", 2));
        let open: Vec<_> = t.pending().iter().map(|p| p.half_offset).collect();
        assert_eq!(open, vec![1, 2]);
        assert_eq!(t.pending_by_id("a").unwrap().half_offset, 2);
        assert!(t.settle("a", TransactionStatus::Committed, None).is_some());
        assert!(t.settle("a", TransactionStatus::Committed, None).is_none());
        assert_eq!(t.settled().len(), 1);
    }

    #[test]
    fn progress_keeps_op_records_of_open_halves() {
        let t = Transactions::new(TransactionConfig::default());
        t.open(pending("a", 5));
        t.open(pending("b", 7));
        t.op_written(0, 3);
        t.op_written(1, 6);
        t.op_written(2, 4);
        // Half 5 is open: op 1 names half 6 (above 5), so reading must restart at op 1.
        assert_eq!(t.progress(8, 3), (5, 1));
        t.settle("a", TransactionStatus::RolledBack, None);
        assert_eq!(t.progress(8, 3), (7, 3));
        t.settle("b", TransactionStatus::Committed, None);
        assert_eq!(t.progress(8, 3), (8, 3));
    }
}
