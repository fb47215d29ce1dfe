//! Master/slave replication inside one process (upstream `HAService`, classic 4.x roles).
//!
//! A master may have one slave with its own store. A transfer task ships whole commit-log
//! records from the master's store to the slave's
//! ([`Store::read_for_replica`](crate::store::Store::read_for_replica) and
//! [`Store::append_replica`](crate::store::Store::append_replica)), starting at the slave's
//! own commit-log end, and reports the slave's new end back to the master as its
//! acknowledged offset. The slave dispatches the records to its consume queues and index
//! like any put, so it serves pulls on its own address. It also copies the master's topics
//! and consumer offsets (upstream `SlaveSynchronize`).
//!
//! Roles, as upstream's `brokerRole`:
//! - **ASYNC_MASTER** ([`ReplicationMode::Async`]): a send is answered as soon as the master
//!   stored it; the slave follows behind.
//! - **SYNC_MASTER** ([`ReplicationMode::Sync`]): a send (with `WAIT=true`, the default) is
//!   answered SEND_OK only once the slave acknowledged past the message's end offset. No
//!   slave connected, or one more than `haSlaveFallbehindMax` behind: SLAVE_NOT_AVAILABLE at
//!   once. Not acknowledged within the slave timeout: FLUSH_SLAVE_TIMEOUT. In both cases the
//!   message **is** stored on the master.
//! - **SLAVE**: registers as broker id 1, serves pulls and offset queries read-only, and
//!   answers sends with SERVICE_NOT_AVAILABLE, as upstream's store does for a slave.

pub(crate) mod transfer;

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};

/// How a master replicates to its slave (upstream `brokerRole`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplicationMode {
    /// `SYNC_MASTER`: a send is acknowledged once the slave has it.
    Sync,
    /// `ASYNC_MASTER`: a send is acknowledged once the master has it; the slave follows.
    Async,
}

/// Upstream's `haSlaveFallbehindMax` default: a slave further behind than this is not
/// waited for (SLAVE_NOT_AVAILABLE).
pub const DEFAULT_SLAVE_FALL_BEHIND_MAX: i64 = 256 * 1024 * 1024;

/// Default time a SYNC_MASTER waits for its slave (upstream 4.x waits `syncFlushTimeout`,
/// 5 s).
pub const DEFAULT_SLAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A broker's role (upstream `BrokerRole`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum BrokerRole {
    /// Answers sends once stored locally.
    #[default]
    AsyncMaster,
    /// Answers sends once the slave acknowledged them.
    SyncMaster,
    /// A read-only replica.
    Slave,
}

/// What the replication check made of a stored message (upstream `handleHA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplicaOutcome {
    /// The slave has it (or no wait was asked for).
    Replicated,
    /// No slave, or one too far behind.
    SlaveNotAvailable,
    /// The slave did not acknowledge in time.
    FlushSlaveTimeout,
}

#[derive(Debug, Default)]
struct Session {
    /// Bumped by every connect and disconnect: a transfer task that lost its session can no
    /// longer acknowledge.
    epoch: u64,
    connected: bool,
}

/// The master's view of its slave: whether one is connected and how far it acknowledged.
/// Shared by the master's send path and the transfer task; survives restarts of either.
pub(crate) struct HaState {
    mode: ReplicationMode,
    timeout: Duration,
    fall_behind_max: i64,
    session: Mutex<Session>,
    /// The slave's acknowledged commit-log end; `None` while no slave is connected.
    acked: watch::Sender<Option<i64>>,
    /// Woken by the master after a put so the transfer task ships at once.
    new_data: Notify,
    master_generation: AtomicU64,
}

impl fmt::Debug for HaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HaState")
            .field("mode", &self.mode)
            .field("timeout", &self.timeout)
            .field("acked", &*self.acked.borrow())
            .finish_non_exhaustive()
    }
}

impl HaState {
    pub(crate) fn new(mode: ReplicationMode, timeout: Duration, fall_behind_max: i64) -> Self {
        HaState {
            mode,
            timeout,
            fall_behind_max,
            session: Mutex::new(Session::default()),
            acked: watch::channel(None).0,
            new_data: Notify::new(),
            master_generation: AtomicU64::new(0),
        }
    }

    pub(crate) fn mode(&self) -> ReplicationMode {
        self.mode
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slave connected with its commit log ending at `offset` (`None`: it cannot follow,
    /// see [`stall`](Self::stall)); returns the session's epoch.
    pub(crate) fn connect(&self, offset: Option<i64>) -> u64 {
        let mut s = self.session();
        s.epoch += 1;
        s.connected = true;
        self.acked.send_replace(offset);
        s.epoch
    }

    /// The master (re)started: whatever its slave acknowledged before is void until the
    /// slave connects to this incarnation.
    pub(crate) fn master_started(&self) {
        self.master_generation.fetch_add(1, Ordering::AcqRel);
        self.disconnect();
    }

    /// Bumped by every [`master_started`](Self::master_started).
    pub(crate) fn master_generation(&self) -> u64 {
        self.master_generation.load(Ordering::Acquire)
    }

    /// The slave of session `epoch` now holds everything below `offset`. Ignored when the
    /// session is over.
    pub(crate) fn ack(&self, epoch: u64, offset: i64) {
        let s = self.session();
        if s.connected && s.epoch == epoch {
            self.acked.send_if_modified(|a| {
                let changed = *a != Some(offset);
                *a = Some(offset);
                changed
            });
        }
    }

    /// The slave of session `epoch` cannot follow (its history diverged from the master's,
    /// e.g. it is ahead of a master that lost its unflushed tail): it stays connected but
    /// acknowledges nothing, so a SYNC_MASTER answers SLAVE_NOT_AVAILABLE instead of
    /// trusting offsets that name other records.
    pub(crate) fn stall(&self, epoch: u64) {
        let s = self.session();
        if s.connected && s.epoch == epoch {
            self.acked.send_replace(None);
        }
    }

    /// The slave went away (killed, stopped): nothing is acknowledged any more.
    pub(crate) fn disconnect(&self) {
        let mut s = self.session();
        s.epoch += 1;
        s.connected = false;
        self.acked.send_replace(None);
    }

    /// The slave's acknowledged offset, `None` while disconnected.
    pub(crate) fn acked(&self) -> Option<i64> {
        *self.acked.borrow()
    }

    /// Waits until a slave acknowledges something (it connected and follows), at most
    /// `max`; returns whether it did.
    pub(crate) async fn wait_connected(&self, max: Duration) -> bool {
        let mut rx = self.acked.subscribe();
        matches!(
            tokio::time::timeout(max, rx.wait_for(Option::is_some)).await,
            Ok(Ok(_))
        )
    }

    /// Tells the transfer task that the master has new data.
    pub(crate) fn notify_new_data(&self) {
        self.new_data.notify_one();
    }

    /// Waits for [`notify_new_data`](Self::notify_new_data), at most `max`.
    pub(crate) async fn new_data(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.new_data.notified()).await;
    }

    /// Upstream `handleHA`: under SYNC_MASTER, waits until the slave acknowledged past
    /// `end` (the stored message's end offset). `master_end` is the master's commit-log end.
    pub(crate) async fn await_replica(&self, end: i64, master_end: i64) -> ReplicaOutcome {
        if self.mode != ReplicationMode::Sync {
            return ReplicaOutcome::Replicated;
        }
        let mut rx = self.acked.subscribe();
        match *rx.borrow_and_update() {
            None => return ReplicaOutcome::SlaveNotAvailable,
            Some(acked) if acked >= end => return ReplicaOutcome::Replicated,
            Some(acked) if master_end - acked > self.fall_behind_max => {
                return ReplicaOutcome::SlaveNotAvailable;
            }
            Some(_) => {}
        }
        self.notify_new_data();
        let waited = tokio::time::timeout(
            self.timeout,
            rx.wait_for(|a| a.is_some_and(|acked| acked >= end)),
        )
        .await;
        match waited {
            Ok(Ok(_)) => ReplicaOutcome::Replicated,
            _ => ReplicaOutcome::FlushSlaveTimeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn sync_state(fall_behind_max: i64) -> HaState {
        HaState::new(
            ReplicationMode::Sync,
            Duration::from_millis(50),
            fall_behind_max,
        )
    }

    #[tokio::test]
    async fn without_a_slave_nothing_is_replicated() {
        let ha = sync_state(1 << 20);
        assert_eq!(
            ha.await_replica(100, 100).await,
            ReplicaOutcome::SlaveNotAvailable
        );
    }

    #[tokio::test]
    async fn an_acknowledgement_past_the_end_replicates_and_a_late_one_times_out() {
        let ha = sync_state(1 << 20);
        let epoch = ha.connect(Some(0));
        ha.ack(epoch, 120);
        assert_eq!(ha.await_replica(100, 120).await, ReplicaOutcome::Replicated);
        assert_eq!(
            ha.await_replica(200, 200).await,
            ReplicaOutcome::FlushSlaveTimeout
        );
    }

    #[tokio::test]
    async fn a_waiting_send_is_released_by_the_acknowledgement() {
        let ha = Arc::new(HaState::new(
            ReplicationMode::Sync,
            Duration::from_secs(30),
            1 << 20,
        ));
        let epoch = ha.connect(Some(0));
        let waiter = tokio::spawn({
            let ha = ha.clone();
            async move { ha.await_replica(100, 100).await }
        });
        ha.ack(epoch, 99);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        ha.ack(epoch, 100);
        assert_eq!(waiter.await.unwrap(), ReplicaOutcome::Replicated);
    }

    #[tokio::test]
    async fn a_slave_too_far_behind_is_not_available() {
        let ha = sync_state(1_000);
        ha.connect(Some(0));
        assert_eq!(
            ha.await_replica(2_000, 2_000).await,
            ReplicaOutcome::SlaveNotAvailable
        );
    }

    #[tokio::test]
    async fn old_sessions_cannot_acknowledge() {
        let ha = sync_state(1 << 20);
        let old = ha.connect(Some(0));
        ha.disconnect();
        ha.ack(old, 500);
        assert_eq!(ha.acked(), None);
        let new = ha.connect(Some(10));
        ha.ack(old, 500);
        assert_eq!(ha.acked(), Some(10));
        ha.stall(new);
        assert_eq!(ha.acked(), None);
        ha.master_started();
        ha.ack(new, 600);
        assert_eq!(ha.acked(), None);
    }

    #[tokio::test]
    async fn an_async_master_never_waits() {
        let ha = HaState::new(ReplicationMode::Async, Duration::from_secs(30), 1);
        assert_eq!(ha.await_replica(100, 100).await, ReplicaOutcome::Replicated);
    }
}
