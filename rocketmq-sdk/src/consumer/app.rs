//! Registering listener functions: [`Listener`] is what `#[listener]` generates (it can be
//! implemented by hand too), [`Client::consumers`] starts one push consumer per listener.
//!
//! ```no_run
//! use rocketmq_sdk::consumer::{ConsumeContext, Handler, Listener, ListenerSpec};
//! use rocketmq_sdk::protocol::message::MessageExt;
//!
//! // What `#[listener(topic = "orders", group = "audit")]` does, written by hand.
//! struct Audit;
//! impl Listener for Audit {
//!     fn spec(&self) -> ListenerSpec {
//!         ListenerSpec::new("audit", "orders", "audit")
//!     }
//!     fn handler(&self) -> Handler {
//!         Handler::concurrent(|msgs: Vec<MessageExt>, _ctx: ConsumeContext| async move {
//!             tracing::info!(n = msgs.len(), "audited");
//!             Ok::<(), std::io::Error>(())
//!         })
//!     }
//! }
//!
//! # async fn demo(client: rocketmq_sdk::Client) -> rocketmq_sdk::Result<()> {
//! let app = client.consumers().listen(Audit).start().await?;
//! app.shutdown().await;
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use super::config::ConsumeFrom;
use super::listener::{
    ConsumeContext, ConsumeResult, MessageListener, OrderlyContext, OrderlyListener, OrderlyResult,
};
use super::push::{PushConsumer, PushConsumerBuilder};
use crate::client::{Client, config_error};
use crate::dedupe::{DedupeGuard, Deduplicated, Deduplicator, KeySource};
use crate::error::Result;
use crate::protocol::body::MessageModel;
use crate::protocol::message::MessageExt;

/// How a listener filters its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Filter {
    /// A tag expression: `*` or tags joined by `||`.
    Tag(String),
    /// An SQL92 expression over message properties (the broker needs
    /// `enablePropertyFilter=true`).
    Sql(String),
}

/// Where a listener's dedupe key comes from (`#[listener(dedupe(key = "..."))]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DedupeKeyKind {
    /// The producer's unique id (`UNIQ_KEY`), stable across producer retries. The default.
    #[default]
    UniqKey,
    /// The message `KEYS` (the `#[rocketmq(key)]` fields of a derived message).
    Keys,
}

/// Everything about a listener but its code: subscription and consumer settings. Unset
/// settings keep the push consumer's defaults ([`crate::consumer::PushConsumerConfig`]).
#[derive(Clone)]
#[non_exhaustive]
pub struct ListenerSpec {
    /// The listener's name, for logs and errors (the function name).
    pub name: String,
    /// The subscribed topic.
    pub topic: String,
    /// The consumer group.
    pub group: String,
    /// The filter; `*` by default.
    pub filter: Filter,
    /// Orderly consumption.
    pub orderly: bool,
    /// Clustering (default) or broadcasting.
    pub model: MessageModel,
    /// `max_reconsume_times`.
    pub max_reconsume_times: Option<i32>,
    /// Listener calls at once (`consume_concurrency`).
    pub concurrency: Option<usize>,
    /// Where a new group starts.
    pub consume_from: Option<ConsumeFrom>,
    /// Messages per call (`consume_batch_max_size`).
    pub batch_size: Option<usize>,
    /// `Some` when the listener declared `dedupe(...)`: it must be registered with a guard.
    pub dedupe: Option<DedupeKeyKind>,
    guard: Option<Arc<dyn DedupeGuard>>,
    configure: Option<Arc<dyn Fn(PushConsumerBuilder) -> PushConsumerBuilder + Send + Sync>>,
}

impl fmt::Debug for ListenerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerSpec")
            .field("name", &self.name)
            .field("topic", &self.topic)
            .field("group", &self.group)
            .field("filter", &self.filter)
            .field("orderly", &self.orderly)
            .field("model", &self.model)
            .field("dedupe", &self.dedupe)
            .field("guard", &self.guard.is_some())
            .finish_non_exhaustive()
    }
}

impl ListenerSpec {
    /// A clustering, concurrent listener `name` of `group` on every message of `topic`.
    pub fn new(
        name: impl Into<String>,
        topic: impl Into<String>,
        group: impl Into<String>,
    ) -> Self {
        ListenerSpec {
            name: name.into(),
            topic: topic.into(),
            group: group.into(),
            filter: Filter::Tag("*".into()),
            orderly: false,
            model: MessageModel::Clustering,
            max_reconsume_times: None,
            concurrency: None,
            consume_from: None,
            batch_size: None,
            dedupe: None,
            guard: None,
            configure: None,
        }
    }

    /// Sets the filter.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Orderly consumption.
    pub fn orderly(mut self, yes: bool) -> Self {
        self.orderly = yes;
        self
    }

    /// Broadcasting instead of clustering.
    pub fn broadcast(mut self, yes: bool) -> Self {
        self.model = if yes {
            MessageModel::Broadcasting
        } else {
            MessageModel::Clustering
        };
        self
    }

    /// Sets `max_reconsume_times`.
    pub fn max_reconsume_times(mut self, n: i32) -> Self {
        self.max_reconsume_times = Some(n);
        self
    }

    /// Sets how many listener calls run at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n);
        self
    }

    /// Sets where a new group starts.
    pub fn consume_from(mut self, from: ConsumeFrom) -> Self {
        self.consume_from = Some(from);
        self
    }

    /// Sets the messages per call.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = Some(n);
        self
    }

    /// Declares that the listener must run under a dedupe guard keyed by `key`.
    pub fn dedupe(mut self, key: DedupeKeyKind) -> Self {
        self.dedupe = Some(key);
        self
    }

    fn builder(&self, client: &Client) -> PushConsumerBuilder {
        let mut b = client.push_consumer(self.group.clone());
        b = match &self.filter {
            Filter::Tag(t) => b.subscribe(self.topic.clone(), t.clone()),
            Filter::Sql(s) => b.subscribe_sql(self.topic.clone(), s.clone()),
        };
        b = b.message_model(self.model);
        if let Some(n) = self.max_reconsume_times {
            b = b.max_reconsume_times(n);
        }
        if let Some(n) = self.concurrency {
            b = b.consume_concurrency(n);
        }
        if let Some(f) = self.consume_from {
            b = b.consume_from(f);
        }
        if let Some(n) = self.batch_size {
            b = b.consume_batch_max_size(n);
        }
        if let Some(f) = &self.configure {
            b = f(b);
        }
        b
    }

    fn deduplicator(&self) -> Result<Option<Deduplicator>> {
        let Some(guard) = self.guard.clone() else {
            return match self.dedupe {
                Some(_) => Err(config_error(
                    "dedupe",
                    format!(
                        "listener `{}` declares dedupe(...) but was registered without a guard: \
                         use `.listen({}.dedupe(guard))`",
                        self.name, self.name
                    ),
                )),
                None => Ok(None),
            };
        };
        let source = match self.dedupe.unwrap_or_default() {
            DedupeKeyKind::UniqKey => KeySource::UniqKey,
            DedupeKeyKind::Keys => KeySource::Keys,
        };
        Deduplicator::builder(guard, self.group.clone())
            .key_source(source)
            .build()
            .map(Some)
            .map_err(|e| config_error("dedupe", e.to_string()))
    }
}

/// A listener's code: concurrent or orderly.
#[derive(Clone)]
pub struct Handler(HandlerKind);

#[derive(Clone)]
enum HandlerKind {
    Concurrent(Arc<dyn MessageListener>),
    Orderly(Arc<dyn OrderlyListener>),
}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            HandlerKind::Concurrent(_) => "Handler::Concurrent",
            HandlerKind::Orderly(_) => "Handler::Orderly",
        })
    }
}

impl Handler {
    /// A concurrent handler.
    pub fn concurrent(listener: impl MessageListener) -> Self {
        Handler(HandlerKind::Concurrent(Arc::new(listener)))
    }

    /// An orderly handler.
    pub fn orderly(listener: impl OrderlyListener) -> Self {
        Handler(HandlerKind::Orderly(Arc::new(listener)))
    }

    /// The concurrent listener, if this handler is one (to drive it directly, as a
    /// benchmark or a test does).
    pub fn as_concurrent(&self) -> Option<&dyn MessageListener> {
        match &self.0 {
            HandlerKind::Concurrent(l) => Some(l.as_ref()),
            HandlerKind::Orderly(_) => None,
        }
    }

    /// The orderly listener, if this handler is one.
    pub fn as_orderly(&self) -> Option<&dyn OrderlyListener> {
        match &self.0 {
            HandlerKind::Orderly(l) => Some(l.as_ref()),
            HandlerKind::Concurrent(_) => None,
        }
    }

    fn dedupe(self, dedupe: Deduplicator) -> Self {
        match self.0 {
            HandlerKind::Concurrent(l) => {
                Handler::concurrent(Deduplicated::new(SharedConcurrent(l), dedupe))
            }
            HandlerKind::Orderly(l) => {
                Handler::orderly(Deduplicated::new(SharedOrderly(l), dedupe))
            }
        }
    }
}

struct SharedConcurrent(Arc<dyn MessageListener>);

#[async_trait]
impl MessageListener for SharedConcurrent {
    async fn consume(&self, messages: &[MessageExt], context: &ConsumeContext) -> ConsumeResult {
        self.0.consume(messages, context).await
    }
}

struct SharedOrderly(Arc<dyn OrderlyListener>);

#[async_trait]
impl OrderlyListener for SharedOrderly {
    async fn consume(&self, messages: &[MessageExt], context: &OrderlyContext) -> OrderlyResult {
        self.0.consume(messages, context).await
    }
}

/// A listener: its settings and its code. `#[listener]` implements it for the unit
/// struct it makes of the function.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a listener",
    label = "not a `#[listener]` function",
    note = "annotate an `async fn` with `#[listener(topic = \"...\", group = \"...\")]`"
)]
pub trait Listener: Send + 'static {
    /// The subscription and settings.
    fn spec(&self) -> ListenerSpec;
    /// The code.
    fn handler(&self) -> Handler;
}

/// Registration-time options for any [`Listener`].
pub trait ListenerExt: Listener + Sized {
    /// Runs every message through `guard` (see [`crate::dedupe`]): a redelivery of a
    /// consumed message is acknowledged without running the listener. Keys come from the
    /// listener's `dedupe(key = ...)` (the `UNIQ_KEY` by default), namespaced by group.
    fn dedupe(self, guard: impl DedupeGuard) -> WithOptions<Self> {
        WithOptions::new(self).dedupe(guard)
    }

    /// Adjusts the push consumer before it starts (any setting the attribute lacks).
    fn configure<F>(self, f: F) -> WithOptions<Self>
    where
        F: Fn(PushConsumerBuilder) -> PushConsumerBuilder + Send + Sync + 'static,
    {
        WithOptions::new(self).configure(f)
    }
}

impl<L: Listener> ListenerExt for L {}

/// A listener with registration-time options, from [`ListenerExt`].
pub struct WithOptions<L> {
    listener: L,
    guard: Option<Arc<dyn DedupeGuard>>,
    configure: Option<Arc<dyn Fn(PushConsumerBuilder) -> PushConsumerBuilder + Send + Sync>>,
}

impl<L> fmt::Debug for WithOptions<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithOptions")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl<L: Listener> WithOptions<L> {
    fn new(listener: L) -> Self {
        WithOptions {
            listener,
            guard: None,
            configure: None,
        }
    }

    /// As [`ListenerExt::dedupe`].
    pub fn dedupe(mut self, guard: impl DedupeGuard) -> Self {
        self.guard = Some(Arc::new(guard));
        self
    }

    /// As [`ListenerExt::configure`].
    pub fn configure<F>(mut self, f: F) -> Self
    where
        F: Fn(PushConsumerBuilder) -> PushConsumerBuilder + Send + Sync + 'static,
    {
        self.configure = Some(Arc::new(f));
        self
    }
}

impl<L: Listener> Listener for WithOptions<L> {
    fn spec(&self) -> ListenerSpec {
        let mut spec = self.listener.spec();
        if self.guard.is_some() {
            spec.guard = self.guard.clone();
        }
        if self.configure.is_some() {
            spec.configure = self.configure.clone();
        }
        spec
    }

    fn handler(&self) -> Handler {
        self.listener.handler()
    }
}

/// Collects listeners and starts them, one push consumer each; from [`Client::consumers`].
#[derive(Debug)]
pub struct ConsumersBuilder {
    client: Client,
    listeners: Vec<(ListenerSpec, Handler)>,
}

impl Client {
    /// Starts registering listeners (`#[listener]` functions or any [`Listener`]).
    pub fn consumers(&self) -> ConsumersBuilder {
        ConsumersBuilder {
            client: self.clone(),
            listeners: Vec::new(),
        }
    }
}

impl ConsumersBuilder {
    /// Adds a listener.
    pub fn listen(mut self, listener: impl Listener) -> Self {
        self.listeners.push((listener.spec(), listener.handler()));
        self
    }

    /// Starts a push consumer per listener, in order; if one fails, those started are
    /// shut down again.
    ///
    /// # Errors
    /// [`crate::Error::Config`] when two listeners share a group (one group is one
    /// consumer), a listener declared `dedupe` without a guard, or a setting is invalid;
    /// otherwise as [`PushConsumerBuilder::start`].
    ///
    /// # Cancel safety
    /// Not cancel safe: consumers started before the cancellation keep running until the
    /// client is dropped.
    pub async fn start(self) -> Result<Consumers> {
        // Everything is checked (and every deduplicator built) before anything starts.
        let mut groups = std::collections::BTreeSet::new();
        let mut ready = Vec::with_capacity(self.listeners.len());
        for (spec, handler) in self.listeners {
            if !groups.insert(spec.group.clone()) {
                return Err(config_error(
                    "group",
                    format!(
                        "listener `{}` uses group `{}`, already used by another listener: \
                         one group is one consumer with one listener",
                        spec.name, spec.group
                    ),
                ));
            }
            let handler = match spec.deduplicator()? {
                Some(d) => handler.dedupe(d),
                None => handler,
            };
            ready.push((spec, handler));
        }
        let mut started = Vec::with_capacity(ready.len());
        for (spec, handler) in ready {
            match start_one(&self.client, &spec, handler).await {
                Ok(c) => started.push(c),
                Err(e) => {
                    for c in &started {
                        c.shutdown().await;
                    }
                    return Err(e);
                }
            }
        }
        Ok(Consumers { consumers: started })
    }
}

async fn start_one(client: &Client, spec: &ListenerSpec, handler: Handler) -> Result<PushConsumer> {
    let builder = spec.builder(client);
    match (spec.orderly, handler.0) {
        (false, HandlerKind::Concurrent(l)) => builder.start(SharedConcurrent(l)).await,
        (true, HandlerKind::Orderly(l)) => builder.start_orderly(SharedOrderly(l)).await,
        (orderly, _) => Err(config_error(
            "orderly",
            format!(
                "listener `{}` is {} but its handler is not",
                spec.name,
                if orderly { "orderly" } else { "concurrent" }
            ),
        )),
    }
}

/// Started listeners. Dropping it without [`Consumers::shutdown`] stops them at once,
/// like a crash (see [`PushConsumer`]).
#[derive(Debug)]
pub struct Consumers {
    consumers: Vec<PushConsumer>,
}

impl Consumers {
    /// The consumer of `group`, if a listener used it.
    pub fn get(&self, group: &str) -> Option<&PushConsumer> {
        self.consumers.iter().find(|c| c.group() == group)
    }

    /// Every consumer, in registration order.
    pub fn consumers(&self) -> &[PushConsumer] {
        &self.consumers
    }

    /// Shuts every consumer down gracefully ([`PushConsumer::shutdown`]: drain in-flight
    /// calls, persist offsets, release locks, unregister), in parallel.
    ///
    /// # Cancel safety
    /// As [`PushConsumer::shutdown`].
    pub async fn shutdown(&self) {
        futures::future::join_all(self.consumers.iter().map(PushConsumer::shutdown)).await;
    }
}
