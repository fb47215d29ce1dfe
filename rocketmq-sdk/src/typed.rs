//! Typed messages: a Rust type that knows its topic, tag, keys and shard key and travels
//! as JSON. Usually derived with `#[derive(Message)]`; can be implemented by hand.

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::producer::{Producer, SelectByHash, SendReceipt};
use crate::protocol::message::{Message, MessageExt};

/// A message type with its routing facts and its JSON encoding.
///
/// ```
/// use rocketmq_sdk::typed::TypedMessage;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Ping { id: String }
///
/// impl TypedMessage for Ping {
///     const TOPIC: &'static str = "pings";
///     const TAG: Option<&'static str> = Some("ping");
///     fn keys(&self) -> Vec<String> { vec![self.id.clone()] }
///     fn shard_hash(&self) -> Option<i32> { None }
/// }
///
/// let m = Ping { id: "p-1".into() }.to_message().unwrap();
/// assert_eq!(m.topic, "pings");
/// assert_eq!(m.tags(), Some("ping"));
/// assert_eq!(m.keys(), Some("p-1"));
/// assert_eq!(&m.body[..], br#"{"id":"p-1"}"#);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a RocketMQ message type",
    label = "this type does not implement `TypedMessage`",
    note = "derive it: `#[derive(Serialize, Deserialize, Message)]` with `#[rocketmq(topic = \"...\")]`"
)]
pub trait TypedMessage: serde::Serialize + serde::de::DeserializeOwned {
    /// The topic the type is published to.
    const TOPIC: &'static str;
    /// The tag, if any.
    const TAG: Option<&'static str>;

    /// The message keys (`KEYS`, indexed by the broker; the default dedupe key source).
    fn keys(&self) -> Vec<String>;

    /// Java `hashCode()` of the shard field, for ordered publishing: equal values go to
    /// the same queue, the one a Java producer with `SelectMessageQueueByHash` picks.
    fn shard_hash(&self) -> Option<i32>;

    /// The JSON body.
    ///
    /// # Errors
    /// [`Error::InvalidMessage`] when serialization fails.
    fn encode_body(&self) -> Result<Bytes> {
        serde_json::to_vec(self)
            .map(Bytes::from)
            .map_err(|e| Error::InvalidMessage(format!("cannot encode as JSON: {e}")))
    }

    /// Decodes a JSON body.
    ///
    /// # Errors
    /// The JSON error.
    fn decode_body(body: &[u8]) -> std::result::Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }

    /// The wire message: topic, tag, keys and JSON body.
    ///
    /// # Errors
    /// As [`TypedMessage::encode_body`].
    fn to_message(&self) -> Result<Message> {
        let mut m = Message::new(Self::TOPIC, self.encode_body()?);
        if let Some(tag) = Self::TAG {
            m.set_tags(tag);
        }
        let keys = self.keys();
        if !keys.is_empty() {
            m.set_keys(keys);
        }
        Ok(m)
    }
}

impl Producer {
    /// Publishes a typed message: JSON body, topic/tag/keys from the type, and — when the
    /// type has a shard field — the queue a Java producer would pick for that value.
    ///
    /// # Errors
    /// As [`Producer::send`], plus JSON encoding errors.
    ///
    /// # Cancel safety
    /// As [`Producer::send`].
    pub async fn publish<T: TypedMessage>(&self, value: &T) -> Result<SendReceipt> {
        let message = value.to_message()?;
        match value.shard_hash() {
            Some(hash) => self.send_with_selector(message, &SelectByHash, &hash).await,
            None => self.send(message).await,
        }
    }

    /// Sends a typed request and decodes its JSON reply (the `sendAndReceive` of
    /// rocketmq-spring): topic, tag and keys come from the type, as with
    /// [`Producer::publish`]; the reply is awaited as with [`Producer::request`].
    ///
    /// ```no_run
    /// # use rocketmq_sdk::prelude::*;
    /// # #[derive(Serialize, Deserialize, Message)]
    /// # #[rocketmq(topic = "price-quotes")]
    /// # struct QuoteRequest { sku: String }
    /// # #[derive(Deserialize)]
    /// # struct Quote { cents: u64 }
    /// # async fn demo(producer: Producer) -> rocketmq_sdk::Result<()> {
    /// let ask = QuoteRequest { sku: "sku-42".into() };
    /// let quote: Quote = producer
    ///     .request_typed(&ask, std::time::Duration::from_secs(3))
    ///     .await?;
    /// # let _ = quote.cents;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Producer::request`]; JSON encoding errors of the request, and
    /// [`Error::InvalidMessage`] when the reply body is not a `R` in JSON.
    ///
    /// # Cancel safety
    /// As [`Producer::request`].
    pub async fn request_typed<T, R>(&self, value: &T, timeout: std::time::Duration) -> Result<R>
    where
        T: TypedMessage,
        R: serde::de::DeserializeOwned,
    {
        let reply = self.request(value.to_message()?, timeout).await?;
        serde_json::from_slice(&reply.body).map_err(|e| {
            Error::InvalidMessage(format!(
                "the reply to a {} request is not the expected JSON: {e}",
                T::TOPIC
            ))
        })
    }

    /// Answers `request` with `value` as JSON (see [`Producer::reply`]).
    ///
    /// # Errors
    /// As [`Producer::reply`], plus JSON encoding errors.
    ///
    /// # Cancel safety
    /// As [`Producer::reply`].
    pub async fn reply_json<R: serde::Serialize>(
        &self,
        request: &MessageExt,
        value: &R,
    ) -> Result<SendReceipt> {
        let body = serde_json::to_vec(value)
            .map_err(|e| Error::InvalidMessage(format!("cannot encode as JSON: {e}")))?;
        self.reply(request, body).await
    }
}
