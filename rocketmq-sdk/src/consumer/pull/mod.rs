//! The lite pull consumer (`DefaultLitePullConsumerImpl`): background pulls per assigned
//! queue feed a buffer that [`PullConsumer::poll`] drains; queues come from a subscription
//! (rebalanced within the group) or an explicit assignment; offsets are committed
//! automatically from `poll` or by hand, and can be moved with `seek`.

mod task;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::api::{PullMemory, copy_lasting_error, is_lasting_pull_error};
use super::config::{ConsumeFrom, PullConsumerConfig, default_offset_dir};
use super::offset_store::OffsetStore;
use super::process_queue::ProcessQueue;
use super::push::reset_table_of;
use super::rebalance::allocate::{AllocateStrategy, Averagely};
use super::rebalance::target_queues;
use super::subscription::{self, SubscriptionList};
use crate::client::{Client, ConsumerHooks, config_error};
use crate::error::{Error, Result};
use crate::protocol::body::{ConsumeType, ConsumerData, MessageModel, SubscriptionData};
use crate::protocol::header::ExpressionType;
use crate::protocol::message::id::now_ms;
use crate::protocol::message::{MessageExt, MessageQueue};
use crate::protocol::{RemotingCommand, ResponseCode};

/// Builds a [`PullConsumer`]. Defaults are the Java lite pull consumer's; see
/// [`PullConsumerConfig`].
#[derive(Debug)]
pub struct PullConsumerBuilder {
    client: Client,
    group: String,
    config: PullConsumerConfig,
    strategy: Arc<dyn AllocateStrategy>,
    subscriptions: SubscriptionList,
}

impl Client {
    /// Starts building a lite pull consumer of `group`.
    pub fn pull_consumer(&self, group: impl Into<String>) -> PullConsumerBuilder {
        PullConsumerBuilder {
            client: self.clone(),
            group: group.into(),
            config: PullConsumerConfig::default(),
            strategy: Arc::new(Averagely),
            subscriptions: SubscriptionList::default(),
        }
    }
}

impl PullConsumerBuilder {
    /// Subscribes to `topic` before starting (the same as [`PullConsumer::subscribe`]
    /// right after start).
    pub fn subscribe(mut self, topic: impl Into<String>, expression: impl Into<String>) -> Self {
        self.subscriptions
            .set(topic.into(), expression.into(), ExpressionType::Tag);
        self
    }

    /// Subscribes to `topic` with an SQL92 expression over message properties before
    /// starting (the same as [`PullConsumer::subscribe_sql`] right after start).
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

    /// The allocation strategy in subscribe mode (default [`Averagely`]).
    pub fn allocate_strategy(mut self, strategy: impl AllocateStrategy + 'static) -> Self {
        self.strategy = Arc::new(strategy);
        self
    }

    /// Messages per pull (default 10).
    pub fn pull_batch_size(mut self, n: i32) -> Self {
        self.config.pull_batch_size = n;
        self
    }

    /// Automatic commit from `poll` (default on).
    pub fn auto_commit(mut self, on: bool) -> Self {
        self.config.auto_commit = on;
        self
    }

    /// Period of the automatic commit (default 5 s).
    pub fn auto_commit_interval(mut self, t: Duration) -> Self {
        self.config.auto_commit_interval = t;
        self
    }

    /// Rebalance period in subscribe mode (default 20 s).
    pub fn rebalance_interval(mut self, t: Duration) -> Self {
        self.config.rebalance_interval = t;
        self
    }

    /// Broadcasting: the offset files' directory (default `~/.rocketmq_offsets`).
    pub fn offset_store_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.offset_store_dir = Some(dir.into());
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: PullConsumerConfig) -> Self {
        self.config = config;
        self
    }

    /// Registers the group with the client and starts; with subscriptions, the first
    /// rebalance runs before this returns.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid group, subscription or setting, or a group
    /// already started on this client; an unreadable offset file (broadcasting);
    /// [`Error::Broker`] when a broker refuses an SQL92 subscription (see
    /// [`PullConsumer::subscribe_sql`]).
    ///
    /// # Cancel safety
    /// Not cancel safe: a cancelled start may leave the group registered on the client.
    pub async fn start(self) -> Result<PullConsumer> {
        crate::producer::validate_group(&self.group)?;
        self.config.validate()?;
        if self.client.is_shut_down() {
            return Err(Error::Shutdown);
        }
        let offsets = if self.config.message_model == MessageModel::Clustering {
            OffsetStore::remote(self.client.clone(), &self.group)
        } else {
            let dir = self
                .config
                .offset_store_dir
                .clone()
                .unwrap_or_else(default_offset_dir);
            OffsetStore::local(dir, self.client.client_id(), &self.group)
        };
        offsets.load().await?;
        let inner = Arc::new(PullInner {
            client: self.client.clone(),
            group: self.group.clone(),
            next_auto_commit: Mutex::new(Instant::now() + self.config.auto_commit_interval),
            config: self.config,
            strategy: self.strategy,
            mode: Mutex::new(Mode::Unset),
            subscriptions: RwLock::default(),
            queues: Mutex::default(),
            offsets,
            ready: Mutex::default(),
            ready_msgs: AtomicUsize::new(0),
            ready_notify: Notify::new(),
            errors: Mutex::default(),
            memory: PullMemory::default(),
            rebalance_failures: Mutex::default(),
            rebalance_now: Notify::new(),
            rebalance_lock: tokio::sync::Mutex::new(()),
            stop: CancellationToken::new(),
            shut_down: AtomicBool::new(false),
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
                Arc::new(PullHooks {
                    inner: Arc::downgrade(&inner),
                }),
            );
        }
        let consumer = PullConsumer { inner };
        tokio::spawn(rebalance_loop(consumer.inner.clone()));
        tokio::spawn(persist_loop(consumer.inner.clone()));
        if !self.subscriptions.is_empty()
            && let Err(e) = consumer.subscribe_all(self.subscriptions.into_vec()).await
        {
            // Leave nothing registered: the group can be started again on this client.
            consumer.shutdown().await;
            return Err(e);
        }
        info!(group = %consumer.inner.group, "pull consumer started");
        Ok(consumer)
    }
}

/// Consecutive failures with a lasting error (REQUEST_CODE_NOT_SUPPORTED,
/// NO_PERMISSION, an unknown topic...) after which `poll` returns the error.
pub(crate) const LASTING_ERROR_ATTEMPTS: u32 = 3;
/// Errors kept for `poll` at most.
const MAX_PENDING_ERRORS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Unset,
    Subscribe,
    Assign,
}

/// Per-queue state shared by the pull task, `poll` and `seek`.
#[derive(Debug)]
pub(crate) struct QueueState {
    pub(crate) pq: Mutex<Arc<ProcessQueue>>,
    pub(crate) paused: AtomicBool,
    /// Wakes the pull task: resume, seek.
    pub(crate) wake: Notify,
    pub(crate) seek: Mutex<Option<i64>>,
    /// Bumped by every seek: results and buffered batches of older generations are
    /// discarded.
    pub(crate) generation: AtomicU64,
    /// Next offset to pull, -1 until known.
    pub(crate) pull_offset: AtomicI64,
    /// Next offset to commit (everything below it was polled), -1 until known.
    pub(crate) consume_offset: AtomicI64,
    /// Consecutive pulls that failed with a lasting error, and the last such error;
    /// reset by any answer the pull loop can use.
    pub(crate) failing: Mutex<Option<(u32, Error)>>,
}

impl QueueState {
    fn new() -> Self {
        QueueState {
            pq: Mutex::new(Arc::new(ProcessQueue::default())),
            paused: AtomicBool::new(false),
            wake: Notify::new(),
            seek: Mutex::new(None),
            generation: AtomicU64::new(0),
            pull_offset: AtomicI64::new(-1),
            consume_offset: AtomicI64::new(-1),
            failing: Mutex::new(None),
        }
    }

    /// A copy of the lasting error the queue's pulls keep failing with, if they do.
    fn lasting_error(&self) -> Option<Error> {
        self.failing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|(_, e)| copy_lasting_error(e))
    }

    pub(crate) fn pq(&self) -> Arc<ProcessQueue> {
        self.pq.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Moves the queue to `offset`: buffered messages are dropped, the pull task starts
    /// over there, and `offset` becomes the position to commit.
    fn seek(&self, offset: i64) {
        let mut pq = self.pq.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        pq.set_dropped();
        *pq = Arc::new(ProcessQueue::default());
        *self.seek.lock().unwrap_or_else(|e| e.into_inner()) = Some(offset);
        self.consume_offset.store(offset, Ordering::SeqCst);
        drop(pq);
        self.wake.notify_one();
    }
}

struct Slot {
    state: Arc<QueueState>,
    cancel: CancellationToken,
}

/// A pulled batch waiting for `poll`.
pub(crate) struct Ready {
    pub(crate) state: Arc<QueueState>,
    pub(crate) pq: Arc<ProcessQueue>,
    pub(crate) generation: u64,
    pub(crate) msgs: Vec<MessageExt>,
}

pub(crate) struct PullInner {
    pub(crate) client: Client,
    pub(crate) group: String,
    pub(crate) config: PullConsumerConfig,
    strategy: Arc<dyn AllocateStrategy>,
    mode: Mutex<Mode>,
    pub(crate) subscriptions: RwLock<BTreeMap<String, SubscriptionData>>,
    queues: Mutex<BTreeMap<MessageQueue, Slot>>,
    pub(crate) offsets: OffsetStore,
    pub(crate) ready: Mutex<VecDeque<Ready>>,
    /// Messages in `ready`.
    pub(crate) ready_msgs: AtomicUsize,
    pub(crate) ready_notify: Notify,
    /// Lasting errors waiting to be returned by `poll`.
    pub(crate) errors: Mutex<VecDeque<Error>>,
    /// Suggested brokers per queue.
    pub(crate) memory: PullMemory,
    /// Consecutive rebalances of a topic that failed with a lasting error.
    rebalance_failures: Mutex<BTreeMap<String, u32>>,
    rebalance_now: Notify,
    rebalance_lock: tokio::sync::Mutex<()>,
    pub(crate) stop: CancellationToken,
    shut_down: AtomicBool,
    next_auto_commit: Mutex<Instant>,
    pub(crate) started_ms: i64,
}

impl PullInner {
    fn consumer_data(&self) -> ConsumerData {
        ConsumerData {
            consume_from_where: Some(self.config.consume_from.to_wire()),
            consume_type: Some(ConsumeType::ConsumeActively),
            group_name: self.group.clone(),
            message_model: Some(self.config.message_model),
            subscription_data_set: self
                .subscriptions
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .values()
                .cloned()
                .collect(),
            unit_mode: false,
        }
    }

    fn mode(&self) -> Mode {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn slots(&self) -> Vec<(MessageQueue, Arc<QueueState>)> {
        self.queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(q, s)| (q.clone(), s.state.clone()))
            .collect()
    }

    fn state_of(&self, mq: &MessageQueue) -> Result<Arc<QueueState>> {
        self.queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(mq)
            .map(|s| s.state.clone())
            .ok_or_else(|| config_error("queue", format!("{mq} is not assigned to this consumer")))
    }

    async fn rebalance(self: &Arc<Self>) {
        let _guard = self.rebalance_lock.lock().await;
        if self.mode() != Mode::Subscribe || self.shut_down.load(Ordering::SeqCst) {
            return;
        }
        let topics: Vec<String> = self
            .subscriptions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        let mut target = BTreeSet::new();
        for topic in &topics {
            match target_queues(
                &self.client,
                &self.group,
                topic,
                self.config.message_model,
                self.strategy.as_ref(),
            )
            .await
            {
                Ok(t) => {
                    self.rebalance_failures
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(topic);
                    target.extend(t);
                }
                Err(e) => {
                    debug!(topic, error = %e, "rebalance failed; keeping the topic's queues");
                    if is_lasting_pull_error(&e) {
                        let n = {
                            let mut f = self
                                .rebalance_failures
                                .lock()
                                .unwrap_or_else(|e| e.into_inner());
                            let n = f.entry(topic.clone()).or_default();
                            *n += 1;
                            *n
                        };
                        if n == LASTING_ERROR_ATTEMPTS {
                            warn!(group = %self.group, topic, error = %e, "topic cannot be consumed");
                            self.surface(e);
                        }
                    }
                    target.extend(
                        self.queues
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .keys()
                            .filter(|q| q.topic == *topic)
                            .cloned(),
                    );
                }
            }
        }
        self.apply(target).await;
    }

    /// Makes the owned queues exactly `target`.
    async fn apply(self: &Arc<Self>, target: BTreeSet<MessageQueue>) {
        let removed: Vec<(MessageQueue, Slot)> = {
            let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            let gone: Vec<MessageQueue> = queues
                .keys()
                .filter(|q| !target.contains(*q))
                .cloned()
                .collect();
            gone.into_iter()
                .filter_map(|q| queues.remove(&q).map(|s| (q, s)))
                .collect()
        };
        for (mq, slot) in removed {
            slot.cancel.cancel();
            slot.state.pq().set_dropped();
            let consumed = slot.state.consume_offset.load(Ordering::SeqCst);
            if self.config.auto_commit && consumed >= 0 {
                self.offsets.update(&mq, consumed, false);
            }
            if let Err(e) = self.offsets.persist(&mq).await {
                warn!(queue = %mq, error = %e, "offset not persisted while giving the queue up");
            }
            self.offsets.remove(&mq);
            self.memory.forget(&mq);
            info!(group = %self.group, queue = %mq, "queue given up");
        }
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        for mq in target {
            if queues.contains_key(&mq) {
                continue;
            }
            let state = Arc::new(QueueState::new());
            let cancel = self.stop.child_token();
            queues.insert(
                mq.clone(),
                Slot {
                    state: state.clone(),
                    cancel: cancel.clone(),
                },
            );
            info!(group = %self.group, queue = %mq, "queue taken");
            tokio::spawn(task::pull_loop(self.clone(), mq, state, cancel));
        }
    }

    /// Copies polled positions into the offset store and persists them: oneway (auto
    /// commit) or waiting for the answers. Queues whose pulls keep failing with a lasting
    /// error are left out (nothing was fetched there to commit); waiting, the first such
    /// error is returned once the others are persisted.
    async fn commit_all(&self, wait: bool) -> Result<()> {
        let slots = self.slots();
        let mut queues = Vec::with_capacity(slots.len());
        let mut failing = None;
        for (mq, state) in slots {
            if let Some(e) = state.lasting_error() {
                failing.get_or_insert(e);
                continue;
            }
            let consumed = state.consume_offset.load(Ordering::SeqCst);
            if consumed >= 0 {
                self.offsets.update(&mq, consumed, false);
                queues.push(mq);
            }
        }
        if wait {
            self.offsets.persist_each(&queues).await?;
            failing.map_or(Ok(()), Err)
        } else {
            self.offsets.persist_all(&queues).await;
            Ok(())
        }
    }

    async fn maybe_auto_commit(&self) {
        if !self.config.auto_commit {
            return;
        }
        let due = {
            let mut next = self
                .next_auto_commit
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if Instant::now() >= *next {
                *next = Instant::now() + self.config.auto_commit_interval;
                true
            } else {
                false
            }
        };
        if due && let Err(e) = self.commit_all(false).await {
            warn!(group = %self.group, error = %e, "auto commit failed");
        }
    }

    /// Queues a lasting error for `poll` and wakes it.
    pub(crate) fn surface(&self, e: Error) {
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        // A caller acts on the first ones; a caller that never polls must not grow this.
        if errors.len() < MAX_PENDING_ERRORS {
            errors.push_back(e);
        }
        drop(errors);
        self.ready_notify.notify_one();
    }

    fn reset(&self, table: BTreeMap<MessageQueue, i64>) {
        for (mq, offset) in table {
            if let Ok(state) = self.state_of(&mq) {
                self.offsets.update(&mq, offset, false);
                state.seek(offset);
            }
        }
    }
}

async fn rebalance_loop(inner: Arc<PullInner>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(inner.config.rebalance_interval) => {}
            _ = inner.rebalance_now.notified() => {}
            _ = inner.stop.cancelled() => return,
        }
        inner.rebalance().await;
    }
}

async fn persist_loop(inner: Arc<PullInner>) {
    let period = inner.client.config().persist_offset_interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = inner.stop.cancelled() => return,
        }
        let queues: Vec<MessageQueue> = inner.slots().into_iter().map(|(q, _)| q).collect();
        inner.offsets.persist_all(&queues).await;
    }
}

struct PullHooks {
    inner: Weak<PullInner>,
}

impl ConsumerHooks for PullHooks {
    fn consumer_data(&self) -> ConsumerData {
        self.inner
            .upgrade()
            .map(|i| i.consumer_data())
            .unwrap_or_default()
    }

    fn on_ids_changed(&self) {
        if let Some(i) = self.inner.upgrade() {
            i.rebalance_now.notify_one();
        }
    }

    fn on_reset_offset(&self, request: RemotingCommand) {
        if let Some(i) = self.inner.upgrade()
            && let Some(table) = reset_table_of(&request)
        {
            info!(group = %i.group, queues = table.len(), "offset reset requested by the broker");
            i.reset(table);
        }
    }

    fn on_request(&self, _request: RemotingCommand) -> BoxFuture<'static, Option<RemotingCommand>> {
        Box::pin(async {
            Some(
                RemotingCommand::new_response(ResponseCode::REQUEST_CODE_NOT_SUPPORTED)
                    .with_remark("not supported by a lite pull consumer"),
            )
        })
    }
}

/// A started lite pull consumer. Cheap to share by reference; all methods take `&self`.
/// Dropping it without [`PullConsumer::shutdown`] stops it at once without committing.
pub struct PullConsumer {
    inner: Arc<PullInner>,
}

impl std::fmt::Debug for PullConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullConsumer")
            .field("group", &self.inner.group)
            .finish()
    }
}

impl PullConsumer {
    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.inner.group
    }

    fn check_running(&self) -> Result<()> {
        if self.inner.shut_down.load(Ordering::SeqCst) {
            Err(Error::Shutdown)
        } else {
            Ok(())
        }
    }

    fn set_mode(&self, mode: Mode) -> Result<()> {
        let mut m = self.inner.mode.lock().unwrap_or_else(|e| e.into_inner());
        match *m {
            Mode::Unset => {
                *m = mode;
                Ok(())
            }
            cur if cur == mode => Ok(()),
            _ => Err(config_error(
                "subscribe",
                "subscribe and assign are mutually exclusive",
            )),
        }
    }

    async fn subscribe_all(&self, subs: Vec<(String, String, ExpressionType)>) -> Result<()> {
        self.check_running()?;
        self.set_mode(Mode::Subscribe)?;
        for (topic, expr, kind) in subs {
            let sub = subscription::build(&topic, &expr, kind)?;
            if let Err(e) = self.inner.client.topic_route(&topic).await {
                debug!(topic, error = %e, "no route yet");
            }
            self.inner
                .client
                .check_client_config(&self.inner.group, &sub)
                .await?;
            self.inner
                .subscriptions
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(topic, sub);
        }
        self.inner.client.inner.send_heartbeat_to_all().await;
        self.inner.rebalance().await;
        Ok(())
    }

    /// Subscribes to `topic` with a tag expression (`"*"` or `"A || B"`); the group's
    /// members share its queues by rebalance. Runs a rebalance before returning.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad topic or expression, or after [`PullConsumer::assign`];
    /// [`Error::Shutdown`].
    ///
    /// # Cancel safety
    /// Cancel safe; the subscription may or may not be in place.
    pub async fn subscribe(&self, topic: &str, expression: &str) -> Result<()> {
        self.subscribe_all(vec![(
            topic.to_owned(),
            expression.to_owned(),
            ExpressionType::Tag,
        )])
        .await
    }

    /// Subscribes to `topic` with an SQL92 expression over message properties
    /// (`MessageSelector.bySql`); the broker filters, and is asked first whether it can
    /// (CHECK_CLIENT_CONFIG). Runs a rebalance before returning.
    ///
    /// # Errors
    /// As [`PullConsumer::subscribe`], and [`Error::Broker`] when the broker refuses the
    /// expression (SUBSCRIPTION_PARSE_FAILED with the parser's message) or does not filter
    /// by SQL92 (SYSTEM_ERROR); the subscription is then not made.
    ///
    /// # Cancel safety
    /// Cancel safe; the subscription may or may not be in place.
    pub async fn subscribe_sql(&self, topic: &str, expression: &str) -> Result<()> {
        self.subscribe_all(vec![(
            topic.to_owned(),
            expression.to_owned(),
            ExpressionType::Sql92,
        )])
        .await
    }

    /// Drops the subscription of `topic`; its queues are given up (offsets persisted).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn unsubscribe(&self, topic: &str) {
        self.inner
            .subscriptions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(topic);
        let _guard = self.inner.rebalance_lock.lock().await;
        let keep: BTreeSet<MessageQueue> = self
            .inner
            .slots()
            .into_iter()
            .map(|(q, _)| q)
            .filter(|q| q.topic != topic)
            .collect();
        self.inner.apply(keep).await;
    }

    /// Consumes exactly `queues` (no rebalance), replacing any earlier assignment.
    ///
    /// # Errors
    /// [`Error::Config`] after [`PullConsumer::subscribe`]; [`Error::Shutdown`].
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn assign(&self, queues: impl IntoIterator<Item = MessageQueue>) -> Result<()> {
        self.check_running()?;
        self.set_mode(Mode::Assign)?;
        let target: BTreeSet<MessageQueue> = queues.into_iter().collect();
        let _guard = self.inner.rebalance_lock.lock().await;
        self.inner.apply(target).await;
        Ok(())
    }

    /// The queues consumed now.
    pub fn assignment(&self) -> Vec<MessageQueue> {
        self.inner.slots().into_iter().map(|(q, _)| q).collect()
    }

    /// The readable queues of `topic` (`fetchMessageQueues`).
    ///
    /// # Errors
    /// [`Error::NoRoute`] for an unknown topic; transport errors.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn fetch_queues(&self, topic: &str) -> Result<Vec<MessageQueue>> {
        Ok(self
            .inner
            .client
            .refresh_route(topic)
            .await?
            .subscribe_queues
            .clone())
    }

    /// The next pulled batch (the messages of one queue, in offset order), waiting up to
    /// `timeout`; empty when nothing arrived in time. With auto commit on, positions
    /// reached by earlier polls are committed first when the commit interval has passed.
    ///
    /// # Errors
    /// [`Error::Shutdown`]; the error a queue's pulls (or a topic's rebalance) failed with
    /// three times in a row when it will not go away by retrying:
    /// [`Error::Broker`] with REQUEST_CODE_NOT_SUPPORTED, NO_PERMISSION,
    /// TOPIC_NOT_EXIST, SUBSCRIPTION_PARSE_FAILED or SUBSCRIPTION_GROUP_NOT_EXIST, or
    /// [`Error::NoRoute`]. Each is returned once; the queue keeps retrying, more slowly.
    ///
    /// # Cancel safety
    /// Cancel safe: a batch is only taken from the buffer when it is returned.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<MessageExt>> {
        self.check_running()?;
        self.inner.maybe_auto_commit().await;
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.inner.ready_notify.notified();
            if let Some(e) = self
                .inner
                .errors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front()
            {
                return Err(e);
            }
            let next = self
                .inner
                .ready
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front();
            match next {
                Some(r) => {
                    self.inner
                        .ready_msgs
                        .fetch_sub(r.msgs.len(), Ordering::SeqCst);
                    if r.pq.is_dropped()
                        || r.state.generation.load(Ordering::SeqCst) != r.generation
                    {
                        continue;
                    }
                    if let Some(offset) =
                        r.pq.remove_messages(r.msgs.iter().map(|m| m.queue_offset))
                        && r.state.generation.load(Ordering::SeqCst) == r.generation
                    {
                        r.state.consume_offset.store(offset, Ordering::SeqCst);
                    }
                    return Ok(r.msgs);
                }
                None => {
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep_until(deadline) => return Ok(Vec::new()),
                        _ = self.inner.stop.cancelled() => return Err(Error::Shutdown),
                    }
                }
            }
        }
    }

    /// Commits the positions reached by `poll` for every assigned queue and waits for the
    /// broker (or the offset file). A queue whose pulls keep failing with a lasting error
    /// (see [`PullConsumer::poll`]) is not committed.
    ///
    /// # Errors
    /// The first persist failure (the others are still attempted); else the lasting
    /// error of a queue that could not be committed for it.
    ///
    /// # Cancel safety
    /// Cancel safe; some queues may be committed.
    pub async fn commit(&self) -> Result<()> {
        self.inner.commit_all(true).await
    }

    /// The committed offset of `queue` as stored (broker or file); `None` when the group
    /// never committed one.
    ///
    /// # Errors
    /// The broker could not be asked.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn committed(&self, queue: &MessageQueue) -> Result<Option<i64>> {
        self.inner.offsets.read_committed(queue).await
    }

    /// Continues `queue` at `offset` (within the queue's stored range): buffered messages
    /// of the queue are dropped and the next `poll`s return messages from `offset` on;
    /// `offset` also becomes the position to commit.
    ///
    /// # Errors
    /// [`Error::Config`] when the queue is not assigned or the offset is out of range;
    /// broker errors from the range check.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn seek(&self, queue: &MessageQueue, offset: i64) -> Result<()> {
        let state = self.inner.state_of(queue)?;
        let min = self.inner.client.min_offset(queue).await?;
        let max = self.inner.client.max_offset(queue).await?;
        if offset < min || offset > max {
            return Err(config_error(
                "offset",
                format!("{offset} is outside {queue}'s range {min}..={max}"),
            ));
        }
        state.seek(offset);
        Ok(())
    }

    /// Continues `queue` at its first stored message.
    ///
    /// # Errors
    /// As [`PullConsumer::seek`].
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn seek_to_begin(&self, queue: &MessageQueue) -> Result<()> {
        let state = self.inner.state_of(queue)?;
        state.seek(self.inner.client.min_offset(queue).await?);
        Ok(())
    }

    /// Continues `queue` after its last stored message.
    ///
    /// # Errors
    /// As [`PullConsumer::seek`].
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn seek_to_end(&self, queue: &MessageQueue) -> Result<()> {
        let state = self.inner.state_of(queue)?;
        state.seek(self.inner.client.max_offset(queue).await?);
        Ok(())
    }

    /// Continues `queue` at the first message stored at or after `timestamp_ms`
    /// (SEARCH_OFFSET_BY_TIMESTAMP).
    ///
    /// # Errors
    /// As [`PullConsumer::seek`].
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn seek_to_timestamp(&self, queue: &MessageQueue, timestamp_ms: i64) -> Result<()> {
        let state = self.inner.state_of(queue)?;
        state.seek(self.inner.client.search_offset(queue, timestamp_ms).await?);
        Ok(())
    }

    /// [`PullConsumer::seek_to_timestamp`] for every assigned queue.
    ///
    /// # Errors
    /// The first failure; queues before it were moved.
    ///
    /// # Cancel safety
    /// Cancel safe; some queues may have moved.
    pub async fn seek_all_to_timestamp(&self, timestamp_ms: i64) -> Result<()> {
        for q in self.assignment() {
            self.seek_to_timestamp(&q, timestamp_ms).await?;
        }
        Ok(())
    }

    /// Stops pulling `queues` at once (a pull in flight is abandoned; batches already
    /// buffered are still returned by `poll`).
    pub fn pause(&self, queues: &[MessageQueue]) {
        for q in queues {
            if let Ok(s) = self.inner.state_of(q) {
                s.paused.store(true, Ordering::SeqCst);
                // Abandon a pull in flight: nothing more arrives from the queue.
                s.wake.notify_one();
            }
        }
    }

    /// Resumes pulling `queues`.
    pub fn resume(&self, queues: &[MessageQueue]) {
        for q in queues {
            if let Ok(s) = self.inner.state_of(q) {
                s.paused.store(false, Ordering::SeqCst);
                s.wake.notify_one();
            }
        }
    }

    /// Whether `queue` is paused.
    pub fn is_paused(&self, queue: &MessageQueue) -> bool {
        self.inner
            .state_of(queue)
            .is_ok_and(|s| s.paused.load(Ordering::SeqCst))
    }

    /// Stops: no more pulls; with auto commit on, the polled positions are committed
    /// (waiting for the broker); the group is unregistered. Idempotent.
    ///
    /// # Cancel safety
    /// Not cancel safe: offsets may be left uncommitted.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        if inner.shut_down.swap(true, Ordering::SeqCst) {
            return;
        }
        let _guard = inner.rebalance_lock.lock().await;
        if inner.config.auto_commit
            && let Err(e) = inner.commit_all(true).await
        {
            warn!(group = %inner.group, error = %e, "offsets not committed at shutdown");
        } else if !inner.config.auto_commit {
            // As commit: a queue that could never be pulled has nothing to persist.
            let queues: Vec<MessageQueue> = inner
                .slots()
                .into_iter()
                .filter(|(_, s)| s.lasting_error().is_none())
                .map(|(q, _)| q)
                .collect();
            let _ = inner.offsets.persist_each(&queues).await;
        }
        inner.stop.cancel();
        for (_, state) in inner.slots() {
            state.pq().set_dropped();
        }
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
        info!(group = %inner.group, "pull consumer shut down");
    }
}

impl Drop for PullConsumer {
    fn drop(&mut self) {
        if self.inner.shut_down.swap(true, Ordering::SeqCst) {
            return;
        }
        self.inner.stop.cancel();
        self.inner
            .client
            .inner
            .registry
            .consumers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.inner.group);
    }
}
