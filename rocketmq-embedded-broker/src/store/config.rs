//! Store configuration: upstream `MessageStoreConfig`'s settings that this store implements,
//! with the same defaults, plus the pluggable pieces (storage backend, clock, disk probe,
//! schedule hook).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::clock::{Clock, SystemClock};
use super::error::{StoreError, StoreResult};
use super::retention::{DiskUsageProbe, StatvfsProbe};
use super::schedule::{DelayLevelTable, ScheduleHook};
use super::storage::{FileStorage, Storage};

/// When an appended record is made durable (upstream `FlushDiskType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FlushDiskType {
    /// A background flusher writes dirty pages every `flush_interval_commit_log`; a put is
    /// acknowledged before its data is durable. Upstream's default.
    #[default]
    AsyncFlush,
    /// A put waits until a group commit has synced its bytes (or `sync_flush_timeout` passes).
    SyncFlush,
}

/// The store's settings. Build with [`StoreConfig::builder`]; every default is upstream's.
#[derive(Clone)]
#[non_exhaustive]
pub struct StoreConfig {
    /// Root directory (`storePathRootDir`).
    pub root: PathBuf,
    /// Commit-log segment size (`mappedFileSizeCommitLog`, default 1 GiB).
    pub commit_log_file_size: u64,
    /// Units per consume-queue file (default 300 000, i.e. 6 000 000 bytes).
    pub consume_queue_units_per_file: u64,
    /// Hash slots per index file (`maxHashSlotNum`, default 5 000 000).
    pub index_hash_slots: u32,
    /// Entries per index file (`maxIndexNum`, default 20 000 000).
    pub index_max_entries: u32,
    /// Flush mode (default ASYNC_FLUSH).
    pub flush_disk_type: FlushDiskType,
    /// Async commit-log flush interval (`flushIntervalCommitLog`, 500 ms).
    pub flush_interval_commit_log: Duration,
    /// Minimum dirty pages per async flush (`flushCommitLogLeastPages`, 4).
    pub flush_commit_log_least_pages: u32,
    /// Forced full flush interval (`flushCommitLogThoroughInterval`, 10 s).
    pub flush_commit_log_thorough_interval: Duration,
    /// Consume-queue and index flush interval (`flushIntervalConsumeQueue`, 1 s).
    pub flush_interval_consume_queue: Duration,
    /// Minimum dirty pages per consume-queue flush (`flushConsumeQueueLeastPages`, 2).
    pub flush_consume_queue_least_pages: u32,
    /// Forced consume-queue flush interval (`flushConsumeQueueThoroughInterval`, 60 s).
    pub flush_consume_queue_thorough_interval: Duration,
    /// How long a SYNC_FLUSH put waits before FLUSH_DISK_TIMEOUT (`syncFlushTimeout`, 5 s).
    pub sync_flush_timeout: Duration,
    /// Largest accepted body (`maxMessageSize`, 4 MiB).
    pub max_message_size: usize,
    /// Age after which commit-log files may be deleted (`fileReservedTime`, 72 h).
    pub file_reserved_time: Duration,
    /// Hours (UTC) at which expired files are deleted, `;`-separated (`deleteWhen`, "04").
    pub delete_when: String,
    /// Disk use (percent) above which expired files are deleted at any hour
    /// (`diskMaxUsedSpaceRatio`, 75).
    pub disk_max_used_space_ratio: u32,
    /// Disk use (percent) above which files are deleted even if not expired
    /// (`diskSpaceCleanForciblyRatio`, 85).
    pub disk_space_clean_forcibly_ratio: u32,
    /// Disk use (percent) above which puts are refused (`diskSpaceWarningLevelRatio`, 90).
    pub disk_space_warning_level_ratio: u32,
    /// Files deleted per cleaning round (`deleteCommitLogFilesInterval` batch, 10).
    pub delete_file_batch_max: usize,
    /// How often the cleaning service runs (`cleanResourceInterval`, 10 s).
    pub clean_resource_interval: Duration,
    /// Whether recovery verifies body CRCs (`checkCRCOnRecover`, true).
    pub check_crc_on_recover: bool,
    /// This broker's address, written as STOREHOST and used in offset msgIds.
    pub store_host: SocketAddr,
    /// Bytes per pull when data is cached (`maxTransferBytesOnMessageInMemory`, 256 KiB).
    pub max_transfer_bytes_on_message_in_memory: usize,
    /// Messages per pull when data is cached (`maxTransferCountOnMessageInMemory`, 32).
    pub max_transfer_count_on_message_in_memory: usize,
    /// Maximum results of a key query (`maxMsgsNumBatch`, 64).
    pub max_msgs_num_batch: usize,
    /// Delay levels (`messageDelayLevel`, "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m
    /// 1h 2h").
    pub message_delay_level: String,
    /// The file system (default: real files).
    pub storage: Arc<dyn Storage>,
    /// The time source (default: system clock).
    pub clock: Arc<dyn Clock>,
    /// Disk usage probe for retention (default: `statvfs`).
    pub disk_probe: Arc<dyn DiskUsageProbe>,
    /// Computes the schedule topic's tags code (delivery time); default from the delay levels.
    pub schedule_hook: Option<Arc<dyn ScheduleHook>>,
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("root", &self.root)
            .field("commit_log_file_size", &self.commit_log_file_size)
            .field(
                "consume_queue_units_per_file",
                &self.consume_queue_units_per_file,
            )
            .field("index_hash_slots", &self.index_hash_slots)
            .field("index_max_entries", &self.index_max_entries)
            .field("flush_disk_type", &self.flush_disk_type)
            .field("sync_flush_timeout", &self.sync_flush_timeout)
            .field("file_reserved_time", &self.file_reserved_time)
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

impl StoreConfig {
    /// A builder with upstream's defaults, storing under `root`.
    pub fn builder(root: impl Into<PathBuf>) -> StoreConfigBuilder {
        StoreConfigBuilder {
            config: StoreConfig {
                root: root.into(),
                commit_log_file_size: 1024 * 1024 * 1024,
                consume_queue_units_per_file: 300_000,
                index_hash_slots: 5_000_000,
                index_max_entries: 20_000_000,
                flush_disk_type: FlushDiskType::AsyncFlush,
                flush_interval_commit_log: Duration::from_millis(500),
                flush_commit_log_least_pages: 4,
                flush_commit_log_thorough_interval: Duration::from_secs(10),
                flush_interval_consume_queue: Duration::from_secs(1),
                flush_consume_queue_least_pages: 2,
                flush_consume_queue_thorough_interval: Duration::from_secs(60),
                sync_flush_timeout: Duration::from_secs(5),
                max_message_size: 4 * 1024 * 1024,
                file_reserved_time: Duration::from_secs(72 * 3600),
                delete_when: "04".to_owned(),
                disk_max_used_space_ratio: 75,
                disk_space_clean_forcibly_ratio: 85,
                disk_space_warning_level_ratio: 90,
                delete_file_batch_max: 10,
                clean_resource_interval: Duration::from_secs(10),
                check_crc_on_recover: true,
                store_host: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 10911)),
                max_transfer_bytes_on_message_in_memory: 256 * 1024,
                max_transfer_count_on_message_in_memory: 32,
                max_msgs_num_batch: 64,
                message_delay_level: DelayLevelTable::DEFAULT_LEVELS.to_owned(),
                storage: Arc::new(FileStorage::new()),
                clock: Arc::new(SystemClock),
                disk_probe: Arc::new(StatvfsProbe),
                schedule_hook: None,
            },
        }
    }

    /// `<root>/commitlog`.
    pub fn commit_log_dir(&self) -> PathBuf {
        self.root.join("commitlog")
    }

    /// `<root>/consumequeue`.
    pub fn consume_queue_dir(&self) -> PathBuf {
        self.root.join("consumequeue")
    }

    /// `<root>/index`.
    pub fn index_dir(&self) -> PathBuf {
        self.root.join("index")
    }

    /// `<root>/config`.
    pub fn config_dir(&self) -> PathBuf {
        self.root.join("config")
    }

    /// `<root>/checkpoint`.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.root.join("checkpoint")
    }

    /// `<root>/abort`.
    pub fn abort_path(&self) -> PathBuf {
        self.root.join("abort")
    }

    /// `<root>/lock`.
    pub fn lock_path(&self) -> PathBuf {
        self.root.join("lock")
    }
}

/// Builds a [`StoreConfig`]; each setter documents upstream's default.
#[derive(Debug, Clone)]
pub struct StoreConfigBuilder {
    config: StoreConfig,
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.config.$name = value;
            self
        }
    };
}

impl StoreConfigBuilder {
    setter!(
        /// Commit-log segment size in bytes (default 1 GiB). Small values exercise roll-over.
        commit_log_file_size: u64
    );
    setter!(
        /// Units per consume-queue file (default 300 000).
        consume_queue_units_per_file: u64
    );
    setter!(
        /// Hash slots per index file (default 5 000 000).
        index_hash_slots: u32
    );
    setter!(
        /// Entries per index file (default 20 000 000).
        index_max_entries: u32
    );
    setter!(
        /// Flush mode (default ASYNC_FLUSH).
        flush_disk_type: FlushDiskType
    );
    setter!(
        /// Async flush interval (default 500 ms).
        flush_interval_commit_log: Duration
    );
    setter!(
        /// Minimum dirty pages for an async flush (default 4).
        flush_commit_log_least_pages: u32
    );
    setter!(
        /// Forced full flush interval (default 10 s).
        flush_commit_log_thorough_interval: Duration
    );
    setter!(
        /// Consume-queue/index flush interval (default 1 s).
        flush_interval_consume_queue: Duration
    );
    setter!(
        /// Minimum dirty pages for a consume-queue flush (default 2).
        flush_consume_queue_least_pages: u32
    );
    setter!(
        /// Forced consume-queue flush interval (default 60 s).
        flush_consume_queue_thorough_interval: Duration
    );
    setter!(
        /// SYNC_FLUSH wait limit (default 5 s).
        sync_flush_timeout: Duration
    );
    setter!(
        /// Largest body accepted (default 4 MiB).
        max_message_size: usize
    );
    setter!(
        /// Retention time of commit-log files (default 72 h).
        file_reserved_time: Duration
    );
    setter!(
        /// Deletion hours, `;`-separated, UTC (default "04").
        delete_when: String
    );
    setter!(
        /// Disk-use percent that triggers deletion of expired files at any hour (default 75).
        disk_max_used_space_ratio: u32
    );
    setter!(
        /// Disk-use percent that forces deletion of unexpired files (default 85).
        disk_space_clean_forcibly_ratio: u32
    );
    setter!(
        /// Disk-use percent above which puts are refused (default 90).
        disk_space_warning_level_ratio: u32
    );
    setter!(
        /// Files deleted per cleaning round (default 10).
        delete_file_batch_max: usize
    );
    setter!(
        /// Cleaning service period (default 10 s).
        clean_resource_interval: Duration
    );
    setter!(
        /// Verify body CRCs during recovery (default true).
        check_crc_on_recover: bool
    );
    setter!(
        /// STOREHOST written into records (default 127.0.0.1:10911).
        store_host: SocketAddr
    );
    setter!(
        /// Pull byte limit (default 256 KiB).
        max_transfer_bytes_on_message_in_memory: usize
    );
    setter!(
        /// Pull message-count limit (default 32).
        max_transfer_count_on_message_in_memory: usize
    );
    setter!(
        /// Key query result limit (default 64).
        max_msgs_num_batch: usize
    );
    setter!(
        /// Delay levels (default "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h").
        message_delay_level: String
    );
    setter!(
        /// Storage backend (default real files).
        storage: Arc<dyn Storage>
    );
    setter!(
        /// Clock (default system time).
        clock: Arc<dyn Clock>
    );
    setter!(
        /// Disk usage probe (default `statvfs` of the root).
        disk_probe: Arc<dyn DiskUsageProbe>
    );

    /// Replaces the schedule topic's tags-code computation (default: store time plus the delay
    /// of the message's `DELAY` level).
    pub fn schedule_hook(mut self, hook: Arc<dyn ScheduleHook>) -> Self {
        self.config.schedule_hook = Some(hook);
        self
    }

    /// Validates and returns the configuration; errors name the offending field.
    pub fn build(self) -> StoreResult<StoreConfig> {
        let c = self.config;
        let bad = |field: &'static str, reason: String| Err(StoreError::Config { field, reason });
        if c.commit_log_file_size < 4096 || c.commit_log_file_size > i64::MAX as u64 / 2 {
            return bad(
                "commit_log_file_size",
                format!("{} is outside 4096..2^62", c.commit_log_file_size),
            );
        }
        if c.consume_queue_units_per_file == 0 || c.consume_queue_units_per_file > 1 << 40 {
            return bad(
                "consume_queue_units_per_file",
                format!("{} is outside 1..2^40", c.consume_queue_units_per_file),
            );
        }
        if c.index_hash_slots == 0 || c.index_hash_slots > i32::MAX as u32 {
            return bad("index_hash_slots", "must be in 1..=i32::MAX".into());
        }
        if c.index_max_entries < 2 || c.index_max_entries > i32::MAX as u32 {
            return bad("index_max_entries", "must be in 2..=i32::MAX".into());
        }
        if c.max_message_size == 0 || c.max_message_size > i32::MAX as usize {
            return bad("max_message_size", "must be in 1..=i32::MAX".into());
        }
        for (field, v) in [
            ("disk_max_used_space_ratio", c.disk_max_used_space_ratio),
            (
                "disk_space_clean_forcibly_ratio",
                c.disk_space_clean_forcibly_ratio,
            ),
            (
                "disk_space_warning_level_ratio",
                c.disk_space_warning_level_ratio,
            ),
        ] {
            if !(1..=100).contains(&v) {
                return bad(field, format!("{v} is not a percentage in 1..=100"));
            }
        }
        if super::retention::parse_delete_when(&c.delete_when).is_none() {
            return bad(
                "delete_when",
                format!(
                    "{:?} is not a ;-separated list of hours 0..=23",
                    c.delete_when
                ),
            );
        }
        if DelayLevelTable::parse(&c.message_delay_level).is_none() {
            return bad(
                "message_delay_level",
                format!(
                    "{:?} is not a list like \"1s 5m 2h\"",
                    c.message_delay_level
                ),
            );
        }
        if c.max_transfer_count_on_message_in_memory == 0 {
            return bad(
                "max_transfer_count_on_message_in_memory",
                "must be > 0".into(),
            );
        }
        Ok(c)
    }
}
