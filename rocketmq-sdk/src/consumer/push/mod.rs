//! The push consumer (`DefaultMQPushConsumerImpl`): long-polling pulls per owned queue,
//! a listener called concurrently or orderly, offsets committed up to the lowest message
//! still in flight, failed messages sent back for a delayed retry.

mod concurrent;
mod hooks;
mod orderly;
mod pull;
mod rebalance;

pub(crate) use hooks::reset_table as reset_table_of;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::config::{ConsumeFrom, PushConsumerConfig, default_offset_dir};
use super::listener::{MessageListener, OrderlyListener};
use super::offset_store::OffsetStore;
use super::process_queue::ProcessQueue;
use super::rebalance::allocate::{AllocateStrategy, Averagely};
use super::subscription::{self, SubscriptionList};
use crate::client::{Client, config_error};
use crate::error::{Error, Result};
use crate::protocol::body::{ConsumeType, ConsumerData, MessageModel, SubscriptionData};
use crate::protocol::header::ExpressionType;
use crate::protocol::message::MessageQueue;
use crate::protocol::message::id::now_ms;
use crate::protocol::topic::retry_topic;

/// Builds a [`PushConsumer`] for one consumer group. Defaults are the Java push
/// consumer's; see [`PushConsumerConfig`].
#[derive(Debug)]
pub struct PushConsumerBuilder {
    client: Client,
    group: String,
    config: PushConsumerConfig,
    subscriptions: SubscriptionList,
    strategy: Arc<dyn AllocateStrategy>,
}

impl Client {
    /// Starts building a push consumer of `group`.
    pub fn push_consumer(&self, group: impl Into<String>) -> PushConsumerBuilder {
        PushConsumerBuilder {
            client: self.clone(),
            group: group.into(),
            config: PushConsumerConfig::default(),
            subscriptions: SubscriptionList::default(),
            strategy: Arc::new(Averagely),
        }
    }
}

impl PushConsumerBuilder {
    /// Subscribes to `topic` with a tag expression: `"*"` for every message, or tags
    /// joined by `||` (`"TagA || TagB"`). Call once per topic; a later call for the same
    /// topic replaces the expression.
    pub fn subscribe(mut self, topic: impl Into<String>, expression: impl Into<String>) -> Self {
        self.subscriptions
            .set(topic.into(), expression.into(), ExpressionType::Tag);
        self
    }

    /// Subscribes to `topic` with an SQL92 expression over message properties
    /// (`MessageSelector.bySql`), e.g. `"region = 'eu' AND amount > 100"`. The broker must
    /// allow property filters (`enablePropertyFilter=true` on a Java broker). Replaces an
    /// earlier subscription to the same topic.
    pub fn subscribe_sql(
        mut self,
        topic: impl Into<String>,
        expression: impl Into<String>,
    ) -> Self {
        self.subscriptions
            .set(topic.into(), expression.into(), ExpressionType::Sql92);
        self
    }

    /// Clustering (default) or broadcasting.
    pub fn message_model(mut self, model: MessageModel) -> Self {
        self.config.message_model = model;
        self
    }

    /// Where a group without stored offsets starts (default the queue end).
    pub fn consume_from(mut self, from: ConsumeFrom) -> Self {
        self.config.consume_from = from;
        self
    }

    /// The queue allocation strategy (default [`Averagely`]).
    pub fn allocate_strategy(mut self, strategy: impl AllocateStrategy + 'static) -> Self {
        self.strategy = Arc::new(strategy);
        self
    }

    /// Listener calls running at once (default 20).
    pub fn consume_concurrency(mut self, n: usize) -> Self {
        self.config.consume_concurrency = n;
        self
    }

    /// Messages per pull (default 32).
    pub fn pull_batch_size(mut self, n: i32) -> Self {
        self.config.pull_batch_size = n;
        self
    }

    /// Most messages per listener call (default 1).
    pub fn consume_batch_max_size(mut self, n: usize) -> Self {
        self.config.consume_batch_max_size = n;
        self
    }

    /// Per-queue flow control: cached messages (default 1000) and cached bytes (default
    /// 100 MiB) above which pulls are delayed 50 ms.
    pub fn pull_threshold_for_queue(mut self, messages: usize, bytes: u64) -> Self {
        self.config.pull_threshold_for_queue = messages;
        self.config.pull_threshold_size_for_queue = bytes;
        self
    }

    /// A listener call running longer than this counts as failed (default 15 min).
    pub fn consume_timeout(mut self, t: Duration) -> Self {
        self.config.consume_timeout = t;
        self
    }

    /// Retries before the DLQ (default 16; -1 is Java's: 16, unlimited when orderly).
    pub fn max_reconsume_times(mut self, n: i32) -> Self {
        self.config.max_reconsume_times = n;
        self
    }

    /// Orderly: pause of a queue after a failed batch (default 1 s).
    pub fn suspend_time(mut self, t: Duration) -> Self {
        self.config.suspend_time = t;
        self
    }

    /// Rebalance period (default 20 s).
    pub fn rebalance_interval(mut self, t: Duration) -> Self {
        self.config.rebalance_interval = t;
        self
    }

    /// Orderly: lock renewal period (default 20 s).
    pub fn lock_interval(mut self, t: Duration) -> Self {
        self.config.lock_interval = t;
        self
    }

    /// Broadcasting: the offset files' directory (default `~/.rocketmq_offsets`).
    pub fn offset_store_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.offset_store_dir = Some(dir.into());
        self
    }

    /// How long `shutdown` waits for running listener calls (default 30 s).
    pub fn shutdown_timeout(mut self, t: Duration) -> Self {
        self.config.shutdown_timeout = t;
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: PushConsumerConfig) -> Self {
        self.config = config;
        self
    }

    /// Starts consuming concurrently with `listener`.
    ///
    /// Registers the group with the client, heartbeats every broker of the subscribed
    /// topics, and runs the first rebalance before returning, so the consumer owns its
    /// queues (as far as the brokers know the group) when this returns.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid group, subscription or setting, no subscription,
    /// or a group already started on this client; an unreadable offset file
    /// (broadcasting); [`Error::Broker`] when a broker refuses an SQL92 subscription at the
    /// start-up check (CHECK_CLIENT_CONFIG): SUBSCRIPTION_PARSE_FAILED with the parser's
    /// message for an invalid expression, SYSTEM_ERROR from a broker without property
    /// filtering (`enablePropertyFilter=false`).
    ///
    /// # Cancel safety
    /// Not cancel safe: a cancelled start may leave the group registered on the client.
    pub async fn start<L: MessageListener>(self, listener: L) -> Result<PushConsumer> {
        self.start_with(Listener::Concurrent(Arc::new(listener)))
            .await
    }

    /// Starts consuming orderly with `listener`: each queue is consumed by one call at a
    /// time, in queue order, while this consumer holds the queue's broker lock
    /// (clustering).
    ///
    /// # Errors
    /// As [`PushConsumerBuilder::start`].
    ///
    /// # Cancel safety
    /// As [`PushConsumerBuilder::start`].
    pub async fn start_orderly<L: OrderlyListener>(self, listener: L) -> Result<PushConsumer> {
        self.start_with(Listener::Orderly(Arc::new(listener))).await
    }

    async fn start_with(self, listener: Listener) -> Result<PushConsumer> {
        crate::producer::validate_group(&self.group)?;
        self.config.validate()?;
        if self.client.is_shut_down() {
            return Err(Error::Shutdown);
        }
        if self.subscriptions.is_empty() {
            return Err(config_error(
                "subscriptions",
                "subscribe to at least one topic",
            ));
        }
        let clustering = self.config.message_model == MessageModel::Clustering;
        let mut subscriptions = BTreeMap::new();
        for (topic, expr, kind) in self.subscriptions.iter() {
            let sub = subscription::build(topic, expr, kind.clone())?;
            subscriptions.insert(topic.clone(), sub);
        }
        if clustering {
            let retry = retry_topic(&self.group);
            let sub = SubscriptionData::build(retry.clone(), "*", None)
                .map_err(|e| config_error("subscribe", e.to_string()))?;
            subscriptions.insert(retry, sub);
        }
        let offsets = if clustering {
            OffsetStore::remote(self.client.clone(), &self.group)
        } else {
            let dir = self
                .config
                .offset_store_dir
                .clone()
                .unwrap_or_else(default_offset_dir);
            OffsetStore::local(dir, self.client.client_id(), &self.group)
        };
        for sub in subscriptions.values() {
            self.client.check_client_config(&self.group, sub).await?;
        }
        offsets.load().await?;
        let stop = CancellationToken::new();
        let inner = Arc::new(PushInner {
            pull_memory: crate::consumer::api::PullMemory::default(),
            permits: Arc::new(Semaphore::new(self.config.consume_concurrency)),
            client: self.client.clone(),
            group: self.group.clone(),
            config: self.config,
            subscriptions,
            strategy: self.strategy,
            listener,
            offsets,
            queues: Mutex::default(),
            rebalance_now: Notify::new(),
            rebalance_lock: tokio::sync::Mutex::new(()),
            background: stop.child_token(),
            pulls: stop.child_token(),
            stop,
            shutting_down: AtomicBool::new(false),
            inflight: AtomicUsize::new(0),
            idle: Notify::new(),
            started_ms: now_ms(),
        });
        {
            let mut consumers = self
                .client
                .inner
                .registry
                .consumers
                .write()
                .unwrap_or_else(|e| e.into_inner());
            if consumers.contains_key(&self.group) {
                return Err(config_error(
                    "group",
                    format!(
                        "consumer group {:?} already started on this client",
                        self.group
                    ),
                ));
            }
            consumers.insert(
                self.group.clone(),
                Arc::new(hooks::PushHooks {
                    inner: Arc::downgrade(&inner),
                }),
            );
        }
        for topic in inner.subscriptions.keys() {
            if let Err(e) = inner.client.topic_route(topic).await {
                tracing::debug!(topic, error = %e, "no route yet");
            }
        }
        inner.client.inner.send_heartbeat_to_all().await;
        inner.rebalance().await;
        tokio::spawn(rebalance::rebalance_loop(inner.clone()));
        tokio::spawn(persist_loop(inner.clone()));
        if inner.is_orderly() && inner.clustering() {
            tokio::spawn(orderly::lock_loop(inner.clone()));
        }
        info!(group = %inner.group, orderly = inner.is_orderly(), model = ?inner.config.message_model, "push consumer started");
        Ok(PushConsumer { inner })
    }
}

pub(crate) enum Listener {
    Concurrent(Arc<dyn MessageListener>),
    Orderly(Arc<dyn OrderlyListener>),
}

/// One owned queue.
pub(crate) struct Slot {
    pub(crate) pq: Arc<ProcessQueue>,
    /// Stops the queue's pull task.
    pub(crate) cancel: CancellationToken,
}

pub(crate) struct PushInner {
    pub(crate) client: Client,
    pub(crate) group: String,
    pub(crate) config: PushConsumerConfig,
    /// Topic → subscription, `%RETRY%group` included when clustering.
    pub(crate) subscriptions: BTreeMap<String, SubscriptionData>,
    pub(crate) strategy: Arc<dyn AllocateStrategy>,
    pub(crate) listener: Listener,
    pub(crate) offsets: OffsetStore,
    pub(crate) queues: Mutex<BTreeMap<MessageQueue, Slot>>,
    /// Listener calls allowed at once.
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) rebalance_now: Notify,
    pub(crate) rebalance_lock: tokio::sync::Mutex<()>,
    /// Everything (a drop without shutdown cancels it, like a crash).
    pub(crate) stop: CancellationToken,
    /// Rebalance, persist and lock loops.
    pub(crate) background: CancellationToken,
    /// Every pull task.
    pub(crate) pulls: CancellationToken,
    pub(crate) shutting_down: AtomicBool,
    /// Listener calls running or waiting for a permit.
    pub(crate) inflight: AtomicUsize,
    pub(crate) idle: Notify,
    pub(crate) started_ms: i64,
    /// Suggested brokers per queue (`PullAPIWrapper.pullFromWhichNodeTable`).
    pub(crate) pull_memory: crate::consumer::api::PullMemory,
}

impl PushInner {
    pub(crate) fn is_orderly(&self) -> bool {
        matches!(self.listener, Listener::Orderly(_))
    }

    pub(crate) fn clustering(&self) -> bool {
        self.config.message_model == MessageModel::Clustering
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// What the heartbeat says about this group.
    pub(crate) fn consumer_data(&self) -> ConsumerData {
        ConsumerData {
            consume_from_where: Some(self.config.consume_from.to_wire()),
            consume_type: Some(ConsumeType::ConsumePassively),
            group_name: self.group.clone(),
            message_model: Some(self.config.message_model),
            subscription_data_set: self.subscriptions.values().cloned().collect(),
            unit_mode: false,
        }
    }

    /// The owned queues that are still live.
    pub(crate) fn live_queues(&self) -> Vec<MessageQueue> {
        self.queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, s)| !s.pq.is_dropped())
            .map(|(q, _)| q.clone())
            .collect()
    }

    /// Counts a listener call (or a batch waiting for one) until the guard drops.
    pub(crate) fn track(self: &Arc<Self>) -> InflightGuard {
        self.inflight.fetch_add(1, Ordering::SeqCst);
        InflightGuard {
            inner: self.clone(),
        }
    }

    /// Sleeps `d`, or less if the consumer stops; returns false when it stopped.
    pub(crate) async fn sleep(&self, d: Duration, token: &CancellationToken) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = token.cancelled() => false,
        }
    }
}

pub(crate) struct InflightGuard {
    inner: Arc<PushInner>,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        if self.inner.inflight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.idle.notify_waiters();
        }
    }
}

async fn persist_loop(inner: Arc<PushInner>) {
    let period = inner.client.config().persist_offset_interval;
    loop {
        if !inner.sleep(period, &inner.background).await {
            return;
        }
        let queues = inner.live_queues();
        inner.offsets.persist_all(&queues).await;
    }
}

/// A started push consumer. Dropping it without [`PushConsumer::shutdown`] stops it at
/// once, like a crash: nothing more is committed or persisted, locks are not released,
/// the group is not unregistered (the brokers notice when the client's connections close
/// or its heartbeats stop), and unacknowledged messages are delivered again to whoever
/// takes the queues over.
pub struct PushConsumer {
    inner: Arc<PushInner>,
}

impl std::fmt::Debug for PushConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushConsumer")
            .field("group", &self.inner.group)
            .field("orderly", &self.inner.is_orderly())
            .finish()
    }
}

impl PushConsumer {
    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.inner.group
    }

    /// The client this consumer lives on.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The queues this consumer owns now, `%RETRY%<group>` queues included.
    pub fn assigned_queues(&self) -> Vec<MessageQueue> {
        self.inner.live_queues()
    }

    /// Runs a rebalance now (it also runs every `rebalance_interval` and when the broker
    /// reports a group change) and waits for it.
    ///
    /// # Cancel safety
    /// Cancel safe; a cancelled rebalance leaves a consistent, possibly partial, result
    /// that the next one completes.
    pub async fn rebalance(&self) {
        self.inner.rebalance().await;
    }

    /// Stops gracefully: no more pulls; running listener calls may finish (up to
    /// `shutdown_timeout`), messages not yet handed to the listener are left for later;
    /// offsets are persisted (waiting for the broker's answer); orderly queue locks are
    /// released; the group is unregistered from the brokers. Idempotent.
    ///
    /// # Cancel safety
    /// Not cancel safe: cancelling part-way may leave offsets unpersisted or locks held
    /// (until they expire on the broker).
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        if inner.shutting_down.swap(true, Ordering::SeqCst) {
            return;
        }
        inner.background.cancel();
        inner.pulls.cancel();
        let _rebalance = inner.rebalance_lock.lock().await;
        let slots: Vec<(MessageQueue, Arc<ProcessQueue>)> = inner
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(q, s)| (q.clone(), s.pq.clone()))
            .collect();
        for (_, pq) in &slots {
            pq.wake.notify_one();
        }
        let drained = tokio::time::timeout(inner.config.shutdown_timeout, async {
            loop {
                let idle = inner.idle.notified();
                if inner.inflight.load(Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        })
        .await;
        if drained.is_err() {
            warn!(group = %inner.group, running = inner.inflight.load(Ordering::SeqCst), "listener calls still running at the shutdown deadline; their messages will be delivered again");
        }
        for (_, pq) in &slots {
            pq.set_dropped();
        }
        let queues: Vec<MessageQueue> = slots.iter().map(|(q, _)| q.clone()).collect();
        if let Err(e) = inner.offsets.persist_each(&queues).await {
            warn!(group = %inner.group, error = %e, "offsets not persisted at shutdown");
        }
        if inner.is_orderly() && inner.clustering() {
            orderly::unlock_all(inner, &queues).await;
        }
        inner.stop.cancel();
        inner
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        inner
            .client
            .inner
            .registry
            .consumers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&inner.group);
        inner
            .client
            .inner
            .unregister_group(None, Some(&inner.group))
            .await;
        info!(group = %inner.group, "push consumer shut down");
    }
}

impl Drop for PushConsumer {
    fn drop(&mut self) {
        if self.inner.shutting_down.swap(true, Ordering::SeqCst) {
            return;
        }
        warn!(group = %self.inner.group, "push consumer dropped without shutdown: stopping abruptly");
        self.inner.stop.cancel();
        for slot in self
            .inner
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            slot.pq.set_dropped();
        }
        let mut consumers = self
            .inner
            .client
            .inner
            .registry
            .consumers
            .write()
            .unwrap_or_else(|e| e.into_inner());
        consumers.remove(&self.inner.group);
    }
}
