//! One [`Client`] per process: name-server routes, broker connections, heartbeats, and the
//! dispatch of requests brokers send to us. Producers and consumers are made from it.

mod config;
mod heartbeat;
mod registry;
mod route;
mod server_requests;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, warn};

pub use config::ClientConfig;
pub(crate) use config::config as config_error;
pub(crate) use registry::{ConsumerHooks, ProducerHooks, Registry};
use route::RouteCache;
pub use route::TopicRoute;

use crate::error::{Error, Result};
use crate::protocol::body::{JsonBody, TopicRouteData};
use crate::protocol::header::GetRouteInfoRequestHeader;
use crate::protocol::{RemotingCommand, RequestCode, ResponseCode};
use crate::remoting::{Backoff, ConnectionOptions, ConnectionPool};

/// The entry point: connections, routes and heartbeats shared by every producer and
/// consumer of the process. Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> rocketmq_sdk::Result<()> {
/// use rocketmq_sdk::Client;
/// let client = Client::builder().name_server("127.0.0.1:9876").build().await?;
/// let producer = client.producer("order-svc").start().await?;
/// # let _ = producer;
/// client.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("client_id", &self.inner.client_id)
            .finish()
    }
}

pub(crate) struct ClientInner {
    pub(crate) config: ClientConfig,
    pub(crate) client_id: String,
    pub(crate) pool: ConnectionPool,
    pub(crate) routes: RouteCache,
    pub(crate) registry: Registry,
    ns_index: AtomicUsize,
    shutdown: watch::Sender<bool>,
}

/// Builds a [`Client`]. Every default is the Java client's (see [`ClientConfig`]).
#[derive(Debug, Clone, Default)]
pub struct ClientBuilder {
    config: ClientConfig,
}

impl ClientBuilder {
    /// Adds a name server (`host:port`). Call once per name server.
    pub fn name_server(mut self, addr: impl Into<String>) -> Self {
        self.config.name_servers.push(addr.into());
        self
    }

    /// Sets the instance name (default `DEFAULT`).
    pub fn instance_name(mut self, name: impl Into<String>) -> Self {
        self.config.instance_name = name.into();
        self
    }

    /// Sets the IP used in the client id.
    pub fn client_ip(mut self, ip: impl Into<String>) -> Self {
        self.config.client_ip = ip.into();
        self
    }

    /// Sets the unit name.
    pub fn unit_name(mut self, unit: impl Into<String>) -> Self {
        self.config.unit_name = Some(unit.into());
        self
    }

    /// Timeout of route, heartbeat and offset requests (default 3 s).
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.config.request_timeout = t;
        self
    }

    /// TCP connect timeout (default 3 s).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.config.connect_timeout = t;
        self
    }

    /// Heartbeat period (default 30 s).
    pub fn heartbeat_interval(mut self, t: Duration) -> Self {
        self.config.heartbeat_interval = t;
        self
    }

    /// Route refresh period (default 30 s).
    pub fn route_poll_interval(mut self, t: Duration) -> Self {
        self.config.route_poll_interval = t;
        self
    }

    /// Consumer offset persistence period (default 5 s).
    pub fn persist_offset_interval(mut self, t: Duration) -> Self {
        self.config.persist_offset_interval = t;
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// Validates the configuration and starts the client's background tasks (heartbeats,
    /// route refresh). No connection is made until it is needed.
    ///
    /// # Errors
    /// [`Error::Config`] naming the bad field.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn build(self) -> Result<Client> {
        let mut config = self.config;
        config.validate()?;
        let client_id = config.client_id();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let inner = Arc::new_cyclic(|weak: &Weak<ClientInner>| {
            let options = ConnectionOptions {
                connect_timeout: config.connect_timeout,
                max_frame: config.max_frame,
                handler: Some(Arc::new(server_requests::Handler {
                    client: weak.clone(),
                })),
            };
            ClientInner {
                pool: ConnectionPool::new(options, Backoff::default()),
                config,
                client_id,
                routes: RouteCache::default(),
                registry: Registry::default(),
                ns_index: AtomicUsize::new(0),
                shutdown,
            }
        });
        tokio::spawn(background(Arc::downgrade(&inner), shutdown_rx));
        Ok(Client { inner })
    }
}

impl Client {
    /// A builder with the Java client's defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// This client's id (`ip@instance`), as brokers see it.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The configuration in force.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The route of `topic`, from the cache or the name servers.
    ///
    /// # Errors
    /// [`Error::NoRoute`] when no name server knows the topic; transport errors when none
    /// answers.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn topic_route(&self, topic: &str) -> Result<Arc<TopicRoute>> {
        if let Some(r) = self.inner.routes.get(topic) {
            return Ok(r);
        }
        self.refresh_route(topic).await
    }

    /// Fetches the route of `topic` from the name servers and caches it.
    ///
    /// # Errors
    /// As [`Client::topic_route`].
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn refresh_route(&self, topic: &str) -> Result<Arc<TopicRoute>> {
        let data = self.inner.fetch_route(topic).await?;
        let route = Arc::new(TopicRoute::new(topic, data));
        self.inner.routes.put(route.clone());
        Ok(route)
    }

    /// Stops heartbeats and route refresh, unregisters every producer and consumer group
    /// from every broker, and closes the connections.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping it part-way may leave some brokers not told.
    pub async fn shutdown(&self) {
        if self.inner.shutdown.send_replace(true) {
            return;
        }
        self.inner.unregister_all().await;
        self.inner.pool.close_all();
    }

    /// Whether [`Client::shutdown`] was called.
    pub fn is_shut_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }
}

impl ClientInner {
    /// Sends `request` to a name server, failing over to the next on transport errors.
    pub(crate) async fn name_server_request(
        &self,
        request: RemotingCommand,
    ) -> Result<RemotingCommand> {
        let servers = &self.config.name_servers;
        let start = self.ns_index.load(Ordering::Relaxed);
        let mut last = None;
        for i in 0..servers.len() {
            let idx = (start + i) % servers.len();
            match self
                .pool
                .request(&servers[idx], request.clone(), self.config.request_timeout)
                .await
            {
                Ok(r) => {
                    self.ns_index.store(idx, Ordering::Relaxed);
                    return Ok(r);
                }
                Err(e) => {
                    debug!(name_server = %servers[idx], error = %e, "name server request failed");
                    last = Some(e);
                }
            }
        }
        Err(last.map(Error::from).unwrap_or(Error::Shutdown))
    }

    pub(crate) async fn fetch_route(&self, topic: &str) -> Result<TopicRouteData> {
        let header = GetRouteInfoRequestHeader {
            topic: topic.to_owned(),
            ..Default::default()
        };
        let req =
            RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC).with_header(&header);
        let resp = self.name_server_request(req).await?;
        match resp.response_code() {
            ResponseCode::SUCCESS => Ok(TopicRouteData::decode(&resp.body)?),
            ResponseCode::TOPIC_NOT_EXIST => Err(Error::NoRoute(topic.to_owned())),
            code => Err(Error::Broker {
                addr: "name server".into(),
                code,
                remark: resp.remark.unwrap_or_default(),
            }),
        }
    }
}

async fn background(client: Weak<ClientInner>, mut shutdown: watch::Receiver<bool>) {
    let (hb, rp) = match client.upgrade() {
        Some(c) => (c.config.heartbeat_interval, c.config.route_poll_interval),
        None => return,
    };
    let mut heartbeat = tokio::time::interval(hb);
    let mut route_poll = tokio::time::interval(rp);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    route_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = heartbeat.tick() => {
                let Some(c) = client.upgrade() else { return };
                c.send_heartbeat_to_all().await;
            }
            _ = route_poll.tick() => {
                let Some(c) = client.upgrade() else { return };
                for topic in c.routes.topics() {
                    match c.fetch_route(&topic).await {
                        Ok(data) => {
                            let fresh = TopicRoute::new(&topic, data);
                            let changed = c.routes.get(&topic).is_none_or(|old| old.data != fresh.data || old.from_default_topic);
                            if changed {
                                c.routes.put(Arc::new(fresh));
                            }
                        }
                        Err(Error::NoRoute(_)) => {}
                        Err(e) => warn!(topic, error = %e, "route refresh failed"),
                    }
                }
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return;
                }
            }
        }
    }
}
