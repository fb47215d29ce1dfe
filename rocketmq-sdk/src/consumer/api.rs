//! The broker requests consumers make (`MQClientAPIImpl`, `PullAPIWrapper`): pull, offsets,
//! group membership, queue locks, send-back, and the retry-topic send that stands in for
//! Java's inner producer.

use std::collections::{BTreeSet, HashMap};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::{debug, info, warn};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::producer::SendStatus;
use crate::protocol::body::fastjson;
use crate::protocol::body::{
    CheckClientRequestBody, ConsumerListByGroupResponseBody, JsonBody, LockBatchRequestBody,
    LockBatchResponseBody, SubscriptionData, UnlockBatchRequestBody,
};
use crate::protocol::command::version;
use crate::protocol::header::pull::pull_sys_flag;
use crate::protocol::header::{
    ConsumerSendMsgBackRequestHeader, GetConsumerListByGroupRequestHeader,
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader, PullMessageRequestHeader, PullMessageResponseHeader,
    QueryConsumerOffsetRequestHeader, QueryConsumerOffsetResponseHeader, RpcBase,
    SearchOffsetRequestHeader, SearchOffsetResponseHeader, SendMessageRequestHeaderV2,
    UpdateConsumerOffsetRequestHeader,
};
use crate::protocol::message::record::{DecodeOptions, decode_pulled};
use crate::protocol::message::{MessageExt, MessageQueue, keys};
use crate::protocol::topic::{RETRY_GROUP_TOPIC_PREFIX, retry_topic};
use crate::protocol::{RemotingCommand, RequestCode, ResponseCode};

/// Timeout of CONSUMER_SEND_MSG_BACK, as Java.
const SEND_BACK_TIMEOUT: Duration = Duration::from_secs(5);
/// The producer group of retry-topic sends (`MixAll.CLIENT_INNER_PRODUCER_GROUP`).
const INNER_PRODUCER_GROUP: &str = "CLIENT_INNER_PRODUCER";
/// Attempts of a retry-topic send: the inner producer's default `retryTimesWhenSendFailed`
/// (2) plus one.
const RETRY_TOPIC_SEND_ATTEMPTS: usize = 3;
/// The inner producer's default `sendMsgTimeout`, for all attempts together.
const RETRY_TOPIC_SEND_TIMEOUT: Duration = Duration::from_secs(3);

fn broker_error(addr: &str, resp: RemotingCommand) -> Error {
    Error::Broker {
        addr: addr.to_owned(),
        code: resp.response_code(),
        remark: resp.remark.unwrap_or_default(),
    }
}

/// `maxMsgBytes` of a 5.x lite pull consumer and pull consumer (`Integer.MAX_VALUE`).
pub(crate) const LITE_MAX_MSG_BYTES: i32 = i32::MAX;
/// `maxMsgBytes` of a 5.x push consumer (`pullBatchSizeInBytes`, 256 KiB).
pub(crate) const PUSH_MAX_MSG_BYTES: i32 = 256 * 1024;

/// Broker addresses that answered LITE_PULL_MESSAGE with REQUEST_CODE_NOT_SUPPORTED, with
/// the remoting version they had then. Shared by every client of the process: it describes
/// the remote process. A different version later seen at the address (the connection
/// pool remembers each peer's, [`crate::remoting::ConnectionPool::peer_version`]) is another broker, whose
/// abilities are learned again.
static LITE_REFUSED: LazyLock<Mutex<HashMap<String, Option<i16>>>> = LazyLock::new(Mutex::default);

fn lite_refused() -> std::sync::MutexGuard<'static, HashMap<String, Option<i16>>> {
    LITE_REFUSED.lock().unwrap_or_else(|e| e.into_inner())
}

impl Client {
    /// The version last seen from `addr`, if any.
    fn broker_version(&self, addr: &str) -> Option<i16> {
        self.inner.pool.peer_version(addr)
    }

    /// Whether LITE_PULL_MESSAGE may be sent to `addr`: the broker is 5.x (or not known
    /// yet) and did not refuse it. 4.9 brokers only know PULL_MESSAGE.
    fn lite_code_allowed(&self, addr: &str) -> bool {
        let v = self.broker_version(addr);
        v.is_none_or(|v| v >= version::V5_0_0) && lite_refused().get(addr) != Some(&v)
    }

    fn note_lite_refused(&self, addr: &str) {
        lite_refused().insert(addr.to_owned(), self.broker_version(addr));
    }
}

/// Whether a pull failure will not go away by retrying the same request: the broker
/// does not know the request, refuses the group or topic, or the topic is unknown.
pub(crate) fn is_lasting_pull_error(e: &Error) -> bool {
    match e {
        Error::Broker { code, .. } => matches!(
            *code,
            ResponseCode::REQUEST_CODE_NOT_SUPPORTED
                | ResponseCode::NO_PERMISSION
                | ResponseCode::TOPIC_NOT_EXIST
                | ResponseCode::SUBSCRIPTION_PARSE_FAILED
                | ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST
        ),
        Error::NoRoute(_) => true,
        _ => false,
    }
}

/// A copy of a lasting pull error (see [`is_lasting_pull_error`]) for a second
/// reader; `None` for other errors.
pub(crate) fn copy_lasting_error(e: &Error) -> Option<Error> {
    match e {
        Error::Broker { addr, code, remark } => Some(Error::Broker {
            addr: addr.clone(),
            code: *code,
            remark: remark.clone(),
        }),
        Error::NoRoute(t) => Some(Error::NoRoute(t.clone())),
        _ => None,
    }
}

/// What one consumer remembers between pulls (Java's `PullAPIWrapper`): the broker id
/// each queue's last pull response suggested (`pullFromWhichNodeTable`).
#[derive(Debug, Default)]
pub(crate) struct PullMemory {
    suggested: Mutex<HashMap<MessageQueue, i64>>,
}

impl PullMemory {
    fn suggested(&self, mq: &MessageQueue) -> i64 {
        self.suggested
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(mq)
            .copied()
            .unwrap_or(MASTER_ID)
    }

    fn suggest(&self, mq: &MessageQueue, broker_id: i64) {
        self.suggested
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(mq.clone(), broker_id);
    }

    /// Forgets a queue given up.
    pub(crate) fn forget(&self, mq: &MessageQueue) {
        self.suggested
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(mq);
    }
}

/// `MixAll.MASTER_ID`.
const MASTER_ID: i64 = 0;

/// The outcome of a pull (`PullStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PullStatus {
    /// Messages found (they may all be filtered out client-side).
    Found,
    /// Nothing new at the offset.
    NoNewMsg,
    /// Entries were scanned but none matched the filter.
    NoMatchedMsg,
    /// The offset is out of range or was reset: continue at `next_begin_offset`.
    OffsetIllegal,
}

/// A digested pull response (`PullResultExt` after `processPullResult`).
#[derive(Debug)]
pub(crate) struct PullResult {
    pub(crate) status: PullStatus,
    pub(crate) next_begin_offset: i64,
    pub(crate) min_offset: i64,
    pub(crate) max_offset: i64,
    pub(crate) messages: Vec<MessageExt>,
}

impl Client {
    /// The master address of `broker_name`, from the route of `topic` (refreshed once if
    /// the broker is unknown).
    pub(crate) async fn master_of(&self, topic: &str, broker_name: &str) -> Result<String> {
        let route = self.topic_route(topic).await?;
        if let Some(a) = route.master_addr(broker_name) {
            return Ok(a.to_owned());
        }
        let route = self.refresh_route(topic).await?;
        route
            .master_addr(broker_name)
            .map(String::from)
            .ok_or_else(|| Error::NoRoute(format!("{topic} (no master for {broker_name})")))
    }

    async fn queue_master(&self, mq: &MessageQueue) -> Result<String> {
        self.master_of(&mq.topic, &mq.broker_name).await
    }

    /// Where to read `mq` from: its master, or its slave while the route lists no master
    /// (see [`TopicRoute::read_addr`](crate::client::TopicRoute::read_addr)); true for a
    /// slave. The route is refreshed once if it names neither.
    async fn queue_reader(&self, mq: &MessageQueue) -> Result<(String, bool)> {
        let route = self.topic_route(&mq.topic).await?;
        if let Some((a, slave)) = route.read_addr(&mq.broker_name) {
            return Ok((a.to_owned(), slave));
        }
        let route = self.refresh_route(&mq.topic).await?;
        route
            .read_addr(&mq.broker_name)
            .map(|(a, slave)| (a.to_owned(), slave))
            .ok_or_else(|| Error::NoRoute(format!("{} (no broker {})", mq.topic, mq.broker_name)))
    }

    async fn call(
        &self,
        addr: &str,
        request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand> {
        Ok(self.inner.pool.request(addr, request, timeout).await?)
    }

    /// Where to pull `mq` from: the broker id the last response suggested
    /// (`findBrokerAddressInSubscribe(name, id, false)`): that id's address, else any
    /// address of the broker; true when it is not the master.
    async fn pull_addr(
        &self,
        mq: &MessageQueue,
        memory: Option<&PullMemory>,
    ) -> Result<(String, bool)> {
        let want = memory.map_or(MASTER_ID, |m| m.suggested(mq));
        if want == MASTER_ID {
            return self.queue_reader(mq).await;
        }
        let pick = |route: &crate::client::TopicRoute| {
            let b = route.broker(&mq.broker_name)?;
            match b.broker_addrs.get(&want) {
                Some(a) => Some((a.clone(), want != MASTER_ID)),
                None => b
                    .broker_addrs
                    .iter()
                    .next()
                    .map(|(id, a)| (a.clone(), *id != MASTER_ID)),
            }
        };
        if let Some(found) = pick(&*self.topic_route(&mq.topic).await?) {
            return Ok(found);
        }
        pick(&*self.refresh_route(&mq.topic).await?)
            .ok_or_else(|| Error::NoRoute(format!("{} (no broker {})", mq.topic, mq.broker_name)))
    }

    /// PULL_MESSAGE / LITE_PULL_MESSAGE to the queue's master (its slave while the master
    /// is down, without the commit-offset flag, as Java), then the client side of
    /// `processPullResult`: decode, re-filter by tag string, stamp MIN/MAX_OFFSET.
    /// No memory of suggested brokers; `maxMsgBytes` as a 5.x pull consumer.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn pull(
        &self,
        group: &str,
        mq: &MessageQueue,
        offset: i64,
        max_nums: i32,
        sys_flag: i32,
        commit_offset: i64,
        sub: &SubscriptionData,
        suspend: Duration,
        timeout: Duration,
        lite: bool,
    ) -> Result<PullResult> {
        self.pull_with(
            None,
            LITE_MAX_MSG_BYTES,
            group,
            mq,
            offset,
            max_nums,
            sys_flag,
            commit_offset,
            sub,
            suspend,
            timeout,
            lite,
        )
        .await
    }

    /// [`Client::pull`] behaving like the broker's version: a lite pull is
    /// LITE_PULL_MESSAGE (361) to a 5.x broker and PULL_MESSAGE (11) with the same
    /// sysFlag to a 4.9 one (which answers 361 with REQUEST_CODE_NOT_SUPPORTED: that
    /// answer is remembered per broker and the request is resent as 11 at once);
    /// `max_msg_bytes` goes only to 5.x brokers, as each version's client sends it. With
    /// `memory`, the broker a response suggests (`suggestWhichBrokerId`) serves the
    /// queue's next pull. Undecodable records are skipped and logged, the others kept.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn pull_with(
        &self,
        memory: Option<&PullMemory>,
        max_msg_bytes: i32,
        group: &str,
        mq: &MessageQueue,
        offset: i64,
        max_nums: i32,
        sys_flag: i32,
        commit_offset: i64,
        sub: &SubscriptionData,
        suspend: Duration,
        timeout: Duration,
        lite: bool,
    ) -> Result<PullResult> {
        let (addr, from_slave) = self.pull_addr(mq, memory).await?;
        let sys_flag = if from_slave {
            sys_flag & !pull_sys_flag::COMMIT_OFFSET
        } else {
            sys_flag
        };
        let with_sub = sys_flag & pull_sys_flag::SUBSCRIPTION != 0;
        let v5 = self
            .broker_version(&addr)
            .is_none_or(|v| v >= version::V5_0_0);
        let header = PullMessageRequestHeader {
            consumer_group: group.to_owned(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            queue_offset: offset,
            max_msg_nums: max_nums,
            sys_flag,
            commit_offset,
            suspend_timeout_millis: i64::try_from(suspend.as_millis()).unwrap_or(i64::MAX),
            subscription: with_sub.then(|| sub.sub_string.clone()),
            sub_version: sub.sub_version,
            expression_type: Some(sub.expression_type.clone()),
            max_msg_bytes: v5.then_some(max_msg_bytes),
            rpc: RpcBase::broker(mq.broker_name.clone()),
            ..Default::default()
        };
        let lite_code = lite && self.lite_code_allowed(&addr);
        let code = if lite_code {
            RequestCode::LITE_PULL_MESSAGE
        } else {
            RequestCode::PULL_MESSAGE
        };
        let mut resp = self
            .call(
                &addr,
                RemotingCommand::request(code).with_header(&header),
                timeout,
            )
            .await?;
        if lite_code && resp.response_code() == ResponseCode::REQUEST_CODE_NOT_SUPPORTED {
            info!(
                broker = %addr,
                version = resp.version,
                "broker does not know LITE_PULL_MESSAGE; pulling with PULL_MESSAGE"
            );
            self.note_lite_refused(&addr);
            let header = PullMessageRequestHeader {
                max_msg_bytes: None,
                ..header
            };
            resp = self
                .call(
                    &addr,
                    RemotingCommand::request(RequestCode::PULL_MESSAGE).with_header(&header),
                    timeout,
                )
                .await?;
        }
        let status = match resp.response_code() {
            ResponseCode::SUCCESS => PullStatus::Found,
            ResponseCode::PULL_NOT_FOUND => PullStatus::NoNewMsg,
            ResponseCode::PULL_RETRY_IMMEDIATELY => PullStatus::NoMatchedMsg,
            ResponseCode::PULL_OFFSET_MOVED => PullStatus::OffsetIllegal,
            _ => return Err(broker_error(&addr, resp)),
        };
        let rh: PullMessageResponseHeader = resp.decode_header()?;
        if let Some(m) = memory {
            m.suggest(mq, rh.suggest_which_broker_id);
        }
        let mut messages = Vec::new();
        if status == PullStatus::Found {
            let pulled = decode_pulled(&resp.body, &DecodeOptions::default());
            for bad in &pulled.undecodable {
                warn!(
                    topic = %mq.topic,
                    broker = %mq.broker_name,
                    queue_id = mq.queue_id,
                    offset = ?bad.queue_offset,
                    pulled_from = offset,
                    next = rh.next_begin_offset,
                    rest_of_body_lost = bad.rest_lost,
                    error = %bad.error,
                    "undecodable record skipped"
                );
            }
            messages = pulled.messages;
            filter_by_tags(&mut messages, sub);
            let (min, max) = (rh.min_offset.to_string(), rh.max_offset.to_string());
            for m in &mut messages {
                m.put_property(keys::MIN_OFFSET, min.clone());
                m.put_property(keys::MAX_OFFSET, max.clone());
            }
        }
        Ok(PullResult {
            status,
            next_begin_offset: rh.next_begin_offset,
            min_offset: rh.min_offset,
            max_offset: rh.max_offset,
            messages,
        })
    }

    /// QUERY_CONSUMER_OFFSET: the group's stored offset, `None` for QUERY_NOT_FOUND.
    /// `zero_if_not_found` unset (as the Java client sends it) lets the broker answer 0
    /// for a group without offset on a queue whose first message is still held.
    pub(crate) async fn query_consumer_offset(
        &self,
        group: &str,
        mq: &MessageQueue,
        zero_if_not_found: Option<bool>,
    ) -> Result<Option<i64>> {
        let (addr, _) = self.queue_reader(mq).await?;
        let header = QueryConsumerOffsetRequestHeader {
            consumer_group: group.to_owned(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            set_zero_if_not_found: zero_if_not_found,
            rpc: RpcBase::broker(mq.broker_name.clone()),
        };
        let req = RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET).with_header(&header);
        let resp = self
            .call(&addr, req, self.inner.config.request_timeout)
            .await?;
        match resp.response_code() {
            ResponseCode::SUCCESS => {
                let h: QueryConsumerOffsetResponseHeader = resp.decode_header()?;
                Ok((h.offset >= 0).then_some(h.offset))
            }
            ResponseCode::QUERY_NOT_FOUND => Ok(None),
            _ => Err(broker_error(&addr, resp)),
        }
    }

    /// What the group committed for `mq`, strictly: `None` when it never committed one.
    /// A 5.x broker says so itself (QUERY_NOT_FOUND for `setZeroIfNotFound=false`); a
    /// 4.9 broker knows no such field and answers 0 for a group without offset on a queue
    /// whose first message is still held, which is indistinguishable from a committed 0:
    /// that one answer is checked against the broker's offset table
    /// (GET_ALL_CONSUMER_OFFSET), which lists only what groups committed.
    pub(crate) async fn committed_offset(
        &self,
        group: &str,
        mq: &MessageQueue,
    ) -> Result<Option<i64>> {
        let found = self.query_consumer_offset(group, mq, Some(false)).await?;
        if found != Some(0) {
            return Ok(found);
        }
        let (addr, _) = self.queue_reader(mq).await?;
        if self
            .broker_version(&addr)
            .is_some_and(|v| v >= version::V5_0_0)
        {
            return Ok(found);
        }
        let req = RemotingCommand::request(RequestCode::GET_ALL_CONSUMER_OFFSET);
        let resp = self
            .call(&addr, req, self.inner.config.request_timeout)
            .await?;
        match resp.response_code() {
            ResponseCode::SUCCESS => Ok(offset_in_table(&resp.body, group, mq)?),
            // "No consumer offset in this broker": nobody committed anything.
            ResponseCode::SYSTEM_ERROR if resp.body.is_empty() => Ok(None),
            _ => Err(broker_error(&addr, resp)),
        }
    }

    /// UPDATE_CONSUMER_OFFSET, oneway (the periodic persist, as Java) or waiting for the
    /// answer (shutdown, rebalance, manual commit).
    pub(crate) async fn update_consumer_offset(
        &self,
        group: &str,
        mq: &MessageQueue,
        offset: i64,
        oneway: bool,
    ) -> Result<()> {
        let (addr, _) = self.queue_reader(mq).await?;
        let header = UpdateConsumerOffsetRequestHeader {
            consumer_group: group.to_owned(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            commit_offset: offset,
            rpc: RpcBase::broker(mq.broker_name.clone()),
        };
        let req =
            RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET).with_header(&header);
        if oneway {
            self.inner.pool.send_oneway(&addr, req).await?;
            return Ok(());
        }
        let resp = self
            .call(&addr, req, self.inner.config.request_timeout)
            .await?;
        match resp.response_code() {
            ResponseCode::SUCCESS => Ok(()),
            _ => Err(broker_error(&addr, resp)),
        }
    }

    /// GET_MAX_OFFSET: the next offset to be written in the queue.
    pub(crate) async fn max_offset(&self, mq: &MessageQueue) -> Result<i64> {
        let (addr, _) = self.queue_reader(mq).await?;
        let header = GetMaxOffsetRequestHeader {
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            committed: true,
            rpc: RpcBase::broker(mq.broker_name.clone()),
        };
        let req = RemotingCommand::request(RequestCode::GET_MAX_OFFSET).with_header(&header);
        let resp = self
            .call(&addr, req, self.inner.config.request_timeout)
            .await?;
        match resp.response_code() {
            ResponseCode::SUCCESS => Ok(resp.decode_header::<GetMaxOffsetResponseHeader>()?.offset),
            _ => Err(broker_error(&addr, resp)),
        }
    }

    /// GET_MIN_OFFSET: the lowest offset still stored in the queue.
    pub(crate) async fn min_offset(&self, mq: &MessageQueue) -> Result<i64> {
        let (addr, _) = self.queue_reader(mq).await?;
        let header = GetMinOffsetRequestHeader {
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            rpc: RpcBase::broker(mq.broker_name.clone()),
        };
        let req = RemotingCommand::request(RequestCode::GET_MIN_OFFSET).with_header(&header);
        let resp = self
            .call(&addr, req, self.inner.config.request_timeout)
            .await?;
        match resp.response_code() {
            ResponseCode::SUCCESS => Ok(resp.decode_header::<GetMinOffsetResponseHeader>()?.offset),
            _ => Err(broker_error(&addr, resp)),
        }
    }

    /// SEARCH_OFFSET_BY_TIMESTAMP: the offset of the first message stored at or after
    /// `timestamp_ms` (the queue end when there is none).
    pub(crate) async fn search_offset(&self, mq: &MessageQueue, timestamp_ms: i64) -> Result<i64> {
        let (addr, _) = self.queue_reader(mq).await?;
        let header = SearchOffsetRequestHeader {
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            timestamp: timestamp_ms,
            boundary_type: None,
            rpc: RpcBase::broker(mq.broker_name.clone()),
        };
        let req =
            RemotingCommand::request(RequestCode::SEARCH_OFFSET_BY_TIMESTAMP).with_header(&header);
        let resp = self
            .call(&addr, req, self.inner.config.request_timeout)
            .await?;
        match resp.response_code() {
            ResponseCode::SUCCESS => Ok(resp.decode_header::<SearchOffsetResponseHeader>()?.offset),
            _ => Err(broker_error(&addr, resp)),
        }
    }

    /// CHECK_CLIENT_CONFIG (`MQClientInstance.checkClientInBroker`): asks a master of the
    /// subscription's topic whether it can serve it, so a consumer with an SQL92
    /// expression the broker refuses (filtering off, or a syntax error) fails to start
    /// instead of pulling nothing forever. Tag subscriptions, and topics without a route
    /// yet, are not checked, as upstream.
    ///
    /// # Errors
    /// [`Error::Broker`] with the broker's answer (SUBSCRIPTION_PARSE_FAILED and the
    /// parser's message, or SYSTEM_ERROR when the broker does not filter by SQL92), or a
    /// transport error.
    pub(crate) async fn check_client_config(
        &self,
        group: &str,
        sub: &SubscriptionData,
    ) -> Result<()> {
        if sub.expression_type.is_tag() {
            return Ok(());
        }
        let Ok(route) = self.topic_route(&sub.topic).await else {
            debug!(topic = %sub.topic, "no route yet; subscription not checked");
            return Ok(());
        };
        let Some(addr) = route
            .data
            .broker_datas
            .iter()
            .find_map(|b| b.master_addr())
            .map(String::from)
        else {
            return Ok(());
        };
        let body = CheckClientRequestBody {
            client_id: self.client_id().to_owned(),
            group: group.to_owned(),
            subscription_data: Some(sub.clone()),
        }
        .encode()?;
        let request = RemotingCommand::request(RequestCode::CHECK_CLIENT_CONFIG).with_body(body);
        let resp = self
            .call(&addr, request, self.inner.config.request_timeout)
            .await?;
        if resp.response_code() != ResponseCode::SUCCESS {
            return Err(broker_error(&addr, resp));
        }
        Ok(())
    }

    /// GET_CONSUMER_LIST_BY_GROUP from a broker of `topic`: the group's client ids, sorted.
    pub(crate) async fn consumer_ids(&self, topic: &str, group: &str) -> Result<Vec<String>> {
        let route = self.topic_route(topic).await?;
        let mut addrs: Vec<&str> = route
            .data
            .broker_datas
            .iter()
            // The master, or the slave while the master is down.
            .filter_map(|b| b.broker_addrs.values().next().map(String::as_str))
            .collect();
        addrs.sort_unstable();
        let header = GetConsumerListByGroupRequestHeader {
            consumer_group: group.to_owned(),
            rpc: RpcBase::default(),
        };
        let mut last = Error::NoRoute(topic.to_owned());
        for addr in addrs {
            let req = RemotingCommand::request(RequestCode::GET_CONSUMER_LIST_BY_GROUP)
                .with_header(&header);
            match self
                .call(addr, req, self.inner.config.request_timeout)
                .await
            {
                Ok(resp) if resp.response_code() == ResponseCode::SUCCESS => {
                    let mut ids =
                        ConsumerListByGroupResponseBody::decode(&resp.body)?.consumer_id_list;
                    ids.sort();
                    ids.dedup();
                    return Ok(ids);
                }
                Ok(resp) => last = broker_error(addr, resp),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// LOCK_BATCH_MQ on `broker_name`'s master: the queues now locked for this client.
    pub(crate) async fn lock_batch(
        &self,
        group: &str,
        broker_name: &str,
        mqs: BTreeSet<MessageQueue>,
    ) -> Result<BTreeSet<MessageQueue>> {
        let Some(topic) = mqs.iter().next().map(|q| q.topic.clone()) else {
            return Ok(BTreeSet::new());
        };
        let addr = self.master_of(&topic, broker_name).await?;
        let body = LockBatchRequestBody {
            client_id: Some(self.inner.client_id.clone()),
            consumer_group: Some(group.to_owned()),
            mq_set: mqs,
            only_this_broker: false,
        };
        let req = RemotingCommand::request(RequestCode::LOCK_BATCH_MQ)
            .with_header(&crate::protocol::header::LockBatchMqRequestHeader {
                rpc: RpcBase::broker(broker_name),
            })
            .with_body(body.encode()?);
        let resp = self
            .call(&addr, req, self.inner.config.request_timeout)
            .await?;
        match resp.response_code() {
            ResponseCode::SUCCESS => Ok(LockBatchResponseBody::decode(&resp.body)?.lock_ok_mq_set),
            _ => Err(broker_error(&addr, resp)),
        }
    }

    /// UNLOCK_BATCH_MQ on `broker_name`'s master, waiting for the answer.
    pub(crate) async fn unlock_batch(
        &self,
        group: &str,
        broker_name: &str,
        mqs: BTreeSet<MessageQueue>,
    ) -> Result<()> {
        let Some(topic) = mqs.iter().next().map(|q| q.topic.clone()) else {
            return Ok(());
        };
        let addr = self.master_of(&topic, broker_name).await?;
        let body = UnlockBatchRequestBody {
            client_id: Some(self.inner.client_id.clone()),
            consumer_group: Some(group.to_owned()),
            mq_set: mqs,
            only_this_broker: false,
        };
        let req = RemotingCommand::request(RequestCode::UNLOCK_BATCH_MQ)
            .with_header(&crate::protocol::header::UnlockBatchMqRequestHeader {
                rpc: RpcBase::broker(broker_name),
            })
            .with_body(body.encode()?);
        let resp = self
            .call(&addr, req, self.inner.config.request_timeout)
            .await?;
        match resp.response_code() {
            ResponseCode::SUCCESS => Ok(()),
            _ => Err(broker_error(&addr, resp)),
        }
    }

    /// CONSUMER_SEND_MSG_BACK for a message consumed from `mq`: the broker re-queues it on
    /// `%RETRY%group` with a delay (or dead-letters it).
    pub(crate) async fn send_back(
        &self,
        group: &str,
        mq: &MessageQueue,
        msg: &MessageExt,
        delay_level: i32,
        max_reconsume_times: i32,
    ) -> Result<()> {
        let addr = match self.queue_master(mq).await {
            Ok(a) => a,
            Err(_) => msg.store_host.to_string(),
        };
        let header = ConsumerSendMsgBackRequestHeader {
            offset: msg.commit_log_offset,
            group: group.to_owned(),
            delay_level,
            origin_msg_id: Some(msg.msg_id()),
            origin_topic: Some(msg.topic.clone()),
            unit_mode: false,
            max_reconsume_times: Some(max_reconsume_times),
            rpc: RpcBase::broker(mq.broker_name.clone()),
        };
        let req =
            RemotingCommand::request(RequestCode::CONSUMER_SEND_MSG_BACK).with_header(&header);
        let resp = self.call(&addr, req, SEND_BACK_TIMEOUT).await?;
        match resp.response_code() {
            ResponseCode::SUCCESS => Ok(()),
            _ => Err(broker_error(&addr, resp)),
        }
    }

    /// Sends a copy of `msg` to `%RETRY%group` as an ordinary message (Java's fallback
    /// through the client's inner producer), with `reconsume_times` and
    /// `max_reconsume_times` in the send header as Java's producer puts them there, and
    /// `delay_level` (0 = none).
    pub(crate) async fn send_to_retry_topic(
        &self,
        group: &str,
        msg: &MessageExt,
        reconsume_times: i32,
        max_reconsume_times: i32,
        delay_level: i32,
    ) -> Result<()> {
        let topic = retry_topic(group);
        let mut props = msg.properties.clone();
        if props.get(keys::ORIGIN_MESSAGE_ID).is_none_or(str::is_empty) {
            props.insert(keys::ORIGIN_MESSAGE_ID, msg.msg_id());
        }
        props.insert(keys::RETRY_TOPIC, msg.topic.clone());
        props.remove(keys::TRAN_MSG);
        props.remove(keys::RECONSUME_TIME);
        props.remove(keys::MAX_RECONSUME_TIMES);
        props.remove(keys::MIN_OFFSET);
        props.remove(keys::MAX_OFFSET);
        props.remove(keys::CONSUME_START_TIME);
        if delay_level > 0 {
            props.insert(keys::DELAY, delay_level.to_string());
        } else {
            props.remove(keys::DELAY);
        }
        let route = self.topic_route(&topic).await?;
        let queues = if route.publish_queues.is_empty() {
            self.refresh_route(&topic).await?.publish_queues.clone()
        } else {
            route.publish_queues.clone()
        };
        if queues.is_empty() {
            return Err(Error::NoRoute(topic));
        }
        let properties = props.to_wire_string()?;
        // As Java's inner producer (`getDefaultMQProducer().send`): 3 s in all, two retries,
        // each on another broker when there is one.
        let started = Instant::now();
        let mut avoid: Option<String> = None;
        let mut last = None;
        for _ in 0..RETRY_TOPIC_SEND_ATTEMPTS {
            let left = RETRY_TOPIC_SEND_TIMEOUT.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            let start = route.next_index();
            let queue = (0..queues.len())
                .map(|i| &queues[(start + i) % queues.len()])
                .find(|q| avoid.as_deref() != Some(q.broker_name.as_str()))
                .unwrap_or(&queues[start % queues.len()]);
            let header = SendMessageRequestHeaderV2 {
                producer_group: INNER_PRODUCER_GROUP.to_owned(),
                topic: topic.clone(),
                queue_id: queue.queue_id,
                sys_flag: 0,
                born_timestamp: crate::protocol::message::id::now_ms(),
                flag: msg.flag,
                properties: Some(properties.clone()),
                reconsume_times: Some(reconsume_times),
                unit_mode: Some(false),
                max_reconsume_times: Some(max_reconsume_times),
                batch: Some(false),
                broker_name: Some(queue.broker_name.clone()),
                ..Default::default()
            };
            let req = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
                .with_header(&header)
                .with_body(Bytes::clone(&msg.body));
            let attempt: Result<()> = match self.master_of(&topic, &queue.broker_name).await {
                Ok(addr) => match self.call(&addr, req, left).await {
                    Ok(resp) => match SendStatus::from_response_code(resp.response_code()) {
                        Some(_) => return Ok(()),
                        None => Err(broker_error(&addr, resp)),
                    },
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            if let Err(e) = attempt {
                tracing::debug!(error = %e, broker = %queue.broker_name, "retry-topic send failed");
                avoid = Some(queue.broker_name.clone());
                last = Some(e);
            }
        }
        Err(last.unwrap_or(Error::Timeout(RETRY_TOPIC_SEND_TIMEOUT)))
    }
}

/// `group`'s offset of `mq` in a broker's `ConsumerOffsetManager` JSON
/// (`{"offsetTable":{"topic@group":{0:12,1:3}}}`, integer keys bare as fastjson writes).
fn offset_in_table(
    body: &[u8],
    group: &str,
    mq: &MessageQueue,
) -> Result<Option<i64>, crate::protocol::ProtocolError> {
    let v = fastjson::parse(body)?;
    let key = format!("{}@{group}", mq.topic);
    Ok(v.get("offsetTable")
        .and_then(|t| t.get(&key))
        .and_then(|q| q.get(mq.queue_id.to_string()))
        .and_then(|o| {
            o.as_i64()
                .or_else(|| o.as_str().and_then(|s| s.parse().ok()))
        })
        .filter(|o| *o >= 0))
}

/// The client-side tag filter (`PullAPIWrapper.processPullResult`): with a non-empty tag
/// set, keep only messages whose tag string is in it (the broker matched hash codes,
/// which may collide). Other expression types are left to the broker.
pub(crate) fn filter_by_tags(messages: &mut Vec<MessageExt>, sub: &SubscriptionData) {
    if sub.tags_set.is_empty() || sub.class_filter_mode || !sub.expression_type.is_tag() {
        return;
    }
    messages.retain(|m| m.tags().is_some_and(|t| sub.tags_set.contains(t)));
}

/// Whether `topic` is a group retry topic.
pub(crate) fn is_retry_topic(topic: &str) -> bool {
    topic.starts_with(RETRY_GROUP_TOPIC_PREFIX)
}

/// Restores the original topic of a message consumed from the group's retry topic
/// (`resetRetryAndNamespace`).
pub(crate) fn restore_retry_topic(msg: &mut MessageExt, group: &str) {
    if let Some(original) = msg.property(keys::RETRY_TOPIC).map(String::from)
        && msg.topic == retry_topic(group)
    {
        debug!(from = %msg.topic, to = %original, "restoring the topic of a retried message");
        msg.topic = original;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(tag: Option<&str>) -> MessageExt {
        let mut m = MessageExt::default();
        if let Some(t) = tag {
            m.set_tags(t);
        }
        m
    }

    #[test]
    fn offset_table_lookup() {
        let mq = MessageQueue::new("T", "b", 1);
        let body = br#"{"offsetTable":{"T@g":{0:12,1:0},"T@h":{1:5}}}"#;
        assert_eq!(offset_in_table(body, "g", &mq).unwrap(), Some(0));
        assert_eq!(offset_in_table(body, "h", &mq).unwrap(), Some(5));
        assert_eq!(offset_in_table(body, "x", &mq).unwrap(), None);
        let q2 = MessageQueue::new("T", "b", 2);
        assert_eq!(offset_in_table(body, "g", &q2).unwrap(), None);
        assert!(offset_in_table(b"{", "g", &mq).is_err());
    }

    #[test]
    fn tag_filter_by_string() {
        let sub = SubscriptionData::build("T", "A || B", None).unwrap();
        let mut msgs = vec![
            tagged(Some("A")),
            tagged(Some("C")),
            tagged(None),
            tagged(Some("B")),
        ];
        filter_by_tags(&mut msgs, &sub);
        let tags: Vec<_> = msgs.iter().map(|m| m.tags().unwrap()).collect();
        assert_eq!(tags, ["A", "B"]);

        let all = SubscriptionData::build("T", "*", None).unwrap();
        let mut msgs = vec![tagged(None), tagged(Some("C"))];
        filter_by_tags(&mut msgs, &all);
        assert_eq!(msgs.len(), 2);
    }

    #[test]
    fn sql_subscriptions_are_left_to_the_broker() {
        use crate::protocol::header::ExpressionType;

        let expr = "TAGS = 'A' AND region = 'eu'";
        let sub = SubscriptionData::build("T", expr, Some(ExpressionType::Sql92)).unwrap();
        // The expression travels as written, with no tag set to match on the client.
        assert_eq!(sub.sub_string, expr);
        assert_eq!(sub.expression_type, ExpressionType::Sql92);
        assert!(sub.tags_set.is_empty() && sub.code_set.is_empty());
        let mut msgs = vec![tagged(Some("B")), tagged(None)];
        filter_by_tags(&mut msgs, &sub);
        assert_eq!(
            msgs.len(),
            2,
            "the broker already filtered; nothing is dropped here"
        );
    }

    #[test]
    fn retry_topic_restored_only_from_own_retry_topic() {
        let mut m = MessageExt::from(crate::protocol::message::Message {
            topic: "%RETRY%g".into(),
            ..Default::default()
        });
        m.put_property(keys::RETRY_TOPIC, "orders");
        restore_retry_topic(&mut m, "other");
        assert_eq!(m.topic, "%RETRY%g");
        restore_retry_topic(&mut m, "g");
        assert_eq!(m.topic, "orders");
        assert!(is_retry_topic("%RETRY%g") && !is_retry_topic("orders"));
    }
}
