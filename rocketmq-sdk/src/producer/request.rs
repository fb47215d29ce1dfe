//! Request-reply (upstream `DefaultMQProducerImpl.request`, `MessageUtil.createReplyMessage`,
//! `RequestFutureHolder`, `ClientRemotingProcessor.receiveReplyMessage`).
//!
//! A requester sends an ordinary message carrying `CORRELATION_ID`, `REPLY_TO_CLIENT` (its
//! client id) and `TTL`, then waits. The replier, a consumer of the request topic, builds a
//! reply for `<CLUSTER>_REPLY_TOPIC` (the broker stamps `CLUSTER` on every stored message)
//! and sends it with SEND_REPLY_MESSAGE_V2; the broker pushes it to the requester's
//! connection as PUSH_REPLY_MESSAGE_TO_CLIENT, where the correlation id finds the waiter.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::{debug, warn};

use super::{Producer, ProducerInner, SendReceipt};
use crate::client::{Client, ClientInner};
use crate::error::{Error, Result};
use crate::protocol::header::macros::command_header;
use crate::protocol::message::compress::decompress;
use crate::protocol::message::sysflag;
use crate::protocol::message::{Message, MessageExt, Properties, keys};
use crate::protocol::{RemotingCommand, ResponseCode};

/// `MixAll.REPLY_TOPIC_POSTFIX`: a cluster's reply topic is `<cluster>_REPLY_TOPIC`.
pub const REPLY_TOPIC_POSTFIX: &str = "REPLY_TOPIC";

/// `MixAll.REPLY_MESSAGE_FLAG`: the `MSG_TYPE` of a reply.
pub const REPLY_MESSAGE_FLAG: &str = "reply";

/// Largest reply body inflated from a compressed push (the broker's default maximum
/// message size): a bad frame cannot make us allocate more.
const MAX_REPLY_BODY: usize = 4 * 1024 * 1024;

command_header! {
    /// Broker → requester: PUSH_REPLY_MESSAGE_TO_CLIENT (326), the reply's send header
    /// plus where and when the broker saw it. The body is the reply's body.
    pub struct ReplyMessageRequestHeader {
        /// The replier's producer group.
        producer_group: String = required "producerGroup",
        /// The reply topic (`<cluster>_REPLY_TOPIC`).
        topic: String = required "topic",
        /// The replier's template topic.
        default_topic: String = required "defaultTopic",
        /// The replier's `defaultTopicQueueNums`.
        default_topic_queue_nums: i32 = required "defaultTopicQueueNums",
        /// Queue of the reply topic the replier chose.
        queue_id: i32 = required "queueId",
        /// The reply's sysFlag (compression).
        sys_flag: i32 = required "sysFlag",
        /// The replier's clock at send, ms.
        born_timestamp: i64 = required "bornTimestamp",
        /// User flag.
        flag: i32 = required "flag",
        /// The reply's properties, `PUSH_REPLY_TIME` added by the broker.
        properties: Option<String> = optional "properties",
        /// Reconsume count (0).
        reconsume_times: Option<i32> = optional "reconsumeTimes",
        /// Unit mode.
        unit_mode: bool = primitive "unitMode",
        /// The replier's address as the broker sees it (`ip:port`).
        born_host: String = required "bornHost",
        /// The broker's address (`ip:port`).
        store_host: String = required "storeHost",
        /// When the broker pushed the reply, ms.
        store_timestamp: i64 = required "storeTimestamp",
    }
}

/// Builds the reply to `request` as Java's `MessageUtil.createReplyMessage` does: topic
/// `<CLUSTER>_REPLY_TOPIC`, `MSG_TYPE=reply`, and the request's `CORRELATION_ID`,
/// `REPLY_TO_CLIENT` and `TTL`. Send it with [`Producer::send_reply`] (or use
/// [`Producer::reply`], which does both).
///
/// # Errors
/// [`Error::InvalidMessage`] when `request` is not a request: it lacks the `CLUSTER` the
/// broker stamps on stored messages, or the `CORRELATION_ID` / `REPLY_TO_CLIENT` a
/// requester sets.
pub fn create_reply_message(request: &Message, body: impl Into<Bytes>) -> Result<Message> {
    let missing = |key: &str| {
        Error::InvalidMessage(format!(
            "cannot reply: the message to topic {:?} is not a request (property {key} is missing)",
            request.topic
        ))
    };
    let cluster = request
        .property(keys::CLUSTER)
        .ok_or_else(|| missing(keys::CLUSTER))?;
    let correlation_id = request
        .property(keys::CORRELATION_ID)
        .ok_or_else(|| missing(keys::CORRELATION_ID))?;
    let reply_to = request
        .property(keys::REPLY_TO_CLIENT)
        .ok_or_else(|| missing(keys::REPLY_TO_CLIENT))?;
    // Java's `new Message()` sets no WAIT: the golden 325 frame carries none.
    let mut reply = Message {
        topic: format!("{cluster}_{REPLY_TOPIC_POSTFIX}"),
        body: body.into(),
        ..Message::default()
    };
    reply.properties.insert(keys::MSG_TYPE, REPLY_MESSAGE_FLAG);
    reply
        .properties
        .insert(keys::CORRELATION_ID, correlation_id);
    reply.properties.insert(keys::REPLY_TO_CLIENT, reply_to);
    if let Some(ttl) = request.property(keys::TTL) {
        reply.properties.insert(keys::TTL, ttl);
    }
    Ok(reply)
}

/// Whether `message` is a reply (`MSG_TYPE=reply`), which travels as SEND_REPLY_MESSAGE_V2.
fn is_reply(message: &Message) -> bool {
    message.property(keys::MSG_TYPE) == Some(REPLY_MESSAGE_FLAG)
}

/// A random version-4 UUID string, as Java's `CorrelationIdUtil.createCorrelationId`.
fn new_correlation_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // Each RandomState has fresh random keys; the counter and clock keep ids distinct
    // even if two states ever shared keys.
    let word = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u64(salt);
        h.write_i64(crate::protocol::message::id::now_ms());
        h.finish()
    };
    let hi = (word(1) & !0xF000) | 0x4000;
    let lo = (word(2) & !(0xC << 60)) | (0x8 << 60);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

fn master_addrs(route: &crate::client::TopicRoute) -> Vec<String> {
    route
        .data
        .broker_datas
        .iter()
        .filter_map(|b| b.broker_addrs.get(&0).cloned())
        .collect()
}

/// Forgets the request's pending entry however the request ends (reply, timeout, send
/// error, dropped future), so an abandoned request leaves nothing behind.
struct PendingGuard<'a> {
    client: &'a ClientInner,
    correlation_id: &'a str,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.client.registry.forget_reply(self.correlation_id);
    }
}

impl Producer {
    /// Sends `message` as a request and waits up to `timeout` for its reply (Java
    /// `DefaultMQProducer.request(msg, timeout)`).
    ///
    /// The message gets `CORRELATION_ID` (a fresh UUID), `REPLY_TO_CLIENT` (this client's
    /// id) and `TTL` (`timeout` in ms); a consumer of the topic answers with
    /// [`Producer::reply`] (or any client's `createReplyMessage` + send), and the broker
    /// pushes the reply to this client. The send itself counts against `timeout`.
    ///
    /// ```no_run
    /// # async fn demo(producer: rocketmq_sdk::producer::Producer) -> rocketmq_sdk::Result<()> {
    /// use std::time::Duration;
    /// use rocketmq_sdk::protocol::message::Message;
    ///
    /// let reply = producer
    ///     .request(Message::new("price-quotes", "sku-42"), Duration::from_secs(3))
    ///     .await?;
    /// println!("quoted {}", String::from_utf8_lossy(&reply.body));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Timeout`] (with `timeout`) when no reply came in time, whether or not the
    /// send finished; otherwise what [`Producer::send`] returns for the request itself;
    /// [`Error::Shutdown`] if the client shut down while waiting.
    ///
    /// # Cancel safety
    /// Dropping the future forgets the request (its pending entry is removed at once); a
    /// request already written may still be consumed and answered, and that reply is
    /// dropped on arrival.
    pub async fn request(&self, mut message: Message, timeout: Duration) -> Result<MessageExt> {
        let started = Instant::now();
        let client = &self.inner.client.inner;
        let correlation_id = new_correlation_id();
        message
            .properties
            .insert(keys::CORRELATION_ID, correlation_id.as_str());
        message
            .properties
            .insert(keys::REPLY_TO_CLIENT, client.client_id.as_str());
        message
            .properties
            .insert(keys::TTL, timeout.as_millis().to_string());
        // Registered before the send: the push can overtake the send's response.
        let reply = client.registry.await_reply(&correlation_id);
        let _guard = PendingGuard {
            client,
            correlation_id: &correlation_id,
        };
        let exchange = async {
            self.announce_for_replies(&message.topic).await?;
            let receipt = self.send(message).await?;
            debug!(msg_id = %receipt.msg_id, correlation_id, "request sent; waiting for the reply");
            reply.await.map_err(|_| Error::Shutdown)
        };
        match tokio::time::timeout(timeout.saturating_sub(started.elapsed()), exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::Timeout(timeout)),
        }
    }

    /// A broker pushes a reply to the connection this client registered through a
    /// heartbeat, and the replier may send it to any master of the cluster holding the
    /// reply topic, not only the request topic's brokers. Java heartbeats its known brokers
    /// when a request goes to a topic it had no route for; we heartbeat each master of the
    /// request topic and of its clusters' reply topics the first time a request needs it.
    async fn announce_for_replies(&self, topic: &str) -> Result<()> {
        let client = &self.inner.client;
        let route = self.inner.publish_route(topic).await?;
        let mut masters = master_addrs(&route);
        let clusters: std::collections::BTreeSet<&str> = route
            .data
            .broker_datas
            .iter()
            .map(|b| b.cluster.as_str())
            .filter(|c| !c.is_empty())
            .collect();
        for cluster in clusters {
            match client
                .topic_route(&format!("{cluster}_{REPLY_TOPIC_POSTFIX}"))
                .await
            {
                Ok(r) => masters.extend(master_addrs(&r)),
                Err(e) => debug!(cluster, error = %e, "no route for the reply topic"),
            }
        }
        let fresh: Vec<String> = {
            let mut announced = self
                .inner
                .announced
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            masters
                .into_iter()
                .filter(|a| announced.insert(a.clone()))
                .collect()
        };
        for addr in fresh {
            if let Err(e) = client.inner.send_heartbeat(&addr).await {
                debug!(broker = %addr, error = %e, "heartbeat before a request failed");
                // Try again on the next request.
                self.inner
                    .announced
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&addr);
            }
        }
        Ok(())
    }

    /// Answers `request` with `body`: builds the reply with [`create_reply_message`] and
    /// sends it with [`Producer::send_reply`]. Call it from the listener that consumed the
    /// request.
    ///
    /// # Errors
    /// [`Error::InvalidMessage`] when `request` is not a request (see
    /// [`create_reply_message`]) or the body is empty; otherwise as
    /// [`Producer::send_reply`].
    ///
    /// # Cancel safety
    /// As [`Producer::send_reply`].
    pub async fn reply(&self, request: &MessageExt, body: impl Into<Bytes>) -> Result<SendReceipt> {
        let reply = create_reply_message(request, body)?;
        self.send_reply(reply).await
    }

    /// Sends a reply built by [`create_reply_message`] with SEND_REPLY_MESSAGE_V2. The
    /// broker pushes it to the requester and (by default) stores it in the reply topic.
    ///
    /// One attempt: a failed reply is not sent again, since the broker may already have
    /// pushed and stored it. A broker that cannot reach the requester answers
    /// SYSTEM_ERROR ("push reply message fail, channel of <...> not found.").
    ///
    /// # Errors
    /// [`Error::InvalidMessage`] when `reply` is not a reply (`MSG_TYPE` is not `reply`),
    /// has an invalid topic or an empty or oversized body; [`Error::Broker`] with the
    /// broker's code; [`Error::Timeout`] after `send_timeout`; transport errors.
    ///
    /// # Cancel safety
    /// Dropping the future abandons the send; a request already written may still be
    /// delivered.
    pub async fn send_reply(&self, reply: Message) -> Result<SendReceipt> {
        self.inner.send_reply(reply).await
    }
}

impl ProducerInner {
    async fn send_reply(&self, reply: Message) -> Result<SendReceipt> {
        if !is_reply(&reply) {
            return Err(Error::InvalidMessage(format!(
                "not a reply: {} is {:?}, expected {REPLY_MESSAGE_FLAG:?}",
                keys::MSG_TYPE,
                reply.property(keys::MSG_TYPE)
            )));
        }
        // The send path's preparation (checks, UNIQ_KEY, compression) and one attempt of
        // it, under the reply code: Java sends replies once, without retries.
        let prepared = self.prepare_reply(reply)?;
        let route = self.publish_route(prepared.topic()).await?;
        let queue = self.choose_queue(&route, None);
        let addr = super::send::master_addr(&route, &queue)?;
        self.send_once(&prepared, &queue, &addr, self.config.send_timeout, 1)
            .await
    }
}

impl Client {
    /// How many requests ([`Producer::request`]) are waiting for their reply. A request
    /// that got its reply, timed out or was dropped is no longer counted.
    pub fn pending_requests(&self) -> usize {
        self.inner.registry.pending_reply_count()
    }
}

/// PUSH_REPLY_MESSAGE_TO_CLIENT (`ClientRemotingProcessor.receiveReplyMessage`): rebuilds
/// the reply and hands it to the request waiting for its correlation id. A reply nobody
/// waits for (late, or not ours) is acknowledged and dropped, as upstream does.
pub(crate) fn receive_reply(client: &ClientInner, request: &RemotingCommand) -> RemotingCommand {
    match decode_reply(request) {
        Ok(reply) => {
            let Some(correlation_id) = reply.property(keys::CORRELATION_ID).map(str::to_owned)
            else {
                warn!(topic = %reply.topic, "pushed reply without CORRELATION_ID dropped");
                return RemotingCommand::new_response(ResponseCode::SUCCESS);
            };
            if !client.registry.complete_reply(&correlation_id, reply) {
                warn!(
                    correlation_id,
                    "reply for a request that is no longer waiting (timed out or dropped)"
                );
            }
            RemotingCommand::new_response(ResponseCode::SUCCESS)
        }
        Err(e) => {
            warn!(error = %e, "cannot decode a pushed reply");
            RemotingCommand::new_response(ResponseCode::SYSTEM_ERROR)
                .with_remark("process reply message fail")
        }
    }
}

fn decode_reply(request: &RemotingCommand) -> Result<MessageExt> {
    let header: ReplyMessageRequestHeader = request.decode_header()?;
    let mut body = request.body.clone();
    if header.sys_flag & sysflag::COMPRESSED != 0 {
        let ty = sysflag::compression_type(header.sys_flag)?;
        body = Bytes::from(decompress(&body, ty, MAX_REPLY_BODY)?);
    }
    let properties = Properties::decode_str(header.properties.as_deref().unwrap_or(""));
    let mut reply = MessageExt::from(Message {
        topic: header.topic,
        flag: header.flag,
        properties,
        body,
        transaction_id: None,
    });
    reply.queue_id = header.queue_id;
    reply.sys_flag = header.sys_flag;
    reply.born_timestamp = header.born_timestamp;
    reply.store_timestamp = header.store_timestamp;
    reply.reconsume_times = header.reconsume_times.unwrap_or(0);
    if let Some(a) = parse_host(&header.born_host) {
        reply.born_host = a;
    }
    if let Some(a) = parse_host(&header.store_host) {
        reply.store_host = a;
    }
    Ok(reply)
}

/// `ip:port`, tolerating the leading `/` of Java's `InetSocketAddress.toString()`.
fn parse_host(s: &str) -> Option<SocketAddr> {
    s.rsplit('/').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RequestCode;

    #[test]
    fn correlation_ids_are_uuid_v4_and_distinct() {
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|_| new_correlation_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            let parts: Vec<&str> = id.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert!(parts[2].starts_with('4'), "{id}");
            assert!("89ab".contains(&parts[3][..1]), "{id}");
        }
    }

    #[test]
    fn reply_carries_the_request_properties() {
        let mut request = Message::new("T", "q");
        request.properties.insert(keys::CLUSTER, "DefaultCluster");
        request.properties.insert(keys::CORRELATION_ID, "c-1");
        request
            .properties
            .insert(keys::REPLY_TO_CLIENT, "1.2.3.4@x");
        request.properties.insert(keys::TTL, "3000");
        let reply = create_reply_message(&request, "a").unwrap();
        assert_eq!(reply.topic, "DefaultCluster_REPLY_TOPIC");
        assert_eq!(reply.property(keys::MSG_TYPE), Some("reply"));
        assert_eq!(reply.property(keys::CORRELATION_ID), Some("c-1"));
        assert_eq!(reply.property(keys::REPLY_TO_CLIENT), Some("1.2.3.4@x"));
        assert_eq!(reply.property(keys::TTL), Some("3000"));
        assert_eq!(reply.property(keys::WAIT), None);
        assert!(is_reply(&reply));
    }

    #[test]
    fn a_plain_message_is_not_a_request() {
        let mut plain = Message::new("T", "q");
        plain.properties.insert(keys::CLUSTER, "DefaultCluster");
        let err = create_reply_message(&plain, "a").unwrap_err();
        assert!(matches!(err, Error::InvalidMessage(ref m) if m.contains("CORRELATION_ID")));
    }

    #[test]
    fn pushed_reply_decodes_from_the_java_header() {
        let mut cmd = RemotingCommand::request(RequestCode::PUSH_REPLY_MESSAGE_TO_CLIENT)
            .with_body(Bytes::from_static(b"reply-to-req-1"));
        for (k, v) in [
            ("queueId", "0"),
            ("flag", "0"),
            ("sysFlag", "0"),
            ("reconsumeTimes", "0"),
            ("storeTimestamp", "1796664988342"),
            ("unitMode", "false"),
            ("defaultTopic", "TBW102"),
            ("bornHost", "127.0.0.1:45688"),
            ("defaultTopicQueueNums", "4"),
            ("producerGroup", "G10R_498_173621"),
            ("topic", "DefaultCluster_REPLY_TOPIC"),
            ("bornTimestamp", "1796664988332"),
            ("storeHost", "/127.0.0.1:34911"),
            (
                "properties",
                "PUSH_REPLY_TIME\u{1}1796664988345\u{2}MSG_TYPE\u{1}reply\u{2}CORRELATION_ID\u{1}c-9",
            ),
        ] {
            cmd.ext_fields.insert_str(k, v);
        }
        let reply = decode_reply(&cmd).unwrap();
        assert_eq!(&reply.body[..], b"reply-to-req-1");
        assert_eq!(reply.property(keys::CORRELATION_ID), Some("c-9"));
        assert_eq!(reply.store_timestamp, 1_796_664_988_342);
        assert_eq!(reply.born_host.to_string(), "127.0.0.1:45688");
        assert_eq!(reply.store_host.to_string(), "127.0.0.1:34911");
    }
}
