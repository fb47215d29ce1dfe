//! The pull task of one owned queue (`DefaultMQPushConsumerImpl.pullMessage` and its
//! callback): flow control, long polling, and what each pull status means.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{Listener, PushInner, concurrent};
use crate::consumer::api::{PUSH_MAX_MSG_BYTES, PullStatus};
use crate::consumer::process_queue::ProcessQueue;
use crate::consumer::rebalance::start_offset;
use crate::protocol::header::pull::pull_sys_flag;
use crate::protocol::message::MessageQueue;

/// Pause of a queue over its flow-control limits (`PULL_TIME_DELAY_MILLS_WHEN_FLOW_CONTROL`).
const FLOW_CONTROL_DELAY: Duration = Duration::from_millis(50);

pub(super) async fn pull_loop(
    inner: Arc<PushInner>,
    mq: MessageQueue,
    pq: Arc<ProcessQueue>,
    mut next_offset: i64,
    cancel: CancellationToken,
) {
    let cfg = &inner.config;
    let orderly = inner.is_orderly();
    // Orderly: the offset is recomputed from the store the first time the lock is held.
    let mut previously_locked = pq.is_locked();
    loop {
        if cancel.is_cancelled() || pq.is_dropped() {
            return;
        }
        if pq.count() > cfg.pull_threshold_for_queue
            || pq.size() > cfg.pull_threshold_size_for_queue
            || (!orderly && pq.max_span() > cfg.consume_concurrently_max_span)
        {
            if !inner.sleep(FLOW_CONTROL_DELAY, &cancel).await {
                return;
            }
            continue;
        }
        if orderly && inner.clustering() {
            if !pq.is_locked() {
                tokio::select! {
                    _ = tokio::time::sleep(cfg.pull_delay_on_error) => {}
                    _ = cancel.cancelled() => return,
                }
                continue;
            }
            if !previously_locked {
                match start_offset(
                    &inner.client,
                    &inner.offsets,
                    &mq,
                    cfg.consume_from,
                    inner.started_ms,
                )
                .await
                {
                    Ok(o) => {
                        next_offset = o;
                        previously_locked = true;
                    }
                    Err(e) => {
                        debug!(queue = %mq, error = %e, "offset unknown after locking");
                        if !inner.sleep(cfg.pull_delay_on_error, &cancel).await {
                            return;
                        }
                        continue;
                    }
                }
            }
        }
        let Some(sub) = inner.subscriptions.get(&mq.topic) else {
            warn!(queue = %mq, "no subscription for the queue's topic; stopping its pulls");
            return;
        };
        let commit_offset = if inner.clustering() {
            inner.offsets.read_memory(&mq).filter(|o| *o > 0)
        } else {
            None
        };
        let sys_flag = pull_sys_flag::build(commit_offset.is_some(), true, false, false, false);
        let pull = inner.client.pull_with(
            Some(&inner.pull_memory),
            PUSH_MAX_MSG_BYTES,
            &inner.group,
            &mq,
            next_offset,
            cfg.pull_batch_size,
            sys_flag,
            commit_offset.unwrap_or(0),
            sub,
            cfg.broker_suspend_max_time,
            cfg.pull_timeout,
            false,
        );
        let result = tokio::select! {
            r = pull => r,
            _ = cancel.cancelled() => return,
        };
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                debug!(queue = %mq, offset = next_offset, error = %e, "pull failed");
                if !inner.sleep(cfg.pull_delay_on_error, &cancel).await {
                    return;
                }
                continue;
            }
        };
        if pq.is_dropped() {
            return;
        }
        match result.status {
            PullStatus::Found => {
                next_offset = result.next_begin_offset;
                if result.messages.is_empty() {
                    correct_offset(&inner, &mq, &pq, next_offset);
                    continue;
                }
                pq.put_messages(&result.messages, result.next_begin_offset);
                match &inner.listener {
                    Listener::Concurrent(_) => {
                        concurrent::submit(&inner, &mq, &pq, result.messages);
                    }
                    Listener::Orderly(_) => pq.wake.notify_one(),
                }
            }
            PullStatus::NoNewMsg | PullStatus::NoMatchedMsg => {
                next_offset = result.next_begin_offset;
                correct_offset(&inner, &mq, &pq, next_offset);
            }
            PullStatus::OffsetIllegal if result.next_begin_offset == next_offset => {
                // "Continue where you are": e.g. a reset to the offset this queue had
                // already restarted at (the broker also sent the reset to the client).
            }
            PullStatus::OffsetIllegal => {
                warn!(
                    queue = %mq,
                    offset = next_offset,
                    next = result.next_begin_offset,
                    min = result.min_offset,
                    max = result.max_offset,
                    "pull offset moved; restarting the queue there"
                );
                let inner = inner.clone();
                let next = result.next_begin_offset;
                // `reset_queue` cancels this task; run it on its own.
                tokio::spawn(async move { inner.reset_queue(&mq, next).await });
                return;
            }
        }
    }
}

/// Nothing cached: the offset may move past what the broker skipped
/// (`correctTagsOffset`).
fn correct_offset(inner: &PushInner, mq: &MessageQueue, pq: &ProcessQueue, next: i64) {
    pq.note_pulled(next);
    if pq.count() == 0 {
        inner.offsets.update(mq, next, true);
    }
}
