//! The hook that gives `SCHEDULE_TOPIC_XXXX` consume-queue units their tags code: the delivery
//! time instead of a tag hash (upstream `CommitLog.checkMessageAndReturnSize` +
//! `ScheduleMessageService.computeDeliverTimestamp`). The schedule service itself lives in the
//! broker; the store only needs this number.

use std::fmt::Debug;

/// The schedule topic's name.
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";

/// Computes a delayed message's delivery time.
pub trait ScheduleHook: Send + Sync + Debug {
    /// Delivery time in epoch milliseconds for a message stored at `store_timestamp` with delay
    /// level `delay_level` (already clamped to `1..=max`).
    fn delivery_time(&self, delay_level: i32, store_timestamp: i64) -> i64;
    /// The highest delay level; larger levels are clamped to it.
    fn max_level(&self) -> i32;
}

/// Parsed `messageDelayLevel`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayLevelTable {
    delays_ms: Vec<i64>,
}

impl DelayLevelTable {
    /// Upstream's default levels 1..=18.
    pub const DEFAULT_LEVELS: &'static str =
        "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

    /// Parses a space-separated list of `<n><unit>` with units `s`, `m`, `h`, `d` (as
    /// upstream) and `ms`.
    pub fn parse(levels: &str) -> Option<Self> {
        let mut delays_ms = Vec::new();
        for item in levels.split_whitespace() {
            // `ms` is an extension of this broker (tests want millisecond ladders).
            let unit_len = if item.ends_with("ms") { 2 } else { 1 };
            let (num, unit) = item.split_at(item.len().checked_sub(unit_len)?);
            let n: i64 = num.parse().ok()?;
            let mult = match unit {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return None,
            };
            delays_ms.push(n.checked_mul(mult)?);
        }
        if delays_ms.is_empty() {
            None
        } else {
            Some(DelayLevelTable { delays_ms })
        }
    }

    /// Delay of `level` (1-based) in milliseconds.
    pub fn delay_ms(&self, level: i32) -> Option<i64> {
        let idx = usize::try_from(level).ok()?.checked_sub(1)?;
        self.delays_ms.get(idx).copied()
    }
}

impl Default for DelayLevelTable {
    fn default() -> Self {
        Self::parse(Self::DEFAULT_LEVELS).unwrap_or(DelayLevelTable {
            delays_ms: vec![1000],
        })
    }
}

impl ScheduleHook for DelayLevelTable {
    fn delivery_time(&self, delay_level: i32, store_timestamp: i64) -> i64 {
        match self.delay_ms(delay_level) {
            Some(d) => store_timestamp.saturating_add(d),
            None => store_timestamp.saturating_add(1000),
        }
    }

    fn max_level(&self) -> i32 {
        i32::try_from(self.delays_ms.len()).unwrap_or(i32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_levels() {
        let t = DelayLevelTable::default();
        assert_eq!(t.max_level(), 18);
        assert_eq!(t.delay_ms(1), Some(1000));
        assert_eq!(t.delay_ms(5), Some(60_000));
        assert_eq!(t.delay_ms(18), Some(7_200_000));
        assert_eq!(t.delivery_time(3, 1000), 11_000);
        assert!(DelayLevelTable::parse("1x").is_none());
        let ms = DelayLevelTable::parse("10ms 2s").unwrap();
        assert_eq!(ms.delay_ms(1), Some(10));
        assert_eq!(ms.delay_ms(2), Some(2000));
        assert!(DelayLevelTable::parse("ms").is_none());
        assert!(DelayLevelTable::parse("").is_none());
    }
}
