//! Concurrent consumption (`ConsumeMessageConcurrentlyService`): listener calls for pulled
//! batches, acknowledgement, and the send-back of failures.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tracing::{Instrument, debug, info_span, warn};

use super::{Listener, PushInner};
use crate::consumer::api::restore_retry_topic;
use crate::consumer::listener::{ConsumeContext, ConsumeResult};
use crate::consumer::process_queue::ProcessQueue;
use crate::protocol::body::MessageModel;
use crate::protocol::message::{MessageExt, MessageQueue, keys};

/// Delay before a batch whose send-back failed is consumed again locally (Java's
/// `submitConsumeRequestLater`, 5 s).
const LOCAL_RETRY_DELAY: Duration = Duration::from_secs(5);
/// A negative delay level asks the broker to dead-letter the message at once.
const DEAD_LETTER_DELAY: i32 = -1;

/// Hands pulled messages to the listener in batches of `consume_batch_max_size`.
pub(super) fn submit(
    inner: &Arc<PushInner>,
    mq: &MessageQueue,
    pq: &Arc<ProcessQueue>,
    msgs: Vec<MessageExt>,
) {
    for chunk in msgs.chunks(inner.config.consume_batch_max_size) {
        let guard = inner.track();
        tokio::spawn(consume(
            inner.clone(),
            mq.clone(),
            pq.clone(),
            chunk.to_vec(),
            guard,
        ));
    }
}

/// `consume` behind a box: the local retry spawns it from inside itself.
fn consume_boxed(
    inner: Arc<PushInner>,
    mq: MessageQueue,
    pq: Arc<ProcessQueue>,
    msgs: Vec<MessageExt>,
    guard: super::InflightGuard,
) -> futures::future::BoxFuture<'static, ()> {
    Box::pin(consume(inner, mq, pq, msgs, guard))
}

async fn consume(
    inner: Arc<PushInner>,
    mq: MessageQueue,
    pq: Arc<ProcessQueue>,
    mut msgs: Vec<MessageExt>,
    guard: super::InflightGuard,
) {
    let Listener::Concurrent(listener) = &inner.listener else {
        return;
    };
    let permit = tokio::select! {
        p = inner.permits.clone().acquire_owned() => p,
        _ = inner.stop.cancelled() => return,
    };
    let Ok(_permit) = permit else { return };
    if pq.is_dropped() || inner.is_shutting_down() {
        // Not handed to the listener: the offset stays below them, they come again.
        return;
    }
    let now = crate::protocol::message::id::now_ms().to_string();
    for m in &mut msgs {
        restore_retry_topic(m, &inner.group);
        m.put_property(keys::CONSUME_START_TIME, now.clone());
    }
    let first = &msgs[0];
    let span = info_span!(
        "rocketmq.consume",
        group = %inner.group,
        topic = %first.topic,
        queue = %mq,
        msg_id = %first.msg_id(),
        reconsume_times = first.reconsume_times,
        batch = msgs.len(),
    );
    let ctx = ConsumeContext::for_consumer(mq.clone(), first.reconsume_times, &inner.client);
    let call = AssertUnwindSafe(listener.consume(&msgs, &ctx)).catch_unwind();
    let outcome = tokio::select! {
        r = tokio::time::timeout(inner.config.consume_timeout, call).instrument(span.clone()) => r,
        _ = inner.stop.cancelled() => return,
    };
    let result = match outcome {
        Ok(Ok(r)) => r,
        Ok(Err(_panic)) => {
            span.in_scope(|| warn!("listener panicked; the messages will be retried"));
            ConsumeResult::ReconsumeLater
        }
        Err(_) => {
            span.in_scope(|| warn!(timeout = ?inner.config.consume_timeout, "listener timed out; the messages will be retried"));
            ConsumeResult::ReconsumeLater
        }
    };
    if pq.is_dropped() {
        span.in_scope(|| debug!("queue dropped while consuming; result not processed"));
        return;
    }
    let mut failed = Vec::new();
    let dead = ctx.dead_letter_marks().offsets();
    let is_dead = |m: &MessageExt| dead.contains(&m.queue_offset);
    let broadcasting = inner.config.message_model == MessageModel::Broadcasting;
    for m in msgs.iter().filter(|m| is_dead(m)) {
        if broadcasting {
            span.in_scope(
                || warn!(msg_id = %m.msg_id(), "broadcasting: a dead-lettered message is dropped"),
            );
        } else if !send_back(&inner, &mq, m, DEAD_LETTER_DELAY)
            .instrument(span.clone())
            .await
        {
            failed.push(m.clone());
        }
    }
    if result == ConsumeResult::ReconsumeLater {
        let delay = ctx.delay_level_when_next_consume();
        for m in msgs.iter().filter(|m| !is_dead(m)) {
            if broadcasting {
                span.in_scope(
                    || warn!(msg_id = %m.msg_id(), "broadcasting: a failed message is dropped"),
                );
            } else if !send_back(&inner, &mq, m, delay)
                .instrument(span.clone())
                .await
            {
                let mut again = m.clone();
                again.reconsume_times += 1;
                failed.push(again);
            }
        }
    }
    let acked = msgs
        .iter()
        .map(|m| m.queue_offset)
        .filter(|o| !failed.iter().any(|f| f.queue_offset == *o));
    if let Some(offset) = pq.remove_messages(acked)
        && !pq.is_dropped()
    {
        inner.offsets.update(&mq, offset, true);
    }
    if !failed.is_empty() {
        let inner2 = inner.clone();
        tokio::spawn(async move {
            if inner2.sleep(LOCAL_RETRY_DELAY, &inner2.stop).await {
                let guard = inner2.track();
                consume_boxed(inner2.clone(), mq, pq, failed, guard).await;
            }
        });
    }
    drop(guard);
}

/// CONSUMER_SEND_MSG_BACK, falling back to a send to `%RETRY%group` with
/// `DELAY = 3 + reconsumeTimes`; false when both failed (consume it again locally).
async fn send_back(inner: &PushInner, mq: &MessageQueue, msg: &MessageExt, delay: i32) -> bool {
    let max = inner.config.max_reconsume();
    match inner
        .client
        .send_back(&inner.group, mq, msg, delay, max)
        .await
    {
        Ok(()) => return true,
        Err(e) => {
            debug!(msg_id = %msg.msg_id(), error = %e, "send-back failed; sending to the retry topic")
        }
    }
    // A reconsume count above the maximum makes the broker dead-letter the retry send.
    let (times, level) = if delay < 0 {
        (max + 1, 0)
    } else {
        (msg.reconsume_times + 1, 3 + msg.reconsume_times)
    };
    match inner
        .client
        .send_to_retry_topic(&inner.group, msg, times, max, level)
        .await
    {
        Ok(()) => true,
        Err(e) => {
            warn!(msg_id = %msg.msg_id(), error = %e, "retry send failed; consuming again locally");
            false
        }
    }
}
