//! Retention policy: when commit-log files may be deleted (upstream
//! `DefaultMessageStore.CleanCommitLogService`), and the disk usage probe it consults.
//!
//! A commit-log file is *expired* when its last write is older than `fileReservedTime`. The
//! store dates a file by the store timestamp of the first record of the *next* file (the file
//! was complete when that record was written), so the age follows the store's [`Clock`]
//! rather than file-system mtimes and tests can drive it. Expired files are deleted when the
//! hour is in `deleteWhen`, when disk use is above `diskMaxUsedSpaceRatio`, or on a manual
//! trigger; above `diskSpaceCleanForciblyRatio` the oldest files go even unexpired. The newest
//! file is never deleted.
//!
//! [`Clock`]: super::clock::Clock

use std::fmt::Debug;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

/// Reports how full the disk holding the store is.
pub trait DiskUsageProbe: Send + Sync + Debug {
    /// Used fraction `0.0..=1.0` of the file system holding `path`; `None` if unknown.
    fn used_ratio(&self, path: &Path) -> Option<f64>;
}

/// The real probe: `statvfs`, `(blocks - free) / blocks` like Java's
/// `(getTotalSpace() - getFreeSpace()) / getTotalSpace()`.
#[derive(Debug, Default, Clone, Copy)]
pub struct StatvfsProbe;

impl DiskUsageProbe for StatvfsProbe {
    fn used_ratio(&self, path: &Path) -> Option<f64> {
        let st = rustix::fs::statvfs(path).ok()?;
        if st.f_blocks == 0 {
            return None;
        }
        Some((st.f_blocks.saturating_sub(st.f_bfree)) as f64 / st.f_blocks as f64)
    }
}

/// A probe that reports whatever a test sets.
#[derive(Debug, Default)]
pub struct FixedDiskUsage {
    per_mille: AtomicU32,
}

impl FixedDiskUsage {
    /// Starts at `percent` used.
    pub fn new(percent: u32) -> Self {
        let p = FixedDiskUsage::default();
        p.set_percent(percent);
        p
    }

    /// Sets the reported usage.
    pub fn set_percent(&self, percent: u32) {
        self.per_mille
            .store(percent.min(100) * 10, Ordering::SeqCst);
    }
}

impl DiskUsageProbe for FixedDiskUsage {
    fn used_ratio(&self, _path: &Path) -> Option<f64> {
        Some(f64::from(self.per_mille.load(Ordering::SeqCst)) / 1000.0)
    }
}

/// Parses `deleteWhen` ("04", "04;16"): hours 0..=23.
pub(crate) fn parse_delete_when(s: &str) -> Option<Vec<u32>> {
    let mut hours = Vec::new();
    for part in s.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let h: u32 = part.parse().ok()?;
        if h > 23 {
            return None;
        }
        hours.push(h);
    }
    Some(hours)
}

/// Why a cleaning round deletes files; `None` from [`decide`] means it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CleanReason {
    Manual,
    DeleteHour,
    DiskFull,
    Forced,
}

impl CleanReason {
    /// Whether unexpired files may go too.
    pub(crate) fn ignores_age(self) -> bool {
        matches!(self, CleanReason::Forced)
    }
}

/// Decides whether this round deletes, given the UTC hour, disk use and a manual trigger.
pub(crate) fn decide(
    hour: u32,
    delete_hours: &[u32],
    used_ratio: Option<f64>,
    max_used_percent: u32,
    force_percent: u32,
    manual: bool,
) -> Option<CleanReason> {
    let used = used_ratio.unwrap_or(0.0) * 100.0;
    if used > f64::from(force_percent) {
        return Some(CleanReason::Forced);
    }
    if manual {
        return Some(CleanReason::Manual);
    }
    if used > f64::from(max_used_percent) {
        return Some(CleanReason::DiskFull);
    }
    if delete_hours.contains(&hour) {
        return Some(CleanReason::DeleteHour);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let hours = parse_delete_when("04;16").unwrap();
        assert_eq!(hours, vec![4, 16]);
        assert!(parse_delete_when("25").is_none());
        assert_eq!(decide(3, &hours, Some(0.5), 75, 85, false), None);
        assert_eq!(
            decide(4, &hours, Some(0.5), 75, 85, false),
            Some(CleanReason::DeleteHour)
        );
        assert_eq!(
            decide(3, &hours, Some(0.8), 75, 85, false),
            Some(CleanReason::DiskFull)
        );
        assert_eq!(
            decide(3, &hours, Some(0.9), 75, 85, false),
            Some(CleanReason::Forced)
        );
        assert_eq!(
            decide(3, &hours, None, 75, 85, true),
            Some(CleanReason::Manual)
        );
    }
}
