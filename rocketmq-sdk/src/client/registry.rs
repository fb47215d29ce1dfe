//! The producer and consumer groups living on one client: what the heartbeat announces,
//! and who answers the broker's requests (transaction checks, group changes, resets).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use futures::future::BoxFuture;

use crate::protocol::RemotingCommand;
use crate::protocol::body::ConsumerData;
use crate::protocol::message::MessageExt;
use crate::remoting::Connection;

/// A producer group's hooks for broker-initiated requests.
pub(crate) trait ProducerHooks: Send + Sync {
    /// Answers CHECK_TRANSACTION_STATE (the answer is an END_TRANSACTION the hook sends
    /// itself on `connection`).
    fn check_transaction(
        &self,
        connection: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<'static, ()>;
}

/// A consumer group's hooks.
pub(crate) trait ConsumerHooks: Send + Sync {
    /// What the heartbeat says about this consumer.
    fn consumer_data(&self) -> ConsumerData;
    /// The group's membership changed: rebalance soon.
    fn on_ids_changed(&self);
    /// The broker asked for an offset reset (RESET_CONSUMER_CLIENT_OFFSET).
    fn on_reset_offset(&self, request: RemotingCommand);
    /// GET_CONSUMER_RUNNING_INFO / CONSUME_MESSAGE_DIRECTLY and the like.
    fn on_request(&self, request: RemotingCommand) -> BoxFuture<'static, Option<RemotingCommand>>;
}

#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) producers: RwLock<HashMap<String, Option<Arc<dyn ProducerHooks>>>>,
    pub(crate) consumers: RwLock<HashMap<String, Arc<dyn ConsumerHooks>>>,
    /// Requests waiting for their reply, by correlation id (upstream
    /// `RequestFutureHolder`): PUSH_REPLY_MESSAGE_TO_CLIENT may arrive on any connection.
    pub(crate) pending_replies: Mutex<HashMap<String, tokio::sync::oneshot::Sender<MessageExt>>>,
}

impl Registry {
    pub(crate) fn producer_groups(&self) -> Vec<String> {
        self.producers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    pub(crate) fn consumer_data(&self) -> Vec<ConsumerData> {
        let consumers: Vec<_> = self
            .consumers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        consumers.iter().map(|c| c.consumer_data()).collect()
    }

    pub(crate) fn producer(&self, group: &str) -> Option<Arc<dyn ProducerHooks>> {
        self.producers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(group)
            .cloned()
            .flatten()
    }

    pub(crate) fn any_transactional_producer(&self) -> Option<Arc<dyn ProducerHooks>> {
        self.producers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .flatten()
            .next()
            .cloned()
    }

    pub(crate) fn consumer(&self, group: &str) -> Option<Arc<dyn ConsumerHooks>> {
        self.consumers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(group)
            .cloned()
    }

    pub(crate) fn has_consumers(&self) -> bool {
        !self
            .consumers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Waits for the reply to `correlation_id`.
    pub(crate) fn await_reply(
        &self,
        correlation_id: &str,
    ) -> tokio::sync::oneshot::Receiver<MessageExt> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.pending_replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(correlation_id.to_owned(), tx);
        rx
    }

    /// Forgets a request that ended without its reply.
    pub(crate) fn forget_reply(&self, correlation_id: &str) {
        self.pending_replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(correlation_id);
    }

    /// Hands a reply to its waiting request; false when nobody waits for it (timed out,
    /// cancelled, or never ours).
    pub(crate) fn complete_reply(&self, correlation_id: &str, reply: MessageExt) -> bool {
        let waiter = self
            .pending_replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(correlation_id);
        waiter.is_some_and(|w| w.send(reply).is_ok())
    }

    pub(crate) fn pending_reply_count(&self) -> usize {
        self.pending_replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}
