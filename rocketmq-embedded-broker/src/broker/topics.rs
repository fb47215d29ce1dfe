//! The broker's topic table (upstream `TopicConfigManager`): system topics, the `TBW102`
//! auto-creation template, topics created by sends, retries and admins, persisted in
//! `config/topics.json`.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rocketmq_sdk::protocol::body::register::{self as wire, perm};
use rocketmq_sdk::protocol::header::TopicFilterType;
use tracing::{error, info};

use super::config::BrokerConfig;
use crate::store::{Clock, ConfigFiles, DataVersion, StoreResult, TopicConfig, TopicConfigTable};

/// `TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC`.
pub(crate) const AUTO_CREATE_TOPIC_KEY: &str = "TBW102";
/// Delay-level topic (`SCHEDULE_TOPIC_XXXX`).
pub(crate) const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
/// Queues of the schedule topic (one per delay level).
const SCHEDULE_TOPIC_QUEUE_NUM: i32 = 18;
/// Retry topic prefix (`MixAll.RETRY_GROUP_TOPIC_PREFIX`).
pub(crate) const RETRY_PREFIX: &str = "%RETRY%";
/// Dead-letter topic prefix (`MixAll.DLQ_GROUP_TOPIC_PREFIX`).
pub(crate) const DLQ_PREFIX: &str = "%DLQ%";

/// Topics clients may not send to (`TopicValidator.NOT_ALLOWED_SEND_TOPIC_SET`): the
/// SDK's list, which its producer checks too.
pub(crate) use rocketmq_sdk::protocol::topic::NOT_ALLOWED_SEND_TOPICS;

/// `TopicValidator.validateTopic`: `Err(remark)` with upstream's wording.
pub(crate) fn validate_topic(topic: &str) -> Result<(), String> {
    if topic.trim().is_empty() {
        return Err("The specified topic is blank.".to_owned());
    }
    if !topic
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-'))
    {
        return Err(format!(
            "The specified topic: {topic}, contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
        ));
    }
    if topic.starts_with(RETRY_PREFIX) || topic.starts_with(DLQ_PREFIX) {
        if topic.len() > 255 {
            return Err(format!(
                "The specified topic is DLQ or Retry topic: {topic}, and it's longer than topic max length: 255"
            ));
        }
    } else if topic.len() > 127 {
        return Err(format!(
            "The specified topic: {topic}, is longer than topic max length: 127"
        ));
    }
    Ok(())
}

/// Upstream `TopicValidator.isSystemTopic` plus the topics a broker registers as system
/// topics at start (its cluster and broker name topics): they cannot be deleted.
pub(crate) fn is_system_topic(topic: &str, config: &BrokerConfig) -> bool {
    const SYSTEM: [&str; 9] = [
        AUTO_CREATE_TOPIC_KEY,
        SCHEDULE_TOPIC,
        "BenchmarkTest",
        "RMQ_SYS_TRANS_HALF_TOPIC",
        "RMQ_SYS_TRACE_TOPIC",
        "RMQ_SYS_TRANS_OP_HALF_TOPIC",
        "TRANS_CHECK_MAX_TIME_TOPIC",
        "SELF_TEST_TOPIC",
        "OFFSET_MOVED_EVENT",
    ];
    SYSTEM.contains(&topic)
        || topic.starts_with("rmq_sys_")
        || topic == config.cluster_name
        || topic == config.broker_name
}

/// The retry topic of a consumer group.
pub(crate) fn retry_topic(group: &str) -> String {
    format!("{RETRY_PREFIX}{group}")
}

/// The dead-letter topic of a consumer group.
pub(crate) fn dlq_topic(group: &str) -> String {
    format!("{DLQ_PREFIX}{group}")
}

fn topic(name: &str, queues: i32, perm: i32) -> TopicConfig {
    let mut c = TopicConfig::new(name, queues);
    c.perm = perm;
    c
}

/// Converts to the registration body's shape.
pub(crate) fn to_wire(c: &TopicConfig) -> wire::TopicConfig {
    wire::TopicConfig {
        attributes: c.attributes.clone(),
        order: c.order,
        perm: c.perm,
        read_queue_nums: c.read_queue_nums,
        topic_filter_type: TopicFilterType::from_name(&c.topic_filter_type).unwrap_or_default(),
        topic_name: c.topic_name.clone(),
        topic_sys_flag: c.topic_sys_flag,
        write_queue_nums: c.write_queue_nums,
    }
}

/// The topic table. Changes are persisted at once, like upstream.
#[derive(Debug)]
pub(crate) struct TopicManager {
    table: RwLock<TopicConfigTable>,
    files: ConfigFiles,
    clock: Arc<dyn Clock>,
    auto_create: bool,
}

impl TopicManager {
    /// System topics first, then `topics.json` on top (upstream `init` + `load`).
    pub(crate) fn load(
        files: ConfigFiles,
        clock: Arc<dyn Clock>,
        config: &BrokerConfig,
    ) -> StoreResult<Self> {
        let rw = perm::READ | perm::WRITE;
        let all = perm::INHERIT | rw;
        let mut system = vec![
            topic("SELF_TEST_TOPIC", 1, rw),
            topic(&config.cluster_name, 16, all),
            topic(&config.broker_name, 1, all),
            topic("OFFSET_MOVED_EVENT", 1, rw),
            topic(SCHEDULE_TOPIC, SCHEDULE_TOPIC_QUEUE_NUM, rw),
            topic(&format!("{}_REPLY_TOPIC", config.cluster_name), 1, rw),
            topic("RMQ_SYS_TRANS_HALF_TOPIC", 1, rw),
            topic("RMQ_SYS_TRANS_OP_HALF_TOPIC", 1, rw),
        ];
        if config.auto_create_topic_enable {
            system.push(topic(
                AUTO_CREATE_TOPIC_KEY,
                config.default_topic_queue_nums,
                all,
            ));
        }
        let mut table = TopicConfigTable::default();
        for t in system {
            table.topic_config_table.insert(t.topic_name.clone(), t);
        }
        let stored: TopicConfigTable = files.load()?;
        table.topic_config_table.extend(stored.topic_config_table);
        table.data_version = stored.data_version;
        if table.data_version.timestamp == 0 {
            table.data_version = DataVersion::new(clock.now_millis());
        }
        Ok(TopicManager {
            table: RwLock::new(table),
            files,
            clock,
            auto_create: config.auto_create_topic_enable,
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, TopicConfigTable> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, TopicConfigTable> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn get(&self, topic: &str) -> Option<TopicConfig> {
        self.read().topic_config_table.get(topic).cloned()
    }

    pub(crate) fn contains(&self, topic: &str) -> bool {
        self.read().topic_config_table.contains_key(topic)
    }

    pub(crate) fn all(&self) -> BTreeMap<String, TopicConfig> {
        self.read().topic_config_table.clone()
    }

    pub(crate) fn data_version(&self) -> DataVersion {
        self.read().data_version.clone()
    }

    /// Upstream `createTopicInSendMessageMethod`: a new topic inheriting from
    /// `default_topic` with `min(client_queue_nums, template queues)` queues. Returns the
    /// config and whether it was created now.
    pub(crate) fn create_in_send(
        &self,
        topic: &str,
        default_topic: &str,
        client_queue_nums: i32,
        topic_sys_flag: i32,
    ) -> Option<(TopicConfig, bool)> {
        let mut table = self.write();
        if let Some(existing) = table.topic_config_table.get(topic) {
            return Some((existing.clone(), false));
        }
        let template = table.topic_config_table.get(default_topic)?;
        let mut template_perm = template.perm;
        if default_topic == AUTO_CREATE_TOPIC_KEY && !self.auto_create {
            template_perm = perm::READ | perm::WRITE;
        }
        if template_perm & perm::INHERIT == 0 {
            return None;
        }
        let queues = client_queue_nums.min(template.write_queue_nums).max(0);
        let mut config = TopicConfig::new(topic, queues);
        config.perm = template_perm & !perm::INHERIT;
        config.topic_sys_flag = topic_sys_flag;
        config.topic_filter_type = template.topic_filter_type.clone();
        info!(topic, default_topic, queues, "topic auto-created by a send");
        self.insert_locked(&mut table, config.clone());
        Some((config, true))
    }

    /// Upstream `createTopicInSendMessageBackMethod`: retry and DLQ topics.
    pub(crate) fn create_if_absent(
        &self,
        topic: &str,
        queues: i32,
        perm: i32,
        topic_sys_flag: i32,
    ) -> (TopicConfig, bool) {
        let mut table = self.write();
        if let Some(existing) = table.topic_config_table.get(topic) {
            return (existing.clone(), false);
        }
        let mut config = TopicConfig::new(topic, queues);
        config.perm = perm;
        config.topic_sys_flag = topic_sys_flag;
        self.insert_locked(&mut table, config.clone());
        (config, true)
    }

    /// Creates or replaces a topic (UPDATE_AND_CREATE_TOPIC). Returns whether anything
    /// changed.
    pub(crate) fn upsert(&self, config: TopicConfig) -> bool {
        let mut table = self.write();
        if table.topic_config_table.get(&config.topic_name) == Some(&config) {
            return false;
        }
        self.insert_locked(&mut table, config);
        true
    }

    /// Removes a topic (upstream `deleteTopicConfig`); returns whether it existed.
    pub(crate) fn delete(&self, topic: &str) -> bool {
        let mut table = self.write();
        if table.topic_config_table.remove(topic).is_none() {
            return false;
        }
        table.data_version.next_version(self.clock.now_millis());
        info!(topic, "topic deleted");
        if let Err(e) = self.files.save(&*table) {
            error!(error = %e, "topics.json could not be written");
        }
        true
    }

    fn insert_locked(&self, table: &mut TopicConfigTable, config: TopicConfig) {
        table
            .topic_config_table
            .insert(config.topic_name.clone(), config);
        table.data_version.next_version(self.clock.now_millis());
        if let Err(e) = self.files.save(&*table) {
            error!(error = %e, "topics.json could not be written");
        }
    }

    /// Writes `topics.json`.
    pub(crate) fn persist(&self) -> StoreResult<()> {
        self.files.save(&*self.read())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_validation_matches_upstream() {
        assert!(validate_topic("Topic_A-1|%").is_ok());
        assert!(validate_topic("").unwrap_err().contains("blank"));
        assert!(
            validate_topic("a b")
                .unwrap_err()
                .contains("illegal characters")
        );
        assert!(
            validate_topic(&"t".repeat(128))
                .unwrap_err()
                .contains("127")
        );
        assert!(validate_topic(&format!("%RETRY%{}", "g".repeat(200))).is_ok());
        assert!(validate_topic("héllo").is_err());
    }
}
