//! Producers: sync, async (the send future itself) and oneway sends, batches, ordered sends
//! through selectors, retries with broker fault avoidance, and request-reply.

mod config;
mod fault;
mod receipt;
mod request;
mod selector;
mod send;
mod transaction;

use std::sync::Arc;

pub use config::ProducerConfig;
pub use receipt::{SendReceipt, SendStatus};
pub(crate) use request::receive_reply;
pub use request::{
    REPLY_MESSAGE_FLAG, REPLY_TOPIC_POSTFIX, ReplyMessageRequestHeader, create_reply_message,
};
pub use selector::{
    JavaHashCode, MessageQueueSelector, SelectByHash, SelectRandom, java_hash_index,
};
pub use transaction::{
    IntoTransactionState, TransactionListener, TransactionProducer, TransactionReceipt,
    TransactionState, TypedTransactionListener,
};

use crate::client::{Client, ProducerHooks, config_error};
use crate::error::Result;
use crate::protocol::message::id::UniqIdGenerator;

/// The group of Java's internal client producer.
const CLIENT_INNER_PRODUCER: &str = "CLIENT_INNER_PRODUCER";

pub(crate) fn random_start() -> usize {
    selector::random_index(1 << 16)
}

/// Builds a [`Producer`] for one producer group. Defaults are the Java producer's; see
/// [`ProducerConfig`].
#[derive(Debug)]
pub struct ProducerBuilder {
    client: Client,
    group: String,
    config: ProducerConfig,
}

impl Client {
    /// Starts building a producer of `group`.
    pub fn producer(&self, group: impl Into<String>) -> ProducerBuilder {
        ProducerBuilder {
            client: self.clone(),
            group: group.into(),
            config: ProducerConfig::default(),
        }
    }
}

impl ProducerBuilder {
    /// Overall time budget of one send, all retries included (default 3 s).
    pub fn send_timeout(mut self, t: std::time::Duration) -> Self {
        self.config.send_timeout = t;
        self
    }

    /// Extra attempts after a failed send (default 2, i.e. 3 attempts).
    pub fn retries(mut self, n: u32) -> Self {
        self.config.retries = n;
        self
    }

    /// Also retry, on another broker, when the broker stored the message but reported a
    /// non-OK status (default false, as Java's `retryAnotherBrokerWhenNotStoreOK`).
    pub fn retry_another_broker_when_not_store_ok(mut self, on: bool) -> Self {
        self.config.retry_another_broker_when_not_store_ok = on;
        self
    }

    /// Bodies of at least this many bytes are zlib-compressed (default 4096).
    pub fn compress_over(mut self, bytes: usize) -> Self {
        self.config.compress_over = bytes;
        self
    }

    /// Largest body accepted (default 4 MiB).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.config.max_message_size = bytes;
        self
    }

    /// Latency-based broker avoidance (default false, as Java's `sendLatencyFaultEnable`).
    /// A retry always avoids the broker that just failed, whatever this says.
    pub fn latency_fault_tolerance(mut self, on: bool) -> Self {
        self.config.latency_fault_enabled = on;
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: ProducerConfig) -> Self {
        self.config = config;
        self
    }

    /// Registers the group with the client and heartbeats the known brokers.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for an invalid group or setting, or a group already
    /// started on this client.
    ///
    /// # Cancel safety
    /// Cancel safe; a cancelled start leaves the group registered.
    pub async fn start(self) -> Result<Producer> {
        self.start_with_hooks(None).await
    }

    pub(crate) async fn start_with_hooks(
        self,
        hooks: Option<Arc<dyn ProducerHooks>>,
    ) -> Result<Producer> {
        validate_group(&self.group)?;
        self.config.validate()?;
        {
            let mut producers = self
                .client
                .inner
                .registry
                .producers
                .write()
                .unwrap_or_else(|e| e.into_inner());
            if producers.contains_key(&self.group) {
                return Err(config_error(
                    "group",
                    format!(
                        "producer group {:?} already started on this client",
                        self.group
                    ),
                ));
            }
            producers.insert(self.group.clone(), hooks);
        }
        let producer = Producer::unregistered(&self.client, self.group, self.config);
        self.client.inner.send_heartbeat_to_all().await;
        Ok(producer)
    }
}

/// Group names follow topic-name rules upstream: letters, digits, `%|_-`, at most 255.
pub(crate) fn validate_group(group: &str) -> Result<()> {
    if group.is_empty() || group.len() > 255 {
        return Err(config_error("group", "must be 1 to 255 characters"));
    }
    if !group
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"%|_-".contains(&b))
    {
        return Err(config_error(
            "group",
            format!("{group:?} may only contain letters, digits and %|_-"),
        ));
    }
    Ok(())
}

/// A started producer. Cheap to clone; clones share the group.
#[derive(Clone)]
pub struct Producer {
    pub(crate) inner: Arc<ProducerInner>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("group", &self.inner.group)
            .finish()
    }
}

pub(crate) struct ProducerInner {
    pub(crate) client: Client,
    pub(crate) group: String,
    pub(crate) config: ProducerConfig,
    pub(crate) ids: UniqIdGenerator,
    faults: fault::LatencyFaultTolerance,
    /// Brokers a request has heartbeated, so they can push replies here (see
    /// `Producer::request`).
    announced: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Producer {
    /// A producer of `group` that is not registered with the client (and so not announced
    /// by heartbeats on its own).
    fn unregistered(client: &Client, group: String, config: ProducerConfig) -> Producer {
        let ip = client
            .inner
            .config
            .client_ip
            .parse()
            .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
        Producer {
            inner: Arc::new(ProducerInner {
                client: client.clone(),
                group,
                config,
                ids: UniqIdGenerator::new(ip),
                faults: fault::LatencyFaultTolerance::default(),
                announced: std::sync::Mutex::default(),
            }),
        }
    }

    /// The client's internal producer (Java's `CLIENT_INNER_PRODUCER`, which every
    /// heartbeat announces): what a consume context replies through.
    pub(crate) fn client_inner(client: &Client) -> Producer {
        Producer::unregistered(
            client,
            CLIENT_INNER_PRODUCER.to_owned(),
            ProducerConfig::default(),
        )
    }

    /// The producer group.
    pub fn group(&self) -> &str {
        &self.inner.group
    }

    /// The client this producer lives on.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Unregisters the group from every broker. Other producers of the client keep working.
    ///
    /// # Cancel safety
    /// Not cancel safe: some brokers may not be told.
    pub async fn shutdown(&self) {
        let removed = self
            .inner
            .client
            .inner
            .registry
            .producers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.inner.group)
            .is_some();
        if removed {
            self.inner
                .client
                .inner
                .unregister_group(Some(&self.inner.group), None)
                .await;
        }
    }
}
