//! Queue allocation strategies (`client/consumer/rebalance/*`): which of a topic's queues
//! one consumer of a group takes. Every member computes its own share from the same
//! sorted inputs, so the strategies must be deterministic and agree with the Java client's
//! when Java and Rust consumers share a group.

use std::collections::BTreeMap;
use std::fmt;

use crate::protocol::message::MessageQueue;

/// A queue allocation strategy (`AllocateMessageQueueStrategy`).
///
/// `mq_all` is sorted (topic, broker name, queue id) and `cid_all` sorted as strings
/// before the call; the result is the share of `current_cid`, empty when `current_cid`
/// is not among `cid_all` (the broker does not know this consumer yet) or either list is
/// empty.
pub trait AllocateStrategy: Send + Sync + fmt::Debug {
    /// The strategy's name, as Java's `getName()`.
    fn name(&self) -> &str;

    /// The queues `current_cid` should consume.
    fn allocate(
        &self,
        group: &str,
        current_cid: &str,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Vec<MessageQueue>;
}

fn index_of(current_cid: &str, mq_all: &[MessageQueue], cid_all: &[String]) -> Option<usize> {
    if current_cid.is_empty() || mq_all.is_empty() {
        return None;
    }
    cid_all.iter().position(|c| c == current_cid)
}

/// Contiguous blocks, the first `|mq| % |cid|` consumers taking one more (`"AVG"`, the
/// default; `AllocateMessageQueueAveragely`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Averagely;

impl AllocateStrategy for Averagely {
    fn name(&self) -> &str {
        "AVG"
    }

    fn allocate(
        &self,
        _group: &str,
        current_cid: &str,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Vec<MessageQueue> {
        let Some(index) = index_of(current_cid, mq_all, cid_all) else {
            return Vec::new();
        };
        let (n, c) = (mq_all.len(), cid_all.len());
        let modulo = n % c;
        let extra = modulo > 0 && index < modulo;
        let average = if n <= c {
            1
        } else if extra {
            n / c + 1
        } else {
            n / c
        };
        let start = if extra {
            index * average
        } else {
            index * average + modulo
        };
        let range = average.min(n.saturating_sub(start));
        mq_all[start.min(n)..start.min(n) + range].to_vec()
    }
}

/// Round-robin: queue `i` goes to consumer `i % |cid|` (`"AVG_BY_CIRCLE"`;
/// `AllocateMessageQueueAveragelyByCircle`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AveragelyByCircle;

impl AllocateStrategy for AveragelyByCircle {
    fn name(&self) -> &str {
        "AVG_BY_CIRCLE"
    }

    fn allocate(
        &self,
        _group: &str,
        current_cid: &str,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Vec<MessageQueue> {
        let Some(index) = index_of(current_cid, mq_all, cid_all) else {
            return Vec::new();
        };
        mq_all
            .iter()
            .enumerate()
            .filter(|(i, _)| i % cid_all.len() == index)
            .map(|(_, q)| q.clone())
            .collect()
    }
}

/// A fixed list of queues, whatever the group looks like (`"CONFIG"`;
/// `AllocateMessageQueueByConfig`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ByConfig {
    /// The queues this consumer takes.
    pub queues: Vec<MessageQueue>,
}

impl ByConfig {
    /// A strategy that always answers `queues`.
    pub fn new(queues: impl IntoIterator<Item = MessageQueue>) -> Self {
        ByConfig {
            queues: queues.into_iter().collect(),
        }
    }
}

impl AllocateStrategy for ByConfig {
    fn name(&self) -> &str {
        "CONFIG"
    }

    fn allocate(
        &self,
        _group: &str,
        _current_cid: &str,
        _mq_all: &[MessageQueue],
        _cid_all: &[String],
    ) -> Vec<MessageQueue> {
        self.queues.clone()
    }
}

/// A consistent-hash ring of consumers (`"CONSISTENT_HASH"`;
/// `AllocateMessageQueueConsistentHash` with `ConsistentHashRouter`): each consumer
/// contributes `virtual_nodes` points keyed `"<cid>-<i>"`, a queue goes to the first point
/// at or after the hash of its `toString()` (`MessageQueue [topic=…, brokerName=…,
/// queueId=…]`), wrapping around. The hash is the first four bytes of the key's MD5
/// digest as a big-endian unsigned number, as Java's default `MD5Hash`. Queues move
/// little when consumers come and go.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ConsistentHash {
    /// Points per consumer on the ring. Default 10, as Java.
    pub virtual_nodes: usize,
}

impl Default for ConsistentHash {
    fn default() -> Self {
        ConsistentHash { virtual_nodes: 10 }
    }
}

impl ConsistentHash {
    /// A ring with `virtual_nodes` points per consumer.
    pub fn new(virtual_nodes: usize) -> Self {
        ConsistentHash { virtual_nodes }
    }

    /// Java's `MD5Hash.hash`: the first four digest bytes, big-endian, as a non-negative
    /// number.
    pub fn hash(key: &str) -> u64 {
        let digest = md5::compute(key.as_bytes());
        digest.0[..4]
            .iter()
            .fold(0u64, |h, b| (h << 8) | u64::from(*b))
    }

    /// The ring: hash → consumer id. Later points replace earlier ones on a collision, as
    /// Java's `TreeMap.put`.
    fn ring<'a>(&self, cid_all: &'a [String]) -> BTreeMap<u64, &'a str> {
        let mut ring = BTreeMap::new();
        for cid in cid_all {
            for i in 0..self.virtual_nodes {
                ring.insert(Self::hash(&format!("{cid}-{i}")), cid.as_str());
            }
        }
        ring
    }
}

impl AllocateStrategy for ConsistentHash {
    fn name(&self) -> &str {
        "CONSISTENT_HASH"
    }

    fn allocate(
        &self,
        _group: &str,
        current_cid: &str,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Vec<MessageQueue> {
        if index_of(current_cid, mq_all, cid_all).is_none() {
            return Vec::new();
        }
        let ring = self.ring(cid_all);
        let owner = |mq: &MessageQueue| -> Option<&str> {
            let h = Self::hash(&mq.to_string());
            ring.range(h..)
                .next()
                .or_else(|| ring.iter().next())
                .map(|(_, c)| *c)
        };
        mq_all
            .iter()
            .filter(|mq| owner(mq) == Some(current_cid))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queues(n: i32) -> Vec<MessageQueue> {
        (0..n).map(|i| MessageQueue::new("T", "b", i)).collect()
    }

    fn cids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn every_strategy_partitions() {
        let strategies: [&dyn AllocateStrategy; 3] =
            [&Averagely, &AveragelyByCircle, &ConsistentHash::default()];
        for s in strategies {
            for n in 0..12 {
                for c in 1..6 {
                    let mq = queues(n);
                    let cid = cids(c);
                    let mut all: Vec<_> = cid
                        .iter()
                        .flat_map(|me| s.allocate("g", me, &mq, &cid))
                        .collect();
                    all.sort();
                    assert_eq!(all, mq, "{} n={n} c={c}", s.name());
                }
            }
        }
    }

    #[test]
    fn unknown_consumer_gets_nothing() {
        assert!(
            Averagely
                .allocate("g", "x", &queues(4), &cids(2))
                .is_empty()
        );
        assert!(
            ConsistentHash::default()
                .allocate("g", "x", &queues(4), &cids(2))
                .is_empty()
        );
    }
}
