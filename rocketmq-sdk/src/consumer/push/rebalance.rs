//! The push consumer's rebalance (`RebalancePushImpl`): take and give up queues, start and
//! stop their pull tasks, persist the offset of a queue before it moves away, and reset
//! queues in place (offset moved, rewind).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, info, warn};

use super::{Listener, PushInner, Slot, orderly, pull};
use crate::consumer::process_queue::ProcessQueue;
use crate::consumer::rebalance::{diff, start_offset, target_queues};
use crate::error::Error;
use crate::protocol::message::MessageQueue;

/// How long a rebalance waits for an orderly batch to finish before leaving the queue
/// for the next round (Java's `tryLock(1000)`).
const ORDERLY_REMOVE_WAIT: Duration = Duration::from_secs(1);

/// The first retry after a subscribed topic had no route; doubled each round, up to the
/// rebalance interval.
const MISSING_ROUTE_RETRY: Duration = Duration::from_secs(1);

pub(super) async fn rebalance_loop(inner: Arc<PushInner>) {
    // A consumer started before its topic exists would otherwise wait a whole interval
    // (20 s by default) after the topic appears: retry such topics sooner, backing off.
    // The first round comes soon after the one `start` made (which may have found no
    // route); later ones follow what each round found.
    let mut wait = MISSING_ROUTE_RETRY.min(inner.config.rebalance_interval);
    let mut retry = MISSING_ROUTE_RETRY.saturating_mul(2);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = inner.rebalance_now.notified() => {}
            _ = inner.background.cancelled() => return,
        }
        if inner.rebalance().await {
            wait = retry.min(inner.config.rebalance_interval);
            retry = retry.saturating_mul(2);
        } else {
            wait = inner.config.rebalance_interval;
            retry = MISSING_ROUTE_RETRY;
        }
    }
}

impl PushInner {
    /// One rebalance of every subscribed topic (`doRebalance`). True when a subscribed
    /// topic has no route yet.
    pub(crate) async fn rebalance(self: &Arc<Self>) -> bool {
        let _guard = self.rebalance_lock.lock().await;
        if self.is_shutting_down() {
            return false;
        }
        let mut missing = false;
        for topic in self.subscriptions.keys() {
            match target_queues(
                &self.client,
                &self.group,
                topic,
                self.config.message_model,
                self.strategy.as_ref(),
            )
            .await
            {
                Ok(target) => self.apply(topic, &target).await,
                Err(Error::NoRoute(_)) => {
                    missing = true;
                    debug!(topic, "no route yet; rebalance retried soon");
                }
                Err(e) => warn!(group = %self.group, topic, error = %e, "rebalance failed"),
            }
        }
        // Topics no longer subscribed (`truncateMessageQueueNotMyTopic`).
        let stale: Vec<MessageQueue> = self
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .filter(|q| !self.subscriptions.contains_key(&q.topic))
            .cloned()
            .collect();
        for mq in stale {
            self.remove_queue(&mq).await;
        }
        missing
    }

    /// Moves the owned queues of `topic` to `target` (`updateProcessQueueTableInRebalance`).
    async fn apply(self: &Arc<Self>, topic: &str, target: &BTreeSet<MessageQueue>) {
        let (removed, added) = {
            let queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            let d = diff(topic, queues.keys(), target);
            let (mut removed, mut added) = (d.removed, d.added);
            // A queue given up earlier that came back: clean up, then take it anew.
            for (q, _) in queues
                .iter()
                .filter(|(q, s)| target.contains(*q) && s.pq.is_dropped())
            {
                removed.push(q.clone());
                added.push(q.clone());
            }
            (removed, added)
        };
        let mut kept = BTreeSet::new();
        for mq in &removed {
            if !self.remove_queue(mq).await {
                kept.insert(mq.clone());
            }
        }
        for mq in added {
            if !kept.contains(&mq) {
                self.add_queue(mq).await;
            }
        }
    }

    /// Gives `mq` up: stops pulling, persists its offset, and (orderly) releases the
    /// broker lock once the running batch is done. Returns false when an orderly batch
    /// is still running; the queue is then given up at the next rebalance.
    pub(crate) async fn remove_queue(self: &Arc<Self>, mq: &MessageQueue) -> bool {
        let pq = {
            let queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            let Some(slot) = queues.get(mq) else {
                return true;
            };
            slot.pq.set_dropped();
            slot.cancel.cancel();
            slot.pq.clone()
        };
        if self.is_orderly() && self.clustering() {
            let Ok(_batch) =
                tokio::time::timeout(ORDERLY_REMOVE_WAIT, pq.consume_lock.lock()).await
            else {
                debug!(queue = %mq, "orderly batch still running; the queue is given up later");
                return false;
            };
            self.persist_and_forget(mq).await;
            orderly::unlock_one(self, mq).await;
        } else {
            self.persist_and_forget(mq).await;
        }
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if queues.get(mq).is_some_and(|s| Arc::ptr_eq(&s.pq, &pq)) {
            queues.remove(mq);
        }
        info!(group = %self.group, queue = %mq, "queue given up");
        true
    }

    async fn persist_and_forget(&self, mq: &MessageQueue) {
        if let Err(e) = self.offsets.persist(mq).await {
            warn!(queue = %mq, error = %e, "offset not persisted while giving the queue up");
        }
        self.offsets.remove(mq);
    }

    /// Takes `mq`: (orderly, clustering) locks it on the broker, finds its start offset,
    /// and starts its pull task (and orderly consume task).
    async fn add_queue(self: &Arc<Self>, mq: MessageQueue) {
        let mut locked = false;
        if self.is_orderly() && self.clustering() {
            locked = orderly::lock_one(self, &mq).await;
            if !locked {
                debug!(queue = %mq, "queue locked by another consumer; retrying at the next rebalance");
                return;
            }
        }
        self.offsets.remove(&mq);
        let offset = match start_offset(
            &self.client,
            &self.offsets,
            &mq,
            self.config.consume_from,
            self.started_ms,
        )
        .await
        {
            Ok(o) => o,
            Err(e) => {
                warn!(queue = %mq, error = %e, "start offset unknown; retrying at the next rebalance");
                return;
            }
        };
        if self.is_shutting_down() {
            return;
        }
        let pq = Arc::new(ProcessQueue::default());
        if locked {
            pq.set_locked(true);
        }
        self.start_queue(mq.clone(), pq, offset, None);
        info!(group = %self.group, queue = %mq, offset, "queue taken");
    }

    /// Registers `pq` for `mq` and spawns its tasks. `previous` is the process queue it
    /// replaces, whose running orderly batch must finish first.
    fn start_queue(
        self: &Arc<Self>,
        mq: MessageQueue,
        pq: Arc<ProcessQueue>,
        offset: i64,
        previous: Option<Arc<ProcessQueue>>,
    ) {
        let cancel = self.pulls.child_token();
        self.queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                mq.clone(),
                Slot {
                    pq: pq.clone(),
                    cancel: cancel.clone(),
                },
            );
        if matches!(self.listener, Listener::Orderly(_)) {
            tokio::spawn(orderly::consume_loop(
                self.clone(),
                mq.clone(),
                pq.clone(),
                previous,
            ));
        }
        tokio::spawn(pull::pull_loop(self.clone(), mq, pq, offset, cancel));
    }

    /// Restarts `mq` at `offset` with a fresh process queue: what is cached or in flight
    /// is abandoned, the offset is stored and persisted (`OFFSET_ILLEGAL`, rewind).
    pub(crate) async fn reset_queue(self: &Arc<Self>, mq: &MessageQueue, offset: i64) {
        let _guard = self.rebalance_lock.lock().await;
        let old = {
            let queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            let Some(slot) = queues.get(mq) else {
                return;
            };
            slot.pq.set_dropped();
            slot.cancel.cancel();
            slot.pq.clone()
        };
        self.offsets.update(mq, offset, false);
        if let Err(e) = self.offsets.persist(mq).await {
            warn!(queue = %mq, error = %e, "reset offset not persisted");
        }
        if self.is_shutting_down() {
            return;
        }
        let pq = Arc::new(ProcessQueue::default());
        pq.set_locked(old.is_locked());
        {
            let queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            // Given up meanwhile (rebalance): do not resurrect it.
            if !queues.get(mq).is_some_and(|s| Arc::ptr_eq(&s.pq, &old)) {
                return;
            }
        }
        info!(group = %self.group, queue = %mq, offset, "queue reset");
        self.start_queue(mq.clone(), pq, offset, Some(old));
    }
}
