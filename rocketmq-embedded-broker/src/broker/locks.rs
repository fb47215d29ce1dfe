//! Queue locks for orderly consumption (upstream `RebalanceLockManager`): a client holds a
//! queue of a group until it unlocks it or stops renewing it for the lock lifetime
//! (60 s by default), after which another client may take it. Time comes from the broker's
//! clock, so a controllable clock can expire locks without waiting.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq_sdk::protocol::message::MessageQueue;

use crate::store::Clock;

#[derive(Debug, Clone)]
struct LockEntry {
    client_id: String,
    last_update: i64,
}

#[derive(Debug)]
pub(crate) struct LockManager {
    table: Mutex<HashMap<String, HashMap<MessageQueue, LockEntry>>>,
    max_live_millis: i64,
    clock: Arc<dyn Clock>,
}

impl LockManager {
    pub(crate) fn new(max_live: Duration, clock: Arc<dyn Clock>) -> Self {
        LockManager {
            table: Mutex::new(HashMap::new()),
            max_live_millis: i64::try_from(max_live.as_millis()).unwrap_or(i64::MAX),
            clock,
        }
    }

    /// Locks what it can of `mqs` for `client_id`, renewing the locks it already holds;
    /// returns the queues now held by `client_id`.
    pub(crate) fn try_lock_batch(
        &self,
        group: &str,
        mqs: &BTreeSet<MessageQueue>,
        client_id: &str,
    ) -> BTreeSet<MessageQueue> {
        let now = self.clock.now_millis();
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let locks = table.entry(group.to_owned()).or_default();
        let mut ok = BTreeSet::new();
        for mq in mqs {
            let take = match locks.get(mq) {
                None => true,
                Some(e) if e.client_id == client_id => true,
                Some(e) => now - e.last_update > self.max_live_millis,
            };
            if take {
                locks.insert(
                    mq.clone(),
                    LockEntry {
                        client_id: client_id.to_owned(),
                        last_update: now,
                    },
                );
                ok.insert(mq.clone());
            }
        }
        ok
    }

    /// Releases the queues of `mqs` that `client_id` holds.
    pub(crate) fn unlock_batch(&self, group: &str, mqs: &BTreeSet<MessageQueue>, client_id: &str) {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(locks) = table.get_mut(group) {
            for mq in mqs {
                if locks.get(mq).is_some_and(|e| e.client_id == client_id) {
                    locks.remove(mq);
                }
            }
            if locks.is_empty() {
                table.remove(group);
            }
        }
    }

    /// Whether `group` holds any unexpired queue lock (upstream `isLockAllExpired`
    /// negated): a send to its retry topic then goes straight to the DLQ.
    pub(crate) fn group_holds_locks(&self, group: &str) -> bool {
        let now = self.clock.now_millis();
        let table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        table.get(group).is_some_and(|locks| {
            locks
                .values()
                .any(|e| now - e.last_update <= self.max_live_millis)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ManualClock;

    #[test]
    fn expired_locks_can_be_taken_over() {
        let clock = Arc::new(ManualClock::new(0));
        let m = LockManager::new(Duration::from_secs(60), clock.clone());
        let mqs: BTreeSet<_> = [MessageQueue::new("T", "b", 0)].into();
        assert_eq!(m.try_lock_batch("g", &mqs, "c1").len(), 1);
        assert!(m.try_lock_batch("g", &mqs, "c2").is_empty());
        clock.advance(60_000);
        assert!(m.try_lock_batch("g", &mqs, "c2").is_empty());
        clock.advance(1);
        assert_eq!(m.try_lock_batch("g", &mqs, "c2").len(), 1);
        m.unlock_batch("g", &mqs, "c1");
        assert!(m.try_lock_batch("g", &mqs, "c1").is_empty());
        m.unlock_batch("g", &mqs, "c2");
        assert_eq!(m.try_lock_batch("g", &mqs, "c1").len(), 1);
    }
}
