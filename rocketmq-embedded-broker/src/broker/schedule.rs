//! Delay levels (upstream `HookUtils.handleScheduleMessage` and `ScheduleMessageService`):
//! a message with `DELAY` > 0 is stored in `SCHEDULE_TOPIC_XXXX`, queue `level - 1`, with its
//! real topic and queue kept in `REAL_TOPIC`/`REAL_QID`; the store gives that unit its
//! delivery time as tags code; this service puts each message back into its real queue once
//! the time has come, and keeps its progress per level in `delayOffset.json`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rocketmq_sdk::protocol::message::{
    DecodeOptions, MessageExt, decode_message_ext, keys, sysflag,
};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::BrokerCore;
use crate::store::{DelayLevelTable, DelayOffsetTable, SCHEDULE_TOPIC, ScheduleHook};

/// How often the service looks for due messages. Upstream re-checks a level 100 ms after
/// finding nothing due; a shorter period keeps millisecond ladders (tests) honest.
const TICK: Duration = Duration::from_millis(10);
/// Messages moved per level and tick at most, so one level cannot starve the others.
const BATCH: usize = 32;

impl BrokerCore {
    /// The configured delay levels (`messageDelayLevel`).
    pub(crate) fn delay_levels(&self) -> &DelayLevelTable {
        &self.delay_levels
    }
}

/// Rewrites a message for delayed delivery if its `DELAY` asks for it (non-transactional
/// or committed messages only); the level is capped at the highest configured one.
pub(crate) fn apply_delay(msg: &mut MessageExt, levels: &DelayLevelTable) {
    let level = msg.delay_level();
    let tx = sysflag::transaction_value(msg.sys_flag);
    if level <= 0
        || !(tx == sysflag::TRANSACTION_NOT_TYPE || tx == sysflag::TRANSACTION_COMMIT_TYPE)
        || msg.topic == SCHEDULE_TOPIC
    {
        return;
    }
    let level = level.min(levels.max_level());
    msg.set_delay_level(level);
    let real_topic = std::mem::replace(&mut msg.message.topic, SCHEDULE_TOPIC.to_owned());
    msg.put_property(keys::REAL_TOPIC, real_topic);
    let qid = msg.queue_id.to_string();
    msg.put_property(keys::REAL_QID, qid);
    msg.queue_id = level - 1;
}

/// The message a scheduled record becomes when due (`messageTimeup`): real topic and queue
/// back, `DELAY` cleared.
fn restore(mut msg: MessageExt) -> Option<MessageExt> {
    let topic = msg.property(keys::REAL_TOPIC)?.to_owned();
    let qid: i32 = msg.property(keys::REAL_QID)?.parse().ok()?;
    msg.message.topic = topic;
    msg.queue_id = qid;
    msg.remove_property(keys::DELAY);
    msg.set_wait_store_msg_ok(false);
    Some(msg)
}

/// Starts the delivery service of `core`'s store.
pub(crate) fn start(core: Arc<BrokerCore>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let levels = core.delay_levels().clone();
        let files = core.store.config_files().clone();
        let mut table: DelayOffsetTable = files.load().unwrap_or_default();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut dirty_since_save = 0u32;
        // Timer messages (delivery time) ride on the same loop; they keep their own
        // checkpoint file.
        let mut timers = super::timer::Timers::load(&core);
        // With a manual clock, a jump delivers what became due at once instead of at the
        // next tick.
        let mut jumps = core.clock.jumps();
        loop {
            match jumps.as_mut() {
                Some(rx) => {
                    tokio::select! {
                        _ = tick.tick() => {}
                        changed = rx.changed() => {
                            if changed.is_err() {
                                jumps = None;
                            }
                        }
                    }
                }
                None => {
                    tick.tick().await;
                }
            }
            if !core.store.is_running() {
                return;
            }
            let mut moved = false;
            for level in 1..=levels.max_level() {
                let next = table.offset_table.get(&level).copied().unwrap_or(0);
                let done = deliver_level(&core, level, next).await;
                if done != next {
                    table.offset_table.insert(level, done);
                    moved = true;
                }
            }
            timers.step(&core).await;
            if moved {
                dirty_since_save += 1;
            }
            // Saving every move would rewrite the file at every tick under load.
            if dirty_since_save > 0 && (dirty_since_save >= 50 || !moved) {
                dirty_since_save = 0;
                table.data_version.next_version(core.clock.now_millis());
                if let Err(e) = files.save(&table) {
                    warn!(error = %e, "delayOffset.json could not be written");
                }
            }
        }
    })
}

/// Moves the due messages of one level from `offset` on; returns the next offset.
async fn deliver_level(core: &BrokerCore, level: i32, mut offset: i64) -> i64 {
    let queue = level - 1;
    let min = core.store.min_offset(SCHEDULE_TOPIC, queue);
    let max = core.store.max_offset(SCHEDULE_TOPIC, queue);
    offset = offset.max(min);
    if offset >= max {
        return offset;
    }
    let now = core.clock.now_millis();
    let got = match core
        .store
        .get_messages(SCHEDULE_TOPIC, queue, offset, BATCH, usize::MAX, None)
    {
        Ok(g) => g,
        Err(e) => {
            debug!(level, error = %e, "schedule queue read failed");
            return offset;
        }
    };
    let mut by_offset: BTreeMap<i64, _> = BTreeMap::new();
    for m in got.messages {
        by_offset.insert(m.queue_offset, m);
    }
    if by_offset.is_empty() {
        return got.next_begin_offset.max(offset);
    }
    for (qoff, stored) in by_offset {
        if stored.tags_code > now {
            return qoff;
        }
        let opts = DecodeOptions::default().with_decompress_body(false);
        let msg = match decode_message_ext(&stored.record, &opts) {
            Ok(m) => m,
            Err(e) => {
                warn!(level, offset = qoff, error = %e, "undecodable scheduled record skipped");
                offset = qoff + 1;
                continue;
            }
        };
        let Some(real) = restore(msg) else {
            warn!(
                level,
                offset = qoff,
                "scheduled record without REAL_TOPIC/REAL_QID skipped"
            );
            offset = qoff + 1;
            continue;
        };
        let result = core.store.put_message(real).await;
        if !result.is_stored() {
            debug!(level, offset = qoff, status = ?result.status, "scheduled delivery failed; retrying");
            return qoff;
        }
        offset = qoff + 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use rocketmq_sdk::protocol::message::Message;

    use super::*;

    #[test]
    fn delay_rewrite_and_restore() {
        let levels = DelayLevelTable::parse("10ms 20ms 30ms").unwrap();
        let mut m = MessageExt::from(Message::new("T", Bytes::from_static(b"x")));
        m.queue_id = 5;
        m.set_delay_level(9);
        apply_delay(&mut m, &levels);
        assert_eq!(m.topic, SCHEDULE_TOPIC);
        assert_eq!(m.queue_id, 2, "capped at level 3");
        assert_eq!(m.delay_level(), 3);
        assert_eq!(m.property(keys::REAL_TOPIC), Some("T"));
        let back = restore(m).unwrap();
        assert_eq!((back.topic.as_str(), back.queue_id), ("T", 5));
        assert_eq!(back.delay_level(), 0);

        let mut prepared = MessageExt::from(Message::new("T", Bytes::from_static(b"x")));
        prepared.set_delay_level(1);
        prepared.sys_flag = sysflag::TRANSACTION_PREPARED_TYPE;
        apply_delay(&mut prepared, &levels);
        assert_eq!(prepared.topic, "T", "half messages are not scheduled");
    }
}
