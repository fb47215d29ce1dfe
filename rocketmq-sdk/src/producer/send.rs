//! The send paths (`DefaultMQProducerImpl.sendDefaultImpl/sendKernelImpl`): validation,
//! compression, queue choice, retries within the time budget, and the response.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::{Instrument, field, info_span};

use super::receipt::{SendReceipt, SendStatus};
use super::selector::MessageQueueSelector;
use super::{Producer, ProducerInner};
use crate::client::TopicRoute;
use crate::error::{Error, Result, RetryHint};
use crate::protocol::command::version;
use crate::protocol::header::CommandHeader;
use crate::protocol::header::{SendMessageRequestHeaderV2, SendMessageResponseHeader};
use crate::protocol::message::batch::build_batch;
use crate::protocol::message::compress::zlib_compress;
use crate::protocol::message::sysflag::{self, CompressionType};
use crate::protocol::message::{Message, MessageQueue, keys};
use crate::protocol::topic::{is_not_allowed_send_topic, validate_topic};
use crate::protocol::{ExtFields, RemotingCommand, RequestCode};

/// A message ready for the wire, independent of the queue it goes to.
pub(super) struct Prepared {
    topic: String,
    code: RequestCode,
    /// The header's fields, encoded once: an attempt only sets its queue id and broker
    /// name. Cloning the header and encoding it again per attempt cost ~6% of the
    /// pipelined produce path under callgrind.
    ext: ExtFields,
    body: Bytes,
    msg_id: String,
    /// Carries a 5.x delivery time (`TIMER_*`), which 4.9.x brokers ignore.
    timer: bool,
}

impl Prepared {
    pub(super) fn topic(&self) -> &str {
        &self.topic
    }

    fn new(
        topic: String,
        code: RequestCode,
        mut header: SendMessageRequestHeaderV2,
        body: Bytes,
        msg_id: String,
        timer: bool,
    ) -> Prepared {
        // Placeholders keep `e` and `n` where the header puts them; each attempt overwrites
        // both in place.
        header.broker_name = Some(String::new());
        let mut ext = ExtFields::with_capacity(16);
        header.write_to(&mut ext);
        Prepared {
            topic,
            code,
            ext,
            body,
            msg_id,
            timer,
        }
    }
}

/// Where a send may go.
enum Target {
    /// Any writable queue, chosen round-robin; retries prefer another broker.
    Any,
    /// Exactly this queue, retries included (ordered sends must not move).
    Queue(MessageQueue),
}

impl Producer {
    /// Sends `message` and waits for the broker's answer, retrying on another broker on
    /// failures (`retries`, default 2) within `send_timeout` (default 3 s).
    ///
    /// A `SendReceipt` means the message is stored; its status says whether the flush or
    /// replication finished in time.
    ///
    /// # Errors
    /// [`Error::InvalidMessage`] before any network call (bad topic, empty or oversized
    /// body); [`Error::Broker`] with the last broker code; [`Error::Timeout`] when the
    /// budget ran out; transport errors.
    ///
    /// # Cancel safety
    /// Dropping the future abandons the send, but a request already written may still be
    /// stored by the broker: treat a cancelled send like a timed-out one (maybe sent).
    pub async fn send(&self, message: Message) -> Result<SendReceipt> {
        let prepared = self.inner.prepare(message)?;
        self.inner.send_with_retries(prepared, Target::Any).await
    }

    /// Sends `message` to exactly `queue` (retrying on that queue only).
    ///
    /// # Errors
    /// As [`Producer::send`].
    ///
    /// # Cancel safety
    /// As [`Producer::send`].
    pub async fn send_to_queue(
        &self,
        message: Message,
        queue: &MessageQueue,
    ) -> Result<SendReceipt> {
        if queue.topic != message.topic {
            return Err(Error::InvalidMessage(format!(
                "queue topic {:?} differs from message topic {:?}",
                queue.topic, message.topic
            )));
        }
        let prepared = self.inner.prepare(message)?;
        self.inner
            .send_with_retries(prepared, Target::Queue(queue.clone()))
            .await
    }

    /// Sends `message` to the queue `selector` picks for `arg` among the topic's writable
    /// queues: with [`SelectByHash`](super::SelectByHash) the same `arg` always lands on the
    /// same queue, as with the Java client. Retries stay on that queue.
    ///
    /// # Errors
    /// As [`Producer::send`].
    ///
    /// # Cancel safety
    /// As [`Producer::send`].
    pub async fn send_with_selector<A, S>(
        &self,
        message: Message,
        selector: &S,
        arg: &A,
    ) -> Result<SendReceipt>
    where
        A: ?Sized,
        S: MessageQueueSelector<A> + ?Sized,
    {
        let route = self.inner.publish_route(&message.topic).await?;
        let queues = &route.publish_queues;
        let idx = selector.select(queues, &message, arg) % queues.len();
        let queue = queues[idx].clone();
        let prepared = self.inner.prepare(message)?;
        self.inner
            .send_with_retries(prepared, Target::Queue(queue))
            .await
    }

    /// Sends several messages of one topic as one batch (SEND_BATCH_MESSAGE). They are
    /// stored contiguously in one queue; the receipt's ids are comma-joined.
    ///
    /// # Errors
    /// [`Error::InvalidMessage`] when the batch breaks the rules (mixed topics or WAIT,
    /// delay levels, retry topics, empty); otherwise as [`Producer::send`].
    ///
    /// # Cancel safety
    /// As [`Producer::send`].
    pub async fn send_batch(&self, messages: Vec<Message>) -> Result<SendReceipt> {
        let prepared = self.inner.prepare_batch(messages)?;
        self.inner.send_with_retries(prepared, Target::Any).await
    }

    /// Sends `message` without waiting for any answer. Only local errors (validation, no
    /// route, no connection) are reported; the broker's outcome is unknown.
    ///
    /// # Errors
    /// As above.
    ///
    /// # Cancel safety
    /// Cancel safe: the message is either queued on the connection or not.
    pub async fn send_oneway(&self, message: Message) -> Result<()> {
        let prepared = self.inner.prepare(message)?;
        let route = self.inner.publish_route(&prepared.topic).await?;
        let queue = self.inner.choose_queue(&route, None);
        let addr = master_addr(&route, &queue)?;
        let request = request_for(&prepared, &queue);
        let conn = self.inner.client.inner.pool.get(&addr).await?;
        conn.send_oneway(request)?;
        Ok(())
    }
}

pub(super) fn master_addr(route: &TopicRoute, queue: &MessageQueue) -> Result<String> {
    route
        .master_addr(&queue.broker_name)
        .map(String::from)
        .ok_or_else(|| {
            Error::NoRoute(format!(
                "{} (no master for broker {})",
                queue.topic, queue.broker_name
            ))
        })
}

fn request_for(prepared: &Prepared, queue: &MessageQueue) -> RemotingCommand {
    let mut request = RemotingCommand::request(prepared.code).with_body(prepared.body.clone());
    request.ext_fields = prepared.ext.clone();
    request.ext_fields.insert_with(QUEUE_ID_KEY, |out| {
        crate::protocol::header::value::push_decimal(out, i64::from(queue.queue_id));
    });
    request
        .ext_fields
        .insert_str(BROKER_NAME_KEY, &queue.broker_name);
    request
}

/// Whether `message` carries a 5.x delivery time (`TIMER_*`), which 4.9.x brokers ignore.
fn has_delivery_time(message: &Message) -> bool {
    [
        keys::TIMER_DELIVER_MS,
        keys::TIMER_DELAY_MS,
        keys::TIMER_DELAY_SEC,
    ]
    .iter()
    .any(|k| message.property(k).is_some())
}

/// Wire keys of `SendMessageRequestHeaderV2::queue_id` and `broker_name`.
const QUEUE_ID_KEY: &str = "e";
const BROKER_NAME_KEY: &str = "n";

impl ProducerInner {
    /// Java's `Validators.checkMessage`: topic, forbidden topics, body size.
    pub(super) fn check_message(&self, message: &Message) -> Result<()> {
        validate_topic(&message.topic).map_err(|e| Error::InvalidMessage(e.to_string()))?;
        if is_not_allowed_send_topic(&message.topic) {
            return Err(Error::InvalidMessage(format!(
                "Sending message to topic[{}] is forbidden (a broker-internal topic).",
                message.topic
            )));
        }
        if message.body.is_empty() {
            return Err(Error::InvalidMessage("the message body is empty".into()));
        }
        if message.body.len() > self.config.max_message_size {
            return Err(Error::InvalidMessage(format!(
                "the message body is {} bytes, more than max_message_size {}",
                message.body.len(),
                self.config.max_message_size
            )));
        }
        Ok(())
    }

    fn base_header(
        &self,
        message: &Message,
        sys_flag: i32,
        properties: String,
    ) -> SendMessageRequestHeaderV2 {
        SendMessageRequestHeaderV2 {
            producer_group: self.group.clone(),
            topic: message.topic.clone(),
            default_topic: self.config.create_topic_key.clone(),
            default_topic_queue_nums: self.config.default_topic_queue_nums,
            queue_id: 0,
            sys_flag,
            born_timestamp: now_ms(),
            flag: message.flag,
            properties: Some(properties),
            reconsume_times: Some(0),
            unit_mode: Some(false),
            batch: Some(false),
            ..Default::default()
        }
    }

    /// [`prepare`](Self::prepare) for SEND_REPLY_MESSAGE_V2.
    pub(super) fn prepare_reply(&self, reply: Message) -> Result<Prepared> {
        let mut prepared = self.prepare(reply)?;
        prepared.code = RequestCode::SEND_REPLY_MESSAGE_V2;
        Ok(prepared)
    }

    fn prepare(&self, mut message: Message) -> Result<Prepared> {
        self.check_message(&message)?;
        message.ensure_uniq_key(&self.ids);
        let msg_id = message.uniq_key().unwrap_or_default().to_owned();
        let mut sys_flag = 0;
        let mut body = message.body.clone();
        if body.len() >= self.config.compress_over {
            body = Bytes::from(zlib_compress(&body, self.config.compress_level));
            sys_flag |= sysflag::COMPRESSED;
            sys_flag = sysflag::set_compression_type(sys_flag, CompressionType::Zlib);
        }
        if message
            .property(keys::TRAN_MSG)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            sys_flag |= sysflag::TRANSACTION_PREPARED_TYPE;
        }
        let properties = message.properties.to_wire_string()?;
        Ok(Prepared::new(
            message.topic.clone(),
            RequestCode::SEND_MESSAGE_V2,
            self.base_header(&message, sys_flag, properties),
            body,
            msg_id,
            has_delivery_time(&message),
        ))
    }

    fn prepare_batch(&self, mut messages: Vec<Message>) -> Result<Prepared> {
        for m in &messages {
            self.check_message(m)?;
        }
        let batch = build_batch(&mut messages, Some(&self.ids))
            .map_err(|e| Error::InvalidMessage(e.to_string()))?;
        if batch.body.len() > self.config.max_message_size {
            return Err(Error::InvalidMessage(format!(
                "the batch is {} bytes, more than max_message_size {}",
                batch.body.len(),
                self.config.max_message_size
            )));
        }
        let msg_id = messages
            .iter()
            .filter_map(|m| m.uniq_key())
            .collect::<Vec<_>>()
            .join(",");
        let properties = batch.properties.to_wire_string()?;
        let mut header = self.base_header(&batch, 0, properties);
        header.batch = Some(true);
        let timer = has_delivery_time(&batch);
        Ok(Prepared::new(
            batch.topic.clone(),
            RequestCode::SEND_BATCH_MESSAGE,
            header,
            batch.body,
            msg_id,
            timer,
        ))
    }

    /// The route to publish `topic` on; for a topic the name servers do not know, the
    /// default topic's route (the broker creates the topic on first send), as Java does.
    pub(crate) async fn publish_route(&self, topic: &str) -> Result<Arc<TopicRoute>> {
        let client = &self.client;
        let route = match client.topic_route(topic).await {
            Ok(r) if !r.publish_queues.is_empty() => r,
            Ok(_) | Err(Error::NoRoute(_)) => {
                let default = client
                    .inner
                    .fetch_route(&self.config.create_topic_key)
                    .await
                    .map_err(|e| match e {
                        Error::NoRoute(_) => Error::NoRoute(topic.to_owned()),
                        other => other,
                    })?;
                let r = Arc::new(TopicRoute::from_default(
                    topic,
                    &default,
                    self.config.default_topic_queue_nums,
                ));
                client.inner.routes.put(r.clone());
                r
            }
            Err(e) => return Err(e),
        };
        if route.publish_queues.is_empty() {
            return Err(Error::NoRoute(topic.to_owned()));
        }
        Ok(route)
    }

    /// Round-robin, skipping `avoid` (the broker that just failed) and, with latency fault
    /// tolerance on, brokers in their penalty window — unless nothing else is left.
    pub(crate) fn choose_queue(&self, route: &TopicRoute, avoid: Option<&str>) -> MessageQueue {
        let queues = &route.publish_queues;
        let start = route.next_index();
        let n = queues.len();
        let usable = |q: &MessageQueue| {
            avoid != Some(q.broker_name.as_str())
                && (!self.config.latency_fault_enabled || self.faults.is_available(&q.broker_name))
        };
        (0..n)
            .map(|i| &queues[(start + i) % n])
            .find(|q| usable(q))
            .or_else(|| {
                (0..n)
                    .map(|i| &queues[(start + i) % n])
                    .find(|q| avoid != Some(q.broker_name.as_str()))
            })
            .unwrap_or(&queues[start % n])
            .clone()
    }

    async fn send_with_retries(&self, prepared: Prepared, target: Target) -> Result<SendReceipt> {
        let span = info_span!(
            "rocketmq.send",
            topic = %prepared.topic,
            msg_id = %prepared.msg_id,
            queue = field::Empty,
            attempt = field::Empty,
        );
        self.send_loop(prepared, target).instrument(span).await
    }

    async fn send_loop(&self, prepared: Prepared, target: Target) -> Result<SendReceipt> {
        let started = Instant::now();
        let budget = self.config.send_timeout;
        let attempts = 1 + self.config.retries;
        let mut route = self.publish_route(&prepared.topic).await?;
        let mut last_err: Option<Error> = None;
        let mut last_receipt: Option<SendReceipt> = None;
        let mut avoid: Option<String> = None;
        for attempt in 1..=attempts {
            let remaining = budget.saturating_sub(started.elapsed());
            if remaining.is_zero() {
                break;
            }
            let queue = match &target {
                Target::Any => self.choose_queue(&route, avoid.as_deref()),
                Target::Queue(q) => q.clone(),
            };
            let span = tracing::Span::current();
            span.record("queue", field::display(&queue));
            span.record("attempt", attempt);
            let addr = match master_addr(&route, &queue) {
                Ok(a) => a,
                Err(e) => {
                    last_err = Some(e);
                    route = self
                        .client
                        .refresh_route(&prepared.topic)
                        .await
                        .unwrap_or(route);
                    continue;
                }
            };
            let sent_at = Instant::now();
            let outcome = self
                .send_once(&prepared, &queue, &addr, remaining, attempt)
                .await;
            let failed = outcome.is_err();
            self.faults
                .record(&queue.broker_name, sent_at.elapsed(), failed);
            match outcome {
                Ok(receipt) => {
                    let retry_not_ok = receipt.status != SendStatus::SendOk
                        && self.config.retry_another_broker_when_not_store_ok
                        && attempt < attempts;
                    if !retry_not_ok {
                        return Ok(receipt);
                    }
                    tracing::warn!(status = ?receipt.status, "stored with a non-OK status; retrying on another broker");
                    avoid = Some(queue.broker_name.clone());
                    last_receipt = Some(receipt);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "send attempt failed");
                    if e.retry_hint() == RetryHint::DontRetry {
                        return Err(e);
                    }
                    if matches!(
                        e.response_code(),
                        Some(crate::protocol::ResponseCode::TOPIC_NOT_EXIST)
                    ) {
                        route = self.publish_route(&prepared.topic).await.unwrap_or(route);
                    }
                    avoid = Some(queue.broker_name.clone());
                    last_err = Some(e);
                }
            }
        }
        if let Some(r) = last_receipt {
            return Ok(r);
        }
        match last_err {
            Some(e) if started.elapsed() < budget => Err(e),
            _ => Err(Error::Timeout(budget)),
        }
    }

    pub(super) async fn send_once(
        &self,
        prepared: &Prepared,
        queue: &MessageQueue,
        addr: &str,
        timeout: Duration,
        attempt: u32,
    ) -> Result<SendReceipt> {
        let pool = &self.client.inner.pool;
        if prepared.timer
            && let Some(v) = pool.peer_version(addr).filter(|v| *v < version::V5_0_0)
        {
            return Err(Error::InvalidMessage(format!(
                "broker {addr} runs a RocketMQ release before 5.0 (remoting version {v}), which \
                 ignores delivery times (TIMER_DELIVER_MS / TIMER_DELAY_*) and would deliver the \
                 message at once; use a delay level (Message::set_delay_level) with such brokers"
            )));
        }
        let request = request_for(prepared, queue);
        let response = pool.request(addr, request, timeout).await?;
        if prepared.timer && response.version < version::V5_0_0 {
            // The first send to a broker not heard from before: it is stored, but without
            // its delay. Later timer sends to this broker are refused above.
            tracing::warn!(
                broker = addr,
                version = response.version,
                "a message with a delivery time went to a broker before 5.0, which ignores \
                 it: the message is delivered at once"
            );
        }
        let code = response.response_code();
        let Some(status) = SendStatus::from_response_code(code) else {
            return Err(Error::Broker {
                addr: addr.to_owned(),
                code,
                remark: response.remark.unwrap_or_default(),
            });
        };
        let header: SendMessageResponseHeader = response.decode_header()?;
        Ok(SendReceipt {
            status,
            msg_id: prepared.msg_id.clone(),
            offset_msg_id: header.msg_id,
            queue: MessageQueue::new(
                queue.topic.clone(),
                queue.broker_name.clone(),
                header.queue_id,
            ),
            queue_offset: header.queue_offset,
            transaction_id: header.transaction_id,
            attempts: attempt,
        })
    }
}

fn now_ms() -> i64 {
    crate::protocol::message::id::now_ms()
}
