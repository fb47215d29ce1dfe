//! Transactional messages, producer side (`TransactionMQProducer`): send a half message,
//! run the local transaction, end it with COMMIT/ROLLBACK/UNKNOWN, and answer the broker's
//! check-backs for the group.

use std::collections::HashSet;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::FutureExt;
use futures::future::BoxFuture;
use tracing::{Instrument, debug, info_span, warn};

use super::{Producer, ProducerBuilder, SendReceipt, SendStatus};
use crate::client::ProducerHooks;
use crate::error::{Error, Result};
use crate::protocol::header::{
    CheckTransactionStateRequestHeader, EndTransactionRequestHeader, TransactionCommitType,
};
use crate::protocol::message::id::decode_offset_msg_id;
use crate::protocol::message::{DecodeOptions, Message, MessageExt, decode_message_ext, keys};
use crate::protocol::{RemotingCommand, RequestCode};
use crate::remoting::Connection;

/// The outcome of a local transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransactionState {
    /// Make the message visible to consumers.
    Commit,
    /// Discard the message; it is never delivered.
    Rollback,
    /// Not decided yet: the broker will ask again later (check-back).
    Unknown,
}

impl TransactionState {
    fn commit_type(self) -> TransactionCommitType {
        match self {
            TransactionState::Commit => TransactionCommitType::Commit,
            TransactionState::Rollback => TransactionCommitType::Rollback,
            TransactionState::Unknown => TransactionCommitType::Unknown,
        }
    }
}

/// The application's side of a transaction.
///
/// `execute` runs the local transaction after the half message is stored; `check` is
/// called when the broker asks about a transaction whose outcome it never learned (the
/// producer crashed, END_TRANSACTION was lost, or `execute` returned `Unknown`). `check`
/// may run on any producer instance of the group, so it must look the outcome up in
/// durable state, not in memory.
///
/// A panic in either method counts as `Unknown`: the broker checks again later; a
/// message is never committed by accident.
#[async_trait]
pub trait TransactionListener: Send + Sync + 'static {
    /// What the sender passes along to `execute` (use `()` when nothing is needed).
    type Arg: Send + Sync;

    /// Runs the local transaction for `message`.
    ///
    /// # Cancel safety
    /// Called to completion by the producer (it is not dropped part-way).
    async fn execute(&self, message: &Message, arg: &Self::Arg) -> TransactionState;

    /// Reports the outcome of the transaction of `message` (a half message stored earlier).
    ///
    /// # Cancel safety
    /// Called to completion by the client (it is not dropped part-way).
    async fn check(&self, message: &MessageExt) -> TransactionState;
}

/// What a transactional send did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionReceipt {
    /// The half message's receipt.
    pub receipt: SendReceipt,
    /// The local transaction's outcome, as sent in END_TRANSACTION.
    pub state: TransactionState,
}

/// A producer of transactional messages. Cheap to clone.
pub struct TransactionProducer<L: TransactionListener> {
    producer: Producer,
    listener: Arc<L>,
    /// Brokers this producer has heartbeated since it stored a half there.
    registered: Arc<Mutex<HashSet<String>>>,
}

impl<L: TransactionListener> Clone for TransactionProducer<L> {
    fn clone(&self) -> Self {
        TransactionProducer {
            producer: self.producer.clone(),
            listener: self.listener.clone(),
            registered: self.registered.clone(),
        }
    }
}

impl<L: TransactionListener> fmt::Debug for TransactionProducer<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransactionProducer")
            .field("group", &self.producer.group())
            .finish()
    }
}

struct CheckHook<L: TransactionListener> {
    group: String,
    listener: Arc<L>,
}

impl ProducerBuilder {
    /// Starts a transactional producer whose transactions `listener` executes and checks.
    /// Any number of transactional groups may live on one client.
    ///
    /// # Errors
    /// As [`ProducerBuilder::start`].
    ///
    /// # Cancel safety
    /// As [`ProducerBuilder::start`].
    pub async fn start_transactional<L: TransactionListener>(
        self,
        listener: L,
    ) -> Result<TransactionProducer<L>> {
        let listener = Arc::new(listener);
        let hook = Arc::new(CheckHook {
            group: self.group.clone(),
            listener: listener.clone(),
        });
        let producer = self.start_with_hooks(Some(hook)).await?;
        Ok(TransactionProducer {
            producer,
            listener,
            registered: Arc::default(),
        })
    }
}

impl<L: TransactionListener> TransactionProducer<L> {
    /// The underlying producer (for ordinary sends from the same group).
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// Sends `message` as a half message, runs [`TransactionListener::execute`] with `arg`,
    /// and ends the transaction with its outcome. If the half message is not stored with
    /// SEND_OK, the local transaction is not run and the transaction is rolled back.
    ///
    /// # Errors
    /// As [`Producer::send`] for the half message. A lost END_TRANSACTION is not an error:
    /// the broker checks back.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped after the half is stored, the transaction stays open until
    /// the broker's check-back resolves it through [`TransactionListener::check`].
    pub async fn send(&self, mut message: Message, arg: &L::Arg) -> Result<TransactionReceipt> {
        if message.delay_level() > 0 {
            return Err(Error::InvalidMessage(
                "transactional messages cannot have a delay level".into(),
            ));
        }
        message.put_property(keys::TRAN_MSG, "true");
        message.put_property(keys::PGROUP, self.producer.group());
        message.ensure_uniq_key(&self.producer.inner.ids);
        let receipt = self.producer.send(message.clone()).await?;
        let state = if receipt.status == SendStatus::SendOk {
            let tx_id = receipt
                .transaction_id
                .clone()
                .unwrap_or_else(|| receipt.msg_id.clone());
            message.transaction_id = Some(tx_id);
            let span = info_span!("rocketmq.transaction.execute", msg_id = %receipt.msg_id);
            match AssertUnwindSafe(self.listener.execute(&message, arg))
                .catch_unwind()
                .instrument(span)
                .await
            {
                Ok(s) => s,
                Err(_) => {
                    warn!(msg_id = %receipt.msg_id, "transaction listener panicked in execute; ending as UNKNOWN");
                    TransactionState::Unknown
                }
            }
        } else {
            TransactionState::Rollback
        };
        if let Err(e) = self.end_transaction(&receipt, state).await {
            // The broker will check back: not an error for the caller.
            warn!(msg_id = %receipt.msg_id, error = %e, "END_TRANSACTION not sent; the broker will check back");
        }
        Ok(TransactionReceipt { receipt, state })
    }

    async fn end_transaction(&self, receipt: &SendReceipt, state: TransactionState) -> Result<()> {
        let offset =
            decode_offset_msg_id(receipt.offset_msg_id.split(',').next().unwrap_or_default())?;
        let header = EndTransactionRequestHeader {
            topic: Some(receipt.queue.topic.clone()),
            producer_group: self.producer.group().to_owned(),
            tran_state_table_offset: receipt.queue_offset,
            commit_log_offset: offset.commit_log_offset,
            commit_or_rollback: state.commit_type(),
            from_transaction_check: false,
            msg_id: receipt.msg_id.clone(),
            transaction_id: receipt.transaction_id.clone(),
            ..Default::default()
        };
        let client = &self.producer.inner.client;
        let route = client.topic_route(&receipt.queue.topic).await?;
        let addr = route
            .master_addr(&receipt.queue.broker_name)
            .map(String::from)
            .ok_or_else(|| Error::NoRoute(receipt.queue.topic.clone()))?;
        let req = RemotingCommand::request(RequestCode::END_TRANSACTION).with_header(&header);
        client.inner.pool.send_oneway(&addr, req).await?;
        self.register_with(&addr).await;
        Ok(())
    }

    /// Heartbeats `addr` the first time this producer stores a half there. The broker
    /// sends check-backs only to producers it has a heartbeat from, and for a broker the
    /// client discovered after it started, the periodic heartbeat may be 30 s away.
    async fn register_with(&self, addr: &str) {
        let first = self
            .registered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(addr.to_owned());
        if first && let Err(e) = self.producer.inner.client.inner.send_heartbeat(addr).await {
            debug!(broker = %addr, error = %e, "heartbeat after the first half failed");
            self.registered
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(addr);
        }
    }

    /// Unregisters the group (check-backs for it stop reaching this client).
    ///
    /// # Cancel safety
    /// As [`Producer::shutdown`].
    pub async fn shutdown(&self) {
        self.producer.shutdown().await;
    }
}

impl<L: TransactionListener> ProducerHooks for CheckHook<L> {
    fn check_transaction(
        &self,
        connection: Connection,
        request: RemotingCommand,
    ) -> BoxFuture<'static, ()> {
        let listener = self.listener.clone();
        let group = self.group.clone();
        Box::pin(async move {
            let header: CheckTransactionStateRequestHeader = match request.decode_header() {
                Ok(h) => h,
                Err(e) => return warn!(error = %e, "malformed CHECK_TRANSACTION_STATE"),
            };
            let mut message = match decode_message_ext(&request.body, &DecodeOptions::default()) {
                Ok(m) => m,
                Err(e) => {
                    return warn!(error = %e, "undecodable message in CHECK_TRANSACTION_STATE");
                }
            };
            if let Some(id) = &header.transaction_id {
                message.transaction_id = Some(id.clone());
            }
            let msg_id = message
                .uniq_key()
                .map(String::from)
                .unwrap_or_else(|| message.msg_id());
            let span = info_span!("rocketmq.transaction.check", group = %group, msg_id = %msg_id);
            let state = match AssertUnwindSafe(listener.check(&message))
                .catch_unwind()
                .instrument(span)
                .await
            {
                Ok(s) => s,
                Err(_) => {
                    warn!(msg_id = %msg_id, "transaction listener panicked in check; answering UNKNOWN");
                    TransactionState::Unknown
                }
            };
            let end = EndTransactionRequestHeader {
                topic: Some(message.topic.clone()),
                producer_group: group,
                tran_state_table_offset: header.tran_state_table_offset,
                commit_log_offset: header.commit_log_offset,
                commit_or_rollback: state.commit_type(),
                from_transaction_check: true,
                msg_id,
                transaction_id: header.transaction_id.clone(),
                ..Default::default()
            };
            let req = RemotingCommand::request(RequestCode::END_TRANSACTION).with_header(&end);
            if let Err(e) = connection.send_oneway(req) {
                debug!(error = %e, "could not answer a transaction check");
            }
        })
    }
}
