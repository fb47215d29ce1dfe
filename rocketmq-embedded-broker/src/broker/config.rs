//! The broker role's settings: the subset of upstream `BrokerConfig` this broker
//! implements, with upstream's defaults.

use std::time::Duration;

/// Settings of one broker. Every default is the Java broker's unless it says otherwise.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub(crate) struct BrokerConfig {
    /// Cluster name (`brokerClusterName`, default `DefaultCluster`).
    pub(crate) cluster_name: String,
    /// Broker name (`brokerName`; upstream defaults to the host name, here `broker-a`).
    pub(crate) broker_name: String,
    /// Broker id (`brokerId`, 0 = master, 1 = the slave).
    pub(crate) broker_id: i64,
    /// Role (`brokerRole`, default ASYNC_MASTER).
    pub(crate) role: crate::replication::BrokerRole,
    /// A master's view of its slave (none without replication).
    pub(crate) ha: Option<std::sync::Arc<crate::replication::HaState>>,
    /// Address to listen on (default `127.0.0.1:0`: loopback, an ephemeral port).
    pub(crate) listen_addr: String,
    /// Create unknown topics on first send from the `TBW102` template
    /// (`autoCreateTopicEnable`, default true).
    pub(crate) auto_create_topic_enable: bool,
    /// Create unknown consumer groups on first use (`autoCreateSubscriptionGroup`, default
    /// true).
    pub(crate) auto_create_subscription_group: bool,
    /// Filter pulls by SQL92 subscriptions (`enablePropertyFilter`). Default **true**,
    /// unlike upstream (false): see `EmbeddedBrokerBuilder::property_filter`.
    pub(crate) enable_property_filter: bool,
    /// Queues of the `TBW102` template, hence the most an auto-created topic gets
    /// (`defaultTopicQueueNums`, default 8). A Java producer asks for 4
    /// (`defaultTopicQueueNums` of the client), and the broker takes the smaller.
    pub(crate) default_topic_queue_nums: i32,
    /// Largest message body accepted (`maxMessageSize`, default 4 MiB).
    pub(crate) max_message_size: usize,
    /// How long a queue lock lives without renewal
    /// (`rocketmq.broker.rebalance.lockMaxLiveTime`, default 60 s).
    pub(crate) rebalance_lock_max_live_time: Duration,
    /// Hold pulls that find nothing for their `suspendTimeoutMillis` (`longPollingEnable`,
    /// default true); when false they are held for `short_polling_time`.
    pub(crate) long_polling_enable: bool,
    /// Hold time when long polling is off (`shortPollingTimeMills`, default 1 s).
    pub(crate) short_polling_time: Duration,
    /// How often consumer offsets are written to `consumerOffset.json`
    /// (`flushConsumerOffsetInterval`, default 5 s).
    pub(crate) flush_consumer_offset_interval: Duration,
    /// `MSG_REGION` of send responses (`regionId`, default `DefaultRegion`).
    pub(crate) region_id: String,
    /// `TRACE_ON` of send responses (`traceOn`, default true).
    pub(crate) trace_on: bool,
    /// Result cap of a unique-key QUERY_MESSAGE (`defaultQueryMaxNum`, default 32).
    pub(crate) default_query_max_num: i32,
    /// Delay levels (`messageDelayLevel`), kept for the scheduling service.
    pub(crate) message_delay_level: String,
    /// The transaction checker (`transactionCheckInterval`, `transactionTimeOut`,
    /// `transactionCheckMax`).
    pub(crate) transaction: crate::transaction::TransactionConfig,
    /// ACL 1.0 check of every request (`aclEnable`, default off).
    pub(crate) acl: Option<std::sync::Arc<crate::acl::AclChecker>>,
    /// TLS on the listener (feature `tls`; default plaintext).
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::server::TlsServerConfig>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            cluster_name: "DefaultCluster".to_owned(),
            broker_name: "broker-a".to_owned(),
            broker_id: 0,
            role: crate::replication::BrokerRole::AsyncMaster,
            ha: None,
            listen_addr: "127.0.0.1:0".to_owned(),
            auto_create_topic_enable: true,
            auto_create_subscription_group: true,
            enable_property_filter: true,
            default_topic_queue_nums: 8,
            max_message_size: 4 * 1024 * 1024,
            rebalance_lock_max_live_time: Duration::from_secs(60),
            long_polling_enable: true,
            short_polling_time: Duration::from_secs(1),
            flush_consumer_offset_interval: Duration::from_secs(5),
            region_id: "DefaultRegion".to_owned(),
            trace_on: true,
            default_query_max_num: 32,
            message_delay_level: crate::store::DelayLevelTable::DEFAULT_LEVELS.to_owned(),
            transaction: crate::transaction::TransactionConfig::default(),
            acl: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}
