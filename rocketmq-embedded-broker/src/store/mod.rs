//! The broker's message store: Apache RocketMQ's commit log, consume queues, index files,
//! checkpoint, flush services, crash recovery, retention and config files, faithful to the
//! upstream on-disk formats (`FORMAT.md` in this crate documents every byte).
//!
//! Entry point: [`Store::open`] with a [`StoreConfig`]. Everything below the store goes
//! through the [`storage::Storage`] trait, so tests run the same code over real files, over
//! memory with a simulated page cache, or with injected I/O faults.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use rocketmq_embedded_broker::store::{Store, StoreConfig, storage::MemoryStorage};
//! use rocketmq_sdk::protocol::message::{Message, MessageExt};
//!
//! let config = StoreConfig::builder("/mem/store")
//!     .storage(Arc::new(MemoryStorage::new()))
//!     .build()?;
//! let (store, _report) = Store::open(config)?;
//! let mut msg = MessageExt::from(Message::new("orders", &b"hello"[..]));
//! msg.queue_id = 0;
//! let put = store.put_message(msg).await;
//! assert!(put.is_stored());
//! let got = store.get_messages("orders", 0, 0, 32, 1 << 20, None)?;
//! assert_eq!(got.messages.len(), 1);
//! store.shutdown()?;
//! # Ok(()) }
//! ```

mod arrival;
mod checkpoint;
mod clock;
mod commit_log;
mod config;
mod config_files;
mod consume_queue;
mod error;
mod flush;
mod get;
mod index;
mod message_store;
mod put;
mod recovery;
mod replica;
mod result;
mod retention;
mod schedule;
mod segment;
mod segment_queue;
mod services;
pub mod storage;

pub use arrival::MessageArrivingListener;
pub use checkpoint::CheckpointValues;
pub use clock::{Clock, ManualClock, SystemClock, sleep_until};
pub use config::{FlushDiskType, StoreConfig, StoreConfigBuilder};
pub use config_files::{
    CONSUMER_OFFSET_FILE, ConfigDocument, ConfigFiles, ConsumerOffsetTable, DELAY_OFFSET_FILE,
    DataVersion, DelayOffsetTable, SUBSCRIPTION_GROUP_FILE, SubscriptionGroupConfig,
    SubscriptionGroupTable, TOPICS_FILE, TopicConfig, TopicConfigTable,
};
pub use consume_queue::{CQ_UNIT_SIZE, CqUnit};
pub use error::{StoreError, StoreResult};
pub use index::{INDEX_ENTRY_SIZE, INDEX_HEADER_SIZE, INDEX_SLOT_SIZE};
pub use message_store::Store;
pub use recovery::{RecoveryReport, Truncation, TruncationReason};
pub use replica::ReplicaChunk;
pub use result::{
    GetResult, GetStatus, MessageFilter, PutResult, PutStatus, QueryResult, StoreStats,
    StoredMessage,
};
pub use retention::{DiskUsageProbe, FixedDiskUsage, StatvfsProbe};
pub use schedule::{DelayLevelTable, SCHEDULE_TOPIC, ScheduleHook};
