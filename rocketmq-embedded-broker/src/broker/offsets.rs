//! Committed consumer offsets (upstream `ConsumerOffsetManager`), keyed `topic@group`,
//! persisted in `config/consumerOffset.json` every few seconds and on shutdown, plus the
//! 5.x server-side reset table that makes the next pull of a queue answer
//! PULL_OFFSET_MOVED.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::store::{ConfigFiles, ConsumerOffsetTable, StoreResult};

fn key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

/// `topic@group` → (topic, group). Topics cannot contain `@`, groups could, so the first
/// `@` separates them.
fn split_key(k: &str) -> Option<(&str, &str)> {
    k.split_once('@')
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

    /// Topics `group` has committed offsets on (upstream `whichTopicByConsumer`).
    pub(crate) fn topics_of(&self, group: &str) -> BTreeSet<String> {
        self.lock()
            .offset_table
            .keys()
            .filter_map(|k| split_key(k))
            .filter(|(_, g)| *g == group)
            .map(|(t, _)| t.to_owned())
            .collect()
    }

    /// Groups with committed offsets on `topic` (upstream `whichGroupByTopic`).
    pub(crate) fn groups_of(&self, topic: &str) -> BTreeSet<String> {
        self.lock()
            .offset_table
            .keys()
            .filter_map(|k| split_key(k))
            .filter(|(t, _)| *t == topic)
            .map(|(_, g)| g.to_owned())
            .collect()
    }

    /// Drops every offset of `group` (upstream `removeOffset`); returns how many topics.
    pub(crate) fn remove_group(&self, group: &str) -> usize {
        self.remove_where(|_, g| g == group)
    }

    /// Drops every group's offsets on `topic` (upstream `cleanOffsetByTopic`).
    pub(crate) fn remove_topic(&self, topic: &str) -> usize {
        self.remove_where(|t, _| t == topic)
    }

    fn remove_where(&self, gone: impl Fn(&str, &str) -> bool) -> usize {
        let removed = {
            let mut table = self.lock();
            let before = table.offset_table.len();
            table
                .offset_table
                .retain(|k, _| split_key(k).is_none_or(|(t, g)| !gone(t, g)));
            before - table.offset_table.len()
        };
        self.lock_reset()
            .retain(|k, _| split_key(k).is_none_or(|(t, g)| !gone(t, g)));
        if removed > 0 {
            self.dirty.store(true, Ordering::Release);
        }
        removed
    }

    /// Copies `src`'s offsets on `topic` to `dest` (upstream `cloneOffset`); returns
    /// whether `src` had any.
    pub(crate) fn clone_offsets(&self, src: &str, dest: &str, topic: &str) -> bool {
        let mut table = self.lock();
        let Some(queues) = table.offset_table.get(&key(topic, src)).cloned() else {
            return false;
        };
        table.offset_table.insert(key(topic, dest), queues);
        self.dirty.store(true, Ordering::Release);
        true
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
