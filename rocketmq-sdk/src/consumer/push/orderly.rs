//! Orderly consumption (`ConsumeMessageOrderlyService`): one consume task per queue taking
//! messages in offset order, only while the queue's broker lock is held (clustering);
//! failures suspend the queue and retry the same messages; the lock renewal loop.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tracing::{Instrument, debug, info_span, warn};

use super::{Listener, PushInner};
use crate::consumer::api::restore_retry_topic;
use crate::consumer::listener::{OrderlyContext, OrderlyResult};
use crate::consumer::process_queue::ProcessQueue;
use crate::protocol::message::{MessageExt, MessageQueue, keys};

/// Wait before trying a lock again after the broker refused it (Java 3 s).
const RELOCK_DELAY: Duration = Duration::from_secs(3);

/// LOCK_BATCH_MQ for one queue (`RebalanceImpl.lock`).
pub(super) async fn lock_one(inner: &PushInner, mq: &MessageQueue) -> bool {
    let set = BTreeSet::from([mq.clone()]);
    match inner
        .client
        .lock_batch(&inner.group, &mq.broker_name, set)
        .await
    {
        Ok(locked) => locked.contains(mq),
        Err(e) => {
            debug!(queue = %mq, error = %e, "lock failed");
            false
        }
    }
}

/// UNLOCK_BATCH_MQ for one queue.
pub(super) async fn unlock_one(inner: &PushInner, mq: &MessageQueue) {
    let set = BTreeSet::from([mq.clone()]);
    if let Err(e) = inner
        .client
        .unlock_batch(&inner.group, &mq.broker_name, set)
        .await
    {
        debug!(queue = %mq, error = %e, "unlock failed; the broker lock will expire");
    }
}

fn by_broker(queues: &[MessageQueue]) -> BTreeMap<String, BTreeSet<MessageQueue>> {
    let mut out: BTreeMap<String, BTreeSet<MessageQueue>> = BTreeMap::new();
    for q in queues {
        out.entry(q.broker_name.clone())
            .or_default()
            .insert(q.clone());
    }
    out
}

/// Releases every lock of `queues` (shutdown).
pub(super) async fn unlock_all(inner: &PushInner, queues: &[MessageQueue]) {
    for (broker, set) in by_broker(queues) {
        if let Err(e) = inner.client.unlock_batch(&inner.group, &broker, set).await {
            debug!(broker, error = %e, "unlock failed; the broker locks will expire");
        }
    }
}

/// Renews the locks of every owned queue every `lock_interval` (`lockAll`).
pub(super) async fn lock_loop(inner: Arc<PushInner>) {
    loop {
        if !inner
            .sleep(inner.config.lock_interval, &inner.background)
            .await
        {
            return;
        }
        let slots: Vec<(MessageQueue, Arc<ProcessQueue>)> = inner
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, s)| !s.pq.is_dropped())
            .map(|(q, s)| (q.clone(), s.pq.clone()))
            .collect();
        let queues: Vec<MessageQueue> = slots.iter().map(|(q, _)| q.clone()).collect();
        for (broker, set) in by_broker(&queues) {
            let locked = match inner
                .client
                .lock_batch(&inner.group, &broker, set.clone())
                .await
            {
                Ok(l) => l,
                Err(e) => {
                    debug!(broker, error = %e, "lock renewal failed");
                    continue;
                }
            };
            for (q, pq) in slots.iter().filter(|(q, _)| set.contains(q)) {
                let ok = locked.contains(q);
                if !ok && pq.is_locked() {
                    warn!(queue = %q, "queue lock lost");
                }
                pq.set_locked(ok);
            }
        }
    }
}

/// The consume task of one queue. `previous` is the process queue this one replaced; its
/// running batch finishes before this task starts.
pub(super) async fn consume_loop(
    inner: Arc<PushInner>,
    mq: MessageQueue,
    pq: Arc<ProcessQueue>,
    previous: Option<Arc<ProcessQueue>>,
) {
    let Listener::Orderly(listener) = &inner.listener else {
        return;
    };
    if let Some(prev) = previous {
        drop(prev.consume_lock.lock().await);
    }
    let cfg = &inner.config;
    let max = cfg.max_reconsume_orderly();
    loop {
        if pq.is_dropped() || inner.is_shutting_down() || inner.stop.is_cancelled() {
            return;
        }
        if inner.clustering()
            && (!pq.is_locked() || pq.is_lock_expired(cfg.lock_max_live_time))
            && !pq.has_waiting()
        {
            // Nothing to do anyway: wait for messages (the pull loop waits for the lock).
            if !wait(&inner, &pq, None).await {
                return;
            }
            continue;
        }
        if inner.clustering() && (!pq.is_locked() || pq.is_lock_expired(cfg.lock_max_live_time)) {
            let ok = lock_one(&inner, &mq).await;
            pq.set_locked(ok);
            if !ok {
                if !wait(&inner, &pq, Some(RELOCK_DELAY)).await {
                    return;
                }
                continue;
            }
        }
        let batch_lock = pq.consume_lock.lock().await;
        if pq.is_dropped() || inner.is_shutting_down() {
            return;
        }
        let raw = pq.take_messages(cfg.consume_batch_max_size);
        if raw.is_empty() {
            drop(batch_lock);
            if !wait(&inner, &pq, None).await {
                return;
            }
            continue;
        }
        let _inflight = inner.track();
        let permit = tokio::select! {
            p = inner.permits.clone().acquire_owned() => p,
            _ = inner.stop.cancelled() => return,
        };
        let Ok(_permit) = permit else { return };
        let now = crate::protocol::message::id::now_ms().to_string();
        let mut msgs = raw.clone();
        for m in &mut msgs {
            restore_retry_topic(m, &inner.group);
            m.put_property(keys::CONSUME_START_TIME, now.clone());
        }
        let span = info_span!(
            "rocketmq.consume",
            group = %inner.group,
            topic = %msgs[0].topic,
            queue = %mq,
            msg_id = %msgs[0].msg_id(),
            reconsume_times = msgs[0].reconsume_times,
            batch = msgs.len(),
            orderly = true,
        );
        let ctx = OrderlyContext::for_consumer(mq.clone(), msgs[0].reconsume_times, &inner.client);
        let call = AssertUnwindSafe(listener.consume(&msgs, &ctx)).catch_unwind();
        let outcome = tokio::select! {
            r = tokio::time::timeout(cfg.consume_timeout, call).instrument(span.clone()) => r,
            _ = inner.stop.cancelled() => return,
        };
        let result = match outcome {
            Ok(Ok(r)) => r,
            Ok(Err(_panic)) => {
                span.in_scope(|| warn!("orderly listener panicked; the queue is suspended"));
                OrderlyResult::SuspendCurrentQueueAMoment
            }
            Err(_) => {
                span.in_scope(|| warn!("orderly listener timed out; the queue is suspended"));
                OrderlyResult::SuspendCurrentQueueAMoment
            }
        };
        if pq.is_dropped() {
            span.in_scope(|| debug!("queue dropped while consuming; result not processed"));
            return;
        }
        let (raw, msgs) = dead_letter_marked(&inner, &ctx, raw, msgs, max)
            .instrument(span.clone())
            .await;
        let suspend = match result {
            OrderlyResult::SuspendCurrentQueueAMoment if !msgs.is_empty() => {
                let (suspend, again) = check_reconsume_times(&inner, raw, &msgs, max)
                    .instrument(span.clone())
                    .await;
                if suspend {
                    pq.make_to_consume_again(&again);
                }
                suspend
            }
            _ => false,
        };
        if !suspend && let Some(offset) = pq.commit() {
            inner.offsets.update(&mq, offset, false);
        }
        drop(batch_lock);
        if suspend {
            let pause = ctx.suspend_time().unwrap_or(cfg.suspend_time);
            if !inner.sleep(pause, &inner.stop).await {
                return;
            }
        }
    }
}

/// Sends the messages the listener marked with [`OrderlyContext::dead_letter`] to the
/// dead-letter queue (dropped in broadcasting) and returns the rest (as stored, and as
/// restored for the listener). A mark whose send fails stays in the batch.
async fn dead_letter_marked(
    inner: &PushInner,
    ctx: &OrderlyContext,
    raw: Vec<MessageExt>,
    msgs: Vec<MessageExt>,
    max: i32,
) -> (Vec<MessageExt>, Vec<MessageExt>) {
    let dead = ctx.dead_letter_marks().offsets();
    if dead.is_empty() {
        return (raw, msgs);
    }
    // One above the maximum dead-letters it; an unlimited maximum (`i32::MAX`) must
    // still leave room for that "one above".
    let header_max = max.min(i32::MAX - 1);
    let mut keep = (Vec::new(), Vec::new());
    for (stored, msg) in raw.into_iter().zip(msgs) {
        if !dead.contains(&msg.queue_offset) {
            keep.0.push(stored);
            keep.1.push(msg);
        } else if !inner.clustering() {
            warn!(msg_id = %msg.msg_id(), "broadcasting: a dead-lettered message is dropped");
        } else {
            match inner
                .client
                .send_to_retry_topic(&inner.group, &msg, header_max + 1, header_max, 0)
                .await
            {
                Ok(()) => warn!(msg_id = %msg.msg_id(), "orderly: sent to the dead-letter queue"),
                Err(e) => {
                    warn!(msg_id = %msg.msg_id(), error = %e, "orderly: dead-letter send failed; keeping the message");
                    keep.0.push(stored);
                    keep.1.push(msg);
                }
            }
        }
    }
    keep
}

/// Waits for new messages or a lock (or `timeout`); false when the consumer stopped.
async fn wait(inner: &PushInner, pq: &ProcessQueue, timeout: Option<Duration>) -> bool {
    let t = timeout.unwrap_or(Duration::from_secs(3600));
    tokio::select! {
        _ = pq.wake.notified() => true,
        _ = tokio::time::sleep(t) => true,
        _ = inner.stop.cancelled() => false,
    }
}

/// After a failed batch (`checkReconsumeTimes`): messages that exhausted
/// `max_reconsume_times` go to `%RETRY%group` with a reconsume count above the maximum,
/// which the broker dead-letters; the others are counted and retried. Returns whether the
/// queue must pause and the batch (as stored, with updated counts) to put back.
async fn check_reconsume_times(
    inner: &PushInner,
    mut raw: Vec<MessageExt>,
    restored: &[MessageExt],
    max: i32,
) -> (bool, Vec<MessageExt>) {
    let mut suspend = false;
    for (stored, msg) in raw.iter_mut().zip(restored) {
        if msg.reconsume_times >= max {
            // Java's orderly `sendMessageBack` sends RECONSUME_TIME = reconsumeTimes, which
            // a 4.9.x broker dead-letters (`>=`) but a 5.0.0 broker (`>`) sends back as a
            // retry forever (upstream ISSUE #6163, fixed in 5.1 by a lock check). One more
            // dead-letters it on every version. DELAY = 3 + reconsumeTimes as Java (a
            // dead-lettering broker clears it).
            match inner
                .client
                .send_to_retry_topic(
                    &inner.group,
                    msg,
                    msg.reconsume_times.saturating_add(1),
                    max,
                    msg.reconsume_times.saturating_add(3),
                )
                .await
            {
                Ok(()) => {
                    warn!(msg_id = %msg.msg_id(), reconsume_times = msg.reconsume_times, "orderly: max reconsume times reached; sent to the dead-letter queue");
                }
                Err(e) => {
                    warn!(msg_id = %msg.msg_id(), error = %e, "orderly: dead-letter send failed; retrying the message");
                    suspend = true;
                    stored.reconsume_times = stored.reconsume_times.saturating_add(1);
                }
            }
        } else {
            suspend = true;
            stored.reconsume_times += 1;
        }
    }
    (suspend, raw)
}
