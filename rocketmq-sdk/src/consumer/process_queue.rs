//! The client-side state of one consumed queue (`ProcessQueue`): the pulled messages not
//! yet acknowledged, keyed by queue offset, which decide how far the offset may be
//! committed; plus the flags the pull loop, the consume service and the rebalance share.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::protocol::body::ProcessQueueInfo;
use crate::protocol::message::MessageExt;
use crate::protocol::message::id::now_ms;

#[derive(Debug, Default)]
struct State {
    /// Pulled and not yet acknowledged (concurrent), or waiting to be taken (orderly).
    msgs: BTreeMap<i64, MessageExt>,
    /// Orderly: taken by the consume task, not yet committed.
    consuming: BTreeMap<i64, MessageExt>,
    /// Body bytes of `msgs` and `consuming`.
    size: u64,
    /// The highest offset ever put.
    queue_offset_max: i64,
    /// `nextBeginOffset` of the last pull whose messages were put: entries below it that
    /// are not in the maps were filtered out by the broker, so once nothing is in flight
    /// the offset may move up to here.
    pulled_up_to: i64,
    /// Orderly: a consume task owns the queue.
    consuming_flag: bool,
}

/// One queue's in-flight messages and flags.
#[derive(Debug)]
pub(crate) struct ProcessQueue {
    state: Mutex<State>,
    dropped: AtomicBool,
    locked: AtomicBool,
    last_lock_ms: AtomicI64,
    last_pull_ms: AtomicI64,
    last_consume_ms: AtomicI64,
    /// Wakes the orderly consume task (new messages, lock gained, drop).
    pub(crate) wake: Notify,
    /// Orderly: held while a batch is being consumed, so that a rebalance unlocks the
    /// queue on the broker only after the batch finished.
    pub(crate) consume_lock: tokio::sync::Mutex<()>,
}

impl Default for ProcessQueue {
    fn default() -> Self {
        ProcessQueue {
            state: Mutex::new(State {
                queue_offset_max: -1,
                pulled_up_to: -1,
                ..State::default()
            }),
            dropped: AtomicBool::new(false),
            locked: AtomicBool::new(false),
            last_lock_ms: AtomicI64::new(0),
            last_pull_ms: AtomicI64::new(now_ms()),
            last_consume_ms: AtomicI64::new(now_ms()),
            wake: Notify::new(),
            consume_lock: tokio::sync::Mutex::new(()),
        }
    }
}

impl ProcessQueue {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds pulled messages (a message already present is not added twice); `next_begin`
    /// is the pull's `nextBeginOffset`. Returns whether an orderly consume task should be
    /// started (`putMessage`'s `dispatchToConsume`).
    pub(crate) fn put_messages(&self, msgs: &[MessageExt], next_begin: i64) -> bool {
        let mut s = self.state();
        s.pulled_up_to = s.pulled_up_to.max(next_begin);
        for m in msgs {
            if !s.msgs.contains_key(&m.queue_offset) && !s.consuming.contains_key(&m.queue_offset) {
                s.size += m.body.len() as u64;
                s.msgs.insert(m.queue_offset, m.clone());
            }
            s.queue_offset_max = s.queue_offset_max.max(m.queue_offset);
        }
        self.last_pull_ms.store(now_ms(), Ordering::Relaxed);
        if !s.msgs.is_empty() && !s.consuming_flag {
            s.consuming_flag = true;
            true
        } else {
            false
        }
    }

    /// Records a pull that returned nothing to consume up to `next_begin` (no new or no
    /// matching message): once nothing is in flight, the offset may move there.
    pub(crate) fn note_pulled(&self, next_begin: i64) {
        let mut s = self.state();
        s.pulled_up_to = s.pulled_up_to.max(next_begin);
    }

    /// Acknowledges the messages at `offsets` and returns the new commit point: the
    /// lowest offset still in flight, or, when none is, one past the highest offset ever
    /// put (or the last pull's `nextBeginOffset`, past entries the broker filtered out, if
    /// higher). `None` when nothing was in flight to begin with (nothing to commit).
    pub(crate) fn remove_messages(&self, offsets: impl IntoIterator<Item = i64>) -> Option<i64> {
        let mut s = self.state();
        if s.msgs.is_empty() {
            return None;
        }
        for off in offsets {
            if let Some(m) = s.msgs.remove(&off) {
                s.size = s.size.saturating_sub(m.body.len() as u64);
            }
        }
        self.last_consume_ms.store(now_ms(), Ordering::Relaxed);
        Some(match s.msgs.keys().next() {
            Some(first) => *first,
            None => (s.queue_offset_max + 1).max(s.pulled_up_to),
        })
    }

    /// Messages held (in flight, waiting or being consumed orderly).
    pub(crate) fn count(&self) -> usize {
        let s = self.state();
        s.msgs.len() + s.consuming.len()
    }

    /// Body bytes held.
    pub(crate) fn size(&self) -> u64 {
        self.state().size
    }

    /// Distance between the lowest and highest offset in flight (`getMaxSpan`).
    pub(crate) fn max_span(&self) -> i64 {
        let s = self.state();
        match (s.msgs.keys().next(), s.msgs.keys().next_back()) {
            (Some(a), Some(b)) => b - a,
            _ => 0,
        }
    }

    /// Orderly: takes up to `n` of the lowest waiting messages for consumption. An empty
    /// result ends the consume task's turn (`takeMessages`).
    pub(crate) fn take_messages(&self, n: usize) -> Vec<MessageExt> {
        let mut s = self.state();
        let mut out = Vec::with_capacity(n.min(s.msgs.len()));
        while out.len() < n {
            let Some((off, m)) = s.msgs.pop_first() else {
                break;
            };
            s.consuming.insert(off, m.clone());
            out.push(m);
        }
        if out.is_empty() {
            s.consuming_flag = false;
        }
        self.last_consume_ms.store(now_ms(), Ordering::Relaxed);
        out
    }

    /// Whether messages wait to be taken.
    pub(crate) fn has_waiting(&self) -> bool {
        !self.state().msgs.is_empty()
    }

    /// Orderly: the taken messages are done; returns the offset to commit (one past the
    /// highest taken), `None` when nothing was taken.
    pub(crate) fn commit(&self) -> Option<i64> {
        let mut s = self.state();
        let last = *s.consuming.keys().next_back()?;
        let taken = std::mem::take(&mut s.consuming);
        let bytes: u64 = taken.values().map(|m| m.body.len() as u64).sum();
        s.size = s.size.saturating_sub(bytes);
        Some(if s.msgs.is_empty() {
            (last + 1).max(s.pulled_up_to)
        } else {
            last + 1
        })
    }

    /// Orderly: puts taken messages back to be consumed again, with their updated
    /// reconsume counts (`makeMessageToConsumeAgain`).
    pub(crate) fn make_to_consume_again(&self, msgs: &[MessageExt]) {
        let mut s = self.state();
        for m in msgs {
            s.consuming.remove(&m.queue_offset);
            s.msgs.insert(m.queue_offset, m.clone());
        }
    }

    /// Whether the queue was given up (moved away, reset, consumer stopped).
    pub(crate) fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::SeqCst)
    }

    /// Gives the queue up: nothing more is pulled, consumed or committed through it.
    pub(crate) fn set_dropped(&self) {
        self.dropped.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Orderly: whether the broker lock is held.
    pub(crate) fn is_locked(&self) -> bool {
        self.locked.load(Ordering::SeqCst)
    }

    /// Orderly: records the outcome of a lock attempt.
    pub(crate) fn set_locked(&self, locked: bool) {
        if locked {
            self.last_lock_ms.store(now_ms(), Ordering::SeqCst);
        }
        let was = self.locked.swap(locked, Ordering::SeqCst);
        if locked && !was {
            self.wake.notify_one();
        }
    }

    /// Orderly: whether the lock was last renewed more than `max_live` ago.
    pub(crate) fn is_lock_expired(&self, max_live: Duration) -> bool {
        let age = now_ms() - self.last_lock_ms.load(Ordering::SeqCst);
        age > i64::try_from(max_live.as_millis()).unwrap_or(i64::MAX)
    }

    /// The running-info view of this queue.
    pub(crate) fn info(&self, commit_offset: i64) -> ProcessQueueInfo {
        let s = self.state();
        ProcessQueueInfo {
            cached_msg_count: i32::try_from(s.msgs.len()).unwrap_or(i32::MAX),
            cached_msg_min_offset: s.msgs.keys().next().copied().unwrap_or(0),
            cached_msg_max_offset: s.msgs.keys().next_back().copied().unwrap_or(0),
            cached_msg_size_in_mib: i32::try_from(s.size / (1024 * 1024)).unwrap_or(i32::MAX),
            commit_offset,
            droped: self.is_dropped(),
            last_consume_timestamp: self.last_consume_ms.load(Ordering::Relaxed),
            last_lock_timestamp: self.last_lock_ms.load(Ordering::Relaxed),
            last_pull_timestamp: self.last_pull_ms.load(Ordering::Relaxed),
            locked: self.is_locked(),
            transaction_msg_count: i32::try_from(s.consuming.len()).unwrap_or(i32::MAX),
            transaction_msg_min_offset: s.consuming.keys().next().copied().unwrap_or(0),
            transaction_msg_max_offset: s.consuming.keys().next_back().copied().unwrap_or(0),
            try_unlock_times: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn msg(offset: i64) -> MessageExt {
        MessageExt {
            queue_offset: offset,
            message: crate::protocol::message::Message {
                body: bytes::Bytes::from(vec![0u8; 10]),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn commit_point_is_lowest_in_flight() {
        let pq = ProcessQueue::default();
        let batch: Vec<_> = (5..10).map(msg).collect();
        assert!(pq.put_messages(&batch, 10));
        assert_eq!(pq.count(), 5);
        assert_eq!(pq.size(), 50);
        assert_eq!(pq.max_span(), 4);
        assert_eq!(pq.remove_messages([6, 7]), Some(5));
        assert_eq!(pq.remove_messages([5]), Some(8));
        assert_eq!(pq.remove_messages([8, 9]), Some(10));
        assert_eq!(pq.remove_messages([9]), None, "nothing in flight");
        assert_eq!(pq.size(), 0);
    }

    #[test]
    fn entries_filtered_by_the_broker_are_committed_past() {
        let pq = ProcessQueue::default();
        // The pull scanned 0..8 but only 2 and 5 matched the subscription.
        pq.put_messages(&[msg(2), msg(5)], 8);
        assert_eq!(pq.remove_messages([5]), Some(2));
        assert_eq!(pq.remove_messages([2]), Some(8));
    }

    #[test]
    fn orderly_take_commit_and_retry() {
        let pq = ProcessQueue::default();
        pq.put_messages(&(0..4).map(msg).collect::<Vec<_>>(), 4);
        let taken = pq.take_messages(2);
        assert_eq!(
            taken.iter().map(|m| m.queue_offset).collect::<Vec<_>>(),
            [0, 1]
        );
        let mut again = taken.clone();
        again[0].reconsume_times = 1;
        pq.make_to_consume_again(&again);
        let taken = pq.take_messages(1);
        assert_eq!(taken[0].queue_offset, 0);
        assert_eq!(taken[0].reconsume_times, 1);
        assert_eq!(pq.commit(), Some(1));
        assert_eq!(pq.take_messages(10).len(), 3);
        assert_eq!(pq.commit(), Some(4));
        assert!(pq.take_messages(1).is_empty());
        assert_eq!(pq.commit(), None);
        assert_eq!(pq.count(), 0);
        // The consuming flag was reset by the empty take: the next put dispatches.
        assert!(pq.put_messages(&[msg(4)], 5));
        assert!(!pq.put_messages(&[msg(5)], 6));
    }

    proptest! {
        /// Whatever order acknowledgements arrive in, the commit point never passes a
        /// message that is still unacknowledged, and reaches one past the last message
        /// once everything is acknowledged.
        #[test]
        fn commit_point_never_passes_an_unacked_message(
            start in 0i64..1000,
            batches in prop::collection::vec(1usize..20, 1..6),
            ack_order in prop::collection::vec(any::<prop::sample::Index>(), 0..120),
        ) {
            let pq = ProcessQueue::default();
            let mut next = start;
            let mut unacked = BTreeSet::new();
            let mut last_commit = None::<i64>;
            let mut acks = ack_order.into_iter();
            for b in batches {
                let batch: Vec<_> = (next..next + b as i64).map(msg).collect();
                next += b as i64;
                pq.put_messages(&batch, next);
                unacked.extend(batch.iter().map(|m| m.queue_offset));
                // Acknowledge a few random unacked messages after each batch.
                for _ in 0..b {
                    let Some(ix) = acks.next() else { break };
                    let pick = *unacked.iter().nth(ix.index(unacked.len())).unwrap();
                    unacked.remove(&pick);
                    let commit = pq.remove_messages([pick]).expect("something was in flight");
                    if let Some(lowest) = unacked.first() {
                        prop_assert!(commit <= *lowest, "commit {commit} passed unacked {lowest}");
                        prop_assert_eq!(commit, *lowest);
                    } else {
                        prop_assert_eq!(commit, next);
                    }
                    if let Some(prev) = last_commit {
                        prop_assert!(commit >= prev, "commit point went backwards");
                    }
                    last_commit = Some(commit);
                }
                if unacked.is_empty() { break; }
            }
            prop_assert_eq!(pq.count(), unacked.len());
        }
    }
}
