//! Latency-based broker fault avoidance (`MQFaultStrategy`): a broker whose last send was
//! slow or failed is skipped for a while, as long as other brokers remain.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Upper latency bounds (ms) and the not-available duration (ms) each one earns.
const LATENCY_MAX: [u64; 7] = [50, 100, 550, 1800, 3000, 5000, 15000];
const NOT_AVAILABLE: [u64; 7] = [0, 0, 2000, 5000, 6000, 10000, 30000];
/// A failed send is scored as this latency (10 s of unavailability).
const FAILURE_LATENCY_MS: u64 = 10_000;

/// Remembers, per broker name, until when it should be avoided.
#[derive(Debug, Default)]
pub(crate) struct LatencyFaultTolerance {
    until: Mutex<HashMap<String, Instant>>,
}

impl LatencyFaultTolerance {
    /// The penalty earned by a send that took `latency` (or failed).
    pub(crate) fn penalty(latency: Duration, failed: bool) -> Duration {
        let ms = if failed {
            FAILURE_LATENCY_MS
        } else {
            latency.as_millis() as u64
        };
        let idx = LATENCY_MAX.iter().rposition(|max| ms >= *max);
        Duration::from_millis(idx.map(|i| NOT_AVAILABLE[i]).unwrap_or(0))
    }

    /// Records the outcome of a send to `broker`.
    pub(crate) fn record(&self, broker: &str, latency: Duration, failed: bool) {
        let penalty = Self::penalty(latency, failed);
        let mut map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        if penalty.is_zero() {
            map.remove(broker);
        } else {
            map.insert(broker.to_owned(), Instant::now() + penalty);
        }
    }

    /// Whether `broker` may be used now.
    pub(crate) fn is_available(&self, broker: &str) -> bool {
        let map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        map.get(broker).is_none_or(|until| Instant::now() >= *until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalty_table_matches_java() {
        let p = |ms| LatencyFaultTolerance::penalty(Duration::from_millis(ms), false);
        assert_eq!(p(10), Duration::ZERO);
        assert_eq!(p(99), Duration::ZERO);
        assert_eq!(p(550), Duration::from_millis(2000));
        assert_eq!(p(2000), Duration::from_millis(5000));
        assert_eq!(p(20_000), Duration::from_millis(30_000));
        assert_eq!(
            LatencyFaultTolerance::penalty(Duration::ZERO, true),
            Duration::from_millis(10_000)
        );
    }

    #[test]
    fn failed_broker_is_avoided_until_a_good_send() {
        let f = LatencyFaultTolerance::default();
        assert!(f.is_available("a"));
        f.record("a", Duration::ZERO, true);
        assert!(!f.is_available("a"));
        assert!(f.is_available("b"));
        f.record("a", Duration::from_millis(1), false);
        assert!(f.is_available("a"));
    }
}
