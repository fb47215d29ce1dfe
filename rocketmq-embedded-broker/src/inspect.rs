//! Per-message timelines for assertions and for failing tests to print: where a message
//! (by its client msgId, the `UNIQ_KEY`) went — stored, scheduled, retried, dead-lettered,
//! consumed (a committed offset past it) — rebuilt from the stores on demand, so nothing
//! is recorded on the hot path.

use std::fmt;

use rocketmq_sdk::protocol::message::MessageExt;

use crate::EmbeddedBroker;
use crate::error::BrokerError;

const RETRY_PREFIX: &str = "%RETRY%";
const DLQ_PREFIX: &str = "%DLQ%";
const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
const HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
const OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";

/// What happened to a message at one point of its life.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// Stored in its topic (first send, a delivery after a delay, a committed transaction).
    Stored,
    /// Waiting in the schedule topic for its delay level.
    Scheduled,
    /// A half (prepared) transaction message.
    Half,
    /// Sent back by a consumer group for another try.
    Retried {
        /// The group.
        group: String,
    },
    /// Moved to a group's dead-letter queue.
    DeadLettered {
        /// The group.
        group: String,
    },
    /// A group committed an offset past this stored copy.
    Consumed {
        /// The group.
        group: String,
    },
}

/// One point of a [`Timeline`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimelineEntry {
    /// What happened.
    pub stage: Stage,
    /// The broker holding the copy.
    pub broker: String,
    /// The topic of the copy.
    pub topic: String,
    /// Its queue.
    pub queue_id: i32,
    /// Its offset in the queue.
    pub queue_offset: i64,
    /// The broker clock when the copy was stored (ms).
    pub store_timestamp: i64,
    /// The copy's reconsume count.
    pub reconsume_times: i32,
}

/// Every trace of one message in the cluster, ordered by store time.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeline {
    /// The client msgId asked for.
    pub msg_id: String,
    /// The entries, oldest first.
    pub entries: Vec<TimelineEntry>,
}

impl Timeline {
    /// Whether any entry is at `stage`.
    pub fn has(&self, stage: &Stage) -> bool {
        self.entries.iter().any(|e| &e.stage == stage)
    }
}

impl fmt::Display for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "timeline of {}:", self.msg_id)?;
        if self.entries.is_empty() {
            return writeln!(f, "  (no trace in any store)");
        }
        for e in &self.entries {
            writeln!(
                f,
                "  {:>14} {:<40} {}@{}:{}#{} reconsume={}",
                e.store_timestamp,
                format!("{:?}", e.stage),
                e.broker,
                e.topic,
                e.queue_id,
                e.queue_offset,
                e.reconsume_times
            )?;
        }
        Ok(())
    }
}

fn classify(topic: &str) -> Stage {
    if let Some(g) = topic.strip_prefix(RETRY_PREFIX) {
        Stage::Retried {
            group: g.to_owned(),
        }
    } else if let Some(g) = topic.strip_prefix(DLQ_PREFIX) {
        Stage::DeadLettered {
            group: g.to_owned(),
        }
    } else if topic == SCHEDULE_TOPIC {
        Stage::Scheduled
    } else if topic == HALF_TOPIC {
        Stage::Half
    } else {
        Stage::Stored
    }
}

fn matches(m: &MessageExt, msg_id: &str) -> bool {
    m.uniq_key() == Some(msg_id) || m.property("ORIGIN_MESSAGE_ID") == Some(msg_id)
}

impl EmbeddedBroker {
    /// The timeline of the message with client msgId `msg_id` on every running broker.
    /// `groups` are the consumer groups whose committed offsets count as
    /// [`Stage::Consumed`]. Scans the stores: meant for tests, not hot paths.
    ///
    /// # Errors
    /// A stored record that cannot be decoded.
    pub fn timeline(&self, msg_id: &str, groups: &[&str]) -> Result<Timeline, BrokerError> {
        let mut entries = Vec::new();
        for b in self.brokers().iter().filter(|b| b.is_running()) {
            let store = b.store()?;
            for topic in store.topics() {
                if topic == OP_HALF_TOPIC {
                    continue;
                }
                for m in b.messages(&topic)? {
                    if !matches(&m, msg_id) {
                        continue;
                    }
                    let stage = classify(&topic);
                    let entry = TimelineEntry {
                        stage: stage.clone(),
                        broker: b.name().to_owned(),
                        topic: topic.clone(),
                        queue_id: m.queue_id,
                        queue_offset: m.queue_offset,
                        store_timestamp: m.store_timestamp,
                        reconsume_times: m.reconsume_times,
                    };
                    if matches!(stage, Stage::Stored | Stage::Retried { .. }) {
                        for g in groups {
                            let committed = b.consumer_offsets(g, &topic);
                            if committed
                                .get(&m.queue_id)
                                .is_some_and(|o| *o > m.queue_offset)
                            {
                                entries.push(TimelineEntry {
                                    stage: Stage::Consumed {
                                        group: (*g).to_owned(),
                                    },
                                    ..entry.clone()
                                });
                            }
                        }
                    }
                    entries.push(entry);
                }
            }
        }
        entries.sort_by_key(|e| (e.store_timestamp, matches!(e.stage, Stage::Consumed { .. })));
        Ok(Timeline {
            msg_id: msg_id.to_owned(),
            entries,
        })
    }
}
