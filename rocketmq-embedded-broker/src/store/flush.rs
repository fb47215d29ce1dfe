//! Flush coordination: group commit for SYNC_FLUSH (upstream `GroupCommitService`) and the
//! progress channel that acknowledging appenders wait on.
//!
//! Appenders under SYNC_FLUSH register the offset they need durable and wait on a
//! `tokio::sync::watch` of the flushed offset. One flusher thread takes every pending request,
//! runs a single flush (one `fdatasync` covers every appender whose bytes were written before
//! it) and publishes the new flushed offset; appenders that arrive meanwhile are covered by
//! the next round.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::segment::lock;

/// What appenders watch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FlushProgress {
    /// Commit-log offset known durable.
    pub(crate) flushed: i64,
    /// Incremented on each failed flush.
    pub(crate) failures: u64,
    /// The offset the last failed flush tried to make durable.
    pub(crate) failed_target: i64,
    /// Set when the store stops (shutdown or crash): no more progress will come.
    pub(crate) stopped: bool,
}

#[derive(Debug, Default)]
struct Requests {
    target: i64,
    stop: bool,
}

#[derive(Debug)]
pub(crate) struct FlushCoordinator {
    requests: Mutex<Requests>,
    cv: Condvar,
    progress: watch::Sender<FlushProgress>,
}

/// How a flush wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitOutcome {
    Flushed,
    Failed,
    Stopped,
}

impl FlushCoordinator {
    pub(crate) fn new(flushed: i64) -> Self {
        let (tx, _rx) = watch::channel(FlushProgress {
            flushed,
            ..FlushProgress::default()
        });
        FlushCoordinator {
            requests: Mutex::new(Requests::default()),
            cv: Condvar::new(),
            progress: tx,
        }
    }

    /// The last published flushed offset.
    pub(crate) fn flushed(&self) -> i64 {
        self.progress.borrow().flushed
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<FlushProgress> {
        self.progress.subscribe()
    }

    /// Asks the group-commit thread to make `target` durable.
    pub(crate) fn request(&self, target: i64) {
        let mut r = lock(&self.requests);
        if target > r.target {
            r.target = target;
        }
        self.cv.notify_one();
    }

    /// Flusher side: waits until a request beyond `flushed` exists, `period` passes, or stop.
    /// Returns `None` on stop, else the requested target (0 if woken by the period).
    pub(crate) fn next_request(&self, flushed: i64, period: Duration) -> Option<i64> {
        let mut r = lock(&self.requests);
        if r.stop {
            return None;
        }
        if r.target <= flushed {
            r = self
                .cv
                .wait_timeout(r, period)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
            if r.stop {
                return None;
            }
        }
        Some(r.target)
    }

    /// Sleeps up to `period` unless stopped; returns false on stop.
    pub(crate) fn pause(&self, period: Duration) -> bool {
        let r = lock(&self.requests);
        if r.stop {
            return false;
        }
        let r = self
            .cv
            .wait_timeout(r, period)
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0);
        !r.stop
    }

    /// Forgets requests a failed flush already answered (their waiters got the failure), so
    /// a persistent fault does not make the flusher spin; later requests stay.
    pub(crate) fn clear_requests_up_to(&self, attempted: i64) {
        let mut r = lock(&self.requests);
        if r.target <= attempted {
            r.target = 0;
        }
    }

    pub(crate) fn stop(&self) {
        lock(&self.requests).stop = true;
        self.cv.notify_all();
    }

    pub(crate) fn publish_flushed(&self, flushed: i64) {
        self.progress.send_modify(|p| {
            if flushed > p.flushed {
                p.flushed = flushed;
            }
        });
    }

    pub(crate) fn publish_failure(&self, target: i64) {
        self.progress.send_modify(|p| {
            p.failures += 1;
            p.failed_target = target;
        });
    }

    pub(crate) fn publish_stopped(&self) {
        self.progress.send_modify(|p| p.stopped = true);
    }

    /// Appender side: waits until `target` is durable, a flush covering it fails, or the store
    /// stops; `None` on timeout.
    /// `seen_failures` is the failure count read right after subscribing, before the request
    /// was made, so a failure published in between is not missed.
    pub(crate) async fn wait_for(
        mut rx: watch::Receiver<FlushProgress>,
        seen_failures: u64,
        target: i64,
        timeout: Duration,
    ) -> Option<WaitOutcome> {
        let fut = rx.wait_for(|p| {
            p.flushed >= target
                || p.stopped
                || (p.failures > seen_failures && p.failed_target >= target)
        });
        match tokio::time::timeout(timeout, fut).await {
            Ok(Ok(p)) => Some(if p.flushed >= target {
                WaitOutcome::Flushed
            } else if p.stopped {
                WaitOutcome::Stopped
            } else {
                WaitOutcome::Failed
            }),
            Ok(Err(_)) => Some(WaitOutcome::Stopped),
            Err(_) => None,
        }
    }
}
