//! Where "now" comes from.
//!
//! Store timestamps, retention ages and the daily deletion hour all read a [`Clock`], so a test
//! (or the broker's fault-injection layer) can drive time instead of sleeping.

use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// A source of wall-clock time in milliseconds since the Unix epoch (UTC), like Java's
/// `System.currentTimeMillis()` that upstream RocketMQ uses for store timestamps.
pub trait Clock: Send + Sync + Debug {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    fn now_millis(&self) -> i64;

    /// For a clock that jumps instead of flowing (a test's [`ManualClock`]): a receiver that
    /// sees every jump, so timers on this clock ([`sleep_until`]) fire when a test moves it
    /// rather than after real time passes. `None` (the default) for clocks that just flow.
    fn jumps(&self) -> Option<watch::Receiver<i64>> {
        None
    }
}

/// Waits until `clock` reads `deadline_millis` or later: real time for the system clock,
/// the next jump past the deadline for a [`ManualClock`].
///
/// # Cancel safety
/// Cancel safe.
pub async fn sleep_until(clock: &dyn Clock, deadline_millis: i64) {
    let mut jumps = clock.jumps();
    loop {
        let now = clock.now_millis();
        if now >= deadline_millis {
            return;
        }
        let wait = Duration::from_millis(u64::try_from(deadline_millis - now).unwrap_or(0));
        match jumps.as_mut() {
            Some(rx) => {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    changed = rx.changed() => {
                        if changed.is_err() {
                            // The clock is gone; real time is all that is left.
                            jumps = None;
                        }
                    }
                }
            }
            None => tokio::time::sleep(wait).await,
        }
    }
}

/// The real-time clock; the default.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to, so tests can age files past the retention time
/// without waiting 72 hours.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
    jumps: watch::Sender<i64>,
}

impl ManualClock {
    /// Starts the clock at `start_millis`.
    pub fn new(start_millis: i64) -> Self {
        ManualClock {
            now: AtomicI64::new(start_millis),
            jumps: watch::Sender::new(start_millis),
        }
    }

    /// Sets the current time.
    pub fn set(&self, millis: i64) {
        self.now.store(millis, Ordering::SeqCst);
        self.jumps.send_replace(millis);
    }

    /// Moves the clock forward by `millis` (backwards if negative).
    pub fn advance(&self, millis: i64) {
        let now = self
            .now
            .fetch_add(millis, Ordering::SeqCst)
            .wrapping_add(millis);
        self.jumps.send_replace(now);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn jumps(&self) -> Option<watch::Receiver<i64>> {
        Some(self.jumps.subscribe())
    }
}

/// Civil date/time in UTC, used for index file names (`yyyyMMddHHmmssSSS`) and the
/// `deleteWhen` hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CivilTime {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    pub(crate) millis: u32,
}

impl CivilTime {
    /// Converts epoch milliseconds (UTC) to a civil date (proleptic Gregorian).
    pub(crate) fn from_millis(ms: i64) -> Self {
        let days = ms.div_euclid(86_400_000);
        let rem = ms.rem_euclid(86_400_000);
        // Howard Hinnant's days-from-civil inverse.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = if m <= 2 { y + 1 } else { y };
        CivilTime {
            year,
            month: m as u32,
            day: d as u32,
            hour: (rem / 3_600_000) as u32,
            minute: (rem / 60_000 % 60) as u32,
            second: (rem / 1000 % 60) as u32,
            millis: (rem % 1000) as u32,
        }
    }

    /// `yyyyMMddHHmmssSSS`, the upstream index file name format.
    pub(crate) fn file_name(&self) -> String {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}{:03}",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millis
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleep_until_wakes_when_a_manual_clock_jumps() {
        let clock = std::sync::Arc::new(ManualClock::new(1_000));
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { sleep_until(&*clock, 61_000).await })
        };
        tokio::task::yield_now().await;
        clock.advance(30_000);
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(30_000);
        tokio::time::timeout(Duration::from_secs(10), sleeper)
            .await
            .expect("woken by the jump")
            .unwrap();
    }

    #[test]
    fn civil_time_matches_known_dates() {
        assert_eq!(CivilTime::from_millis(0).file_name(), "19700101000000000");
        // 2024-02-29T13:45:07.089Z
        assert_eq!(
            CivilTime::from_millis(1_709_214_307_089).file_name(),
            "20240229134507089"
        );
    }
}
