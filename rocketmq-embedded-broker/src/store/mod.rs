//! The broker's message store: Apache RocketMQ's commit log, consume queues, index files,
//! checkpoint, flush services, crash recovery, retention and config files, faithful to the
//! upstream on-disk formats (see `FORMAT.md` in this crate).

mod checkpoint;
mod clock;
mod config;
mod config_files;
mod consume_queue;
mod error;
mod index;
mod retention;
mod schedule;
mod segment;
mod segment_queue;
pub mod storage;

pub use checkpoint::CheckpointValues;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{FlushDiskType, StoreConfig, StoreConfigBuilder};
pub use config_files::{
    ConfigDocument, ConfigFiles, ConsumerOffsetTable, DataVersion, DelayOffsetTable,
    SubscriptionGroupConfig, SubscriptionGroupTable, TopicConfig, TopicConfigTable,
};
pub use consume_queue::{CQ_UNIT_SIZE, CqUnit};
pub use error::{StoreError, StoreResult};
pub use retention::{DiskUsageProbe, FixedDiskUsage, StatvfsProbe};
pub use schedule::{DelayLevelTable, SCHEDULE_TOPIC, ScheduleHook};
