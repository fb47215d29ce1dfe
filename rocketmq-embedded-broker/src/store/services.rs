//! Background threads: the commit-log flusher (ASYNC_FLUSH) or group commit (SYNC_FLUSH), the
//! consume-queue/index flusher that also writes the checkpoint, and the retention cleaner.
//! Plain threads, not tasks: they block on `fdatasync`.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::clock::CivilTime;
use super::error::StoreResult;
use super::message_store::{Inner, is_sync};
use super::retention;
use super::segment::{PAGE_SIZE, lock};

/// Unflushed commit-log bytes at which an ASYNC_FLUSH appender wakes the flusher early.
pub(crate) const EAGER_FLUSH_BYTES: u64 = 8 << 20;

/// Wakes sleeping service threads on shutdown.
#[derive(Debug, Default)]
pub(crate) struct Stopper {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl Stopper {
    /// Sleeps up to `d`; false once stopped.
    fn sleep(&self, d: Duration) -> bool {
        let g = lock(&self.stopped);
        if *g {
            return false;
        }
        let g = self
            .cv
            .wait_timeout(g, d)
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0);
        !*g
    }

    fn stop(&self) {
        *lock(&self.stopped) = true;
        self.cv.notify_all();
    }
}

pub(crate) fn stop_signal(inner: &Inner) {
    inner.stopper.stop();
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Option<JoinHandle<()>> {
    match std::thread::Builder::new().name(name.to_owned()).spawn(f) {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::error!(thread = name, error = %e, "could not start store thread");
            None
        }
    }
}

pub(crate) fn start(inner: &Arc<Inner>) -> Vec<JoinHandle<()>> {
    let mut threads = Vec::new();
    let i = inner.clone();
    threads.extend(if is_sync(&inner.config) {
        spawn("store-group-commit", move || group_commit(&i))
    } else {
        spawn("store-flush-commitlog", move || async_flush(&i))
    });
    let i = inner.clone();
    threads.extend(spawn("store-flush-logics", move || logics_flush(&i)));
    let i = inner.clone();
    threads.extend(spawn("store-clean", move || {
        while i.stopper.sleep(i.config.clean_resource_interval) {
            if let Err(e) = clean(&i, false) {
                tracing::error!(error = %e, "retention round failed");
            }
        }
    }));
    threads
}

fn flush_commit_log(inner: &Inner) -> bool {
    let ts = inner.commit_log.last_store_ts();
    let target = inner.commit_log.max_offset();
    match inner.commit_log.flush() {
        Ok(flushed) => {
            inner.physic_ts_flushed.fetch_max(ts, Ordering::AcqRel);
            inner.flush.publish_flushed(flushed);
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "commit log flush failed");
            inner.flush.publish_failure(target);
            inner.flush.clear_requests_up_to(target);
            false
        }
    }
}

/// GroupCommitService: one flush per round covers every waiting appender.
fn group_commit(inner: &Inner) {
    loop {
        let flushed = inner.commit_log.flushed_offset();
        let Some(_target) = inner
            .flush
            .next_request(flushed, inner.config.flush_interval_commit_log)
        else {
            return;
        };
        if inner.commit_log.segments().unflushed_bytes() == 0 {
            inner
                .flush
                .publish_flushed(inner.commit_log.flushed_offset());
            continue;
        }
        if !flush_commit_log(inner) && !inner.flush.pause(Duration::from_millis(10)) {
            return;
        }
    }
}

/// FlushRealTimeService: every interval, flush if enough pages are dirty or a thorough flush
/// is due.
///
/// Besides the interval, appenders wake it once [`EAGER_FLUSH_BYTES`] are unflushed: flushing
/// more often than upstream keeps the page cache (and the crash loss window) small and its
/// buffers recycled, instead of piling up half a second of data.
fn async_flush(inner: &Inner) {
    let cfg = &inner.config;
    let mut last_thorough = Instant::now();
    let mut next_tick = Instant::now() + cfg.flush_interval_commit_log;
    loop {
        let flushed = inner.commit_log.flushed_offset();
        let wait = next_tick.saturating_duration_since(Instant::now());
        let Some(requested) = inner.flush.next_request(flushed, wait) else {
            return;
        };
        if requested > flushed {
            flush_commit_log(inner);
            if Instant::now() < next_tick {
                continue;
            }
        }
        if Instant::now() < next_tick {
            continue;
        }
        next_tick = Instant::now() + cfg.flush_interval_commit_log;
        let thorough = last_thorough.elapsed() >= cfg.flush_commit_log_thorough_interval;
        let least = if thorough {
            0
        } else {
            u64::from(cfg.flush_commit_log_least_pages) * PAGE_SIZE
        };
        let dirty = inner.commit_log.segments().unflushed_bytes();
        if dirty > 0 && dirty >= least {
            flush_commit_log(inner);
        }
        if thorough {
            last_thorough = Instant::now();
        }
    }
}

/// FlushConsumeQueueService + index flush + checkpoint.
fn logics_flush(inner: &Inner) {
    let cfg = &inner.config;
    let mut last_thorough = Instant::now();
    while inner.stopper.sleep(cfg.flush_interval_consume_queue) {
        let thorough = last_thorough.elapsed() >= cfg.flush_consume_queue_thorough_interval;
        if thorough {
            last_thorough = Instant::now();
        }
        flush_logics(inner, thorough);
    }
}

pub(crate) fn flush_logics(inner: &Inner, thorough: bool) {
    let cfg = &inner.config;
    let logics_ts = inner.last_dispatch_ts.load(Ordering::Acquire);
    let index_ts = inner.last_index_ts.load(Ordering::Acquire);
    let least = u64::from(cfg.flush_consume_queue_least_pages) * PAGE_SIZE;
    let mut all_ok = true;
    for cq in inner.all_queues() {
        let dirty = cq.segments().unflushed_bytes();
        if dirty == 0 || (!thorough && dirty < least) {
            continue;
        }
        if let Err(e) = cq.flush() {
            tracing::error!(topic = cq.topic(), queue = cq.queue_id(), error = %e, "consume queue flush failed");
            all_ok = false;
        }
    }
    let index_ok = match inner.index.flush() {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "index flush failed");
            false
        }
    };
    let physic_ts = inner.physic_ts_flushed.load(Ordering::Acquire);
    inner.checkpoint.update(|v| {
        v.physic_msg_timestamp = v.physic_msg_timestamp.max(physic_ts);
        if index_ok {
            v.index_msg_timestamp = v.index_msg_timestamp.max(index_ts);
        }
        // Only a thorough round flushed every queue, so only it may vouch for all of them.
        if thorough && all_ok {
            v.logics_msg_timestamp = v.logics_msg_timestamp.max(logics_ts);
        }
    });
    if let Err(e) = inner.checkpoint.flush() {
        tracing::error!(error = %e, "checkpoint flush failed");
    }
}

/// One retention round. Returns how many commit-log files were deleted.
pub(crate) fn clean(inner: &Inner, manual: bool) -> StoreResult<usize> {
    let cfg = &inner.config;
    let now = inner.now();
    let hour = CivilTime::from_millis(now).hour;
    let used = cfg.disk_probe.used_ratio(&cfg.root);
    let warn = used.is_some_and(|u| u * 100.0 > f64::from(cfg.disk_space_warning_level_ratio));
    if warn != inner.disk_full.swap(warn, Ordering::AcqRel) {
        if warn {
            tracing::warn!(used = ?used, "disk above warning ratio, refusing puts");
        } else {
            tracing::info!(used = ?used, "disk below warning ratio, accepting puts");
        }
    }
    let reason = retention::decide(
        hour,
        &inner.delete_hours,
        used,
        cfg.disk_max_used_space_ratio,
        cfg.disk_space_clean_forcibly_ratio,
        manual,
    );
    let mut deleted = 0;
    if let Some(reason) = reason {
        let reserved = i64::try_from(cfg.file_reserved_time.as_millis()).unwrap_or(i64::MAX);
        deleted = inner.commit_log.delete_expired(
            now,
            reserved,
            cfg.delete_file_batch_max,
            reason.ignores_age(),
        )?;
        if deleted > 0 {
            tracing::info!(deleted, ?reason, "deleted commit log files");
        }
    }
    let min = inner.commit_log.min_offset();
    for cq in inner.all_queues() {
        cq.delete_expired(min, cfg.delete_file_batch_max)?;
        cq.correct_min_offset(min)?;
    }
    inner.index.delete_expired(min)?;
    Ok(deleted)
}
