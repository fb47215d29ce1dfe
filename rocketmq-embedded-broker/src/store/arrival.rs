//! "A message arrived on topic/queue" notifications, for the broker's long-polling pull
//! (upstream `MessageArrivingListener` + `PullRequestHoldService`).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::Notify;

use super::segment::{lock, read_lock, write_lock};

/// Called after every put, outside the store's locks, for each queue that got messages.
pub trait MessageArrivingListener: Send + Sync + Debug {
    /// `max_offset` is the queue's new max offset (the next offset to be written).
    fn arriving(
        &self,
        topic: &str,
        queue_id: i32,
        max_offset: i64,
        tags_code: i64,
        store_timestamp: i64,
    );
}

#[derive(Debug, Default)]
pub(crate) struct Arrivals {
    /// Topic → queue → wake-up handle; looked up by `&str` so a put allocates nothing.
    waiters: Mutex<HashMap<String, HashMap<i32, Arc<Notify>>>>,
    listener: RwLock<Option<Arc<dyn MessageArrivingListener>>>,
}

impl Arrivals {
    pub(crate) fn set_listener(&self, l: Option<Arc<dyn MessageArrivingListener>>) {
        *write_lock(&self.listener) = l;
    }

    /// The wake-up handle of one queue (created on first use).
    pub(crate) fn notifier(&self, topic: &str, queue_id: i32) -> Arc<Notify> {
        lock(&self.waiters)
            .entry(topic.to_owned())
            .or_default()
            .entry(queue_id)
            .or_default()
            .clone()
    }

    pub(crate) fn notify(
        &self,
        topic: &str,
        queue_id: i32,
        max_offset: i64,
        tags_code: i64,
        ts: i64,
    ) {
        let n = lock(&self.waiters)
            .get(topic)
            .and_then(|m| m.get(&queue_id))
            .cloned();
        if let Some(n) = n {
            n.notify_waiters();
        }
        let l = read_lock(&self.listener).clone();
        if let Some(l) = l {
            l.arriving(topic, queue_id, max_offset, tags_code, ts);
        }
    }

    /// Wakes every waiter (shutdown).
    pub(crate) fn notify_all(&self) {
        for n in lock(&self.waiters).values().flat_map(|m| m.values()) {
            n.notify_waiters();
        }
    }
}
