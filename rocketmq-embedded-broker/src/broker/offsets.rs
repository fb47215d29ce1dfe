//! Committed consumer offsets (upstream `ConsumerOffsetManager`), keyed `topic@group`,
//! persisted in `config/consumerOffset.json` every few seconds and on shutdown, plus the
//! 5.x server-side reset table that makes the next pull of a queue answer
//! PULL_OFFSET_MOVED.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::store::{ConfigFiles, ConsumerOffsetTable, StoreResult};

fn key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

#[derive(Debug)]
pub(crate) struct OffsetManager {
    table: Mutex<ConsumerOffsetTable>,
    /// `topic@group` → queue → offset the next pull must jump to.
    reset: Mutex<HashMap<String, BTreeMap<i32, i64>>>,
    dirty: AtomicBool,
    files: ConfigFiles,
}

impl OffsetManager {
    pub(crate) fn load(files: ConfigFiles) -> StoreResult<Self> {
        let table: ConsumerOffsetTable = files.load()?;
        Ok(OffsetManager {
            table: Mutex::new(table),
            reset: Mutex::new(HashMap::new()),
            dirty: AtomicBool::new(false),
            files,
        })
    }

    fn lock(&self) -> MutexGuard<'_, ConsumerOffsetTable> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_reset(&self) -> MutexGuard<'_, HashMap<String, BTreeMap<i32, i64>>> {
        self.reset.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn commit(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.lock()
            .offset_table
            .entry(key(topic, group))
            .or_default()
            .insert(queue_id, offset);
        self.dirty.store(true, Ordering::Release);
    }

    /// The committed offset, or -1 when there is none.
    pub(crate) fn query(&self, group: &str, topic: &str, queue_id: i32) -> i64 {
        self.lock()
            .offset_table
            .get(&key(topic, group))
            .and_then(|m| m.get(&queue_id).copied())
            .unwrap_or(-1)
    }

    /// Every committed offset of `group` on `topic`.
    pub(crate) fn offsets(&self, group: &str, topic: &str) -> BTreeMap<i32, i64> {
        self.lock()
            .offset_table
            .get(&key(topic, group))
            .cloned()
            .unwrap_or_default()
    }

    /// A copy of the whole offset table (what a slave copies from its master).
    pub(crate) fn snapshot(&self) -> ConsumerOffsetTable {
        self.lock().clone()
    }

    /// Takes over `other`'s offsets (upstream `SlaveSynchronize.syncConsumerOffset`: the
    /// master's entries replace the slave's, other entries stay).
    pub(crate) fn merge_from(&self, other: &ConsumerOffsetTable) {
        let mut table = self.lock();
        let mut changed = false;
        for (k, queues) in &other.offset_table {
            let mine = table.offset_table.entry(k.clone()).or_default();
            for (q, offset) in queues {
                if mine.insert(*q, *offset) != Some(*offset) {
                    changed = true;
                }
            }
        }
        if changed {
            self.dirty.store(true, Ordering::Release);
        }
    }

    /// Upstream `assignResetOffset`: commits `offset` and remembers it for the next pull.
    pub(crate) fn assign_reset(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.commit(group, topic, queue_id, offset);
        self.lock_reset()
            .entry(key(topic, group))
            .or_default()
            .insert(queue_id, offset);
    }

    pub(crate) fn has_reset(&self, group: &str, topic: &str, queue_id: i32) -> bool {
        self.lock_reset()
            .get(&key(topic, group))
            .is_some_and(|m| m.contains_key(&queue_id))
    }

    /// Upstream `queryThenEraseResetOffset`.
    pub(crate) fn take_reset(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        let mut reset = self.lock_reset();
        let k = key(topic, group);
        let m = reset.get_mut(&k)?;
        let offset = m.remove(&queue_id);
        if m.is_empty() {
            reset.remove(&k);
        }
        offset
    }

    /// Writes `consumerOffset.json` if anything changed since the last write.
    pub(crate) fn persist_if_dirty(&self) -> StoreResult<()> {
        if self.dirty.swap(false, Ordering::AcqRel) {
            let snapshot = self.lock().clone();
            if let Err(e) = self.files.save(&snapshot) {
                self.dirty.store(true, Ordering::Release);
                return Err(e);
            }
        }
        Ok(())
    }
}
