//! The in-process transfer between a master and its slave (upstream `HAConnection` on the
//! master plus `HAClient` on the slave, without the socket): ship records from the slave's
//! commit-log end on, append them on the slave, acknowledge the new end to the master.
//! Also copies the master's topic configs (when they change) and consumer offsets (every
//! [`OFFSET_SYNC_INTERVAL`]) to the slave (upstream `SlaveSynchronize`, every 10 s there),
//! so the slave can serve pulls of every topic and consumers that come to it while the
//! master is down resume where the group was.
//!
//! While the slave cannot follow (its log is ahead of a master that lost its unflushed tail
//! in a crash, or a shipped record does not fit), it acknowledges nothing, so a SYNC_MASTER
//! answers SLAVE_NOT_AVAILABLE rather than count offsets of other records. Upstream (without
//! DLedger) has no repair for such a divergence either; restart the slave on a fresh store.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::{debug, error, info};

use super::HaState;
use crate::broker::BrokerCore;
use crate::store::StoreError;

/// Most bytes shipped per round (upstream `haTransferBatchSize`, 32 KiB, is tuned for a
/// socket; in-process a bigger batch costs nothing).
const MAX_BATCH_BYTES: usize = 1 << 20;

/// How long the task sleeps without a new-data signal before it looks again (puts that do
/// not come through the send path, e.g. scheduled messages, do not signal).
const IDLE_POLL: Duration = Duration::from_millis(20);

/// How often the slave copies the master's consumer offsets.
pub(crate) const OFFSET_SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Finds the master's current incarnation (it may be crashed or restarted meanwhile).
pub(crate) type MasterLink = Arc<dyn Fn() -> Option<Arc<BrokerCore>> + Send + Sync>;

/// Connects `slave` to this `master` incarnation; returns the session epoch.
fn connect(ha: &HaState, slave: &BrokerCore, master: &BrokerCore) -> u64 {
    let end = slave.store.commit_log_max_offset();
    let follows = end <= master.store.commit_log_max_offset();
    let epoch = ha.connect(follows.then_some(end));
    info!(broker = %slave.config.broker_name, from = end, follows,
        "slave connected to its master");
    epoch
}

/// Starts replicating into `slave` from whatever `master` finds, acknowledging to `ha`.
/// Connects at once when the master is running (so a SYNC_MASTER counts the slave as soon
/// as this returns), then runs until aborted or until the slave's store stops.
pub(crate) fn spawn(
    master: MasterLink,
    slave: Arc<BrokerCore>,
    ha: Arc<HaState>,
) -> JoinHandle<()> {
    // (master generation, session epoch) of the master incarnation followed now.
    let generation = ha.master_generation();
    let mut session: Option<(u64, u64)> = master().map(|m| (generation, connect(&ha, &slave, &m)));
    tokio::spawn(async move {
        let mut topics_seen = None;
        let mut offsets_synced: Option<tokio::time::Instant> = None;
        let mut last_problem: Option<String> = None;
        loop {
            let generation = ha.master_generation();
            let Some(master) = master() else {
                ha.new_data(IDLE_POLL).await;
                continue;
            };
            let epoch = match session {
                Some((g, epoch)) if g == generation => epoch,
                _ => {
                    let epoch = connect(&ha, &slave, &master);
                    session = Some((generation, epoch));
                    epoch
                }
            };
            sync_topics(&master, &slave, &mut topics_seen);
            if offsets_synced.is_none_or(|t| t.elapsed() >= OFFSET_SYNC_INTERVAL) {
                slave.offsets.merge_from(&master.offsets.snapshot());
                offsets_synced = Some(tokio::time::Instant::now());
            }
            let from = slave.store.commit_log_max_offset();
            let chunk = match master.store.read_for_replica(from, MAX_BATCH_BYTES) {
                Ok(c) => c,
                Err(e) => {
                    ha.stall(epoch);
                    report(&mut last_problem, &e);
                    ha.new_data(IDLE_POLL).await;
                    continue;
                }
            };
            if chunk.is_empty() {
                if master.store.commit_log_max_offset() < from {
                    ha.stall(epoch);
                    report(
                        &mut last_problem,
                        &StoreError::Replication {
                            offset: from,
                            reason: format!(
                                "the slave is ahead of its master (master ends at {})",
                                master.store.commit_log_max_offset()
                            ),
                        },
                    );
                } else {
                    ha.ack(epoch, from);
                }
                ha.new_data(IDLE_POLL).await;
                continue;
            }
            if let Some(delay) = slave.faults.iter().find_map(|f| f.replication_delay()) {
                tokio::time::sleep(delay).await;
            }
            match slave.store.append_replica(&chunk) {
                Ok(end) => {
                    last_problem = None;
                    debug!(from = chunk.start, end, "replicated");
                    ha.ack(epoch, end);
                }
                Err(StoreError::ShutDown) => return,
                Err(e) => {
                    ha.stall(epoch);
                    report(&mut last_problem, &e);
                    ha.new_data(IDLE_POLL).await;
                }
            }
        }
    })
}

/// Logs a replication problem once, not every round.
fn report(last: &mut Option<String>, e: &StoreError) {
    let text = e.to_string();
    if last.as_deref() != Some(text.as_str()) {
        error!(error = %text, "replication stalled");
        *last = Some(text);
    }
}

/// Copies the master's topic table when its version changed.
fn sync_topics(master: &BrokerCore, slave: &BrokerCore, seen: &mut Option<(i64, i64)>) {
    let v = master.topics.data_version();
    let version = (v.timestamp, v.counter);
    if *seen == Some(version) {
        return;
    }
    for config in master.topics.all().into_values() {
        // Writes the slave's topics.json when it changed.
        slave.topics.upsert(config);
    }
    *seen = Some(version);
}
