//! The name server role: the route table and the requests clients, brokers and admins
//! send it (GET_ROUTEINFO_BY_TOPIC, GET_BROKER_CLUSTER_INFO, REGISTER_BROKER,
//! UNREGISTER_BROKER, GET_ALL_TOPIC_LIST_FROM_NAMESERVER, DELETE_TOPIC_IN_NAMESRV,
//! GET_TOPICS_BY_CLUSTER), its key-value config (PUT/GET/DELETE_KV_CONFIG,
//! GET_KVLIST_BY_NAMESPACE) and its own settings (UPDATE/GET_NAMESRV_CONFIG), served on
//! its own port like upstream's `namesrv`.

pub(crate) mod config;
mod kv;
mod route_table;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use rocketmq_sdk::protocol::body::{JsonBody, KvTable, RegisterBrokerBody, TopicList};
use rocketmq_sdk::protocol::header::{
    DeleteKvConfigRequestHeader, DeleteTopicFromNamesrvRequestHeader, GetKvConfigRequestHeader,
    GetKvConfigResponseHeader, GetKvListByNamespaceRequestHeader, GetRouteInfoRequestHeader,
    GetTopicsByClusterRequestHeader, PutKvConfigRequestHeader, RegisterBrokerRequestHeader,
    RegisterBrokerResponseHeader, UnregisterBrokerRequestHeader,
};
use rocketmq_sdk::protocol::message::hash::crc32_masked;
use rocketmq_sdk::protocol::{RemotingCommand, RequestCode, ResponseCode};
use tracing::{debug, info};

pub use config::NamesrvSettings;
pub use kv::{KvConfig, ORDER_TOPIC_CONFIG};
pub use route_table::{
    BrokerRegistration, DEFAULT_BROKER_EXPIRY_MILLIS, RegisterResult, RouteTable,
};

use crate::faults::Faults;
use crate::processor::reply;
use crate::server::{
    ClientChannel, ConnectionListener, Dispatcher, RequestContext, RequestProcessor, Server,
    Transport,
};
use crate::store::Clock;

/// A running name server: its route table, KV config, settings and listening socket.
pub struct NameServer {
    routes: Arc<RouteTable>,
    kv: Arc<KvConfig>,
    settings: Arc<NamesrvSettings>,
    server: Server,
}

impl fmt::Debug for NameServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NameServer")
            .field("addr", &self.server.local_addr())
            .field("routes", &self.routes)
            .finish()
    }
}

impl NameServer {
    /// Binds `addr` and serves a new, empty route table.
    ///
    /// # Errors
    /// The bind error.
    ///
    /// # Cancel safety
    /// Cancel safe: nothing serves until it returns.
    pub async fn start(
        addr: &str,
        clock: Arc<dyn Clock>,
        faults: Vec<Arc<Faults>>,
    ) -> std::io::Result<NameServer> {
        Self::start_on(addr, clock, faults, Transport::Plain).await
    }

    /// Like [`start`](Self::start), speaking TLS when `tls` is set (crate feature `tls`).
    /// The name server never enforces ACL (as upstream's), TLS or not.
    ///
    /// # Errors
    /// The bind error.
    ///
    /// # Cancel safety
    /// Cancel safe: dropped before it completes, nothing is bound or served.
    #[cfg(feature = "tls")]
    pub async fn start_tls(
        addr: &str,
        clock: Arc<dyn Clock>,
        faults: Vec<Arc<Faults>>,
        tls: Option<crate::server::TlsServerConfig>,
    ) -> std::io::Result<NameServer> {
        Self::start_on(addr, clock, faults, Transport::from_tls(tls.as_ref())).await
    }

    async fn start_on(
        addr: &str,
        clock: Arc<dyn Clock>,
        faults: Vec<Arc<Faults>>,
        transport: Transport,
    ) -> std::io::Result<NameServer> {
        let routes = Arc::new(RouteTable::new(clock));
        let kv = Arc::new(KvConfig::new());
        let settings = Arc::new(NamesrvSettings::default());
        let mut dispatcher = Dispatcher::new();
        let processor = Arc::new(NamesrvProcessor {
            routes: routes.clone(),
            kv: kv.clone(),
            settings: settings.clone(),
        });
        dispatcher.register(
            &[
                RequestCode::GET_ROUTEINFO_BY_TOPIC,
                RequestCode::GET_BROKER_CLUSTER_INFO,
                RequestCode::REGISTER_BROKER,
                RequestCode::UNREGISTER_BROKER,
                RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
                RequestCode::DELETE_TOPIC_IN_NAMESRV,
                RequestCode::GET_TOPICS_BY_CLUSTER,
                RequestCode::PUT_KV_CONFIG,
                RequestCode::GET_KV_CONFIG,
                RequestCode::DELETE_KV_CONFIG,
                RequestCode::GET_KVLIST_BY_NAMESPACE,
                RequestCode::UPDATE_NAMESRV_CONFIG,
                RequestCode::GET_NAMESRV_CONFIG,
            ],
            processor,
        );
        dispatcher.add_listener(Arc::new(BrokerHousekeeping {
            routes: routes.clone(),
        }));
        for f in faults {
            dispatcher.add_faults(f);
        }
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let server = Server::serve(listener, Arc::new(dispatcher), transport);
        Ok(NameServer {
            routes,
            kv,
            settings,
            server,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The route table (brokers in this process register through it directly).
    pub fn routes(&self) -> &Arc<RouteTable> {
        &self.routes
    }

    /// The key-value config (PUT_KV_CONFIG and friends).
    pub fn kv_config(&self) -> &Arc<KvConfig> {
        &self.kv
    }

    /// The name server's settings (GET_NAMESRV_CONFIG).
    pub fn settings(&self) -> &Arc<NamesrvSettings> {
        &self.settings
    }

    /// Stops serving and closes every connection.
    ///
    /// # Cancel safety
    /// Not cancel safe: connections may be left open.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Drops brokers whose registration connection closes (upstream
/// `BrokerHousekeepingService`).
struct BrokerHousekeeping {
    routes: Arc<RouteTable>,
}

impl ConnectionListener for BrokerHousekeeping {
    fn on_disconnect(&self, channel: &ClientChannel) {
        self.routes.on_channel_closed(channel.id());
    }
}

struct NamesrvProcessor {
    routes: Arc<RouteTable>,
    kv: Arc<KvConfig>,
    settings: Arc<NamesrvSettings>,
}

#[async_trait]
impl RequestProcessor for NamesrvProcessor {
    async fn process(
        &self,
        ctx: &RequestContext,
        request: RemotingCommand,
    ) -> Option<RemotingCommand> {
        Some(match request.request_code() {
            RequestCode::GET_ROUTEINFO_BY_TOPIC => self.route(&request),
            RequestCode::GET_BROKER_CLUSTER_INFO => {
                reply::json_body(&self.routes.cluster_info(), false)
            }
            RequestCode::REGISTER_BROKER => self.register(ctx, &request),
            RequestCode::UNREGISTER_BROKER => self.unregister(&request),
            RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => topic_list(self.routes.topics()),
            RequestCode::DELETE_TOPIC_IN_NAMESRV => self.delete_topic(&request),
            RequestCode::GET_TOPICS_BY_CLUSTER => self.topics_by_cluster(&request),
            RequestCode::PUT_KV_CONFIG => self.put_kv(&request),
            RequestCode::GET_KV_CONFIG => self.get_kv(&request),
            RequestCode::DELETE_KV_CONFIG => self.delete_kv(&request),
            RequestCode::GET_KVLIST_BY_NAMESPACE => self.kv_namespace(&request),
            RequestCode::UPDATE_NAMESRV_CONFIG => self.update_config(&request),
            RequestCode::GET_NAMESRV_CONFIG => {
                reply::success().with_body(self.settings.format().into_bytes())
            }
            other => reply::error(
                ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
                format!(" request type {} not supported", other.value()),
            ),
        })
    }
}

fn topic_list(topics: Vec<String>) -> RemotingCommand {
    let body = TopicList {
        topic_list: topics.into_iter().collect(),
        ..TopicList::default()
    };
    reply::json_body(&body, false)
}

impl NamesrvProcessor {
    fn delete_topic(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: DeleteTopicFromNamesrvRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        };
        let cluster = h.cluster_name.as_deref().filter(|c| !c.is_empty());
        self.routes.delete_topic(&h.topic, cluster);
        reply::success()
    }

    fn topics_by_cluster(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: GetTopicsByClusterRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        };
        topic_list(self.routes.topics_of_cluster(&h.cluster))
    }

    fn put_kv(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: PutKvConfigRequestHeader = match request.decode_header() {
            Ok(h) => h,
            // Upstream checks the two keys by hand before anything else.
            Err(_)
                if request.ext_fields.get("namespace").is_none()
                    || request.ext_fields.get("key").is_none() =>
            {
                return reply::error(ResponseCode::SYSTEM_ERROR, "namespace or key is null");
            }
            Err(e) => return reply::bad_header(&e),
        };
        self.kv.put(&h.namespace, &h.key, &h.value);
        reply::success()
    }

    fn get_kv(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: GetKvConfigRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        };
        match self.kv.get(&h.namespace, &h.key) {
            Some(value) => {
                reply::success().with_header(&GetKvConfigResponseHeader { value: Some(value) })
            }
            None => reply::error(
                ResponseCode::QUERY_NOT_FOUND,
                format!("No config item, Namespace: {} Key: {}", h.namespace, h.key),
            ),
        }
    }

    fn delete_kv(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: DeleteKvConfigRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        };
        self.kv.delete(&h.namespace, &h.key);
        reply::success()
    }

    fn kv_namespace(&self, request: &RemotingCommand) -> RemotingCommand {
        let h: GetKvListByNamespaceRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        };
        match self.kv.namespace(&h.namespace) {
            Some(table) => reply::json_body(&KvTable { table }, false),
            None => reply::error(
                ResponseCode::QUERY_NOT_FOUND,
                format!("No config item, Namespace: {}", h.namespace),
            ),
        }
    }

    fn update_config(&self, request: &RemotingCommand) -> RemotingCommand {
        if request.body.is_empty() {
            return reply::success();
        }
        let Ok(text) = std::str::from_utf8(&request.body) else {
            return reply::error(ResponseCode::SYSTEM_ERROR, "string2Properties error");
        };
        let n = self.settings.update(text);
        info!(keys = n, "UPDATE_NAMESRV_CONFIG");
        reply::success()
    }

    fn route(&self, request: &RemotingCommand) -> RemotingCommand {
        let header: GetRouteInfoRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        };
        let Some(mut route) = self.routes.route(&header.topic) else {
            return reply::error(
                ResponseCode::TOPIC_NOT_EXIST,
                format!(
                    "No topic route info in name server for the topic: {}",
                    header.topic
                ),
            );
        };
        if self.settings.order_message_enable() {
            route.order_topic_conf = self.kv.get(ORDER_TOPIC_CONFIG, &header.topic);
        }
        let standard = header.accept_standard_json_only.unwrap_or(false);
        match route.encode_for(request.version, standard) {
            Ok(body) => reply::success().with_body(body),
            Err(e) => reply::error(ResponseCode::SYSTEM_ERROR, e.to_string()),
        }
    }

    fn register(&self, ctx: &RequestContext, request: &RemotingCommand) -> RemotingCommand {
        let header: RegisterBrokerRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        };
        if header.body_crc32 != 0 && crc32_masked(&request.body) as i32 != header.body_crc32 {
            return reply::error(ResponseCode::SYSTEM_ERROR, "crc32 not match");
        }
        let body = if request.body.is_empty() {
            RegisterBrokerBody::default()
        } else {
            match RegisterBrokerBody::from_bytes(&request.body, header.compressed) {
                Ok(b) => b,
                Err(e) => {
                    return reply::error(
                        ResponseCode::SYSTEM_ERROR,
                        format!("register broker body cannot be decoded: {e}"),
                    );
                }
            }
        };
        debug!(broker = %header.broker_name, addr = %header.broker_addr, "REGISTER_BROKER");
        let wrapper = body.topic_config_serialize_wrapper;
        let result = self.routes.register_broker(BrokerRegistration {
            cluster_name: header.cluster_name,
            broker_name: header.broker_name,
            broker_addr: header.broker_addr,
            broker_id: header.broker_id,
            ha_server_addr: header.ha_server_addr,
            data_version: wrapper.data_version,
            topics: wrapper.topic_config_table.into_values().collect(),
            heartbeat_timeout_millis: Some(
                header
                    .heartbeat_timeout_millis
                    .unwrap_or(DEFAULT_BROKER_EXPIRY_MILLIS),
            ),
            channel: Some(ctx.channel.id()),
            zone_name: header.zone_name,
            enable_acting_master: header.enable_acting_master.unwrap_or(false),
        });
        let mut response = reply::success().with_header(&RegisterBrokerResponseHeader {
            ha_server_addr: result.ha_server_addr,
            master_addr: result.master_addr,
        });
        // Upstream answers every registration with the ordered topics' KV namespace.
        if let Some(table) = self.kv.namespace(ORDER_TOPIC_CONFIG)
            && let Ok(body) = (KvTable { table }).encode()
        {
            response = response.with_body(body);
        }
        response
    }

    fn unregister(&self, request: &RemotingCommand) -> RemotingCommand {
        let header: UnregisterBrokerRequestHeader = match request.decode_header() {
            Ok(h) => h,
            Err(e) => return reply::bad_header(&e),
        };
        self.routes.unregister_broker(
            &header.cluster_name,
            &header.broker_addr,
            &header.broker_name,
            header.broker_id,
        );
        reply::success()
    }
}
