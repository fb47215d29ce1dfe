//! [`Store`]: the handle the broker's request processors use. Opening runs recovery; puts are
//! serialized by one lock (upstream `putMessageLock`) and dispatched to the consume queue and
//! index synchronously, so a get right after a put sees it; gets, lookups and queries run
//! concurrently with puts.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use super::arrival::{Arrivals, MessageArrivingListener};
use super::checkpoint::Checkpoint;
use super::commit_log::CommitLog;
use super::config::{FlushDiskType, StoreConfig};
use super::config_files::ConfigFiles;
use super::consume_queue::ConsumeQueue;
use super::error::{StoreError, StoreResult};
use super::flush::FlushCoordinator;
use super::index::IndexService;
use super::recovery::{self, RecoveryReport};
use super::result::StoreStats;
use super::schedule::{DelayLevelTable, ScheduleHook};
use super::segment::{lock, read_lock, write_lock};
use super::storage::{Storage, StorageLock};

/// Shared state of an open store.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: StoreConfig,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) commit_log: CommitLog,
    pub(crate) queues: RwLock<HashMap<String, BTreeMap<i32, Arc<ConsumeQueue>>>>,
    pub(crate) index: IndexService,
    pub(crate) checkpoint: Checkpoint,
    pub(crate) put_lock: Mutex<()>,
    /// False once shut down or crashed: no more puts, no more flushes.
    pub(crate) running: AtomicBool,
    /// Set by the cleaner when disk use passes the warning ratio.
    pub(crate) disk_full: AtomicBool,
    /// Set when a dispatch to a consume queue or the index failed: puts are refused until a
    /// restart rebuilds them from the commit log (upstream `makeLogicsQueueError`).
    pub(crate) logics_error: AtomicBool,
    pub(crate) flush: FlushCoordinator,
    pub(crate) arrivals: Arrivals,
    pub(crate) schedule: Arc<dyn ScheduleHook>,
    /// Store timestamp of the last record dispatched to consume queues.
    pub(crate) last_dispatch_ts: AtomicI64,
    /// Store timestamp of the last record indexed.
    pub(crate) last_index_ts: AtomicI64,
    /// Store timestamp covered by the last successful commit-log flush.
    pub(crate) physic_ts_flushed: AtomicI64,
    pub(crate) records_put: AtomicU64,
    pub(crate) bytes_put: AtomicU64,
    pub(crate) delete_hours: Vec<u32>,
    pub(crate) config_files: ConfigFiles,
    pub(crate) stopper: super::services::Stopper,
    /// Commit-log offset at which an appender last woke the async flusher early.
    pub(crate) eager_flush_at: AtomicI64,
}

impl Inner {
    pub(crate) fn consume_queue(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        read_lock(&self.queues)
            .get(topic)
            .and_then(|m| m.get(&queue_id))
            .cloned()
    }

    pub(crate) fn consume_queue_or_create(&self, topic: &str, queue_id: i32) -> Arc<ConsumeQueue> {
        if let Some(cq) = self.consume_queue(topic, queue_id) {
            return cq;
        }
        let mut map = write_lock(&self.queues);
        map.entry(topic.to_owned())
            .or_default()
            .entry(queue_id)
            .or_insert_with(|| {
                Arc::new(ConsumeQueue::new(
                    self.storage.clone(),
                    self.config
                        .consume_queue_dir()
                        .join(topic)
                        .join(queue_id.to_string()),
                    topic,
                    queue_id,
                    self.config.consume_queue_units_per_file,
                ))
            })
            .clone()
    }

    pub(crate) fn all_queues(&self) -> Vec<Arc<ConsumeQueue>> {
        read_lock(&self.queues)
            .values()
            .flat_map(|m| m.values().cloned())
            .collect()
    }

    pub(crate) fn now(&self) -> i64 {
        self.config.clock.now_millis()
    }

    /// Flushes everything and writes the checkpoint (clean shutdown, explicit flush).
    pub(crate) fn flush_all(&self) -> StoreResult<()> {
        let physic_ts = self.commit_log.last_store_ts();
        let logics_ts = self.last_dispatch_ts.load(Ordering::Acquire);
        let index_ts = self.last_index_ts.load(Ordering::Acquire);
        let flushed = self.commit_log.flush()?;
        self.flush.publish_flushed(flushed);
        self.physic_ts_flushed
            .fetch_max(physic_ts, Ordering::AcqRel);
        for cq in self.all_queues() {
            cq.flush()?;
        }
        self.index.flush()?;
        self.checkpoint.update(|v| {
            v.physic_msg_timestamp = v.physic_msg_timestamp.max(physic_ts);
            v.logics_msg_timestamp = v.logics_msg_timestamp.max(logics_ts);
            v.index_msg_timestamp = v.index_msg_timestamp.max(index_ts);
        });
        self.checkpoint.flush()
    }
}

/// The message store. Share it behind an `Arc`; dropping it without
/// [`shutdown`](Store::shutdown) behaves like [`crash`](Store::crash).
#[derive(Debug)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    lock: Mutex<Option<StorageLock>>,
}

impl Store {
    /// Opens (creating if needed) the store at `config.root`, recovers from the last run
    /// (normal or abnormal, depending on the `abort` marker), and starts the flush and
    /// cleaning services.
    pub fn open(config: StoreConfig) -> StoreResult<(Store, RecoveryReport)> {
        let storage = config.storage.clone();
        let root = config.root.clone();
        super::storage::create_dir_durable(storage.as_ref(), &root)
            .map_err(|e| StoreError::io(&root, e))?;
        let dir_lock = storage.lock(&config.lock_path()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                StoreError::Locked(root.clone())
            } else {
                StoreError::io(config.lock_path(), e)
            }
        })?;
        let abnormal = storage.exists(&config.abort_path());
        // Mark the run as live before recovery touches anything: a crash during recovery
        // must lead to an abnormal recovery next time.
        let abort = config.abort_path();
        let f = storage
            .open_file(&abort, true)
            .map_err(|e| StoreError::io(&abort, e))?;
        f.sync_data().map_err(|e| StoreError::io(&abort, e))?;
        storage
            .sync_dir(&root)
            .map_err(|e| StoreError::io(&root, e))?;
        let checkpoint = Checkpoint::open(storage.as_ref(), &config.checkpoint_path())?;
        let schedule: Arc<dyn ScheduleHook> = match &config.schedule_hook {
            Some(h) => h.clone(),
            None => {
                Arc::new(DelayLevelTable::parse(&config.message_delay_level).unwrap_or_default())
            }
        };
        let delete_hours =
            super::retention::parse_delete_when(&config.delete_when).unwrap_or_default();
        let inner = Arc::new(Inner {
            commit_log: CommitLog::new(
                storage.clone(),
                config.commit_log_dir(),
                config.commit_log_file_size,
            ),
            queues: RwLock::new(HashMap::new()),
            index: IndexService::new(
                storage.clone(),
                config.index_dir(),
                config.index_hash_slots,
                config.index_max_entries,
            ),
            checkpoint,
            put_lock: Mutex::new(()),
            running: AtomicBool::new(false),
            disk_full: AtomicBool::new(false),
            logics_error: AtomicBool::new(false),
            flush: FlushCoordinator::new(0),
            arrivals: Arrivals::default(),
            schedule,
            last_dispatch_ts: AtomicI64::new(0),
            last_index_ts: AtomicI64::new(0),
            physic_ts_flushed: AtomicI64::new(0),
            records_put: AtomicU64::new(0),
            bytes_put: AtomicU64::new(0),
            delete_hours,
            config_files: ConfigFiles::new(storage.clone(), config.config_dir()),
            stopper: super::services::Stopper::default(),
            eager_flush_at: AtomicI64::new(0),
            storage: storage.clone(),
            config,
        });
        let report = recovery::recover(&inner, abnormal)?;
        // Everything recovered is durable on disk already (or was re-derived from durable
        // data); make it so for the rebuilt consume queues and index before going live.
        inner.flush_all()?;
        inner.running.store(true, Ordering::Release);
        let threads = super::services::start(&inner);
        tracing::info!(
            root = %root.display(),
            abnormal,
            max_offset = inner.commit_log.max_offset(),
            "store opened"
        );
        Ok((
            Store {
                inner,
                threads: Mutex::new(threads),
                lock: Mutex::new(Some(dir_lock)),
            },
            report,
        ))
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// The JSON config files under `<root>/config` (topics, groups, offsets, delay offsets).
    pub fn config_files(&self) -> &ConfigFiles {
        &self.inner.config_files
    }

    /// Whether the store accepts puts (not shut down or crashed).
    pub fn is_running(&self) -> bool {
        self.inner.running.load(Ordering::Acquire)
    }

    /// Registers the hook called after each put for every queue that received messages.
    pub fn set_arriving_listener(&self, listener: Option<Arc<dyn MessageArrivingListener>>) {
        self.inner.arrivals.set_listener(listener);
    }

    /// Smallest servable offset of a queue (0 for an unknown queue).
    pub fn min_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .consume_queue(topic, queue_id)
            .map_or(0, |q| i64::try_from(q.min_offset()).unwrap_or(i64::MAX))
    }

    /// Next offset to be written in a queue (0 for an unknown queue).
    pub fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .consume_queue(topic, queue_id)
            .map_or(0, |q| i64::try_from(q.max_offset()).unwrap_or(i64::MAX))
    }

    /// Topics that have consume queues, sorted.
    pub fn topics(&self) -> Vec<String> {
        read_lock(&self.inner.queues)
            .keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// Queue ids of a topic that have consume queues, ascending.
    pub fn queue_ids(&self, topic: &str) -> Vec<i32> {
        read_lock(&self.inner.queues)
            .get(topic)
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Smallest commit-log offset still stored.
    pub fn commit_log_min_offset(&self) -> i64 {
        self.inner.commit_log.min_offset()
    }

    /// Commit-log write position.
    pub fn commit_log_max_offset(&self) -> i64 {
        self.inner.commit_log.max_offset()
    }

    /// Commit-log offset known durable.
    pub fn commit_log_flushed_offset(&self) -> i64 {
        self.inner.commit_log.flushed_offset()
    }

    /// Counters.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            records_put: self.inner.records_put.load(Ordering::Relaxed),
            bytes_put: self.inner.bytes_put.load(Ordering::Relaxed),
            commit_log_syncs: self.inner.commit_log.syncs(),
            commit_log_min_offset: self.inner.commit_log.min_offset(),
            commit_log_max_offset: self.inner.commit_log.max_offset(),
            commit_log_flushed_offset: self.inner.commit_log.flushed_offset(),
        }
    }

    /// Flushes the commit log, every consume queue and the index, and writes the checkpoint.
    pub fn flush(&self) -> StoreResult<()> {
        if !self.is_running() {
            return Err(StoreError::ShutDown);
        }
        self.inner.flush_all()
    }

    /// Waits until `topic`/`queue_id` has a message at `offset` (its max offset passes
    /// `offset`), up to `timeout`. Returns whether one arrived: the long-polling primitive.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn wait_for_message(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        timeout: Duration,
    ) -> bool {
        let notify = self.inner.arrivals.notifier(topic, queue_id);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.max_offset(topic, queue_id) > offset {
                return true;
            }
            if !self.is_running() {
                return false;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.max_offset(topic, queue_id) > offset;
            }
        }
    }

    fn stop_services(&self) {
        self.inner.running.store(false, Ordering::Release);
        // Take the put lock so no put is half-way through when we stop.
        drop(lock(&self.inner.put_lock));
        self.inner.flush.stop();
        super::services::stop_signal(&self.inner);
        let threads: Vec<_> = lock(&self.threads).drain(..).collect();
        for t in threads {
            if t.join().is_err() {
                tracing::error!("store service thread panicked");
            }
        }
    }

    /// Clean shutdown: stops the services, flushes everything, writes the checkpoint and
    /// removes the `abort` marker, so the next open recovers normally.
    pub fn shutdown(&self) -> StoreResult<()> {
        if !self.is_running() {
            return Err(StoreError::ShutDown);
        }
        self.stop_services();
        let result = self.inner.flush_all().and_then(|()| {
            let abort = self.inner.config.abort_path();
            match self.inner.storage.remove_file(&abort) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(abort, e)),
            }
            self.inner
                .storage
                .sync_dir(&self.inner.config.root)
                .map_err(|e| StoreError::io(&self.inner.config.root, e))
        });
        self.inner.flush.publish_stopped();
        self.inner.arrivals.notify_all();
        lock(&self.lock).take();
        tracing::info!(root = %self.inner.config.root.display(), ok = result.is_ok(), "store shut down");
        result
    }

    /// Simulates a process crash (`kill -9`): stops the services without flushing and drops
    /// every page the store had not yet written to the storage. Data the storage already has
    /// survives (with [`MemoryStorage`](super::storage::MemoryStorage), call
    /// [`power_loss`](super::storage::MemoryStorage::power_loss) afterwards to also lose what
    /// was written but never synced). The `abort` marker stays, so the next open recovers
    /// abnormally.
    pub fn crash(&self) {
        if !self.is_running() {
            return;
        }
        self.stop_services();
        self.inner.commit_log.segments().drop_caches();
        for q in self.inner.all_queues() {
            q.segments().drop_caches();
        }
        self.inner.index.drop_caches();
        self.inner.flush.publish_stopped();
        self.inner.arrivals.notify_all();
        lock(&self.lock).take();
        tracing::warn!(root = %self.inner.config.root.display(), "store crashed (simulated)");
    }

    /// Forgets a topic's consume queues and deletes their files (upstream
    /// `cleanUnusedTopic` after a topic is deleted); the commit log keeps its records.
    /// Returns how many queues were dropped.
    ///
    /// # Errors
    /// [`StoreError::ShutDown`] once stopped; the I/O error when the files cannot be removed
    /// (the queues are forgotten anyway).
    pub fn delete_topic_queues(&self, topic: &str) -> StoreResult<usize> {
        if !self.is_running() {
            return Err(StoreError::ShutDown);
        }
        // Puts dispatch under the put lock: holding it keeps a put from writing into a
        // queue whose files are going away.
        let _put = lock(&self.inner.put_lock);
        let Some(queues) = write_lock(&self.inner.queues).remove(topic) else {
            return Ok(0);
        };
        let dir = self.inner.config.consume_queue_dir().join(topic);
        tracing::info!(topic, queues = queues.len(), "deleting consume queues");
        match self.inner.storage.remove_dir_all(&dir) {
            Ok(()) => Ok(queues.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(queues.len()),
            Err(e) => Err(StoreError::io(&dir, e)),
        }
    }

    /// Runs one retention round now, deleting expired commit-log files regardless of the
    /// `deleteWhen` hour (upstream's manual `executeDeleteFilesManually`). Returns how many
    /// commit-log files were deleted.
    pub fn delete_expired_files(&self) -> StoreResult<usize> {
        if !self.is_running() {
            return Err(StoreError::ShutDown);
        }
        super::services::clean(&self.inner, true)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if self.is_running() {
            self.crash();
        }
    }
}

/// Whether the configured flush mode makes puts wait.
pub(crate) fn is_sync(config: &StoreConfig) -> bool {
    config.flush_disk_type == FlushDiskType::SyncFlush
}
