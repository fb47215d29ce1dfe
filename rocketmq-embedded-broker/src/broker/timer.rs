//! Timer messages (5.x `TimerMessageStore`, simplified): a message with
//! `TIMER_DELIVER_MS`, `TIMER_DELAY_MS` or `TIMER_DELAY_SEC` whose time lies ahead is
//! stored in `rmq_sys_wheel_timer` (queue 0) with its real topic and queue in
//! `REAL_TOPIC`/`REAL_QID`; a service ordered by delivery time puts it back into its real
//! queue once the time has come. Unlike upstream's time wheel, pending timers are indexed
//! in memory, rebuilt on start from the timer queue from a checkpoint
//! (`timerCheckpoint.json`: every timer before that queue offset has been delivered).
//! Timers delivered after the checkpoint may be delivered again after a crash: at least
//! once, as upstream.

use std::collections::BTreeSet;

use rocketmq_sdk::protocol::message::{
    DecodeOptions, MessageExt, decode_message_ext, keys, sysflag,
};
use rocketmq_sdk::protocol::topic::TIMER_TOPIC;
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use super::BrokerCore;
use crate::store::ConfigDocument;

/// Timer units read per scan step.
const BATCH: usize = 64;

/// The latest a timer may fire, relative to now (upstream `timerMaxDelaySec`, 3 days).
const MAX_DELAY_MS: i64 = 3 * 24 * 3_600_000;

/// `timerCheckpoint.json`: the timer queue offset below which every timer was delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct TimerCheckpoint {
    delivered_below: i64,
}

impl ConfigDocument for TimerCheckpoint {
    const FILE_NAME: &'static str = "timerCheckpoint.json";

    fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    fn decode(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

/// When a message asks to be delivered, from its timer properties; `None` without them.
/// A value that does not parse counts as "now" (the message is delivered at once).
fn deliver_at(msg: &MessageExt, now: i64) -> Option<i64> {
    let parse = |k: &str| msg.property(k).map(|v| v.trim().parse::<i64>().ok());
    if let Some(at) = parse(keys::TIMER_DELIVER_MS) {
        return Some(at.unwrap_or(now));
    }
    if let Some(ms) = parse(keys::TIMER_DELAY_MS) {
        return Some(ms.map_or(now, |d| now.saturating_add(d)));
    }
    if let Some(sec) = parse(keys::TIMER_DELAY_SEC) {
        return Some(sec.map_or(now, |d| now.saturating_add(d.saturating_mul(1000))));
    }
    None
}

/// Rewrites a message for timed delivery if its timer properties put it in the future
/// (non-transactional or committed messages only); returns whether it did. A time in the
/// past, or one further ahead than three days (capped there), is handled like upstream:
/// delivered now, or at the cap.
pub(crate) fn apply_timer(msg: &mut MessageExt, now: i64) -> bool {
    let tx = sysflag::transaction_value(msg.sys_flag);
    if !(tx == sysflag::TRANSACTION_NOT_TYPE || tx == sysflag::TRANSACTION_COMMIT_TYPE)
        || msg.topic == TIMER_TOPIC
    {
        return false;
    }
    let Some(at) = deliver_at(msg, now) else {
        return false;
    };
    if at <= now {
        return false;
    }
    let at = at.min(now.saturating_add(MAX_DELAY_MS));
    msg.put_property(keys::TIMER_DELIVER_MS, at.to_string());
    msg.put_property(keys::TIMER_ENQUEUE_MS, now.to_string());
    let real_topic = std::mem::replace(&mut msg.message.topic, TIMER_TOPIC.to_owned());
    msg.put_property(keys::REAL_TOPIC, real_topic);
    let qid = msg.queue_id.to_string();
    msg.put_property(keys::REAL_QID, qid);
    msg.queue_id = 0;
    true
}

/// The message a timer record becomes when due: real topic and queue back.
fn restore(mut msg: MessageExt, now: i64) -> Option<MessageExt> {
    let topic = msg.property(keys::REAL_TOPIC)?.to_owned();
    let qid: i32 = msg.property(keys::REAL_QID)?.parse().ok()?;
    msg.message.topic = topic;
    msg.queue_id = qid;
    msg.remove_property(keys::REAL_TOPIC);
    msg.remove_property(keys::REAL_QID);
    msg.remove_property(keys::TIMER_DELAY_MS);
    msg.remove_property(keys::TIMER_DELAY_SEC);
    msg.put_property(keys::TIMER_DEQUEUE_MS, now.to_string());
    msg.set_wait_store_msg_ok(false);
    Some(msg)
}

/// The timer service's state, driven by the schedule service's loop.
#[derive(Debug)]
pub(crate) struct Timers {
    /// Next timer queue offset to read.
    scanned: i64,
    /// (delivery time, timer queue offset) of every timer read and not yet delivered.
    pending: BTreeSet<(i64, i64)>,
    /// What `timerCheckpoint.json` says.
    checkpoint: TimerCheckpoint,
}

impl Timers {
    /// Resumes from the checkpoint of `core`'s store.
    pub(crate) fn load(core: &BrokerCore) -> Self {
        let checkpoint: TimerCheckpoint = core.store.config_files().load().unwrap_or_default();
        let min = core.store.min_offset(TIMER_TOPIC, 0);
        Timers {
            scanned: checkpoint.delivered_below.max(min),
            pending: BTreeSet::new(),
            checkpoint,
        }
    }

    /// Reads new timers, delivers the due ones, moves the checkpoint. Returns whether
    /// anything moved.
    pub(crate) async fn step(&mut self, core: &BrokerCore) -> bool {
        let mut moved = self.scan(core);
        let now = core.clock.now_millis();
        while let Some(&(at, offset)) = self.pending.first() {
            if at > now {
                break;
            }
            match self.deliver(core, offset, now).await {
                Ok(()) => {
                    self.pending.pop_first();
                    moved = true;
                }
                Err(()) => break, // the store refused: try again at the next tick
            }
        }
        let low = self
            .pending
            .iter()
            .map(|&(_, o)| o)
            .min()
            .unwrap_or(self.scanned);
        if low != self.checkpoint.delivered_below {
            self.checkpoint.delivered_below = low;
            if let Err(e) = core.store.config_files().save(&self.checkpoint) {
                warn!(error = %e, "timerCheckpoint.json could not be written");
            }
        }
        moved
    }

    fn scan(&mut self, core: &BrokerCore) -> bool {
        let max = core.store.max_offset(TIMER_TOPIC, 0);
        let mut moved = false;
        while self.scanned < max {
            let got =
                match core
                    .store
                    .get_messages(TIMER_TOPIC, 0, self.scanned, BATCH, usize::MAX, None)
                {
                    Ok(g) => g,
                    Err(e) => {
                        debug!(error = %e, "timer queue read failed");
                        return moved;
                    }
                };
            let now = core.clock.now_millis();
            for stored in &got.messages {
                let opts = DecodeOptions::default().with_decompress_body(false);
                match decode_message_ext(&stored.record, &opts) {
                    Ok(m) => {
                        let at = deliver_at(&m, now).unwrap_or(now);
                        self.pending.insert((at, stored.queue_offset));
                    }
                    Err(e) => {
                        warn!(offset = stored.queue_offset, error = %e, "undecodable timer record skipped");
                    }
                }
            }
            let next = got.next_begin_offset.max(
                got.messages
                    .iter()
                    .map(|m| m.queue_offset + 1)
                    .max()
                    .unwrap_or(self.scanned),
            );
            if next <= self.scanned {
                break;
            }
            self.scanned = next;
            moved = true;
        }
        moved
    }

    async fn deliver(&self, core: &BrokerCore, offset: i64, now: i64) -> Result<(), ()> {
        let got = core
            .store
            .get_messages(TIMER_TOPIC, 0, offset, 1, usize::MAX, None)
            .map_err(|e| debug!(offset, error = %e, "timer record read failed"))?;
        let Some(stored) = got.messages.into_iter().find(|m| m.queue_offset == offset) else {
            warn!(offset, "timer record gone (retention?); skipped");
            return Ok(());
        };
        let opts = DecodeOptions::default().with_decompress_body(false);
        let Some(real) = decode_message_ext(&stored.record, &opts)
            .ok()
            .and_then(|m| restore(m, now))
        else {
            warn!(offset, "timer record without REAL_TOPIC/REAL_QID skipped");
            return Ok(());
        };
        let result = core.store.put_message(real).await;
        if result.is_stored() {
            Ok(())
        } else {
            debug!(offset, status = ?result.status, "timer delivery failed; retrying");
            Err(())
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use rocketmq_sdk::protocol::message::Message;

    use super::*;

    fn msg() -> MessageExt {
        let mut m = MessageExt::from(Message::new("T", Bytes::from_static(b"x")));
        m.queue_id = 3;
        m
    }

    #[test]
    fn timer_rewrite_and_restore() {
        let now = 1_000_000;
        let mut m = msg();
        m.put_property(keys::TIMER_DELAY_MS, "500");
        assert!(apply_timer(&mut m, now));
        assert_eq!((m.topic.as_str(), m.queue_id), (TIMER_TOPIC, 0));
        assert_eq!(m.property(keys::TIMER_DELIVER_MS), Some("1000500"));
        assert_eq!(
            deliver_at(&m, now + 7),
            Some(1_000_500),
            "absolute once stored"
        );
        let back = restore(m, now + 500).unwrap();
        assert_eq!((back.topic.as_str(), back.queue_id), ("T", 3));
        assert_eq!(back.property(keys::REAL_TOPIC), None);

        let mut past = msg();
        past.put_property(keys::TIMER_DELIVER_MS, (now - 1).to_string());
        assert!(!apply_timer(&mut past, now), "a past time is delivered now");
        let mut plain = msg();
        assert!(!apply_timer(&mut plain, now));
        let mut far = msg();
        far.put_property(keys::TIMER_DELAY_SEC, "999999999");
        assert!(apply_timer(&mut far, now));
        assert_eq!(
            far.property(keys::TIMER_DELIVER_MS),
            Some((now + MAX_DELAY_MS).to_string().as_str())
        );
        let mut half = msg();
        half.put_property(keys::TIMER_DELAY_MS, "500");
        half.sys_flag = sysflag::TRANSACTION_PREPARED_TYPE;
        assert!(!apply_timer(&mut half, now), "half messages are not timed");
    }
}
