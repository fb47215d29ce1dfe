//! Consumer settings (`DefaultMQPushConsumer`, `DefaultLitePullConsumer`), with the Java
//! defaults.

use std::path::PathBuf;
use std::time::Duration;

use crate::client::config_error;
use crate::error::Result;
use crate::protocol::body::{ConsumeFromWhere, MessageModel};

/// Where a consumer starts reading a queue for which its group has no stored offset.
///
/// A stored offset always wins; this only decides the first start of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ConsumeFrom {
    /// The end of the queue: only messages sent from now on (`CONSUME_FROM_LAST_OFFSET`,
    /// the default). A retry topic starts at 0. As with the Java client, a broker answers
    /// a new group's offset query with 0 while the queue's first message is still held
    /// (a young queue), so such a group starts from the beginning.
    #[default]
    LastOffset,
    /// The start of the queue (`CONSUME_FROM_FIRST_OFFSET`).
    FirstOffset,
    /// The first message stored at or after a timestamp, in ms since the epoch
    /// (`CONSUME_FROM_TIMESTAMP`). `None` means the consumer's start time minus 30 minutes,
    /// Java's default `consumeTimestamp`. A retry topic starts at its end.
    Timestamp(Option<i64>),
}

impl ConsumeFrom {
    /// The wire value announced in heartbeats.
    pub fn to_wire(self) -> ConsumeFromWhere {
        match self {
            ConsumeFrom::LastOffset => ConsumeFromWhere::ConsumeFromLastOffset,
            ConsumeFrom::FirstOffset => ConsumeFromWhere::ConsumeFromFirstOffset,
            ConsumeFrom::Timestamp(_) => ConsumeFromWhere::ConsumeFromTimestamp,
        }
    }
}

/// Java's default `consumeTimestamp`: half an hour before the consumer started.
pub(crate) const DEFAULT_TIMESTAMP_LOOKBACK: Duration = Duration::from_secs(30 * 60);

/// Settings of a push consumer group. Every default is the Java push consumer's, except
/// where a field says otherwise.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PushConsumerConfig {
    /// Clustering (queues shared by the group, offsets on the broker; the default) or
    /// broadcasting (every instance gets every message, offsets in a local file).
    pub message_model: MessageModel,
    /// Where a group without stored offsets starts. Default [`ConsumeFrom::LastOffset`].
    pub consume_from: ConsumeFrom,
    /// How many listener calls may run at once (`consumeThreadMax`/`Min`). Default 20.
    pub consume_concurrency: usize,
    /// Messages asked for per pull (`pullBatchSize`). Default 32.
    pub pull_batch_size: i32,
    /// Most messages given to one listener call (`consumeMessageBatchMaxSize`). Default 1.
    pub consume_batch_max_size: usize,
    /// Cached messages per queue above which pulling pauses (`pullThresholdForQueue`).
    /// Default 1000.
    pub pull_threshold_for_queue: usize,
    /// Cached body bytes per queue above which pulling pauses
    /// (`pullThresholdSizeForQueue`, 100 MiB by default).
    pub pull_threshold_size_for_queue: u64,
    /// Concurrent mode: the offset span of cached messages above which pulling pauses
    /// (`consumeConcurrentlyMaxSpan`). Default 2000.
    pub consume_concurrently_max_span: i64,
    /// A listener call running longer than this counts as failed (`consumeTimeout`,
    /// default 15 min). Unlike Java, which sends the message back and lets the listener
    /// run on, the call is cancelled.
    pub consume_timeout: Duration,
    /// Deliveries after the first before a message goes to `%DLQ%<group>`
    /// (`maxReconsumeTimes`). Default 16 in both modes: for orderly consumption Java's
    /// default is `Integer.MAX_VALUE` (retry forever, blocking the queue); this SDK
    /// chooses a finite default so that one poison message cannot stall a queue for ever.
    /// An explicit -1 means what it means in Java: 16 for concurrent consumption,
    /// unlimited (`Integer.MAX_VALUE`) for orderly consumption.
    pub max_reconsume_times: i32,
    /// Orderly mode: how long a queue pauses after a failed batch
    /// (`suspendCurrentQueueTimeMillis`). Default 1 s.
    pub suspend_time: Duration,
    /// Period of the rebalance (`rocketmq.client.rebalance.waitInterval`). Default 20 s.
    pub rebalance_interval: Duration,
    /// Orderly mode: period of the queue lock renewal
    /// (`rocketmq.client.rebalance.lockInterval`). Default 20 s.
    pub lock_interval: Duration,
    /// Orderly mode: a queue lock not renewed for this long is considered lost
    /// (`rocketmq.client.rebalance.lockMaxLiveTime`). Default 30 s.
    pub lock_max_live_time: Duration,
    /// How long the broker may hold a pull that finds nothing (`brokerSuspendMaxTimeMillis`).
    /// Default 15 s.
    pub broker_suspend_max_time: Duration,
    /// Timeout of one pull request (`consumerTimeoutMillisWhenSuspend`). Default 30 s.
    pub pull_timeout: Duration,
    /// Pause before pulling again after a failed pull (`pullTimeDelayMillsWhenException`).
    /// Default 1 s.
    pub pull_delay_on_error: Duration,
    /// Broadcasting mode: the directory of the local offset files, which are
    /// `<dir>/<clientId>/<group>/offsets.json` (`rocketmq.client.localOffsetStoreDir`).
    /// Default `~/.rocketmq_offsets`. The client id contains the instance name; with the
    /// default name (`DEFAULT`, replaced by `pid#nanos`) every run has a new id, so give
    /// the client a fixed `instance_name` for the offsets to survive a restart.
    pub offset_store_dir: Option<PathBuf>,
    /// [`PushConsumer::shutdown`](super::PushConsumer::shutdown) waits at most this long
    /// for running listener calls (`awaitTerminationMillisWhenShutdown`; Java's default 0
    /// waits not at all, this SDK's default is 30 s).
    pub shutdown_timeout: Duration,
}

impl Default for PushConsumerConfig {
    fn default() -> Self {
        PushConsumerConfig {
            message_model: MessageModel::Clustering,
            consume_from: ConsumeFrom::LastOffset,
            consume_concurrency: 20,
            pull_batch_size: 32,
            consume_batch_max_size: 1,
            pull_threshold_for_queue: 1000,
            pull_threshold_size_for_queue: 100 * 1024 * 1024,
            consume_concurrently_max_span: 2000,
            consume_timeout: Duration::from_secs(15 * 60),
            max_reconsume_times: 16,
            suspend_time: Duration::from_secs(1),
            rebalance_interval: Duration::from_secs(20),
            lock_interval: Duration::from_secs(20),
            lock_max_live_time: Duration::from_secs(30),
            broker_suspend_max_time: Duration::from_secs(15),
            pull_timeout: Duration::from_secs(30),
            pull_delay_on_error: Duration::from_secs(1),
            offset_store_dir: None,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

impl PushConsumerConfig {
    /// Checks every field, naming the first bad one.
    ///
    /// # Errors
    /// [`crate::Error::Config`] with the field's name.
    pub fn validate(&self) -> Result<()> {
        if self.consume_concurrency == 0 || self.consume_concurrency > 1000 {
            return Err(config_error("consume_concurrency", "must be 1..=1000"));
        }
        if !(1..=1024).contains(&self.pull_batch_size) {
            return Err(config_error("pull_batch_size", "must be 1..=1024"));
        }
        if !(1..=1024).contains(&self.consume_batch_max_size) {
            return Err(config_error("consume_batch_max_size", "must be 1..=1024"));
        }
        if self.pull_threshold_for_queue == 0 || self.pull_threshold_for_queue > 65535 {
            return Err(config_error(
                "pull_threshold_for_queue",
                "must be 1..=65535",
            ));
        }
        if self.pull_threshold_size_for_queue == 0 {
            return Err(config_error(
                "pull_threshold_size_for_queue",
                "must be greater than zero",
            ));
        }
        if self.consume_concurrently_max_span < 1 {
            return Err(config_error(
                "consume_concurrently_max_span",
                "must be at least 1",
            ));
        }
        if !(-1..=i32::MAX / 2).contains(&self.max_reconsume_times) {
            return Err(config_error(
                "max_reconsume_times",
                "must be -1 (Java's default: 16, unlimited when orderly) or a non-negative count",
            ));
        }
        if self.broker_suspend_max_time >= self.pull_timeout {
            return Err(config_error(
                "pull_timeout",
                "must be longer than broker_suspend_max_time",
            ));
        }
        for (field, d) in [
            ("consume_timeout", self.consume_timeout),
            ("rebalance_interval", self.rebalance_interval),
            ("lock_interval", self.lock_interval),
            ("lock_max_live_time", self.lock_max_live_time),
            ("broker_suspend_max_time", self.broker_suspend_max_time),
            ("pull_delay_on_error", self.pull_delay_on_error),
        ] {
            if d.is_zero() {
                return Err(config_error(field, "must be greater than zero"));
            }
        }
        Ok(())
    }

    /// The effective maximum for concurrent consumption: -1 means 16, as the Java
    /// client's `ConsumeMessageConcurrentlyService.getMaxReconsumeTimes`.
    pub(crate) fn max_reconsume(&self) -> i32 {
        if self.max_reconsume_times < 0 {
            16
        } else {
            self.max_reconsume_times
        }
    }

    /// The effective maximum for orderly consumption: -1 means unlimited, as the Java
    /// client's `ConsumeMessageOrderlyService.getMaxReconsumeTimes` (`Integer.MAX_VALUE`).
    /// The unset default stays 16 (see [`Self::max_reconsume_times`]); only an explicit
    /// -1 asks for Java's retry-forever.
    pub(crate) fn max_reconsume_orderly(&self) -> i32 {
        if self.max_reconsume_times < 0 {
            i32::MAX
        } else {
            self.max_reconsume_times
        }
    }
}

/// Settings of a lite pull consumer group. Every default is the Java
/// `DefaultLitePullConsumer`'s.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PullConsumerConfig {
    /// Clustering (the default) or broadcasting.
    pub message_model: MessageModel,
    /// Where a group without stored offsets starts. Default [`ConsumeFrom::LastOffset`].
    pub consume_from: ConsumeFrom,
    /// Messages asked for per pull (`pullBatchSize`). Default 10.
    pub pull_batch_size: i32,
    /// Cached messages per queue above which pulling pauses (`pullThresholdForQueue`).
    /// Default 1000.
    pub pull_threshold_for_queue: usize,
    /// Cached body bytes per queue above which pulling pauses (100 MiB by default).
    pub pull_threshold_size_for_queue: u64,
    /// Pulled batches waiting for `poll` above which pulling pauses, in messages
    /// (`pullThresholdForAll`). Default 10000.
    pub pull_threshold_for_all: usize,
    /// Commit consumed offsets automatically from `poll` (`autoCommit`). Default true.
    pub auto_commit: bool,
    /// Period of the automatic commit (`autoCommitIntervalMillis`). Default 5 s.
    pub auto_commit_interval: Duration,
    /// Period of the rebalance in subscribe mode. Default 20 s.
    pub rebalance_interval: Duration,
    /// How long the broker may hold a pull that finds nothing
    /// (`brokerSuspendMaxTimeMillis`). Default 20 s.
    pub broker_suspend_max_time: Duration,
    /// Timeout of one pull request (`consumerTimeoutMillisWhenSuspend`). Default 30 s.
    pub pull_timeout: Duration,
    /// Pause before pulling again after a failed pull. Default 1 s.
    pub pull_delay_on_error: Duration,
    /// Broadcasting mode: the directory of the local offset files. Default
    /// `~/.rocketmq_offsets`.
    pub offset_store_dir: Option<PathBuf>,
}

impl Default for PullConsumerConfig {
    fn default() -> Self {
        PullConsumerConfig {
            message_model: MessageModel::Clustering,
            consume_from: ConsumeFrom::LastOffset,
            pull_batch_size: 10,
            pull_threshold_for_queue: 1000,
            pull_threshold_size_for_queue: 100 * 1024 * 1024,
            pull_threshold_for_all: 10000,
            auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            rebalance_interval: Duration::from_secs(20),
            broker_suspend_max_time: Duration::from_secs(20),
            pull_timeout: Duration::from_secs(30),
            pull_delay_on_error: Duration::from_secs(1),
            offset_store_dir: None,
        }
    }
}

impl PullConsumerConfig {
    /// Checks every field, naming the first bad one.
    ///
    /// # Errors
    /// [`crate::Error::Config`] with the field's name.
    pub fn validate(&self) -> Result<()> {
        if !(1..=1024).contains(&self.pull_batch_size) {
            return Err(config_error("pull_batch_size", "must be 1..=1024"));
        }
        if self.pull_threshold_for_queue == 0 {
            return Err(config_error(
                "pull_threshold_for_queue",
                "must be greater than zero",
            ));
        }
        if self.pull_threshold_size_for_queue == 0 {
            return Err(config_error(
                "pull_threshold_size_for_queue",
                "must be greater than zero",
            ));
        }
        if self.pull_threshold_for_all == 0 {
            return Err(config_error(
                "pull_threshold_for_all",
                "must be greater than zero",
            ));
        }
        if self.broker_suspend_max_time >= self.pull_timeout {
            return Err(config_error(
                "pull_timeout",
                "must be longer than broker_suspend_max_time",
            ));
        }
        for (field, d) in [
            ("auto_commit_interval", self.auto_commit_interval),
            ("rebalance_interval", self.rebalance_interval),
            ("broker_suspend_max_time", self.broker_suspend_max_time),
            ("pull_delay_on_error", self.pull_delay_on_error),
        ] {
            if d.is_zero() {
                return Err(config_error(field, "must be greater than zero"));
            }
        }
        Ok(())
    }
}

/// `~/.rocketmq_offsets`, or `./.rocketmq_offsets` without a home directory.
pub(crate) fn default_offset_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".rocketmq_offsets")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orderly_minus_one_is_unlimited_and_concurrent_minus_one_is_sixteen() {
        let unset = PushConsumerConfig::default();
        assert_eq!(
            unset.max_reconsume_orderly(),
            16,
            "unset keeps the finite default"
        );
        assert_eq!(unset.max_reconsume(), 16);

        let explicit = PushConsumerConfig {
            max_reconsume_times: -1,
            ..PushConsumerConfig::default()
        };
        assert!(explicit.validate().is_ok());
        assert_eq!(explicit.max_reconsume_orderly(), i32::MAX);
        assert_eq!(explicit.max_reconsume(), 16);

        let three = PushConsumerConfig {
            max_reconsume_times: 3,
            ..PushConsumerConfig::default()
        };
        assert_eq!(three.max_reconsume_orderly(), 3);
        assert_eq!(three.max_reconsume(), 3);
    }
}
