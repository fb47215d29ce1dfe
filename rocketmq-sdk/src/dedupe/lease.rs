//! Lease renewal while a handler runs: [`renew_while`] (in the handler's own task, what
//! the [`Deduplicator`](super::Deduplicator) uses) and [`LeaseKeeper`] (a spawned task, for
//! code that drives a [`DedupeGuard`] by hand).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::guard::{DedupeGuard, Lease};

/// What a [`LeaseKeeper`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RenewalReport {
    /// Successful renewals.
    pub renewals: u64,
    /// Renewals that failed with a backend error (retried at the next interval).
    pub failures: u64,
    /// Whether a renewal found the claim taken over or finished.
    pub lost: bool,
}

/// Runs `work` while renewing `lease` on `guard` every `interval`, in the same task (no
/// spawn): the renewals are polled alongside `work`. A renewal that fails with a backend
/// error or exceeds `op_timeout` is logged and tried again at the next interval; one that
/// finds the claim lost is logged and renewal ends. When `work` finishes, a renewal in
/// flight is awaited (not cancelled), so no renewal reaches the backend after this returns.
///
/// # Cancel safety
///
/// Dropping the future drops `work` and any renewal in flight; the claim then expires one
/// lease period after its last renewal.
pub async fn renew_while<G, F>(
    guard: &G,
    lease: &Lease,
    interval: Duration,
    op_timeout: Duration,
    work: F,
) -> (F::Output, RenewalReport)
where
    G: DedupeGuard + ?Sized,
    F: Future,
{
    let mut report = RenewalReport::default();
    let mut work = pin!(work);
    let sleep = tokio::time::sleep(interval);
    let mut sleep = pin!(sleep);
    let mut renewal = None;
    let output = loop {
        tokio::select! {
            biased;
            out = &mut work => break out,
            res = async { renewal.as_mut().expect("guarded").await }, if renewal.is_some() => {
                renewal = None;
                if note_renewal(&mut report, lease, op_timeout, res) {
                    sleep.as_mut().reset(tokio::time::Instant::now() + interval);
                }
            }
            () = &mut sleep, if renewal.is_none() && !report.lost => {
                renewal = Some(Box::pin(tokio::time::timeout(op_timeout, guard.renew(lease))));
            }
        }
    };
    if let Some(r) = renewal {
        note_renewal(&mut report, lease, op_timeout, r.await);
    }
    (output, report)
}

/// Records a renewal result; returns whether renewal should go on.
fn note_renewal(
    report: &mut RenewalReport,
    lease: &Lease,
    op_timeout: Duration,
    res: Result<Result<(), super::DedupeError>, tokio::time::error::Elapsed>,
) -> bool {
    match res {
        Ok(Ok(())) => {
            report.renewals += 1;
            debug!(key = %lease.key(), "dedupe lease renewed");
            true
        }
        Ok(Err(e)) if e.is_lease_lost() => {
            report.lost = true;
            warn!(key = %lease.key(), "dedupe lease lost while the handler runs: another consumer may take the message over");
            false
        }
        Ok(Err(e)) => {
            report.failures += 1;
            warn!(key = %lease.key(), error = %e, "dedupe lease renewal failed; retrying at the next interval");
            true
        }
        Err(_) => {
            report.failures += 1;
            warn!(key = %lease.key(), timeout = ?op_timeout, "dedupe lease renewal timed out; retrying at the next interval");
            true
        }
    }
}

/// Renews a [`Lease`] every `interval` in a spawned task until stopped.
///
/// A renewal that fails with a backend error (or takes longer than the operation timeout)
/// is logged and tried again at the next interval; a renewal that finds the claim lost
/// (taken over after it expired) is logged and ends the keeper — the holder will then
/// fail to complete the lease. Dropping the keeper stops renewal at once (an in-flight
/// renewal is abandoned); [`LeaseKeeper::stop`] lets an in-flight renewal finish first.
#[derive(Debug)]
pub struct LeaseKeeper {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<RenewalReport>>,
    lost: Arc<AtomicBool>,
}

impl LeaseKeeper {
    /// Starts renewing `lease` on `guard` every `interval`, each renewal bounded by
    /// `op_timeout`. Must be called within a tokio runtime.
    pub fn spawn(
        guard: Arc<dyn DedupeGuard>,
        lease: Lease,
        interval: Duration,
        op_timeout: Duration,
    ) -> Self {
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let lost = Arc::new(AtomicBool::new(false));
        let lost_flag = lost.clone();
        let task = tokio::spawn(async move {
            let mut report = RenewalReport::default();
            loop {
                tokio::select! {
                    biased;
                    _ = &mut stop_rx => break,
                    () = tokio::time::sleep(interval) => {}
                }
                let res = tokio::time::timeout(op_timeout, guard.renew(&lease)).await;
                if !note_renewal(&mut report, &lease, op_timeout, res) {
                    lost_flag.store(true, Ordering::Release);
                    break;
                }
            }
            report
        });
        LeaseKeeper {
            stop: Some(stop_tx),
            task: Some(task),
            lost,
        }
    }

    /// Whether a renewal found the claim lost.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }

    /// Stops renewing, after an in-flight renewal finishes.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped, the keeper is dropped and the renewal task aborted.
    pub async fn stop(mut self) -> RenewalReport {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or_default(),
            None => RenewalReport::default(),
        }
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
