//! The broker role: its state (topics, groups, offsets, clients, locks, the store), how it
//! registers with the name server, and its life cycle (start, graceful shutdown, crash).
//! The request handling itself lives in [`crate::processor`].

mod clients;
mod config;
mod groups;
mod locks;
mod offsets;
pub(crate) mod schedule;
pub(crate) mod timer;
pub(crate) mod topics;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rocketmq_sdk::protocol::ResponseCode;
use rocketmq_sdk::protocol::body::register::DataVersion as WireDataVersion;
use rocketmq_sdk::protocol::message::id::UniqIdGenerator;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

pub(crate) use clients::{ClientInfo, ClientManager, ConsumerRegistration};
pub(crate) use config::BrokerConfig;
pub(crate) use groups::GroupManager;
pub(crate) use locks::LockManager;
pub(crate) use offsets::OffsetManager;
pub(crate) use topics::TopicManager;

use crate::error::BrokerError;
use crate::faults::Faults;
use crate::namesrv::{BrokerRegistration, RouteTable};
use crate::server::{Dispatcher, Server};
use crate::store::{Clock, Store, StoreConfigBuilder};

/// How a broker announces itself to name servers.
#[derive(Debug, Clone)]
pub(crate) enum Registrar {
    /// Not at all (a broker without a name server).
    #[allow(dead_code)]
    None,
    /// Straight into a route table of this process.
    Direct(Arc<RouteTable>),
}

/// Everything a broker's processors share.
#[derive(Debug)]
pub(crate) struct BrokerCore {
    pub(crate) config: BrokerConfig,
    pub(crate) addr: SocketAddr,
    pub(crate) store: Arc<Store>,
    pub(crate) topics: TopicManager,
    pub(crate) groups: GroupManager,
    pub(crate) offsets: OffsetManager,
    pub(crate) clients: Arc<ClientManager>,
    pub(crate) locks: LockManager,
    pub(crate) faults: Vec<Arc<Faults>>,
    pub(crate) registrar: Registrar,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) uniq_ids: UniqIdGenerator,
    /// Pulls currently held by long polling.
    pub(crate) held_pulls: AtomicUsize,
    /// Open transactions and the checker's state.
    pub(crate) transactions: crate::transaction::Transactions,
    /// Compiled SQL92 subscriptions.
    pub(crate) selectors: crate::filter::SelectorCache,
    /// `messageDelayLevel` parsed once: every send consults it, and parsing it per message
    /// cost 2% of the send path in profiles.
    pub(crate) delay_levels: crate::store::DelayLevelTable,
}

/// Counts a held pull while alive.
pub(crate) struct HoldGuard<'a>(&'a AtomicUsize);

impl Drop for HoldGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl BrokerCore {
    /// Marks a pull as held until the guard drops.
    pub(crate) fn hold_pull(&self) -> HoldGuard<'_> {
        self.held_pulls.fetch_add(1, Ordering::AcqRel);
        HoldGuard(&self.held_pulls)
    }

    /// The send status a test forced, if any (this broker's faults first).
    pub(crate) fn forced_send_status(&self) -> Option<ResponseCode> {
        self.faults.iter().find_map(|f| f.send_status())
    }

    /// What this broker tells the name server.
    fn registration(&self) -> BrokerRegistration {
        let v = self.topics.data_version();
        let mut reg = BrokerRegistration::master(
            &self.config.cluster_name,
            &self.config.broker_name,
            self.addr.to_string(),
        );
        reg.broker_id = self.config.broker_id;
        reg.data_version = WireDataVersion {
            counter: v.counter,
            state_version: v.state_version,
            timestamp: v.timestamp,
        };
        reg.topics = self.topics.all().values().map(topics::to_wire).collect();
        reg
    }

    /// Registers (again) with the name server: at start and after every topic change, as
    /// upstream's `registerBrokerAll`.
    pub(crate) fn register(&self) {
        match &self.registrar {
            Registrar::None => {}
            Registrar::Direct(routes) => {
                routes.register_broker(self.registration());
            }
        }
    }

    fn unregister(&self) {
        match &self.registrar {
            Registrar::None => {}
            Registrar::Direct(routes) => routes.unregister_broker(
                &self.config.cluster_name,
                &self.addr.to_string(),
                &self.config.broker_name,
                self.config.broker_id,
            ),
        }
    }

    /// Writes the config files (topics, groups, offsets).
    fn persist(&self) {
        if let Err(e) = self.topics.persist() {
            error!(error = %e, "topics.json could not be written");
        }
        if let Err(e) = self.groups.persist() {
            error!(error = %e, "subscriptionGroup.json could not be written");
        }
        if let Err(e) = self.offsets.persist_if_dirty() {
            error!(error = %e, "consumerOffset.json could not be written");
        }
    }
}

/// How long a restart waits for the previous run's store lock. A child process forked by
/// another thread at the wrong moment holds a copy of the lock's descriptor until it execs,
/// which makes the lock look taken for a moment.
const STORE_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

async fn open_store(
    config: crate::store::StoreConfig,
) -> Result<(Store, crate::store::RecoveryReport), BrokerError> {
    let deadline = tokio::time::Instant::now() + STORE_LOCK_WAIT;
    loop {
        match Store::open(config.clone()) {
            Err(crate::store::StoreError::Locked(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            other => return Ok(other?),
        }
    }
}

/// A running broker.
#[derive(Debug)]
pub(crate) struct Broker {
    core: Arc<BrokerCore>,
    server: Option<Server>,
    offset_flusher: JoinHandle<()>,
    /// Masters only: a slave neither delivers delayed messages nor checks transactions.
    schedule: Option<JoinHandle<()>>,
    transaction_checker: Option<JoinHandle<()>>,
}

impl Broker {
    /// Opens (and recovers) the store, loads the config files, starts serving on
    /// `listener` and registers with the name server.
    pub(crate) async fn start_on(
        listener: TcpListener,
        config: BrokerConfig,
        store: StoreConfigBuilder,
        registrar: Registrar,
        faults: Vec<Arc<Faults>>,
    ) -> Result<Broker, BrokerError> {
        let addr = listener.local_addr().map_err(|source| BrokerError::Bind {
            addr: config.listen_addr.clone(),
            source,
        })?;
        let store_config = store
            .store_host(addr)
            .max_message_size(config.max_message_size)
            .message_delay_level(config.message_delay_level.clone())
            .build()?;
        let clock = store_config.clock.clone();
        let (store, report) = open_store(store_config).await?;
        if report.abnormal {
            warn!(broker = %config.broker_name, records = report.records_recovered,
                end = report.commit_log_end, "store recovered after a crash");
        }
        let files = store.config_files().clone();
        let topics = TopicManager::load(files.clone(), clock.clone(), &config)?;
        let groups = GroupManager::load(
            files.clone(),
            clock.clone(),
            config.auto_create_subscription_group,
        )?;
        let offsets = OffsetManager::load(files)?;
        let clients = Arc::new(ClientManager::new());
        let locks = LockManager::new(config.rebalance_lock_max_live_time, clock.clone());
        let uniq_ids = UniqIdGenerator::new(addr.ip());
        let core = Arc::new(BrokerCore {
            addr,
            store: Arc::new(store),
            topics,
            groups,
            offsets,
            clients: clients.clone(),
            locks,
            faults: faults.clone(),
            registrar,
            clock,
            uniq_ids,
            held_pulls: AtomicUsize::new(0),
            transactions: crate::transaction::Transactions::new(config.transaction),
            selectors: crate::filter::SelectorCache::default(),
            delay_levels: crate::store::DelayLevelTable::parse(&config.message_delay_level)
                .unwrap_or_default(),
            config,
        });
        crate::transaction::recover(&core)?;
        let mut dispatcher = Dispatcher::new();
        crate::processor::register_all(&mut dispatcher, &core);
        dispatcher.add_listener(clients);
        for f in faults {
            dispatcher.add_faults(f);
        }
        if let Some(acl) = &core.config.acl {
            dispatcher.set_acl(acl.clone());
        }
        #[cfg(feature = "tls")]
        let transport = crate::server::Transport::from_tls(core.config.tls.as_ref());
        #[cfg(not(feature = "tls"))]
        let transport = crate::server::Transport::Plain;
        let server = Server::serve(listener, Arc::new(dispatcher), transport);
        core.register();
        let flusher_core = core.clone();
        let offset_flusher = tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(flusher_core.config.flush_consumer_offset_interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = flusher_core.offsets.persist_if_dirty() {
                    error!(error = %e, "consumerOffset.json could not be written");
                }
            }
        });
        let is_master = core.config.role != crate::replication::BrokerRole::Slave;
        let schedule = is_master.then(|| schedule::start(core.clone()));
        let transaction_checker =
            is_master.then(|| crate::transaction::spawn_checker(core.clone()));
        info!(broker = %core.config.broker_name, %addr, role = ?core.config.role, "broker started");
        Ok(Broker {
            core,
            server: Some(server),
            offset_flusher,
            schedule,
            transaction_checker,
        })
    }

    pub(crate) fn core(&self) -> &Arc<BrokerCore> {
        &self.core
    }

    fn abort_tasks(&self) {
        self.offset_flusher.abort();
        for task in [&self.schedule, &self.transaction_checker]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.core.addr
    }

    /// Graceful stop: leave the name server, close connections, write the config files,
    /// flush and close the store.
    pub(crate) async fn shutdown(mut self) -> Result<(), BrokerError> {
        self.core.unregister();
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        self.stop_gracefully()
    }

    fn stop_gracefully(&mut self) -> Result<(), BrokerError> {
        self.abort_tasks();
        self.core.persist();
        if self.core.store.is_running() {
            self.core.store.shutdown()?;
        }
        info!(broker = %self.core.config.broker_name, "broker shut down");
        Ok(())
    }

    /// Abrupt stop, like `kill -9`: connections drop, nothing more is written; the store
    /// loses what it had not yet handed to the storage.
    pub(crate) async fn crash(mut self) {
        self.core.unregister();
        self.abort_tasks();
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        self.core.store.crash();
        warn!(broker = %self.core.config.broker_name, "broker crashed (simulated)");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if self.server.take().is_some() {
            self.core.unregister();
            if let Err(e) = self.stop_gracefully() {
                error!(error = %e, "broker shutdown on drop failed");
            }
        }
    }
}
