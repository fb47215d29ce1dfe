//! The test harness: a name server and one or more brokers in this process, on loopback
//! ports, with an in-memory or on-disk store, that a test can inspect and break. Each
//! broker may have a replicating slave ([`EmbeddedBrokerBuilder::slave`], see
//! [`crate::replication`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), rocketmq_embedded_broker::BrokerError> {
//! use rocketmq_embedded_broker::EmbeddedBroker;
//!
//! let broker = EmbeddedBroker::builder().brokers(2).start().await?;
//! let name_server = broker.name_server_addr(); // point the client here
//! broker.create_topic("orders", 4).await?;
//! // ... produce and consume through `name_server` ...
//! let stored = broker.messages("orders")?;
//! broker.crash_broker(0).await?;
//! broker.restart_broker(0).await?;
//! broker.shutdown().await?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use rocketmq_sdk::protocol::message::record::DecodeOptions;
use rocketmq_sdk::protocol::message::{MessageExt, MessageQueue, decode_message_ext};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::warn;

use crate::acl::{AclChecker, AclConfig};
use crate::broker::topics::dlq_topic;
use crate::broker::{Broker, BrokerConfig, BrokerCore, Registrar};
use crate::error::BrokerError;
use crate::faults::Faults;
use crate::namesrv::{NameServer, RouteTable};
use crate::replication::{
    BrokerRole, DEFAULT_SLAVE_FALL_BEHIND_MAX, DEFAULT_SLAVE_TIMEOUT, HaState, ReplicationMode,
};
use crate::store::storage::MemoryStorage;
use crate::store::{
    Clock, DelayLevelTable, FlushDiskType, GetStatus, Store, StoreConfig, StoreConfigBuilder,
    SystemClock, TopicConfig,
};
use crate::transaction::{TransactionConfig, TransactionInfo, TransactionStatus};

/// When the commit log is made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FlushMode {
    /// A background flush every 500 ms; a send is acknowledged before its data is durable,
    /// so a crash may lose the unflushed tail. Upstream's default (`ASYNC_FLUSH`).
    #[default]
    Async,
    /// A send is acknowledged once its data is synced (`SYNC_FLUSH`, group commit).
    Sync,
}

/// Where the brokers keep their data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreLocation {
    /// In memory, with a page-cache model: a crash loses what was not flushed, a restart of
    /// the same harness finds the rest. Nothing touches the disk. Index files are smaller
    /// than upstream's (32 768 slots, 131 072 entries) so brokers start and stop in
    /// milliseconds. The default.
    #[default]
    Memory,
    /// Under this directory, one sub-directory per broker (named after the broker), in
    /// upstream's file formats.
    Directory(PathBuf),
}

/// How long a restarted master waits for its running slave to reconnect.
const SLAVE_RECONNECT_WAIT: Duration = Duration::from_secs(1);

/// Index hash slots of an in-memory store (upstream 5 000 000).
const MEMORY_INDEX_HASH_SLOTS: u32 = 32_768;
/// Index entries per file of an in-memory store (upstream 20 000 000).
const MEMORY_INDEX_MAX_ENTRIES: u32 = 131_072;

type StoreTweak = Arc<dyn Fn(StoreConfigBuilder) -> StoreConfigBuilder + Send + Sync>;

/// Configures and starts an [`EmbeddedBroker`]. Every setting has a default; see each
/// method.
#[derive(Clone)]
pub struct EmbeddedBrokerBuilder {
    store: StoreLocation,
    flush: FlushMode,
    queues_per_topic: i32,
    auto_create_topics: bool,
    property_filter: bool,
    brokers: usize,
    delay_levels: String,
    cluster_name: String,
    broker_name_prefix: String,
    name_server_addr: String,
    broker_port: u16,
    lock_max_live_time: Duration,
    clock: Arc<dyn Clock>,
    manual_clock: Option<Arc<crate::store::ManualClock>>,
    store_tweak: Option<StoreTweak>,
    transaction: TransactionConfig,
    acl: Option<AclConfig>,
    replication: Option<ReplicationMode>,
    slave_timeout: Duration,
    slave_fall_behind_max: i64,
    #[cfg(feature = "tls")]
    tls: Option<crate::server::TlsServerConfig>,
}

impl fmt::Debug for EmbeddedBrokerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedBrokerBuilder")
            .field("store", &self.store)
            .field("flush", &self.flush)
            .field("queues_per_topic", &self.queues_per_topic)
            .field("auto_create_topics", &self.auto_create_topics)
            .field("property_filter", &self.property_filter)
            .field("brokers", &self.brokers)
            .field("cluster_name", &self.cluster_name)
            .field("broker_name_prefix", &self.broker_name_prefix)
            .field("name_server_addr", &self.name_server_addr)
            .field("broker_port", &self.broker_port)
            .field("transaction", &self.transaction)
            .field("acl", &self.acl.is_some())
            .field("replication", &self.replication)
            .field("slave_timeout", &self.slave_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for EmbeddedBrokerBuilder {
    fn default() -> Self {
        EmbeddedBrokerBuilder {
            store: StoreLocation::Memory,
            flush: FlushMode::Async,
            queues_per_topic: 8,
            auto_create_topics: true,
            property_filter: true,
            brokers: 1,
            delay_levels: DelayLevelTable::DEFAULT_LEVELS.to_owned(),
            cluster_name: "DefaultCluster".to_owned(),
            broker_name_prefix: "broker-".to_owned(),
            name_server_addr: "127.0.0.1:0".to_owned(),
            broker_port: 0,
            lock_max_live_time: Duration::from_secs(60),
            clock: Arc::new(SystemClock),
            manual_clock: None,
            store_tweak: None,
            transaction: TransactionConfig::default(),
            acl: None,
            replication: None,
            slave_timeout: DEFAULT_SLAVE_TIMEOUT,
            slave_fall_behind_max: DEFAULT_SLAVE_FALL_BEHIND_MAX,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl EmbeddedBrokerBuilder {
    /// Keep the data in memory (the default). Restarts within the harness keep it; a
    /// crash loses what was not flushed.
    pub fn memory(mut self) -> Self {
        self.store = StoreLocation::Memory;
        self
    }

    /// Keep the data under `path`, one sub-directory per broker (default: in memory). A
    /// later harness pointed at the same directory recovers it.
    pub fn directory(mut self, path: impl Into<PathBuf>) -> Self {
        self.store = StoreLocation::Directory(path.into());
        self
    }

    /// Flush mode (default [`FlushMode::Async`], upstream's `ASYNC_FLUSH`).
    pub fn flush(mut self, mode: FlushMode) -> Self {
        self.flush = mode;
        self
    }

    /// Queues of the `TBW102` template on each broker, i.e. the most queues a topic created
    /// by a send gets (default 8, the broker's `defaultTopicQueueNums`). A Java producer asks
    /// for 4 (its own `defaultTopicQueueNums`) and the broker grants the smaller number, so
    /// auto-created topics usually have 4 queues per broker.
    pub fn queues_per_topic(mut self, queues: i32) -> Self {
        self.queues_per_topic = queues;
        self
    }

    /// Whether a send to an unknown topic creates it (default true, upstream's
    /// `autoCreateTopicEnable`). With it off, brokers do not even have the `TBW102` template,
    /// so clients get TOPIC_NOT_EXIST until [`EmbeddedBroker::create_topic`] is called.
    pub fn auto_create_topics(mut self, enabled: bool) -> Self {
        self.auto_create_topics = enabled;
        self
    }

    /// Whether brokers filter by SQL92 subscriptions (`MessageSelector.bySql`,
    /// `subscribe_sql`, `#[listener(sql = "...")]`): upstream's `enablePropertyFilter`.
    ///
    /// Default **true**, unlike a Java broker (false): this broker exists to test clients,
    /// and a test of SQL filtering should not need a setting first. Set it to false to see
    /// what a default Java broker answers: pulls of SQL92 subscriptions fail with "The
    /// broker does not support consumer to filter message by SQL92", and so does the
    /// consumer's start-up check. Against a Java broker, SQL consumers need
    /// `enablePropertyFilter=true` in its `broker.conf`.
    pub fn property_filter(mut self, enabled: bool) -> Self {
        self.property_filter = enabled;
        self
    }

    /// Number of master brokers under the name server (default 1). They are named
    /// `<prefix>a`, `<prefix>b`, ... and each has its own port and store.
    pub fn brokers(mut self, n: usize) -> Self {
        self.brokers = n;
        self
    }

    /// Delay levels (default upstream's `"1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m
    /// 30m 1h 2h"`).
    pub fn delay_levels(mut self, levels: impl Into<String>) -> Self {
        self.delay_levels = levels.into();
        self
    }

    /// Cluster name (default `DefaultCluster`).
    pub fn cluster_name(mut self, name: impl Into<String>) -> Self {
        self.cluster_name = name.into();
        self
    }

    /// Broker names are this prefix plus `a`, `b`, ... (default `broker-`).
    pub fn broker_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.broker_name_prefix = prefix.into();
        self
    }

    /// Where the name server listens (default `127.0.0.1:0`, an ephemeral loopback port).
    pub fn name_server_addr(mut self, addr: impl Into<String>) -> Self {
        self.name_server_addr = addr.into();
        self
    }

    /// Port of the first broker; broker `i` listens on `port + 10 * i` on the name server's
    /// host (default 0: ephemeral ports).
    pub fn broker_port(mut self, port: u16) -> Self {
        self.broker_port = port;
        self
    }

    /// How long a queue lock lives without renewal (default 60 s, upstream's
    /// `rocketmq.broker.rebalance.lockMaxLiveTime`).
    pub fn lock_max_live_time(mut self, d: Duration) -> Self {
        self.lock_max_live_time = d;
        self
    }

    /// The time source of stores, lock expiry, long-poll timeouts and route expiry
    /// (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self.manual_clock = None;
        self
    }

    /// Runs everything time-driven (delay levels and the retry ladder, transaction checks,
    /// lock expiry, long-poll deadlines, retention) on `clock`, which the test moves with
    /// [`EmbeddedBroker::advance`] instead of sleeping. Replaces [`clock`](Self::clock).
    pub fn manual_clock(mut self, clock: Arc<crate::store::ManualClock>) -> Self {
        self.clock = clock.clone();
        self.manual_clock = Some(clock);
        self
    }

    /// How often each broker's transaction checker looks for transactions nobody ended
    /// (default 60 s, upstream 4.9.x/5.x `transactionCheckInterval`). The checker runs on the
    /// [`clock`](Self::clock): with a [`ManualClock`](crate::store::ManualClock) it runs
    /// when the test moves the clock past the next run, not when real time passes.
    pub fn transaction_check_interval(mut self, interval: Duration) -> Self {
        self.transaction.check_interval = interval;
        self
    }

    /// How old a half message must be before its producer group is asked about it
    /// (default 6 s, upstream `transactionTimeOut`); a message's
    /// `CHECK_IMMUNITY_TIME_IN_SECONDS` can make it longer, never shorter.
    pub fn transaction_timeout(mut self, timeout: Duration) -> Self {
        self.transaction.timeout = timeout;
        self
    }

    /// How many times a transaction is checked before it is given up and parked in
    /// `TRANS_CHECK_MAX_TIME_TOPIC` (default 15, upstream `transactionCheckMax`).
    pub fn transaction_check_max(mut self, checks: u32) -> Self {
        self.transaction.check_max = checks;
        self
    }

    /// Adjusts every broker's store configuration after the harness has set its own
    /// values, e.g. smaller commit-log files. Applied on every (re)start.
    pub fn configure_store(
        mut self,
        f: impl Fn(StoreConfigBuilder) -> StoreConfigBuilder + Send + Sync + 'static,
    ) -> Self {
        self.store_tweak = Some(Arc::new(f));
        self
    }

    /// Gives every master a slave (broker id 1, same broker name, its own port and store of
    /// the same kind as the master's, under `<name>-slave` for a directory) that replicates
    /// the master's commit log in-process. [`ReplicationMode::Sync`] makes the masters
    /// SYNC_MASTERs: a send is answered SEND_OK once the slave has it, SLAVE_NOT_AVAILABLE
    /// without a slave, FLUSH_SLAVE_TIMEOUT when it does not acknowledge within
    /// [`slave_timeout`](Self::slave_timeout). [`ReplicationMode::Async`] makes them
    /// ASYNC_MASTERs. Default: no slaves. See [`crate::replication`].
    pub fn slave(mut self, mode: ReplicationMode) -> Self {
        self.replication = Some(mode);
        self
    }

    /// How long a SYNC_MASTER waits for its slave before answering FLUSH_SLAVE_TIMEOUT
    /// (default 5 s, upstream 4.x's `syncFlushTimeout`, which it uses for this wait).
    pub fn slave_timeout(mut self, timeout: Duration) -> Self {
        self.slave_timeout = timeout;
        self
    }

    /// How far (in commit-log bytes) a slave may lag before a SYNC_MASTER stops waiting for
    /// it and answers SLAVE_NOT_AVAILABLE at once (default 256 MiB, upstream
    /// `haSlaveFallbehindMax`).
    pub fn slave_fall_behind_max(mut self, bytes: u64) -> Self {
        self.slave_fall_behind_max = i64::try_from(bytes).unwrap_or(i64::MAX);
        self
    }

    /// Turns ACL 1.0 on for every broker (default off: every request is served). See
    /// [`crate::acl`] for what is checked. The name server does not enforce ACL, as
    /// upstream's does not; the harness's own methods (`create_topic`, `messages`, ...)
    /// bypass it. Checked when the harness starts.
    pub fn acl(mut self, acl: AclConfig) -> Self {
        self.acl = Some(acl);
        self
    }

    /// Serves TLS only, on the name server and every broker (crate feature `tls`;
    /// default plaintext). Clients then need the matching
    /// `rocketmq_sdk::remoting::TlsConfig`.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::server::TlsServerConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    fn validate(&self) -> Result<(), BrokerError> {
        let bad = |field, reason: String| Err(BrokerError::Config { field, reason });
        if self.brokers == 0 {
            return bad("brokers", "at least one broker is needed".into());
        }
        if self.queues_per_topic <= 0 {
            return bad(
                "queues_per_topic",
                format!("{} is not a positive queue count", self.queues_per_topic),
            );
        }
        if DelayLevelTable::parse(&self.delay_levels).is_none() {
            return bad(
                "delay_levels",
                format!("{:?} is not a list like \"1s 5m 2h\"", self.delay_levels),
            );
        }
        if self.cluster_name.is_empty() {
            return bad("cluster_name", "must not be empty".into());
        }
        if self.transaction.check_interval.is_zero() {
            return bad(
                "transaction_check_interval",
                "must be longer than zero".into(),
            );
        }
        if self.replication.is_some() && self.slave_timeout.is_zero() {
            return bad("slave_timeout", "must be longer than zero".into());
        }
        if let Err(r) = crate::broker::topics::validate_topic(&self.broker_name_prefix) {
            return bad("broker_name_prefix", r);
        }
        Ok(())
    }

    /// Starts the name server and the brokers. With a memory store this takes a few
    /// milliseconds.
    ///
    /// # Errors
    /// [`BrokerError::Config`] for an invalid setting (naming it; `acl` for an unusable ACL
    /// configuration), [`BrokerError::Bind`] when a port is taken, [`BrokerError::Store`]
    /// when a store cannot be opened.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped part-way, whatever had started (the name server, some
    /// brokers) is not shut down cleanly.
    pub async fn start(self) -> Result<EmbeddedBroker, BrokerError> {
        self.validate()?;
        let acl = match &self.acl {
            Some(config) => Some(Arc::new(AclChecker::new(config).map_err(|e| {
                BrokerError::Config {
                    field: "acl",
                    reason: e.to_string(),
                }
            })?)),
            None => None,
        };
        let faults = Arc::new(Faults::new());
        #[cfg(feature = "tls")]
        let namesrv = NameServer::start_tls(
            &self.name_server_addr,
            self.clock.clone(),
            vec![faults.clone()],
            self.tls.clone(),
        )
        .await;
        #[cfg(not(feature = "tls"))]
        let namesrv = NameServer::start(
            &self.name_server_addr,
            self.clock.clone(),
            vec![faults.clone()],
        )
        .await;
        let namesrv = namesrv.map_err(|source| BrokerError::Bind {
            addr: self.name_server_addr.clone(),
            source,
        })?;
        let namesrv_addr = namesrv.local_addr();
        let host = namesrv_addr.ip();
        let mut brokers = Vec::with_capacity(self.brokers);
        for index in 0..self.brokers {
            let name = format!("{}{}", self.broker_name_prefix, broker_suffix(index));
            let port = if self.broker_port == 0 {
                0
            } else {
                let p = u32::from(self.broker_port) + 10 * index as u32;
                u16::try_from(p).map_err(|_| BrokerError::Config {
                    field: "broker_port",
                    reason: format!("broker #{index} would need port {p}"),
                })?
            };
            let mut config = BrokerConfig {
                cluster_name: self.cluster_name.clone(),
                broker_name: name.clone(),
                listen_addr: SocketAddr::new(host, port).to_string(),
                auto_create_topic_enable: self.auto_create_topics,
                enable_property_filter: self.property_filter,
                default_topic_queue_nums: self.queues_per_topic,
                rebalance_lock_max_live_time: self.lock_max_live_time,
                message_delay_level: self.delay_levels.clone(),
                transaction: self.transaction,
                acl: acl.clone(),
                #[cfg(feature = "tls")]
                tls: self.tls.clone(),
                ..BrokerConfig::default()
            };
            let location = |dir: String| match &self.store {
                StoreLocation::Memory => Location::Memory(MemoryStorage::new()),
                StoreLocation::Directory(root) => Location::Directory(root.join(dir)),
            };
            let ha = self.replication.map(|mode| {
                Arc::new(HaState::new(
                    mode,
                    self.slave_timeout,
                    self.slave_fall_behind_max,
                ))
            });
            let slave_config = ha.as_ref().map(|_| {
                let mut c = config.clone();
                c.broker_id = 1;
                c.role = BrokerRole::Slave;
                let slave_port = if port == 0 { 0 } else { port.saturating_add(1) };
                c.listen_addr = SocketAddr::new(host, slave_port).to_string();
                c
            });
            if let Some(ha) = &ha {
                config.role = match ha.mode() {
                    ReplicationMode::Sync => BrokerRole::SyncMaster,
                    ReplicationMode::Async => BrokerRole::AsyncMaster,
                };
                config.ha = Some(ha.clone());
            }
            let new_slot = |name: String, config: BrokerConfig, location, replica_of| Slot {
                index,
                name,
                config,
                location,
                flush: self.flush,
                clock: self.clock.clone(),
                store_tweak: self.store_tweak.clone(),
                faults: Arc::new(Faults::new()),
                cluster_faults: faults.clone(),
                routes: namesrv.routes().clone(),
                replica_of,
                slave: OnceLock::new(),
                state: Mutex::new(SlotState {
                    broker: None,
                    addr: None,
                    transfer: None,
                }),
            };
            let slot = Arc::new(new_slot(name.clone(), config, location(name.clone()), None));
            let handle = BrokerHandle { slot: slot.clone() };
            handle.start().await?;
            if let (Some(ha), Some(slave_config)) = (ha, slave_config) {
                let replica = Replica {
                    master: Arc::downgrade(&slot),
                    ha,
                };
                let slave = BrokerHandle {
                    slot: Arc::new(new_slot(
                        name.clone(),
                        slave_config,
                        location(format!("{name}-slave")),
                        Some(replica),
                    )),
                };
                slave.start().await?;
                let _ = slot.slave.set(slave);
            }
            brokers.push(handle);
        }
        Ok(EmbeddedBroker {
            namesrv: Some(namesrv),
            namesrv_addr,
            brokers,
            faults,
            clock: self.clock,
            manual_clock: self.manual_clock,
        })
    }
}

/// `a`..`z`, then `aa`, `ab`, ...
fn broker_suffix(mut index: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

enum Location {
    Memory(MemoryStorage),
    Directory(PathBuf),
}

struct SlotState {
    broker: Option<Broker>,
    addr: Option<SocketAddr>,
    /// A slave's transfer task while it runs.
    transfer: Option<JoinHandle<()>>,
}

/// What a slave replicates from.
struct Replica {
    master: Weak<Slot>,
    ha: Arc<HaState>,
}

struct Slot {
    index: usize,
    name: String,
    config: BrokerConfig,
    location: Location,
    flush: FlushMode,
    clock: Arc<dyn Clock>,
    store_tweak: Option<StoreTweak>,
    faults: Arc<Faults>,
    cluster_faults: Arc<Faults>,
    routes: Arc<RouteTable>,
    /// Set on a slave.
    replica_of: Option<Replica>,
    /// Set on a master that has a slave.
    slave: OnceLock<BrokerHandle>,
    state: Mutex<SlotState>,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn store_config(&self) -> StoreConfigBuilder {
        let flush = match self.flush {
            FlushMode::Async => FlushDiskType::AsyncFlush,
            FlushMode::Sync => FlushDiskType::SyncFlush,
        };
        let builder = match &self.location {
            // Smaller index files than upstream's 420 MB: the in-memory model pays for every
            // slot page it touches, and a test broker should start and stop in milliseconds.
            // The format is the same; a full index file just rolls over sooner.
            Location::Memory(storage) => StoreConfig::builder(format!("/embedded/{}", self.name))
                .storage(Arc::new(storage.clone()))
                .index_hash_slots(MEMORY_INDEX_HASH_SLOTS)
                .index_max_entries(MEMORY_INDEX_MAX_ENTRIES),
            Location::Directory(root) => StoreConfig::builder(root.clone()),
        }
        .flush_disk_type(flush)
        .clock(self.clock.clone());
        match &self.store_tweak {
            Some(tweak) => tweak(builder),
            None => builder,
        }
    }
}

/// One broker of an [`EmbeddedBroker`]: its address, its own faults, inspection, and its
/// life cycle. Cheap to clone; clones refer to the same broker.
#[derive(Clone)]
pub struct BrokerHandle {
    slot: Arc<Slot>,
}

impl fmt::Debug for BrokerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerHandle")
            .field("name", &self.slot.name)
            .field("addr", &self.slot.lock().addr)
            .field("running", &self.is_running())
            .finish()
    }
}

impl BrokerHandle {
    /// The broker's name, e.g. `broker-a`.
    pub fn name(&self) -> &str {
        &self.slot.name
    }

    /// Its position in the cluster.
    pub fn index(&self) -> usize {
        self.slot.index
    }

    /// Its address `ip:port` (the last one it had, when stopped).
    pub fn addr(&self) -> String {
        self.slot
            .lock()
            .addr
            .map(|a| a.to_string())
            .unwrap_or_default()
    }

    /// Whether it is serving.
    pub fn is_running(&self) -> bool {
        self.slot.lock().broker.is_some()
    }

    /// This broker's own faults (the cluster-wide set is [`EmbeddedBroker::faults`]).
    pub fn faults(&self) -> &Faults {
        &self.slot.faults
    }

    fn core(&self) -> Result<Arc<BrokerCore>, BrokerError> {
        self.slot
            .lock()
            .broker
            .as_ref()
            .map(|b| b.core().clone())
            .ok_or_else(|| BrokerError::NotRunning {
                name: self.slot.name.clone(),
            })
    }

    /// The running broker's store, for assertions the other methods do not cover.
    ///
    /// # Errors
    /// [`BrokerError::NotRunning`].
    pub fn store(&self) -> Result<Arc<Store>, BrokerError> {
        Ok(self.core()?.store.clone())
    }

    async fn start(&self) -> Result<(), BrokerError> {
        let slot = &self.slot;
        let previous = slot.lock().addr;
        let mut config = slot.config.clone();
        let listener = match previous {
            // Same port as before, so clients reconnect to where the broker was.
            Some(addr) => match TcpListener::bind(addr).await {
                Ok(l) => l,
                Err(e) => {
                    warn!(broker = %slot.name, %addr, error = %e, "old port is taken; using a new one");
                    let any = SocketAddr::new(addr.ip(), 0);
                    TcpListener::bind(any)
                        .await
                        .map_err(|source| BrokerError::Bind {
                            addr: any.to_string(),
                            source,
                        })?
                }
            },
            None => TcpListener::bind(&config.listen_addr)
                .await
                .map_err(|source| BrokerError::Bind {
                    addr: config.listen_addr.clone(),
                    source,
                })?,
        };
        if let Ok(a) = listener.local_addr() {
            config.listen_addr = a.to_string();
        }
        let broker = Broker::start_on(
            listener,
            config,
            slot.store_config(),
            Registrar::Direct(slot.routes.clone()),
            vec![slot.faults.clone(), slot.cluster_faults.clone()],
        )
        .await?;
        if let Some(ha) = &slot.config.ha {
            ha.master_started();
        }
        let transfer = slot.replica_of.as_ref().map(|replica| {
            let master = replica.master.clone();
            let link: crate::replication::transfer::MasterLink = Arc::new(move || {
                let master = master.upgrade()?;
                let state = master.lock();
                state.broker.as_ref().map(|b| b.core().clone())
            });
            crate::replication::transfer::spawn(link, broker.core().clone(), replica.ha.clone())
        });
        {
            let mut state = slot.lock();
            state.addr = Some(broker.addr());
            state.broker = Some(broker);
            state.transfer = transfer;
        }
        if let (Some(ha), Some(slave)) = (&slot.config.ha, slot.slave.get())
            && slave.is_running()
        {
            // A restarted master: let its running slave reconnect before sends arrive
            // (bounded; a slave that cannot follow stays disconnected).
            ha.notify_new_data();
            ha.wait_connected(SLAVE_RECONNECT_WAIT).await;
        }
        Ok(())
    }

    fn take(&self) -> Option<Broker> {
        let mut state = self.slot.lock();
        if let Some(ha) = &self.slot.config.ha {
            // A master going down: its slave is connected to nobody.
            ha.disconnect();
        }
        if let Some(transfer) = state.transfer.take() {
            transfer.abort();
            if let Some(replica) = &self.slot.replica_of {
                replica.ha.disconnect();
            }
        }
        state.broker.take()
    }

    /// This master's slave, if the harness was built with
    /// [`EmbeddedBrokerBuilder::slave`]. Its handle has the same name and index; it
    /// crashes, stops and restarts on its own (a restarted slave catches up from its own
    /// commit-log end), and its [`faults`](Self::faults) can slow replication down
    /// ([`Faults::delay_replication`]).
    pub fn slave(&self) -> Option<&BrokerHandle> {
        self.slot.slave.get()
    }

    /// Whether this is a slave (broker id 1).
    pub fn is_slave(&self) -> bool {
        self.slot.replica_of.is_some()
    }

    /// The broker id it registers with (0 for a master, 1 for a slave).
    pub fn broker_id(&self) -> i64 {
        self.slot.config.broker_id
    }

    /// The running broker's commit-log end (its max physical offset): on a slave, how far it
    /// has replicated.
    ///
    /// # Errors
    /// [`BrokerError::NotRunning`].
    pub fn commit_log_max_offset(&self) -> Result<i64, BrokerError> {
        Ok(self.core()?.store.commit_log_max_offset())
    }

    /// On a master with a slave: the commit-log offset the slave has acknowledged, `None`
    /// while no slave is connected (or on a broker without a slave).
    pub fn slave_acked_offset(&self) -> Option<i64> {
        self.slot.config.ha.as_ref().and_then(|ha| ha.acked())
    }

    /// Stops the broker abruptly, like `kill -9`: connections drop, and whatever the flush
    /// mode had not made durable is lost (with a memory store, everything not yet synced;
    /// with a directory, what the store had not yet written to its files). Consumer offsets
    /// not yet persisted (every 5 s) are lost too. Does nothing if it is not running.
    ///
    /// # Cancel safety
    /// Cancel safe: the broker stops at the first poll.
    pub async fn crash(&self) {
        if let Some(broker) = self.take() {
            broker.crash().await;
            if let Location::Memory(storage) = &self.slot.location {
                storage.power_loss();
            }
        }
    }

    /// Stops the broker gracefully: connections close, offsets and configs are written,
    /// the store is flushed. Does nothing if it is not running.
    ///
    /// # Errors
    /// [`BrokerError::Store`] when the final flush fails.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped part-way, the final flush may not have run (as after a
    /// crash).
    pub async fn shutdown(&self) -> Result<(), BrokerError> {
        match self.take() {
            Some(broker) => broker.shutdown().await,
            None => Ok(()),
        }
    }

    /// Starts the broker again on the same store (recovering it after a crash) and, when
    /// possible, the same port. A running broker is shut down gracefully first.
    ///
    /// # Errors
    /// As [`EmbeddedBrokerBuilder::start`].
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped part-way, the broker may be left stopped.
    pub async fn restart(&self) -> Result<(), BrokerError> {
        self.shutdown().await?;
        self.start().await
    }

    /// Creates (or updates) `topic` with `queues` read and write queues on this broker and
    /// publishes its route.
    ///
    /// # Errors
    /// [`BrokerError::NotRunning`], or [`BrokerError::Config`] for an invalid topic name or
    /// queue count.
    ///
    /// # Cancel safety
    /// Cancel safe: the topic is created or not on each broker; run it again.
    pub async fn create_topic(&self, topic: &str, queues: i32) -> Result<(), BrokerError> {
        crate::broker::topics::validate_topic(topic).map_err(|reason| BrokerError::Config {
            field: "topic",
            reason,
        })?;
        if queues <= 0 {
            return Err(BrokerError::Config {
                field: "queues",
                reason: format!("{queues} is not a positive queue count"),
            });
        }
        let core = self.core()?;
        let mut config = core
            .topics
            .get(topic)
            .unwrap_or_else(|| TopicConfig::new(topic, queues));
        config.read_queue_nums = queues;
        config.write_queue_nums = queues;
        if core.topics.upsert(config) {
            core.register();
        }
        Ok(())
    }

    /// Every message of `topic` stored on this broker, read back through the store: queue
    /// by queue, in offset order, bodies inflated.
    ///
    /// # Errors
    /// [`BrokerError::NotRunning`], [`BrokerError::Store`], [`BrokerError::Decode`].
    pub fn messages(&self, topic: &str) -> Result<Vec<MessageExt>, BrokerError> {
        let core = self.core()?;
        let store = &core.store;
        let mut out = Vec::new();
        for queue_id in store.queue_ids(topic) {
            let mut offset = store.min_offset(topic, queue_id);
            let max = store.max_offset(topic, queue_id);
            while offset < max {
                let got = store.get_messages(topic, queue_id, offset, 32, usize::MAX, None)?;
                for m in &got.messages {
                    out.push(decode_message_ext(&m.record, &DecodeOptions::default())?);
                }
                if got.status != GetStatus::Found || got.next_begin_offset <= offset {
                    break;
                }
                offset = got.next_begin_offset;
            }
        }
        Ok(out)
    }

    /// How many pulls this broker is holding right now (long polling): lets a test wait
    /// until a consumer is parked before producing. 0 when not running.
    pub fn held_pulls(&self) -> usize {
        self.core()
            .map(|c| c.held_pulls.load(std::sync::atomic::Ordering::Acquire))
            .unwrap_or(0)
    }

    /// Committed offsets of `group` on `topic` on this broker: queue id → next offset to
    /// consume. Empty when the broker is not running.
    pub fn consumer_offsets(&self, group: &str, topic: &str) -> BTreeMap<i32, i64> {
        self.core()
            .map(|c| c.offsets.offsets(group, topic))
            .unwrap_or_default()
    }

    /// The transactional messages this broker knows: the open ones, those settled since it
    /// started (the most recent few thousand), and every parked one.
    ///
    /// # Errors
    /// [`BrokerError::NotRunning`].
    pub fn transactions(&self) -> Result<Vec<TransactionInfo>, BrokerError> {
        Ok(crate::transaction::inspect(
            &*self.core()?,
            true,
            true,
            true,
        ))
    }

    /// The open transactions ([`TransactionStatus::Pending`]), in half-queue order. They
    /// survive restarts: the broker rebuilds them from its half and op queues.
    ///
    /// # Errors
    /// [`BrokerError::NotRunning`].
    pub fn pending_transactions(&self) -> Result<Vec<TransactionInfo>, BrokerError> {
        Ok(crate::transaction::inspect(
            &*self.core()?,
            true,
            false,
            false,
        ))
    }

    /// The transactions given up after too many checks ([`TransactionStatus::Parked`]), read
    /// from `TRANS_CHECK_MAX_TIME_TOPIC`.
    ///
    /// # Errors
    /// [`BrokerError::NotRunning`].
    pub fn parked_transactions(&self) -> Result<Vec<TransactionInfo>, BrokerError> {
        Ok(crate::transaction::inspect(
            &*self.core()?,
            false,
            false,
            true,
        ))
    }

    /// How many transaction check runs have finished since the broker (re)started: a test
    /// that moves a manual clock waits for this to grow before looking at the outcome. 0
    /// when not running.
    pub fn transaction_check_runs(&self) -> u64 {
        self.core().map_or(0, |c| c.transactions.runs())
    }

    /// How many CHECK_TRANSACTION_STATE requests this broker has sent to producers since it
    /// (re)started. 0 when not running.
    pub fn transaction_checks_sent(&self) -> u64 {
        self.core().map_or(0, |c| c.transactions.checks_sent())
    }

    /// Fault injection: closes every connection of the producers and consumers of
    /// `group` on this broker (a network cut seen by that group only). Returns how many
    /// were closed; clients reconnect on their next request.
    pub fn close_group_connections(&self, group: &str) -> usize {
        let Ok(core) = self.core() else {
            return 0;
        };
        let mut channels = core.clients.producer_channels(group);
        channels.extend(core.clients.consumer_channels(group));
        let mut closed = 0;
        for ch in channels.iter().filter(|ch| !ch.is_closed()) {
            ch.close();
            closed += 1;
        }
        closed
    }

    /// How many live connections have registered producer `group` by heartbeat (where
    /// transaction checks for the group can go). 0 when not running.
    pub fn producer_connections(&self, group: &str) -> usize {
        self.core().map_or(0, |c| {
            c.clients
                .producer_channels(group)
                .iter()
                .filter(|ch| !ch.is_closed())
                .count()
        })
    }
}

/// A name server and its brokers, running in this process. Dropping it shuts everything
/// down gracefully.
pub struct EmbeddedBroker {
    namesrv: Option<NameServer>,
    namesrv_addr: SocketAddr,
    brokers: Vec<BrokerHandle>,
    faults: Arc<Faults>,
    clock: Arc<dyn Clock>,
    manual_clock: Option<Arc<crate::store::ManualClock>>,
}

impl fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedBroker")
            .field("name_server", &self.namesrv_addr)
            .field("brokers", &self.brokers)
            .finish()
    }
}

impl EmbeddedBroker {
    /// A builder with the defaults: one broker, memory store, async flush, auto-created
    /// topics, loopback ephemeral ports.
    pub fn builder() -> EmbeddedBrokerBuilder {
        EmbeddedBrokerBuilder::default()
    }

    /// Starts a harness with every default (`EmbeddedBroker::builder().start()`).
    ///
    /// # Errors
    /// As [`EmbeddedBrokerBuilder::start`].
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped part-way, whatever had started (the name server, some
    /// brokers) is not shut down cleanly.
    pub async fn start() -> Result<EmbeddedBroker, BrokerError> {
        Self::builder().start().await
    }

    /// The name server's address `ip:port`: what clients are configured with.
    pub fn name_server_addr(&self) -> String {
        self.namesrv_addr.to_string()
    }

    /// Every broker's address, in broker order.
    pub fn broker_addrs(&self) -> Vec<String> {
        self.brokers.iter().map(BrokerHandle::addr).collect()
    }

    /// The brokers.
    pub fn brokers(&self) -> &[BrokerHandle] {
        &self.brokers
    }

    /// Broker `index` (0 is `broker-a`).
    ///
    /// # Panics
    /// If there is no such broker, like slice indexing; see [`try_broker`](Self::try_broker).
    pub fn broker(&self, index: usize) -> &BrokerHandle {
        match self.try_broker(index) {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        }
    }

    /// Broker `index`, or [`BrokerError::NoSuchBroker`].
    ///
    /// # Errors
    /// [`BrokerError::NoSuchBroker`].
    pub fn try_broker(&self, index: usize) -> Result<&BrokerHandle, BrokerError> {
        self.brokers.get(index).ok_or(BrokerError::NoSuchBroker {
            index,
            count: self.brokers.len(),
        })
    }

    /// Faults applied by every broker and the name server (each broker also has its own,
    /// [`BrokerHandle::faults`]).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Fault injection: closes every connection of `group` on every running broker;
    /// returns how many were closed.
    pub fn close_group_connections(&self, group: &str) -> usize {
        self.brokers
            .iter()
            .map(|b| b.close_group_connections(group))
            .sum()
    }

    /// The clock the harness runs on.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Moves the harness's manual clock (installed with
    /// [`EmbeddedBrokerBuilder::manual_clock`]) forward by `by`: due delayed and retry
    /// messages are delivered, transaction checks run, locks expire.
    ///
    /// # Errors
    /// [`BrokerError::NoManualClock`] when the harness runs on another clock.
    pub fn advance(&self, by: Duration) -> Result<(), BrokerError> {
        let clock = self
            .manual_clock
            .as_ref()
            .ok_or(BrokerError::NoManualClock)?;
        clock.advance(i64::try_from(by.as_millis()).unwrap_or(i64::MAX));
        Ok(())
    }

    /// Creates (or updates) `topic` with `queues` queues on every running broker.
    ///
    /// # Errors
    /// As [`BrokerHandle::create_topic`].
    ///
    /// # Cancel safety
    /// Cancel safe: the topic is created or not on each broker; run it again.
    pub async fn create_topic(&self, topic: &str, queues: i32) -> Result<(), BrokerError> {
        for b in self.brokers.iter().filter(|b| b.is_running()) {
            b.create_topic(topic, queues).await?;
        }
        Ok(())
    }

    /// Every message of `topic` on the running brokers, broker by broker, queue by queue,
    /// in offset order.
    ///
    /// # Errors
    /// As [`BrokerHandle::messages`].
    pub fn messages(&self, topic: &str) -> Result<Vec<MessageExt>, BrokerError> {
        let mut out = Vec::new();
        for b in self.brokers.iter().filter(|b| b.is_running()) {
            out.extend(b.messages(topic)?);
        }
        Ok(out)
    }

    /// The dead letters of a consumer group (`%DLQ%group`).
    ///
    /// # Errors
    /// As [`BrokerHandle::messages`].
    pub fn dead_letters(&self, group: &str) -> Result<Vec<MessageExt>, BrokerError> {
        self.messages(&dlq_topic(group))
    }

    /// [`BrokerHandle::transactions`] of every running broker.
    ///
    /// # Errors
    /// As [`BrokerHandle::transactions`].
    pub fn transactions(&self) -> Result<Vec<TransactionInfo>, BrokerError> {
        self.each_running(BrokerHandle::transactions)
    }

    /// [`BrokerHandle::pending_transactions`] of every running broker.
    ///
    /// # Errors
    /// As [`BrokerHandle::pending_transactions`].
    pub fn pending_transactions(&self) -> Result<Vec<TransactionInfo>, BrokerError> {
        self.each_running(BrokerHandle::pending_transactions)
    }

    /// [`BrokerHandle::parked_transactions`] of every running broker.
    ///
    /// # Errors
    /// As [`BrokerHandle::parked_transactions`].
    pub fn parked_transactions(&self) -> Result<Vec<TransactionInfo>, BrokerError> {
        self.each_running(BrokerHandle::parked_transactions)
    }

    /// The transactions of every running broker that are in `status`.
    ///
    /// # Errors
    /// As [`BrokerHandle::transactions`].
    pub fn transactions_in(
        &self,
        status: TransactionStatus,
    ) -> Result<Vec<TransactionInfo>, BrokerError> {
        Ok(self
            .transactions()?
            .into_iter()
            .filter(|t| t.status == status)
            .collect())
    }

    fn each_running<T>(
        &self,
        f: impl Fn(&BrokerHandle) -> Result<Vec<T>, BrokerError>,
    ) -> Result<Vec<T>, BrokerError> {
        let mut out = Vec::new();
        for b in self.brokers.iter().filter(|b| b.is_running()) {
            out.extend(f(b)?);
        }
        Ok(out)
    }

    /// Committed offsets of `group` on `topic` on the first broker (queue ids are per
    /// broker; with several brokers use [`consumer_offsets_by_queue`](Self::consumer_offsets_by_queue)).
    pub fn consumer_offsets(&self, group: &str, topic: &str) -> BTreeMap<i32, i64> {
        self.brokers
            .first()
            .map(|b| b.consumer_offsets(group, topic))
            .unwrap_or_default()
    }

    /// Committed offsets of `group` on `topic` on every running broker.
    pub fn consumer_offsets_by_queue(
        &self,
        group: &str,
        topic: &str,
    ) -> BTreeMap<MessageQueue, i64> {
        self.brokers
            .iter()
            .flat_map(|b| {
                b.consumer_offsets(group, topic)
                    .into_iter()
                    .map(|(q, o)| (MessageQueue::new(topic, b.name(), q), o))
            })
            .collect()
    }

    /// The slave of broker `index`.
    ///
    /// # Errors
    /// [`BrokerError::NoSuchBroker`], or [`BrokerError::NoSlave`] when the harness was
    /// built without [`EmbeddedBrokerBuilder::slave`].
    pub fn slave(&self, index: usize) -> Result<&BrokerHandle, BrokerError> {
        self.try_broker(index)?
            .slave()
            .ok_or(BrokerError::NoSlave { index })
    }

    /// Every slave's address, in broker order (empty without replication).
    pub fn slave_addrs(&self) -> Vec<String> {
        self.brokers
            .iter()
            .filter_map(BrokerHandle::slave)
            .map(BrokerHandle::addr)
            .collect()
    }

    /// Crashes broker `index` (see [`BrokerHandle::crash`]).
    ///
    /// # Errors
    /// [`BrokerError::NoSuchBroker`].
    ///
    /// # Cancel safety
    /// As [`BrokerHandle::crash`].
    pub async fn crash_broker(&self, index: usize) -> Result<(), BrokerError> {
        self.try_broker(index)?.crash().await;
        Ok(())
    }

    /// Restarts broker `index` (see [`BrokerHandle::restart`]).
    ///
    /// # Errors
    /// As [`BrokerHandle::restart`].
    ///
    /// # Cancel safety
    /// As [`BrokerHandle::restart`].
    pub async fn restart_broker(&self, index: usize) -> Result<(), BrokerError> {
        self.try_broker(index)?.restart().await
    }

    /// Crashes every master broker (slaves keep running; crash them through
    /// [`slave`](Self::slave)). The name server keeps running, so clients keep their
    /// configuration and see the brokers vanish from the routes.
    ///
    /// # Cancel safety
    /// Cancel safe: the broker stops at the first poll.
    pub async fn crash(&self) {
        for b in &self.brokers {
            b.crash().await;
        }
    }

    /// Restarts every master broker (see [`BrokerHandle::restart`]).
    ///
    /// # Errors
    /// The first broker that fails to start.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped part-way, the broker may be left stopped.
    pub async fn restart(&self) -> Result<(), BrokerError> {
        for b in &self.brokers {
            b.restart().await?;
        }
        Ok(())
    }

    /// Stops everything gracefully: brokers flush and persist, then the name server stops.
    ///
    /// # Errors
    /// The first broker whose shutdown failed (the others are still stopped).
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped part-way, the final flush may not have run (as after a
    /// crash).
    pub async fn shutdown(mut self) -> Result<(), BrokerError> {
        let mut first_error = None;
        let slaves = self.brokers.iter().filter_map(BrokerHandle::slave);
        for b in slaves.chain(&self.brokers) {
            if let Err(e) = b.shutdown().await {
                first_error.get_or_insert(e);
            }
        }
        if let Some(ns) = self.namesrv.take() {
            ns.shutdown().await;
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        // Dropping a broker stops it gracefully (synchronously); handles cloned by the test
        // then see a stopped broker.
        for b in self.brokers.iter().filter_map(BrokerHandle::slave) {
            drop(b.take());
        }
        for b in &self.brokers {
            drop(b.take());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::broker_suffix;

    #[test]
    fn broker_names_count_in_letters() {
        assert_eq!(broker_suffix(0), "a");
        assert_eq!(broker_suffix(25), "z");
        assert_eq!(broker_suffix(26), "aa");
        assert_eq!(broker_suffix(27), "ab");
    }
}
