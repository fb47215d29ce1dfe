//! Consumer group configs (upstream `SubscriptionGroupManager`), persisted in
//! `config/subscriptionGroup.json`; unknown groups are created on first use when
//! `autoCreateSubscriptionGroup` is on.

use std::sync::{Arc, Mutex, MutexGuard};

use tracing::{error, info};

use crate::store::{
    Clock, ConfigFiles, DataVersion, StoreResult, SubscriptionGroupConfig, SubscriptionGroupTable,
};

#[derive(Debug)]
pub(crate) struct GroupManager {
    table: Mutex<SubscriptionGroupTable>,
    files: ConfigFiles,
    clock: Arc<dyn Clock>,
    auto_create: bool,
}

impl GroupManager {
    pub(crate) fn load(
        files: ConfigFiles,
        clock: Arc<dyn Clock>,
        auto_create: bool,
    ) -> StoreResult<Self> {
        let mut table: SubscriptionGroupTable = files.load()?;
        if table.data_version.timestamp == 0 {
            table.data_version = DataVersion::new(clock.now_millis());
        }
        Ok(GroupManager {
            table: Mutex::new(table),
            files,
            clock,
            auto_create,
        })
    }

    fn lock(&self) -> MutexGuard<'_, SubscriptionGroupTable> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Upstream `findSubscriptionGroupConfig`: the group, created with the defaults when
    /// unknown and auto-creation is on.
    pub(crate) fn find_or_create(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        let mut table = self.lock();
        if let Some(g) = table.subscription_group_table.get(group) {
            return Some(g.clone());
        }
        if !self.auto_create || group.is_empty() {
            return None;
        }
        let config = SubscriptionGroupConfig::new(group);
        table
            .subscription_group_table
            .insert(group.to_owned(), config.clone());
        table.data_version.next_version(self.clock.now_millis());
        info!(group, "subscription group auto-created");
        if let Err(e) = self.files.save(&*table) {
            error!(error = %e, "subscriptionGroup.json could not be written");
        }
        Some(config)
    }

    /// The group's config, if it has one (no auto-creation).
    pub(crate) fn get(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        self.lock().subscription_group_table.get(group).cloned()
    }

    /// The whole table (GET_ALL_SUBSCRIPTIONGROUP_CONFIG).
    pub(crate) fn snapshot(&self) -> SubscriptionGroupTable {
        self.lock().clone()
    }

    /// Creates or replaces a group (upstream `updateSubscriptionGroupConfig`).
    pub(crate) fn upsert(&self, config: SubscriptionGroupConfig) {
        let mut table = self.lock();
        let name = config.group_name.clone();
        let old = table.subscription_group_table.insert(name.clone(), config);
        info!(group = %name, created = old.is_none(), "subscription group updated");
        table.data_version.next_version(self.clock.now_millis());
        if let Err(e) = self.files.save(&*table) {
            error!(error = %e, "subscriptionGroup.json could not be written");
        }
    }

    /// Removes a group (upstream `deleteSubscriptionGroupConfig`); returns whether it
    /// existed.
    pub(crate) fn delete(&self, group: &str) -> bool {
        let mut table = self.lock();
        if table.subscription_group_table.remove(group).is_none() {
            return false;
        }
        table.forbidden_table.remove(group);
        table.data_version.next_version(self.clock.now_millis());
        info!(group, "subscription group deleted");
        if let Err(e) = self.files.save(&*table) {
            error!(error = %e, "subscriptionGroup.json could not be written");
        }
        true
    }

    pub(crate) fn contains(&self, group: &str) -> bool {
        self.lock().subscription_group_table.contains_key(group)
    }

    pub(crate) fn persist(&self) -> StoreResult<()> {
        self.files.save(&*self.lock())
    }
}
