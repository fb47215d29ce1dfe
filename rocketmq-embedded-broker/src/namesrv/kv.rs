//! The name server's key-value config (upstream `KVConfigManager`): namespaces of string
//! pairs that admins put and read. `ORDER_TOPIC_CONFIG` holds each ordered topic's
//! `broker:queues` list, which routes carry as `orderTopicConf` when the name server's
//! `orderMessageEnable` is on and which registration answers return to brokers.
//!
//! Kept in memory: an embedded name server lives as long as its process (upstream writes
//! `kvConfig.json`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use tracing::info;

/// `NamesrvUtil.NAMESPACE_ORDER_TOPIC_CONFIG`.
pub const ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

/// The namespaces. Share it behind an `Arc`.
#[derive(Debug, Default)]
pub struct KvConfig {
    table: RwLock<HashMap<String, BTreeMap<String, String>>>,
}

impl KvConfig {
    /// An empty config.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, BTreeMap<String, String>>> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, BTreeMap<String, String>>> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `value` under `namespace`/`key`, replacing what was there.
    pub fn put(&self, namespace: &str, key: &str, value: &str) {
        let old = self
            .write()
            .entry(namespace.to_owned())
            .or_default()
            .insert(key.to_owned(), value.to_owned());
        info!(namespace, key, value, replaced = ?old, "KV config put");
    }

    /// The value under `namespace`/`key`.
    pub fn get(&self, namespace: &str, key: &str) -> Option<String> {
        self.read().get(namespace)?.get(key).cloned()
    }

    /// Removes `namespace`/`key`; an emptied namespace goes too. Returns whether it existed.
    pub fn delete(&self, namespace: &str, key: &str) -> bool {
        let mut t = self.write();
        let Some(ns) = t.get_mut(namespace) else {
            return false;
        };
        let existed = ns.remove(key).is_some();
        if ns.is_empty() {
            t.remove(namespace);
        }
        if existed {
            info!(namespace, key, "KV config deleted");
        }
        existed
    }

    /// Every pair of a namespace, or `None` when it has none.
    pub fn namespace(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        self.read()
            .get(namespace)
            .filter(|m| !m.is_empty())
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_delete_and_namespaces() {
        let kv = KvConfig::new();
        kv.put(ORDER_TOPIC_CONFIG, "T", "broker-a:4");
        kv.put(ORDER_TOPIC_CONFIG, "T", "broker-a:8");
        assert_eq!(
            kv.get(ORDER_TOPIC_CONFIG, "T").as_deref(),
            Some("broker-a:8")
        );
        assert!(kv.get("other", "T").is_none());
        assert_eq!(kv.namespace(ORDER_TOPIC_CONFIG).unwrap().len(), 1);
        assert!(kv.delete(ORDER_TOPIC_CONFIG, "T"));
        assert!(!kv.delete(ORDER_TOPIC_CONFIG, "T"));
        assert!(kv.namespace(ORDER_TOPIC_CONFIG).is_none());
    }
}
