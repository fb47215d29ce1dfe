//! Producer settings (`DefaultMQProducer`), with the Java defaults.

use std::time::Duration;

use crate::client::config_error;
use crate::error::Result;

/// Settings of one producer group.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// Time budget of one send, retries included. Default 3 s (`sendMsgTimeout`).
    pub send_timeout: Duration,
    /// Extra attempts after a failure. Default 2 (`retryTimesWhenSendFailed`).
    pub retries: u32,
    /// Retry on another broker when the store status is not OK. Default false.
    pub retry_another_broker_when_not_store_ok: bool,
    /// Compression threshold in bytes. Default 4096 (`compressMsgBodyOverHowmuch`).
    pub compress_over: usize,
    /// zlib level. Default 5 (`rocketmq.message.compressLevel`).
    pub compress_level: u32,
    /// Largest body. Default 4 MiB (`maxMessageSize`).
    pub max_message_size: usize,
    /// Latency fault avoidance. Default false (`sendLatencyFaultEnable`).
    pub latency_fault_enabled: bool,
    /// Queues per broker for auto-created topics. Default 4 (`defaultTopicQueueNums`).
    pub default_topic_queue_nums: i32,
    /// The template topic for auto-creation. Default `TBW102` (`createTopicKey`).
    pub create_topic_key: String,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            send_timeout: Duration::from_secs(3),
            retries: 2,
            retry_another_broker_when_not_store_ok: false,
            compress_over: 4096,
            compress_level: 5,
            max_message_size: 4 * 1024 * 1024,
            latency_fault_enabled: false,
            default_topic_queue_nums: 4,
            create_topic_key: "TBW102".into(),
        }
    }
}

impl ProducerConfig {
    /// Checks every field, naming the first bad one.
    ///
    /// # Errors
    /// [`crate::Error::Config`].
    pub fn validate(&self) -> Result<()> {
        if self.send_timeout.is_zero() {
            return Err(config_error("send_timeout", "must be greater than zero"));
        }
        if self.compress_level > 9 {
            return Err(config_error("compress_level", "must be 0..=9"));
        }
        if self.max_message_size == 0 || self.max_message_size > 64 * 1024 * 1024 {
            return Err(config_error("max_message_size", "must be 1 byte to 64 MiB"));
        }
        if self.default_topic_queue_nums <= 0 {
            return Err(config_error("default_topic_queue_nums", "must be positive"));
        }
        Ok(())
    }
}
