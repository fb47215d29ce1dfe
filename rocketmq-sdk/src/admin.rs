//! Administration over the remoting protocol, as upstream's `mqadmin` does it: cluster and
//! topic listing, topic creation, message lookup by key or id, browsing a topic without
//! consuming it, dead letters and their re-sending. Every call works against any RocketMQ
//! name server and broker (4.x/5.x, classic remoting), the embedded broker included.
//!
//! Offset resets by time are [`Client::reset_offset_by_timestamp`]. Monitoring and clean-up:
//! [`Client::topic_stats`], [`Client::consume_stats`] (lag), [`Client::consumer_connections`],
//! [`Client::broker_runtime_info`], [`Client::delete_topic`], [`Client::delete_group`].
//!
//! ```no_run
//! # async fn demo() -> rocketmq_sdk::Result<()> {
//! use rocketmq_sdk::Client;
//!
//! let client = Client::builder().name_server("127.0.0.1:9876").build().await?;
//! let created_on = client.create_topic("orders", 4, None).await?;
//! println!("orders created on {created_on:?}");
//! for m in client.query_messages_by_key("orders", "order-42", 32).await? {
//!     println!("{} {:?}", m.msg_id(), m.body);
//! }
//! for m in client.dead_letters("billing", 100).await? {
//!     client.resend_dead_letter("billing", &m).await?;
//! }
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::client::Client;
use crate::consumer::api::PullStatus;
use crate::error::{Error, Result};
use crate::protocol::body::{
    ClusterInfo, ConsumeStats, ConsumerConnection, JsonBody, KvTable, SubscriptionData,
    SubscriptionGroupConfig, TopicList, TopicStatsTable,
};
use crate::protocol::header::pull::pull_sys_flag;
use crate::protocol::header::{
    CreateTopicRequestHeader, DeleteSubscriptionGroupRequestHeader,
    DeleteTopicFromNamesrvRequestHeader, DeleteTopicRequestHeader, GetConsumeStatsRequestHeader,
    GetConsumerConnectionListRequestHeader, GetTopicStatsInfoRequestHeader,
    QueryMessageRequestHeader, RpcBase, TopicFilterType, ViewMessageRequestHeader,
};
use crate::protocol::message::id::decode_offset_msg_id;
use crate::protocol::message::{MessageExt, MessageQueue, decode_all};
use crate::protocol::topic::{dlq_topic, retry_topic};
use crate::protocol::{RemotingCommand, RequestCode, ResponseCode};

/// The consumer group the browsing pulls are made in (upstream `TOOLS_CONSUMER`). It never
/// commits offsets.
pub const TOOLS_GROUP: &str = "TOOLS_CONSUMER";

/// The retry budget a re-sent dead letter is stored with (the consumer's own
/// `max_reconsume_times` applies when it fails again).
const DEFAULT_MAX_RECONSUME_TIMES: i32 = 16;

/// Messages asked for per browsing pull.
const BROWSE_BATCH: i32 = 32;

fn broker_error(addr: &str, resp: RemotingCommand) -> Error {
    Error::Broker {
        addr: addr.to_owned(),
        code: resp.response_code(),
        remark: resp.remark.unwrap_or_default(),
    }
}

impl Client {
    /// Master addresses of the brokers serving `topic`, sorted.
    async fn topic_masters(&self, topic: &str) -> Result<Vec<String>> {
        let route = self.refresh_route(topic).await?;
        let mut addrs: Vec<String> = route
            .data
            .broker_datas
            .iter()
            .filter_map(|b| b.master_addr().map(str::to_owned))
            .collect();
        addrs.sort();
        addrs.dedup();
        Ok(addrs)
    }

    /// Master addresses of `cluster`'s brokers (of every cluster when `None`).
    async fn cluster_masters(&self, cluster: Option<&str>) -> Result<Vec<String>> {
        let info = self.cluster_info().await?;
        let names: BTreeSet<String> = match cluster {
            Some(c) => info.cluster_addr_table.get(c).cloned().unwrap_or_default(),
            None => info.broker_addr_table.keys().cloned().collect(),
        };
        Ok(names
            .iter()
            .filter_map(|n| info.broker_addr_table.get(n)?.master_addr())
            .map(str::to_owned)
            .collect())
    }

    /// Every queue's min and max offsets and the store time of its newest message, over
    /// every master serving `topic` (GET_TOPIC_STATS_INFO, `mqadmin topicStatus`).
    ///
    /// # Errors
    /// [`Error::NoRoute`] for an unknown topic; [`Error::Broker`] when a broker refuses;
    /// transport and decoding errors.
    ///
    /// # Cancel safety
    /// Cancel safe: a read.
    pub async fn topic_stats(&self, topic: &str) -> Result<TopicStatsTable> {
        let mut out = TopicStatsTable::default();
        for addr in self.topic_masters(topic).await? {
            let header = GetTopicStatsInfoRequestHeader {
                topic: topic.to_owned(),
                rpc: RpcBase::default(),
            };
            let req =
                RemotingCommand::request(RequestCode::GET_TOPIC_STATS_INFO).with_header(&header);
            let resp = self.admin_ok(&addr, req).await?;
            out.offset_table
                .extend(TopicStatsTable::decode(&resp.body)?.offset_table);
        }
        Ok(out)
    }

    /// A consumer group's progress (GET_CONSUME_STATS, `mqadmin consumerProgress`): per
    /// queue the broker's and the group's offsets, whose difference is the lag
    /// ([`ConsumeStats::total_diff`]). With `topic` only that topic, asked of its brokers;
    /// without, every topic the group has offsets on, asked of the brokers of its retry
    /// topic (upstream's way of finding a group's brokers).
    ///
    /// # Errors
    /// [`Error::NoRoute`] when the topic (or the group's retry topic) is unknown;
    /// [`Error::Broker`]; transport and decoding errors.
    ///
    /// # Cancel safety
    /// Cancel safe: a read.
    pub async fn consume_stats(&self, group: &str, topic: Option<&str>) -> Result<ConsumeStats> {
        let route_topic = topic.map_or_else(|| retry_topic(group), str::to_owned);
        let mut out = ConsumeStats::default();
        for addr in self.topic_masters(&route_topic).await? {
            let header = GetConsumeStatsRequestHeader {
                consumer_group: group.to_owned(),
                topic: topic.map(str::to_owned),
                rpc: RpcBase::default(),
            };
            let req = RemotingCommand::request(RequestCode::GET_CONSUME_STATS).with_header(&header);
            let resp = self.admin_ok(&addr, req).await?;
            let stats = ConsumeStats::decode(&resp.body)?;
            out.consume_tps += stats.consume_tps;
            out.offset_table.extend(stats.offset_table);
        }
        Ok(out)
    }

    /// The online members of a consumer group and what it subscribes to, merged over the
    /// brokers of its retry topic (GET_CONSUMER_CONNECTION_LIST, `mqadmin
    /// consumerConnection`).
    ///
    /// # Errors
    /// [`Error::NoRoute`] when the group's retry topic is unknown; [`Error::Broker`] with
    /// CONSUMER_NOT_ONLINE when no broker knows a member; transport and decoding errors.
    ///
    /// # Cancel safety
    /// Cancel safe: a read.
    pub async fn consumer_connections(&self, group: &str) -> Result<ConsumerConnection> {
        let mut out: Option<ConsumerConnection> = None;
        let mut last_error = None;
        for addr in self.topic_masters(&retry_topic(group)).await? {
            let header = GetConsumerConnectionListRequestHeader {
                consumer_group: group.to_owned(),
                rpc: RpcBase::default(),
            };
            let req = RemotingCommand::request(RequestCode::GET_CONSUMER_CONNECTION_LIST)
                .with_header(&header);
            let resp = self.admin_call(&addr, req).await?;
            if resp.response_code() != ResponseCode::SUCCESS {
                last_error = Some(broker_error(&addr, resp));
                continue;
            }
            let c = ConsumerConnection::decode(&resp.body)?;
            match &mut out {
                None => out = Some(c),
                Some(o) => {
                    for conn in c.connection_set {
                        if !o.connection_set.contains(&conn) {
                            o.connection_set.push(conn);
                        }
                    }
                    o.subscription_table.extend(c.subscription_table);
                }
            }
        }
        match (out, last_error) {
            (Some(o), _) => Ok(o),
            (None, Some(e)) => Err(e),
            (None, None) => Err(Error::NoRoute(retry_topic(group))),
        }
    }

    /// A broker's runtime figures (GET_BROKER_RUNTIME_INFO, `mqadmin brokerStatus`):
    /// `brokerVersionDesc`, `msgPutTotalTodayNow`, `putTps`, `commitLogDirCapacity`, ….
    ///
    /// # Errors
    /// [`Error::Broker`] when the broker refuses; transport and decoding errors.
    ///
    /// # Cancel safety
    /// Cancel safe: a read.
    pub async fn broker_runtime_info(&self, broker_addr: &str) -> Result<BTreeMap<String, String>> {
        let req = RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO);
        let resp = self.admin_call(broker_addr, req).await?;
        if resp.response_code() != ResponseCode::SUCCESS {
            return Err(broker_error(broker_addr, resp));
        }
        Ok(KvTable::decode(&resp.body)?.table)
    }

    /// Deletes `topic` from every master of `cluster` (every cluster when `None`) with
    /// DELETE_TOPIC_IN_BROKER, then from every name server with DELETE_TOPIC_IN_NAMESRV, as
    /// `mqadmin deleteTopic` does. The brokers drop its config, consume queues and offsets;
    /// the stored messages stay in the commit log until retention removes them.
    ///
    /// # Errors
    /// [`Error::NoRoute`] when the cluster has no master; [`Error::Broker`] when a broker
    /// or name server refuses (a system topic); transport errors.
    ///
    /// # Cancel safety
    /// Not cancel safe: some brokers may have deleted the topic.
    pub async fn delete_topic(&self, topic: &str, cluster: Option<&str>) -> Result<()> {
        let masters = self.cluster_masters(cluster).await?;
        if masters.is_empty() {
            return Err(Error::NoRoute(format!("{topic} (no master broker)")));
        }
        for addr in masters {
            let header = DeleteTopicRequestHeader {
                topic: topic.to_owned(),
                rpc: RpcBase::default(),
            };
            let req =
                RemotingCommand::request(RequestCode::DELETE_TOPIC_IN_BROKER).with_header(&header);
            self.admin_ok(&addr, req).await?;
        }
        let header = DeleteTopicFromNamesrvRequestHeader {
            topic: topic.to_owned(),
            cluster_name: cluster.map(str::to_owned),
            rpc: RpcBase::default(),
        };
        for ns in self.inner.config.name_servers.clone() {
            let req =
                RemotingCommand::request(RequestCode::DELETE_TOPIC_IN_NAMESRV).with_header(&header);
            self.admin_ok(&ns, req).await?;
        }
        Ok(())
    }

    /// Deletes a consumer group's config from every master of `cluster` (every cluster when
    /// `None`), and with `remove_offsets` its committed offsets too
    /// (DELETE_SUBSCRIPTIONGROUP, `mqadmin deleteSubGroup`).
    ///
    /// # Errors
    /// [`Error::NoRoute`] when the cluster has no master; [`Error::Broker`]; transport
    /// errors.
    ///
    /// # Cancel safety
    /// Not cancel safe: some brokers may have deleted the group.
    pub async fn delete_group(
        &self,
        group: &str,
        cluster: Option<&str>,
        remove_offsets: bool,
    ) -> Result<()> {
        let masters = self.cluster_masters(cluster).await?;
        if masters.is_empty() {
            return Err(Error::NoRoute(format!("{group} (no master broker)")));
        }
        for addr in masters {
            let header = DeleteSubscriptionGroupRequestHeader {
                group_name: group.to_owned(),
                remove_offset: remove_offsets,
                rpc: RpcBase::default(),
            };
            let req = RemotingCommand::request(RequestCode::DELETE_SUBSCRIPTIONGROUP)
                .with_header(&header);
            self.admin_ok(&addr, req).await?;
        }
        Ok(())
    }

    /// Creates or updates a subscription group on every master of `cluster` (all clusters
    /// when `None`), as mqadmin's `updateSubGroup` (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).
    ///
    /// # Errors
    /// [`Error::NoRoute`] when the cluster has no master; [`Error::Broker`]; transport
    /// and encoding errors.
    ///
    /// # Cancel safety
    /// Not cancel safe: some brokers may have applied it.
    pub async fn update_group(
        &self,
        config: &SubscriptionGroupConfig,
        cluster: Option<&str>,
    ) -> Result<()> {
        let masters = self.cluster_masters(cluster).await?;
        if masters.is_empty() {
            return Err(Error::NoRoute(format!(
                "{} (no master broker)",
                config.group_name
            )));
        }
        let body = config.encode()?;
        for addr in masters {
            let req = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
                .with_body(body.clone());
            self.admin_ok(&addr, req).await?;
        }
        Ok(())
    }

    async fn admin_call(&self, addr: &str, request: RemotingCommand) -> Result<RemotingCommand> {
        Ok(self
            .inner
            .pool
            .request(addr, request, self.inner.config.request_timeout)
            .await?)
    }

    /// [`admin_call`](Self::admin_call) that turns any answer but SUCCESS into
    /// [`Error::Broker`].
    async fn admin_ok(&self, addr: &str, request: RemotingCommand) -> Result<RemotingCommand> {
        let resp = self.admin_call(addr, request).await?;
        if resp.response_code() != ResponseCode::SUCCESS {
            return Err(broker_error(addr, resp));
        }
        Ok(resp)
    }

    /// The clusters and brokers the name servers know (GET_BROKER_CLUSTER_INFO).
    ///
    /// # Errors
    /// [`Error::Broker`] when the name server refuses; transport and decoding errors.
    ///
    /// # Cancel safety
    /// Cancel safe: a read.
    pub async fn cluster_info(&self) -> Result<ClusterInfo> {
        let req = RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO);
        let resp = self.inner.name_server_request(req).await?;
        match resp.response_code() {
            ResponseCode::SUCCESS => Ok(ClusterInfo::decode(&resp.body)?),
            _ => Err(broker_error("name server", resp)),
        }
    }

    /// Every topic the name servers know (GET_ALL_TOPIC_LIST_FROM_NAMESERVER), sorted.
    /// System topics (`TBW102`, `%RETRY%…`, `%DLQ%…`, `SCHEDULE_TOPIC_XXXX`, …) are
    /// included, as upstream lists them.
    ///
    /// # Errors
    /// As [`Client::cluster_info`].
    ///
    /// # Cancel safety
    /// Cancel safe: a read.
    pub async fn topic_list(&self) -> Result<BTreeSet<String>> {
        let req = RemotingCommand::request(RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
        let resp = self.inner.name_server_request(req).await?;
        match resp.response_code() {
            ResponseCode::SUCCESS => Ok(TopicList::decode(&resp.body)?.topic_list),
            _ => Err(broker_error("name server", resp)),
        }
    }

    /// Creates (or updates) `topic` with `queues` read and write queues on every master
    /// broker of `cluster` (of every cluster when `None`), with UPDATE_AND_CREATE_TOPIC, as
    /// `mqadmin updateTopic -c` does. Returns the names of the brokers it was created on.
    /// The route appears on the name servers once the brokers register again (at once on
    /// the embedded broker, within 30 s on upstream's).
    ///
    /// # Errors
    /// [`Error::Config`] (`queues`) for a count outside 1..=1024; [`Error::NoRoute`] when
    /// the cluster has no master broker; [`Error::Broker`] when a broker refuses (invalid
    /// or system topic name); transport errors.
    ///
    /// # Cancel safety
    /// Not cancel safe: some brokers may have created the topic.
    pub async fn create_topic(
        &self,
        topic: &str,
        queues: i32,
        cluster: Option<&str>,
    ) -> Result<Vec<String>> {
        if !(1..=1024).contains(&queues) {
            return Err(crate::client::config_error(
                "queues",
                format!("{queues} is not in 1..=1024"),
            ));
        }
        let info = self.cluster_info().await?;
        let brokers: BTreeSet<String> = match cluster {
            Some(c) => info.cluster_addr_table.get(c).cloned().unwrap_or_default(),
            None => info.broker_addr_table.keys().cloned().collect(),
        };
        let mut targets = Vec::new();
        for name in brokers {
            if let Some(addr) = info
                .broker_addr_table
                .get(&name)
                .and_then(|b| b.master_addr())
            {
                targets.push((name, addr.to_owned()));
            }
        }
        if targets.is_empty() {
            return Err(Error::NoRoute(format!(
                "{topic} (no master broker in {})",
                cluster.map_or("any cluster".to_owned(), |c| format!("cluster {c}"))
            )));
        }
        let mut done = Vec::new();
        for (name, addr) in targets {
            let header = CreateTopicRequestHeader {
                topic: topic.to_owned(),
                default_topic: crate::protocol::topic::AUTO_CREATE_TOPIC_KEY.to_owned(),
                read_queue_nums: queues,
                write_queue_nums: queues,
                perm: 6,
                topic_filter_type: TopicFilterType::SingleTag,
                topic_sys_flag: None,
                order: false,
                attributes: None,
                force: false,
                rpc: RpcBase::default(),
            };
            let req =
                RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC).with_header(&header);
            self.admin_ok(&addr, req).await?;
            done.push(name);
        }
        Ok(done)
    }

    /// The messages of `topic` whose `KEYS` contain `key` (QUERY_MESSAGE through each
    /// broker's index), at most `max` per broker.
    ///
    /// # Errors
    /// [`Error::NoRoute`] for an unknown topic; [`Error::Broker`] when a broker refuses;
    /// transport and decoding errors. No match is an empty list, not an error.
    ///
    /// # Cancel safety
    /// Cancel safe: a read.
    pub async fn query_messages_by_key(
        &self,
        topic: &str,
        key: &str,
        max: i32,
    ) -> Result<Vec<MessageExt>> {
        self.query_index(topic, key, max, false).await
    }

    /// The message(s) of `topic` with client id `uniq_key` (the `UNIQ_KEY` property, what
    /// [`MessageExt::msg_id`] and a [`SendReceipt`](crate::SendReceipt)'s `msg_id` show).
    /// A producer retry can store one id twice, so this is a list.
    ///
    /// # Errors
    /// As [`Client::query_messages_by_key`].
    ///
    /// # Cancel safety
    /// Cancel safe: a read.
    pub async fn query_message_by_uniq_key(
        &self,
        topic: &str,
        uniq_key: &str,
    ) -> Result<Vec<MessageExt>> {
        self.query_index(topic, uniq_key, 32, true).await
    }

    async fn query_index(
        &self,
        topic: &str,
        key: &str,
        max: i32,
        unique: bool,
    ) -> Result<Vec<MessageExt>> {
        let route = self.refresh_route(topic).await?;
        let mut addrs: Vec<String> = route
            .data
            .broker_datas
            .iter()
            .filter_map(|b| b.master_addr().map(str::to_owned))
            .collect();
        addrs.sort();
        let mut out = Vec::new();
        for addr in addrs {
            let header = QueryMessageRequestHeader {
                topic: topic.to_owned(),
                key: key.to_owned(),
                max_num: max.max(1),
                begin_timestamp: 0,
                end_timestamp: i64::MAX,
                unique_key_query: unique.then_some(true),
                rpc: RpcBase::default(),
            };
            let req = RemotingCommand::request(RequestCode::QUERY_MESSAGE).with_header(&header);
            let resp = self.admin_call(&addr, req).await?;
            match resp.response_code() {
                ResponseCode::SUCCESS => {
                    let found = decode_all(resp.body.clone())?;
                    out.extend(found.into_iter().filter(|m| {
                        m.topic == topic
                            && if unique {
                                m.uniq_key() == Some(key)
                            } else {
                                m.key_list().any(|k| k == key)
                            }
                    }));
                }
                ResponseCode::QUERY_NOT_FOUND => {}
                _ => return Err(broker_error(&addr, resp)),
            }
        }
        Ok(out)
    }

    /// The message stored under the offset msgId `id` (store host + commit-log offset,
    /// [`MessageExt::offset_msg_id`]), fetched from the broker the id names
    /// (VIEW_MESSAGE_BY_ID).
    ///
    /// # Errors
    /// [`Error::Protocol`] when `id` is not an offset msgId; [`Error::Broker`] when the
    /// broker has no such record; transport errors (the broker of the id is gone).
    ///
    /// # Cancel safety
    /// Cancel safe: a read.
    pub async fn view_message(&self, id: &str) -> Result<MessageExt> {
        let decoded = decode_offset_msg_id(id)?;
        let addr = decoded.store_host.to_string();
        let header = ViewMessageRequestHeader {
            topic: None,
            offset: decoded.commit_log_offset,
        };
        let req = RemotingCommand::request(RequestCode::VIEW_MESSAGE_BY_ID).with_header(&header);
        let resp = self.admin_ok(&addr, req).await?;
        decode_all(resp.body.clone())?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Broker {
                addr,
                code: ResponseCode::SYSTEM_ERROR,
                remark: format!(
                    "no record at commit-log offset {}",
                    decoded.commit_log_offset
                ),
            })
    }

    /// The lowest stored and the next offset to be written of `queue`.
    ///
    /// # Errors
    /// [`Error::NoRoute`] when the queue's broker is unknown; [`Error::Broker`];
    /// transport errors.
    ///
    /// # Cancel safety
    /// Cancel safe: a read.
    pub async fn queue_offsets(&self, queue: &MessageQueue) -> Result<(i64, i64)> {
        Ok((self.min_offset(queue).await?, self.max_offset(queue).await?))
    }

    /// Reads up to `max` messages of `topic`, queue by queue from the oldest, without
    /// consuming them: no group offset moves (the pulls are made in [`TOOLS_GROUP`],
    /// which never commits).
    ///
    /// # Errors
    /// [`Error::NoRoute`] for an unknown topic (or one without readable queues);
    /// [`Error::Broker`]; transport and decoding errors.
    ///
    /// # Cancel safety
    /// Cancel safe: a read.
    pub async fn browse(&self, topic: &str, max: usize) -> Result<Vec<MessageExt>> {
        let route = self.refresh_route(topic).await?;
        if route.subscribe_queues.is_empty() {
            return Err(Error::NoRoute(format!("{topic} (no readable queue)")));
        }
        let sub = SubscriptionData::build(topic, "*", None)?;
        let sys_flag = pull_sys_flag::build(false, false, true, false, false);
        let mut out = Vec::new();
        for queue in &route.subscribe_queues {
            let (mut offset, end) = self.queue_offsets(queue).await?;
            while offset < end && out.len() < max {
                let r = self
                    .pull(
                        TOOLS_GROUP,
                        queue,
                        offset,
                        BROWSE_BATCH,
                        sys_flag,
                        0,
                        &sub,
                        Duration::ZERO,
                        self.inner.config.request_timeout,
                        false,
                    )
                    .await?;
                let next = r.next_begin_offset;
                if r.status == PullStatus::Found {
                    let room = max - out.len();
                    out.extend(r.messages.into_iter().take(room));
                }
                if next <= offset {
                    break;
                }
                offset = next;
            }
        }
        Ok(out)
    }

    /// The dead letters of consumer group `group` (topic `%DLQ%group`), oldest first per
    /// queue, at most `max`, read without consuming them. A group that never
    /// dead-lettered anything has none (no route is not an error here).
    ///
    /// # Errors
    /// As [`Client::browse`], except [`Error::NoRoute`].
    ///
    /// # Cancel safety
    /// Cancel safe: a read.
    pub async fn dead_letters(&self, group: &str, max: usize) -> Result<Vec<MessageExt>> {
        match self.browse(&dlq_topic(group), max).await {
            Err(Error::NoRoute(_)) => Ok(Vec::new()),
            other => other,
        }
    }

    /// Sends a copy of dead letter `message` back to `group` (through its retry topic,
    /// `%RETRY%group`): only that group consumes it again, as if its first attempt had
    /// just failed, under its original topic, with a fresh retry budget. The dead letter
    /// itself stays in the DLQ.
    ///
    /// # Errors
    /// [`Error::NoRoute`] when the group's retry topic does not exist (the group never
    /// consumed anything); [`Error::Broker`]; transport errors.
    ///
    /// # Cancel safety
    /// Not cancel safe: the copy may have been stored.
    pub async fn resend_dead_letter(&self, group: &str, message: &MessageExt) -> Result<()> {
        let mut copy = message.clone();
        // The retry topic send records the message's topic as its original one: use the
        // topic the dead letter came from, not the DLQ.
        if let Some(original) = message.retry_topic().map(str::to_owned) {
            copy.topic = original;
        } else if copy.topic == dlq_topic(group) || copy.topic == retry_topic(group) {
            return Err(Error::InvalidMessage(format!(
                "dead letter {} has no RETRY_TOPIC: its original topic is unknown",
                message.msg_id()
            )));
        }
        self.send_to_retry_topic(group, &copy, 0, DEFAULT_MAX_RECONSUME_TIMES, 0)
            .await
    }
}
