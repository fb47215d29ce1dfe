//! The name server's route table (upstream `RouteInfoManager`): which brokers exist, in
//! which cluster, and which topics each master serves with how many queues.
//!
//! Brokers in this process register directly (no socket, no expiry: they unregister when
//! they stop); brokers elsewhere register over TCP and expire like upstream, after their
//! heartbeat timeout (default 120 s) or when their connection closes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rocketmq_sdk::protocol::body::register::{DataVersion, TopicConfig};
use rocketmq_sdk::protocol::body::route::MASTER_ID;
use rocketmq_sdk::protocol::body::{BrokerData, ClusterInfo, QueueData, TopicRouteData};
use tracing::info;

use crate::server::ChannelId;
use crate::store::Clock;

/// Upstream `DEFAULT_BROKER_CHANNEL_EXPIRED_TIME`: a broker that has not registered for this
/// long is dropped.
pub const DEFAULT_BROKER_EXPIRY_MILLIS: i64 = 120_000;

/// One broker's registration: who it is and what topics it serves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BrokerRegistration {
    /// Cluster name.
    pub cluster_name: String,
    /// Broker (group) name, e.g. `broker-a`.
    pub broker_name: String,
    /// Address clients connect to, `ip:port`.
    pub broker_addr: String,
    /// 0 for the master, ≥ 1 for slaves.
    pub broker_id: i64,
    /// HA address (slaves replicate from it).
    pub ha_server_addr: String,
    /// Version of the topic table; an unchanged version with a non-first registration
    /// leaves the queue data alone, as upstream.
    pub data_version: DataVersion,
    /// Every topic the broker serves.
    pub topics: Vec<TopicConfig>,
    /// How long the registration lives without a renewal; `None` never expires (brokers in
    /// this process).
    pub heartbeat_timeout_millis: Option<i64>,
    /// The connection it registered over, so that closing it drops the broker.
    pub channel: Option<ChannelId>,
    /// `__ZONE_NAME`, if sent.
    pub zone_name: Option<String>,
    /// Acting-master mode flag.
    pub enable_acting_master: bool,
}

impl BrokerRegistration {
    /// A master registration (id 0) with no topics yet.
    pub fn master(
        cluster_name: impl Into<String>,
        broker_name: impl Into<String>,
        broker_addr: impl Into<String>,
    ) -> Self {
        let broker_addr = broker_addr.into();
        BrokerRegistration {
            cluster_name: cluster_name.into(),
            broker_name: broker_name.into(),
            ha_server_addr: broker_addr.clone(),
            broker_addr,
            broker_id: MASTER_ID,
            data_version: DataVersion::default(),
            topics: Vec::new(),
            heartbeat_timeout_millis: None,
            channel: None,
            zone_name: None,
            enable_acting_master: false,
        }
    }
}

/// What a registration tells the broker back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegisterResult {
    /// The master's HA address (for slaves).
    pub ha_server_addr: Option<String>,
    /// The master's address (for slaves).
    pub master_addr: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct AddrKey {
    cluster: String,
    addr: String,
}

#[derive(Debug, Clone)]
struct LiveInfo {
    last_update: i64,
    timeout: Option<i64>,
    data_version: DataVersion,
    channel: Option<ChannelId>,
    ha_server_addr: String,
}

#[derive(Debug, Default)]
struct Tables {
    /// topic → broker name → queue data.
    topic_queue: BTreeMap<String, BTreeMap<String, QueueData>>,
    /// broker name → broker data.
    broker_addr: BTreeMap<String, BrokerData>,
    /// cluster → broker names.
    cluster_addr: BTreeMap<String, BTreeSet<String>>,
    live: HashMap<AddrKey, LiveInfo>,
}

/// The route table. Share it behind an `Arc`.
pub struct RouteTable {
    tables: RwLock<Tables>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.read();
        f.debug_struct("RouteTable")
            .field("brokers", &t.broker_addr.keys().collect::<Vec<_>>())
            .field("topics", &t.topic_queue.len())
            .finish()
    }
}

impl RouteTable {
    /// An empty table reading time from `clock` (for expiry).
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        RouteTable {
            tables: RwLock::new(Tables::default()),
            clock,
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers (or renews) a broker and, for a master whose topic table is new or
    /// changed, replaces the queue data of its topics.
    pub fn register_broker(&self, reg: BrokerRegistration) -> RegisterResult {
        let now = self.clock.now_millis();
        let mut t = self.write();
        t.cluster_addr
            .entry(reg.cluster_name.clone())
            .or_default()
            .insert(reg.broker_name.clone());

        let mut register_first = false;
        let broker = t
            .broker_addr
            .entry(reg.broker_name.clone())
            .or_insert_with(|| {
                register_first = true;
                BrokerData {
                    cluster: reg.cluster_name.clone(),
                    broker_name: reg.broker_name.clone(),
                    ..BrokerData::default()
                }
            });
        broker.cluster = reg.cluster_name.clone();
        broker.enable_acting_master = reg.enable_acting_master;
        if reg.zone_name.is_some() {
            broker.zone_name = reg.zone_name.clone();
        }
        // The same address under another id (a slave promoted to master) is replaced.
        broker
            .broker_addrs
            .retain(|id, addr| *addr != reg.broker_addr || *id == reg.broker_id);
        let previous = broker
            .broker_addrs
            .insert(reg.broker_id, reg.broker_addr.clone());
        register_first |= previous.is_none();

        let key = AddrKey {
            cluster: reg.cluster_name.clone(),
            addr: reg.broker_addr.clone(),
        };
        let changed = t
            .live
            .get(&key)
            .is_none_or(|l| l.data_version != reg.data_version);
        if reg.broker_id == MASTER_ID && (register_first || changed) {
            let served: BTreeSet<&str> = reg.topics.iter().map(|c| c.topic_name.as_str()).collect();
            // Topics the broker no longer has lose its queues.
            let stale: Vec<String> = t
                .topic_queue
                .iter()
                .filter(|(topic, queues)| {
                    queues.contains_key(&reg.broker_name) && !served.contains(topic.as_str())
                })
                .map(|(topic, _)| topic.clone())
                .collect();
            for topic in stale {
                remove_broker_from_topic(&mut t.topic_queue, &topic, &reg.broker_name);
            }
            for config in &reg.topics {
                t.topic_queue
                    .entry(config.topic_name.clone())
                    .or_default()
                    .insert(
                        reg.broker_name.clone(),
                        QueueData {
                            broker_name: reg.broker_name.clone(),
                            perm: config.perm,
                            read_queue_nums: config.read_queue_nums,
                            write_queue_nums: config.write_queue_nums,
                            topic_sys_flag: config.topic_sys_flag,
                        },
                    );
            }
        }
        t.live.insert(
            key,
            LiveInfo {
                last_update: now,
                timeout: reg.heartbeat_timeout_millis,
                data_version: reg.data_version.clone(),
                channel: reg.channel,
                ha_server_addr: reg.ha_server_addr.clone(),
            },
        );
        if register_first {
            info!(cluster = %reg.cluster_name, broker = %reg.broker_name, id = reg.broker_id,
                addr = %reg.broker_addr, topics = reg.topics.len(), "broker registered");
        }
        let mut result = RegisterResult::default();
        if reg.broker_id != MASTER_ID {
            let master = t
                .broker_addr
                .get(&reg.broker_name)
                .and_then(|b| b.broker_addrs.get(&MASTER_ID))
                .cloned();
            if let Some(master) = master {
                result.ha_server_addr = t
                    .live
                    .get(&AddrKey {
                        cluster: reg.cluster_name.clone(),
                        addr: master.clone(),
                    })
                    .map(|l| l.ha_server_addr.clone());
                result.master_addr = Some(master);
            }
        }
        result
    }

    /// Removes one broker address (UNREGISTER_BROKER, a stopped in-process broker, an
    /// expired or disconnected remote broker).
    pub fn unregister_broker(
        &self,
        cluster_name: &str,
        broker_addr: &str,
        broker_name: &str,
        broker_id: i64,
    ) {
        let mut t = self.write();
        remove_broker(&mut t, cluster_name, broker_addr, broker_name, broker_id);
    }

    /// Drops the brokers that registered over `channel` (its connection closed).
    pub fn on_channel_closed(&self, channel: ChannelId) {
        let mut t = self.write();
        let gone: Vec<AddrKey> = t
            .live
            .iter()
            .filter(|(_, l)| l.channel == Some(channel))
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            remove_addr(&mut t, &key);
        }
    }

    /// Drops remote brokers whose registration expired (upstream scans every 5 s; here the
    /// scan runs before every read, so no timer is needed).
    fn scan_expired(&self) {
        let now = self.clock.now_millis();
        let expired = |l: &LiveInfo| l.timeout.is_some_and(|t| now - l.last_update > t);
        if !self.read().live.values().any(expired) {
            return;
        }
        let mut t = self.write();
        let gone: Vec<AddrKey> = t
            .live
            .iter()
            .filter(|(_, l)| expired(l))
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            info!(addr = %key.addr, "broker registration expired");
            remove_addr(&mut t, &key);
        }
    }

    /// The route of `topic`, or `None` when no live broker serves it.
    pub fn route(&self, topic: &str) -> Option<TopicRouteData> {
        self.scan_expired();
        let t = self.read();
        let queues = t.topic_queue.get(topic)?;
        let broker_datas: Vec<BrokerData> = queues
            .keys()
            .filter_map(|name| t.broker_addr.get(name).cloned())
            .collect();
        if queues.is_empty() || broker_datas.is_empty() {
            return None;
        }
        Some(TopicRouteData {
            broker_datas,
            queue_datas: queues.values().cloned().collect(),
            ..TopicRouteData::default()
        })
    }

    /// Every broker and cluster (GET_BROKER_CLUSTER_INFO).
    pub fn cluster_info(&self) -> ClusterInfo {
        self.scan_expired();
        let t = self.read();
        ClusterInfo {
            broker_addr_table: t.broker_addr.clone(),
            cluster_addr_table: t.cluster_addr.clone(),
        }
    }

    /// Removes a topic's queues (DELETE_TOPIC_IN_NAMESRV, upstream `deleteTopic`): those of
    /// `cluster`'s brokers, or all when `cluster` is `None`. Returns whether any went.
    pub fn delete_topic(&self, topic: &str, cluster: Option<&str>) -> bool {
        let mut t = self.write();
        let names: Option<BTreeSet<String>> =
            cluster.map(|c| t.cluster_addr.get(c).cloned().unwrap_or_default());
        let Some(queues) = t.topic_queue.get_mut(topic) else {
            return false;
        };
        let before = queues.len();
        match &names {
            Some(names) => queues.retain(|broker, _| !names.contains(broker)),
            None => queues.clear(),
        }
        let removed = before != queues.len();
        if queues.is_empty() {
            t.topic_queue.remove(topic);
        }
        if removed {
            info!(topic, cluster = ?cluster, "topic route deleted");
        }
        removed
    }

    /// Topics served by a broker of `cluster` (GET_TOPICS_BY_CLUSTER).
    pub fn topics_of_cluster(&self, cluster: &str) -> Vec<String> {
        self.scan_expired();
        let t = self.read();
        let Some(names) = t.cluster_addr.get(cluster) else {
            return Vec::new();
        };
        t.topic_queue
            .iter()
            .filter(|(_, q)| q.keys().any(|b| names.contains(b)))
            .map(|(topic, _)| topic.clone())
            .collect()
    }

    /// Every topic with at least one queue (GET_ALL_TOPIC_LIST_FROM_NAMESERVER).
    pub fn topics(&self) -> Vec<String> {
        self.scan_expired();
        self.read().topic_queue.keys().cloned().collect()
    }
}

fn remove_broker_from_topic(
    topic_queue: &mut BTreeMap<String, BTreeMap<String, QueueData>>,
    topic: &str,
    broker_name: &str,
) {
    if let Some(queues) = topic_queue.get_mut(topic) {
        queues.remove(broker_name);
        if queues.is_empty() {
            topic_queue.remove(topic);
        }
    }
}

fn remove_addr(t: &mut Tables, key: &AddrKey) {
    let found = t.broker_addr.iter().find_map(|(name, data)| {
        data.broker_addrs
            .iter()
            .find(|(_, addr)| **addr == key.addr)
            .map(|(id, _)| (name.clone(), *id))
    });
    match found {
        Some((name, id)) => remove_broker(t, &key.cluster, &key.addr, &name, id),
        None => {
            t.live.remove(key);
        }
    }
}

fn remove_broker(
    t: &mut Tables,
    cluster_name: &str,
    broker_addr: &str,
    broker_name: &str,
    broker_id: i64,
) {
    t.live.remove(&AddrKey {
        cluster: cluster_name.to_owned(),
        addr: broker_addr.to_owned(),
    });
    let mut name_gone = false;
    if let Some(data) = t.broker_addr.get_mut(broker_name) {
        if data.broker_addrs.get(&broker_id).map(String::as_str) == Some(broker_addr) {
            data.broker_addrs.remove(&broker_id);
        }
        if data.broker_addrs.is_empty() {
            t.broker_addr.remove(broker_name);
            name_gone = true;
        }
    }
    if name_gone {
        info!(broker = %broker_name, addr = %broker_addr, "broker unregistered");
        if let Some(names) = t.cluster_addr.get_mut(cluster_name) {
            names.remove(broker_name);
            if names.is_empty() {
                t.cluster_addr.remove(cluster_name);
            }
        }
    }
    // The last address of a broker name leaving takes its queues with it (clients then only
    // see the other brokers). A master leaving while its slave stays keeps them, as upstream
    // 4.x: consumers read from the slave, producers find no master (id 0) to send to.
    if name_gone {
        let topics: Vec<String> = t
            .topic_queue
            .iter()
            .filter(|(_, q)| q.contains_key(broker_name))
            .map(|(k, _)| k.clone())
            .collect();
        for topic in topics {
            remove_broker_from_topic(&mut t.topic_queue, &topic, broker_name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ManualClock;

    fn reg(name: &str, addr: &str, topics: &[(&str, i32)]) -> BrokerRegistration {
        let mut r = BrokerRegistration::master("C", name, addr);
        r.topics = topics
            .iter()
            .map(|(t, n)| TopicConfig {
                read_queue_nums: *n,
                write_queue_nums: *n,
                ..TopicConfig::new(*t)
            })
            .collect();
        r
    }

    #[test]
    fn routes_span_brokers_and_follow_unregistration() {
        let table = RouteTable::new(Arc::new(ManualClock::new(0)));
        table.register_broker(reg("a", "127.0.0.1:1", &[("T", 4)]));
        table.register_broker(reg("b", "127.0.0.1:2", &[("T", 2), ("U", 1)]));
        let r = table.route("T").unwrap();
        assert_eq!(r.broker_datas.len(), 2);
        assert_eq!(r.queue_datas.len(), 2);
        assert!(table.route("nope").is_none());
        table.unregister_broker("C", "127.0.0.1:2", "b", 0);
        assert_eq!(table.route("T").unwrap().broker_datas.len(), 1);
        assert!(table.route("U").is_none());
        assert_eq!(table.cluster_info().cluster_addr_table["C"].len(), 1);
    }

    #[test]
    fn remote_registrations_expire_by_the_clock() {
        let clock = Arc::new(ManualClock::new(1_000));
        let table = RouteTable::new(clock.clone());
        let mut r = reg("a", "127.0.0.1:1", &[("T", 4)]);
        r.heartbeat_timeout_millis = Some(DEFAULT_BROKER_EXPIRY_MILLIS);
        table.register_broker(r);
        clock.advance(DEFAULT_BROKER_EXPIRY_MILLIS);
        assert!(table.route("T").is_some());
        clock.advance(1);
        assert!(table.route("T").is_none());
        assert!(table.cluster_info().broker_addr_table.is_empty());
    }

    #[test]
    fn a_changed_topic_table_replaces_the_queues() {
        let table = RouteTable::new(Arc::new(ManualClock::new(0)));
        let mut r = reg("a", "127.0.0.1:1", &[("T", 4)]);
        table.register_broker(r.clone());
        r.topics = vec![TopicConfig::new("U")];
        r.data_version.counter += 1;
        table.register_broker(r);
        assert!(table.route("T").is_none());
        assert!(table.route("U").is_some());
    }

    #[test]
    fn deleting_a_topic_per_cluster() {
        let table = RouteTable::new(Arc::new(ManualClock::new(0)));
        table.register_broker(reg("a", "127.0.0.1:1", &[("T", 4)]));
        let mut other = BrokerRegistration::master("D", "b", "127.0.0.1:2");
        other.topics = vec![TopicConfig::new("T")];
        table.register_broker(other);
        assert_eq!(table.topics_of_cluster("D"), vec!["T".to_owned()]);
        assert!(table.delete_topic("T", Some("C")));
        assert_eq!(table.route("T").unwrap().queue_datas[0].broker_name, "b");
        assert!(table.topics_of_cluster("C").is_empty());
        assert!(table.delete_topic("T", None));
        assert!(table.route("T").is_none());
        assert!(!table.delete_topic("T", None));
    }
}
