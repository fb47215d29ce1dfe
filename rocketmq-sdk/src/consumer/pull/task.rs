//! The lite pull consumer's pull task of one queue (`PullTaskImpl`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{LASTING_ERROR_ATTEMPTS, PullInner, QueueState, Ready};
use crate::consumer::api::{LITE_MAX_MSG_BYTES, PullStatus, is_lasting_pull_error};
use crate::consumer::rebalance::start_offset;
use crate::error::Error;
use crate::protocol::body::SubscriptionData;
use crate::protocol::header::pull::pull_sys_flag;
use crate::protocol::message::MessageQueue;

/// Pause over the flow-control limits.
const FLOW_CONTROL_DELAY: Duration = Duration::from_millis(50);

/// Longest wait between pulls of a queue failing with a lasting error.
const MAX_LASTING_ERROR_DELAY: Duration = Duration::from_secs(30);

/// Counts a failed attempt; a lasting error is surfaced to `poll` on its
/// [`LASTING_ERROR_ATTEMPTS`]th time in a row. Returns how long to wait before the next
/// attempt: the configured delay, growing once the error was surfaced.
fn note_failure(inner: &PullInner, mq: &MessageQueue, state: &QueueState, e: Error) -> Duration {
    let base = inner.config.pull_delay_on_error;
    if !is_lasting_pull_error(&e) {
        debug!(queue = %mq, error = %e, "pull failed");
        return base;
    }
    let mut failing = state.failing.lock().unwrap_or_else(|e| e.into_inner());
    let n = failing.as_ref().map_or(0, |(n, _)| *n).saturating_add(1);
    let copy = crate::consumer::api::copy_lasting_error(&e);
    *failing = Some((n, e));
    drop(failing);
    if n == LASTING_ERROR_ATTEMPTS {
        if let Some(copy) = copy {
            warn!(queue = %mq, attempts = n, error = %copy, "queue cannot be pulled");
            inner.surface(copy);
        }
    } else {
        debug!(queue = %mq, attempts = n, "pull failed again");
    }
    if n >= LASTING_ERROR_ATTEMPTS {
        let shift = (n - LASTING_ERROR_ATTEMPTS).min(5);
        base.saturating_mul(1 << shift)
            .min(MAX_LASTING_ERROR_DELAY.max(base))
    } else {
        base
    }
}

async fn pause(d: Duration, state: &QueueState, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = state.wake.notified() => true,
        _ = cancel.cancelled() => false,
    }
}

pub(super) async fn pull_loop(
    inner: Arc<PullInner>,
    mq: MessageQueue,
    state: Arc<QueueState>,
    cancel: CancellationToken,
) {
    let cfg = &inner.config;
    let match_all = SubscriptionData::build(mq.topic.clone(), "*", None).ok();
    loop {
        if cancel.is_cancelled() {
            return;
        }
        if state.paused.load(Ordering::SeqCst) {
            if !pause(Duration::from_secs(3600), &state, &cancel).await {
                return;
            }
            continue;
        }
        let pq = state.pq();
        if pq.count() > cfg.pull_threshold_for_queue
            || pq.size() > cfg.pull_threshold_size_for_queue
            || inner.ready_msgs.load(Ordering::SeqCst) > cfg.pull_threshold_for_all
        {
            if !pause(FLOW_CONTROL_DELAY, &state, &cancel).await {
                return;
            }
            continue;
        }
        let generation = state.generation.load(Ordering::SeqCst);
        let seek = state.seek.lock().unwrap_or_else(|e| e.into_inner()).take();
        let offset = match seek {
            Some(o) => o,
            None => match state.pull_offset.load(Ordering::SeqCst) {
                o if o >= 0 => o,
                _ => match start_offset(
                    &inner.client,
                    &inner.offsets,
                    &mq,
                    cfg.consume_from,
                    inner.started_ms,
                )
                .await
                {
                    Ok(o) => o,
                    Err(e) => {
                        debug!(queue = %mq, "start offset unknown");
                        let delay = note_failure(&inner, &mq, &state, e);
                        if !pause(delay, &state, &cancel).await {
                            return;
                        }
                        continue;
                    }
                },
            },
        };
        state.pull_offset.store(offset, Ordering::SeqCst);
        let sub = inner
            .subscriptions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&mq.topic)
            .cloned()
            .or_else(|| match_all.clone());
        let Some(mut sub) = sub else {
            return;
        };
        // Java's lite pull sends subVersion 0 for tag subscriptions (the broker does not
        // compare versions for them), the SQL92 one's version otherwise.
        if sub.expression_type.is_tag() {
            sub.sub_version = 0;
        }
        let sys_flag = pull_sys_flag::build(false, true, true, false, true);
        let pull = inner.client.pull_with(
            Some(&inner.memory),
            LITE_MAX_MSG_BYTES,
            &inner.group,
            &mq,
            offset,
            cfg.pull_batch_size,
            sys_flag,
            0,
            &sub,
            cfg.broker_suspend_max_time,
            cfg.pull_timeout,
            true,
        );
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            // A seek, pause or resume: start over (the held pull's answer is discarded).
            _ = state.wake.notified() => continue,
            r = pull => r,
        };
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                debug!(queue = %mq, offset, "pull failed");
                let delay = note_failure(&inner, &mq, &state, e);
                if !pause(delay, &state, &cancel).await {
                    return;
                }
                continue;
            }
        };
        *state.failing.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if state.generation.load(Ordering::SeqCst) != generation || pq.is_dropped() {
            continue;
        }
        let next = result.next_begin_offset;
        match result.status {
            PullStatus::Found if !result.messages.is_empty() => {
                pq.put_messages(&result.messages, result.next_begin_offset);
                state.pull_offset.store(next, Ordering::SeqCst);
                let n = result.messages.len();
                inner
                    .ready
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_back(Ready {
                        state: state.clone(),
                        pq: pq.clone(),
                        generation,
                        msgs: result.messages,
                    });
                inner.ready_msgs.fetch_add(n, Ordering::SeqCst);
                inner.ready_notify.notify_one();
            }
            PullStatus::Found | PullStatus::NoNewMsg | PullStatus::NoMatchedMsg => {
                state.pull_offset.store(next, Ordering::SeqCst);
                pq.note_pulled(next);
                if pq.count() == 0 {
                    state.consume_offset.store(next, Ordering::SeqCst);
                }
            }
            PullStatus::OffsetIllegal if next == offset => {
                state.pull_offset.store(next, Ordering::SeqCst);
            }
            PullStatus::OffsetIllegal => {
                warn!(queue = %mq, offset, next, "pull offset moved; continuing there");
                inner.offsets.update(&mq, next, false);
                state.seek(next);
            }
        }
    }
}
