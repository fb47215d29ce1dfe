//! Topic routes as the client uses them (`MQClientInstance.topicRouteData2*`): which
//! queues to publish to, which to consume from, and where each broker lives.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use crate::protocol::body::{BrokerData, TopicRouteData};
use crate::protocol::message::MessageQueue;

const PERM_WRITE: i32 = 2;
const PERM_READ: i32 = 4;

/// A topic's route, digested.
#[derive(Debug)]
pub struct TopicRoute {
    /// The topic.
    pub topic: String,
    /// The name server's answer.
    pub data: TopicRouteData,
    /// Queues a producer may send to, in Java's order.
    pub publish_queues: Vec<MessageQueue>,
    /// Queues a consumer may read, sorted (topic, broker, queue id).
    pub subscribe_queues: Vec<MessageQueue>,
    /// True when built from the default topic because the topic itself is unknown (the
    /// broker will create it on the first send).
    pub from_default_topic: bool,
    /// When the name servers were asked.
    pub fetched_at: std::time::Instant,
    next_queue: AtomicUsize,
}

impl TopicRoute {
    /// Digests `data` for `topic`.
    pub fn new(topic: &str, data: TopicRouteData) -> Self {
        let publish_queues = publish_queues(topic, &data, None);
        let subscribe_queues = subscribe_queues(topic, &data);
        TopicRoute {
            topic: topic.to_owned(),
            data,
            publish_queues,
            subscribe_queues,
            from_default_topic: false,
            fetched_at: std::time::Instant::now(),
            next_queue: AtomicUsize::new(crate::producer::random_start()),
        }
    }

    /// A route for `topic` borrowed from the default topic's route (`TBW102`), with at most
    /// `queue_nums` queues per broker, as the Java producer does for unknown topics.
    pub fn from_default(topic: &str, default: &TopicRouteData, queue_nums: i32) -> Self {
        let mut route = TopicRoute::new(topic, default.clone());
        route.publish_queues = publish_queues(topic, default, Some(queue_nums));
        route.subscribe_queues.clear();
        route.from_default_topic = true;
        route
    }

    /// The master address of `broker_name`.
    pub fn master_addr(&self, broker_name: &str) -> Option<&str> {
        self.broker(broker_name).and_then(BrokerData::master_addr)
    }

    /// Where to read `broker_name`'s queues (pull, offsets): its master, or, when the route
    /// lists no master (it is down), its slave with the lowest id, as upstream's
    /// `findBrokerAddressInSubscribe` does. The flag is true for a slave.
    pub fn read_addr(&self, broker_name: &str) -> Option<(&str, bool)> {
        let broker = self.broker(broker_name)?;
        match broker.master_addr() {
            Some(a) => Some((a, false)),
            None => broker
                .broker_addrs
                .values()
                .next()
                .map(|a| (a.as_str(), true)),
        }
    }

    /// The broker entry named `broker_name`.
    pub fn broker(&self, broker_name: &str) -> Option<&BrokerData> {
        self.data
            .broker_datas
            .iter()
            .find(|b| b.broker_name == broker_name)
    }

    /// Round-robin position for the next send.
    pub(crate) fn next_index(&self) -> usize {
        self.next_queue.fetch_add(1, Ordering::Relaxed)
    }
}

fn publish_queues(topic: &str, data: &TopicRouteData, cap: Option<i32>) -> Vec<MessageQueue> {
    let mut out = Vec::new();
    if let Some(conf) = data.order_topic_conf.as_deref().filter(|c| !c.is_empty()) {
        // "broker-a:4;broker-b:4": ordered topics publish to exactly these queues.
        for item in conf.split(';') {
            if let Some((broker, n)) = item.split_once(':')
                && let Ok(n) = n.trim().parse::<i32>()
            {
                out.extend((0..n).map(|i| MessageQueue::new(topic, broker.trim(), i)));
            }
        }
        return out;
    }
    let mut qds: Vec<_> = data.queue_datas.iter().collect();
    qds.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
    for qd in qds {
        if qd.perm & PERM_WRITE == 0 {
            continue;
        }
        let has_master = data
            .broker_datas
            .iter()
            .any(|b| b.broker_name == qd.broker_name && b.master_addr().is_some());
        if !has_master {
            continue;
        }
        let n = cap.map_or(qd.write_queue_nums, |c| c.min(qd.write_queue_nums));
        out.extend((0..n).map(|i| MessageQueue::new(topic, qd.broker_name.clone(), i)));
    }
    out
}

fn subscribe_queues(topic: &str, data: &TopicRouteData) -> Vec<MessageQueue> {
    let mut out: Vec<MessageQueue> = data
        .queue_datas
        .iter()
        .filter(|qd| qd.perm & PERM_READ != 0)
        .flat_map(|qd| {
            (0..qd.read_queue_nums).map(|i| MessageQueue::new(topic, qd.broker_name.clone(), i))
        })
        .collect();
    out.sort();
    out
}

/// Routes by topic, and broker addresses by broker name (merged from every route).
#[derive(Debug, Default)]
pub(crate) struct RouteCache {
    topics: RwLock<HashMap<String, Arc<TopicRoute>>>,
    brokers: RwLock<HashMap<String, BrokerData>>,
}

impl RouteCache {
    pub(crate) fn get(&self, topic: &str) -> Option<Arc<TopicRoute>> {
        self.topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(topic)
            .cloned()
    }

    pub(crate) fn put(&self, route: Arc<TopicRoute>) {
        {
            let mut brokers = self.brokers.write().unwrap_or_else(|e| e.into_inner());
            for b in &route.data.broker_datas {
                brokers.insert(b.broker_name.clone(), b.clone());
            }
        }
        self.topics
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(route.topic.clone(), route);
    }

    pub(crate) fn topics(&self) -> Vec<String> {
        self.topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Every broker address known, masters first.
    pub(crate) fn all_broker_addrs(&self, masters_only: bool) -> Vec<String> {
        let brokers = self.brokers.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<String> = brokers
            .values()
            .flat_map(|b| b.broker_addrs.iter())
            .filter(|(id, _)| !masters_only || **id == 0)
            .map(|(_, a)| a.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::protocol::body::QueueData;

    fn data() -> TopicRouteData {
        let broker = |name: &str, master: bool| BrokerData {
            broker_name: name.into(),
            cluster: "c".into(),
            broker_addrs: if master {
                BTreeMap::from([(0, format!("{name}:1"))])
            } else {
                BTreeMap::from([(1, format!("{name}:2"))])
            },
            ..Default::default()
        };
        let qd = |name: &str, perm| QueueData {
            broker_name: name.into(),
            perm,
            read_queue_nums: 2,
            write_queue_nums: 3,
            topic_sys_flag: 0,
        };
        TopicRouteData {
            broker_datas: vec![
                broker("b", true),
                broker("a", true),
                broker("slave-only", false),
            ],
            queue_datas: vec![qd("b", 6), qd("a", 6), qd("slave-only", 6), qd("ro", 4)],
            ..Default::default()
        }
    }

    #[test]
    fn publish_queues_need_write_perm_and_a_master() {
        let r = TopicRoute::new("T", data());
        let names: Vec<_> = r
            .publish_queues
            .iter()
            .map(|q| format!("{}:{}", q.broker_name, q.queue_id))
            .collect();
        assert_eq!(names, ["a:0", "a:1", "a:2", "b:0", "b:1", "b:2"]);
        assert_eq!(
            r.subscribe_queues.len(),
            8,
            "readable queues of every broker"
        );
        assert_eq!(r.master_addr("a"), Some("a:1"));
    }

    #[test]
    fn order_topic_conf_wins_and_default_route_is_capped() {
        let mut d = data();
        d.order_topic_conf = Some("x:2;y:1".into());
        let r = TopicRoute::new("T", d);
        let names: Vec<_> = r
            .publish_queues
            .iter()
            .map(|q| format!("{}:{}", q.broker_name, q.queue_id))
            .collect();
        assert_eq!(names, ["x:0", "x:1", "y:0"]);
        let r = TopicRoute::from_default("New", &data(), 2);
        assert_eq!(r.publish_queues.len(), 4);
        assert!(r.publish_queues.iter().all(|q| q.topic == "New"));
        assert!(r.from_default_topic);
    }

    #[test]
    fn reads_go_to_the_master_or_to_the_slave_when_it_is_gone() {
        let mut d = data();
        d.broker_datas[1].broker_addrs.insert(1, "a:2".into());
        let r = TopicRoute::new("T", d);
        assert_eq!(r.read_addr("a"), Some(("a:1", false)), "master first");
        assert_eq!(r.read_addr("slave-only"), Some(("slave-only:2", true)));
        assert_eq!(r.read_addr("unknown"), None);
    }
}
