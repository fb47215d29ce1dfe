//! The put path: validate, encode outside the lock, then under the put lock choose the
//! segment, fill in the append-time fields (store timestamp, physical offset, queue offset),
//! append and dispatch; then, under SYNC_FLUSH, wait for the group commit.

use std::sync::atomic::Ordering;

use bytes::BytesMut;
use rocketmq_sdk::protocol::ProtocolError;
use rocketmq_sdk::protocol::message::MessageExt;
use rocketmq_sdk::protocol::message::id::offset_msg_id;
use rocketmq_sdk::protocol::message::record::{
    encode_record, patch_physical_offset, patch_queue_offset, patch_store_timestamp,
};
use rocketmq_sdk::protocol::message::sysflag;

use std::sync::Arc;

use super::commit_log::{AppendError, DispatchInfo};
use super::consume_queue::ConsumeQueue;
use super::flush::{FlushCoordinator, WaitOutcome};
use super::message_store::{Inner, Store, is_sync};
use super::result::{PutResult, PutStatus};
use super::schedule::SCHEDULE_TOPIC;
use super::segment::lock;
use super::services::EAGER_FLUSH_BYTES;

/// Longest topic name with the V1 magic (upstream `TopicValidator.TOPIC_MAX_LENGTH`).
const MAX_TOPIC_LEN: usize = 127;

/// Upstream `TopicValidator`: `^[%|a-zA-Z0-9_-]+$`, at most 127 characters. Besides matching the
/// Java broker, it keeps topic names safe as directory names.
pub(crate) fn validate_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("topic is empty".into());
    }
    if topic.len() > MAX_TOPIC_LEN {
        return Err(format!(
            "topic is {} bytes, max {MAX_TOPIC_LEN}",
            topic.len()
        ));
    }
    if let Some(c) = topic
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-')))
    {
        return Err(format!("topic contains illegal character {c:?}"));
    }
    Ok(())
}

thread_local! {
    /// Encode buffer reused across puts on a thread (saves an allocation per message).
    static ENCODE_BUFFER: std::cell::RefCell<BytesMut> = std::cell::RefCell::new(BytesMut::new());
}

fn take_encode_buffer() -> BytesMut {
    ENCODE_BUFFER.with(|b| std::mem::take(&mut *b.borrow_mut()))
}

/// Returns the buffer for reuse unless a big batch made it large.
fn return_encode_buffer(mut buf: BytesMut) {
    if buf.capacity() <= 1 << 20 {
        buf.clear();
        ENCODE_BUFFER.with(|b| *b.borrow_mut() = buf);
    }
}

struct Appended {
    result: PutResult,
    wait_target: Option<i64>,
    notify: Option<(String, i32, i64, i64, i64)>,
}

impl Store {
    /// Stores one message. `msg` carries what the broker knows (topic, queue id, flag, body,
    /// properties, sysFlag, born timestamp/host, reconsume times, prepared transaction offset);
    /// the store fills STORETIMESTAMP (from its clock), STOREHOST (from the config),
    /// PHYSICALOFFSET, QUEUEOFFSET and BODYCRC. Under SYNC_FLUSH the returned future resolves
    /// after the group commit made the record durable, unless the message has `WAIT=false`.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped after the append, the message is stored though its
    /// durability was not awaited.
    pub async fn put_message(&self, msg: MessageExt) -> PutResult {
        self.put_messages(vec![msg]).await
    }

    /// Stores a batch (SEND_BATCH_MESSAGE after the broker expanded it): all messages must share
    /// topic and queue id; they get consecutive queue offsets and are appended contiguously in
    /// one segment. The batch waits for the flush unless every message has `WAIT=false`.
    ///
    /// # Cancel safety
    /// As [`Store::put_message`].
    pub async fn put_messages(&self, msgs: Vec<MessageExt>) -> PutResult {
        let appended = self.inner.append(msgs);
        if let Some((topic, queue_id, max, tags, ts)) = &appended.notify {
            self.inner
                .arrivals
                .notify(topic, *queue_id, *max, *tags, *ts);
        }
        let mut result = appended.result;
        let Some(target) = appended.wait_target else {
            return result;
        };
        let rx = self.inner.flush.subscribe();
        let seen_failures = rx.borrow().failures;
        self.inner.flush.request(target);
        let timeout = self.inner.config.sync_flush_timeout;
        match FlushCoordinator::wait_for(rx, seen_failures, target, timeout).await {
            Some(WaitOutcome::Flushed) => {}
            Some(WaitOutcome::Failed) => {
                result.status = PutStatus::IoError;
                result.detail = Some("commit log flush failed; see the store log".into());
            }
            Some(WaitOutcome::Stopped) | None => {
                tracing::warn!(target, "sync flush did not complete in time");
                result.status = PutStatus::FlushDiskTimeout;
            }
        }
        result
    }
}

impl Inner {
    fn append(&self, msgs: Vec<MessageExt>) -> Appended {
        let mut buf = take_encode_buffer();
        let r = self.append_with(msgs, &mut buf);
        return_encode_buffer(buf);
        r
    }

    fn append_with(&self, mut msgs: Vec<MessageExt>, buf: &mut BytesMut) -> Appended {
        let fail = |status, detail: String| Appended {
            result: PutResult::error(status, detail),
            wait_target: None,
            notify: None,
        };
        if msgs.is_empty() {
            return fail(PutStatus::MessageIllegal, "empty batch".into());
        }
        if !self.running.load(Ordering::Acquire) {
            return fail(PutStatus::ServiceNotAvailable, "store is shut down".into());
        }
        if self.disk_full.load(Ordering::Acquire) {
            return fail(PutStatus::ServiceNotAvailable, "disk is full".into());
        }
        if self.logics_error.load(Ordering::Acquire) {
            return fail(
                PutStatus::ServiceNotAvailable,
                "consume queue or index write failed earlier; restart to rebuild".into(),
            );
        }
        let topic = msgs[0].message.topic.clone();
        let queue_id = msgs[0].queue_id;
        if let Err(e) = validate_topic(&topic) {
            return fail(PutStatus::MessageIllegal, e);
        }
        if queue_id < 0 {
            return fail(
                PutStatus::MessageIllegal,
                format!("queue id {queue_id} is negative"),
            );
        }
        let mut wait = false;
        let mut lens = Vec::with_capacity(msgs.len());
        for m in &mut msgs {
            if m.message.topic != topic || m.queue_id != queue_id {
                return fail(
                    PutStatus::MessageIllegal,
                    "a batch must have one topic and one queue".into(),
                );
            }
            if m.message.body.len() > self.config.max_message_size {
                return fail(
                    PutStatus::MessageIllegal,
                    format!(
                        "body of {} bytes exceeds max message size {}",
                        m.message.body.len(),
                        self.config.max_message_size
                    ),
                );
            }
            wait |= m.message.wait_store_msg_ok();
            m.store_host = self.config.store_host;
            m.store_timestamp = 0;
            m.commit_log_offset = 0;
            m.queue_offset = 0;
            let before = buf.len();
            // The encoder enforces the 32767-byte properties limit (upstream
            // PROPERTIES_SIZE_EXCEEDED) and the topic and record limits (MESSAGE_ILLEGAL).
            if let Err(e) = encode_record(m, buf) {
                let status = match &e {
                    ProtocolError::TooLarge { what, .. } if *what == "properties" => {
                        PutStatus::PropertiesSizeExceeded
                    }
                    _ => PutStatus::MessageIllegal,
                };
                return fail(status, e.to_string());
            }
            lens.push(buf.len() - before);
        }
        let total = buf.len();
        let dispatchable = {
            let tx = msgs[0].sys_flag & sysflag::TRANSACTION_ROLLBACK_TYPE;
            tx != sysflag::TRANSACTION_PREPARED_TYPE && tx != sysflag::TRANSACTION_ROLLBACK_TYPE
        };
        let mut infos: Vec<DispatchInfo> = msgs
            .iter()
            .map(|m| DispatchInfo::from_message(m, self.schedule.as_ref(), 0))
            .collect();
        let scheduled = topic == SCHEDULE_TOPIC;

        let guard = lock(&self.put_lock);
        if !self.running.load(Ordering::Acquire) {
            return fail(PutStatus::ServiceNotAvailable, "store is shut down".into());
        }
        let now = self.now();
        let (seg, phy) = match self.commit_log.segment_for_append(total as u64) {
            Ok(x) => x,
            Err(AppendError::TooLarge) => {
                return fail(
                    PutStatus::MessageIllegal,
                    format!(
                        "{total}-byte record cannot fit a {}-byte commit log segment",
                        self.commit_log.segment_size()
                    ),
                );
            }
            Err(AppendError::CreateFailed(e)) => {
                return fail(PutStatus::CreateMappedFileFailed, e.to_string());
            }
            Err(AppendError::Io(e)) => return fail(PutStatus::IoError, e.to_string()),
        };
        let cq = dispatchable.then(|| self.consume_queue_or_create(&topic, queue_id));
        let first_queue_offset = cq
            .as_ref()
            .map_or(0, |q| i64::try_from(q.max_offset()).unwrap_or(i64::MAX));
        let mut pos = 0;
        let mut msg_ids = Vec::with_capacity(lens.len());
        for (i, len) in lens.iter().enumerate() {
            let rec = &mut buf[pos..pos + len];
            let rec_phy = phy + pos as i64;
            let qoff = if dispatchable {
                first_queue_offset + i as i64
            } else {
                0
            };
            let info = &mut infos[i];
            if scheduled {
                *info = DispatchInfo::from_message(&msgs[i], self.schedule.as_ref(), now);
            }
            info.queue_offset = qoff;
            info.phy_offset = rec_phy;
            info.size = i32::try_from(*len).unwrap_or(i32::MAX);
            info.store_ts = now;
            // The record was just encoded by us, so these fields exist.
            let patched = patch_store_timestamp(rec, now)
                .and_then(|()| patch_physical_offset(rec, rec_phy))
                .and_then(|()| patch_queue_offset(rec, qoff));
            if let Err(e) = patched {
                return fail(PutStatus::MessageIllegal, e.to_string());
            }
            msg_ids.push(offset_msg_id(self.config.store_host, rec_phy));
            pos += len;
        }
        if let Err(e) = seg.append(&buf[..]) {
            return fail(PutStatus::IoError, e.to_string());
        }
        self.commit_log.set_last_store_ts(now);
        let mut notify = None;
        for info in &infos {
            if let Err(e) = self.dispatch(&topic, cq.as_ref(), info) {
                tracing::error!(error = %e, topic = %topic, queue_id, "dispatch failed");
                self.logics_error.store(true, Ordering::Release);
                return Appended {
                    result: PutResult {
                        status: PutStatus::IoError,
                        detail: Some(format!("stored, but dispatch failed: {e}")),
                        physical_offset: phy,
                        wrote_bytes: total,
                        queue_offset: first_queue_offset,
                        msg_ids,
                        store_timestamp: now,
                        message_count: lens.len(),
                    },
                    wait_target: None,
                    notify: None,
                };
            }
            if info.to_consume_queue {
                notify = Some((queue_id, info.queue_offset + 1, info.tags_code));
            }
        }
        drop(guard);
        if !is_sync(&self.config) {
            // Wake the async flusher early once enough is unflushed (see `services`).
            let end = phy + total as i64;
            let flushed = self.flush.flushed();
            let last = self.eager_flush_at.load(Ordering::Relaxed);
            let eager = EAGER_FLUSH_BYTES as i64;
            if end - flushed >= eager && end - last >= eager {
                self.eager_flush_at.store(end, Ordering::Relaxed);
                self.flush.request(end);
            }
        }
        self.records_put
            .fetch_add(lens.len() as u64, Ordering::Relaxed);
        self.bytes_put.fetch_add(total as u64, Ordering::Relaxed);
        Appended {
            result: PutResult {
                status: PutStatus::PutOk,
                detail: None,
                physical_offset: phy,
                wrote_bytes: total,
                queue_offset: first_queue_offset,
                msg_ids,
                store_timestamp: now,
                message_count: lens.len(),
            },
            wait_target: (is_sync(&self.config) && wait).then_some(phy + total as i64),
            notify: notify.map(|(q, max, tags)| (topic, q, max, tags, now)),
        }
    }

    /// Writes one record's consume-queue unit and index keys (upstream `doDispatch`). Skips
    /// what is already there, so recovery can re-dispatch freely. Returns whether a unit was
    /// added.
    /// `cq` is the record's queue when the caller already has it.
    pub(crate) fn dispatch(
        &self,
        topic: &str,
        cq: Option<&Arc<ConsumeQueue>>,
        info: &DispatchInfo,
    ) -> super::error::StoreResult<bool> {
        let mut added = false;
        if info.to_consume_queue && info.queue_offset >= 0 && info.queue_id >= 0 {
            let owned;
            let cq = match cq {
                Some(q) => q,
                None => {
                    owned = self.consume_queue_or_create(topic, info.queue_id);
                    &owned
                }
            };
            added = cq.put(
                u64::try_from(info.queue_offset).unwrap_or(0),
                info.phy_offset,
                info.size,
                info.tags_code,
            )?;
            self.last_dispatch_ts
                .fetch_max(info.store_ts, Ordering::AcqRel);
        }
        if !info.key_hashes.is_empty() {
            self.index
                .put(info.phy_offset, info.store_ts, &info.key_hashes, self.now())?;
            self.last_index_ts
                .fetch_max(info.store_ts, Ordering::AcqRel);
        }
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    use super::validate_topic;

    #[test]
    fn topic_rules() {
        assert!(validate_topic("T_1-a%RETRY%g|x").is_ok());
        assert!(validate_topic("").is_err());
        assert!(validate_topic("../etc").is_err());
        assert!(validate_topic("a b").is_err());
        assert!(validate_topic(&"a".repeat(128)).is_err());
    }
}
