//! Message filters beyond tags: SQL92 selectors over message properties ([`sql`]), which
//! the broker applies to pulls of `SQL92` subscriptions when property filtering is on
//! (`EmbeddedBrokerBuilder::property_filter`, upstream `enablePropertyFilter`).

pub mod sql;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rocketmq_sdk::protocol::message::RecordView;

use crate::store::MessageFilter;
use sql::{SqlError, SqlSelector};

/// How many distinct expressions the broker keeps compiled. Subscriptions are few; the
/// bound only stops clients that keep sending new expressions from growing the map (at
/// most this many times [`sql::MAX_EXPRESSION_LEN`] of source).
const CACHE_CAPACITY: usize = 256;

/// Compiled selectors by expression text, shared by heartbeats (which compile new
/// subscriptions) and pulls (which use them), as upstream's `ConsumerFilterManager` keeps
/// compiled filter data per group and topic.
#[derive(Debug, Default)]
pub(crate) struct SelectorCache {
    compiled: Mutex<HashMap<String, Arc<Result<SqlSelector, SqlError>>>>,
}

impl SelectorCache {
    /// The compiled form of `expression`, compiling it on first use.
    pub(crate) fn get(&self, expression: &str) -> Arc<Result<SqlSelector, SqlError>> {
        self.lookup(expression).0
    }

    /// As [`SelectorCache::get`], and whether this call compiled it (so callers report a
    /// bad expression once, not on every heartbeat).
    pub(crate) fn lookup(&self, expression: &str) -> (Arc<Result<SqlSelector, SqlError>>, bool) {
        let mut map = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = map.get(expression) {
            return (found.clone(), false);
        }
        if map.len() >= CACHE_CAPACITY {
            map.clear();
        }
        let compiled = Arc::new(SqlSelector::parse(expression));
        map.insert(expression.to_owned(), compiled.clone());
        (compiled, true)
    }
}

/// The filter of a pull with an SQL92 subscription: every consume-queue unit may match
/// (upstream narrows with a bloom filter of the tags code; this store does not keep one),
/// then the record's properties decide.
pub(crate) struct SqlRecordFilter {
    pub(crate) selector: Arc<Result<SqlSelector, SqlError>>,
}

impl MessageFilter for SqlRecordFilter {
    fn matches_tags_code(&self, _tags_code: i64) -> bool {
        true
    }

    fn matches_record(&self, record: &RecordView<'_>) -> bool {
        match self.selector.as_ref() {
            Ok(s) => s.matches(record),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_compiles_once_and_stays_bounded() {
        let cache = SelectorCache::default();
        let (first, fresh) = cache.lookup("a = 1");
        assert!(fresh && first.is_ok());
        let (again, fresh) = cache.lookup("a = 1");
        assert!(!fresh);
        assert!(Arc::ptr_eq(&first, &again));
        let (bad, fresh) = cache.lookup("a = ");
        assert!(fresh && bad.is_err());
        assert!(!cache.lookup("a = ").1, "errors are cached too");
        for i in 0..CACHE_CAPACITY * 2 {
            cache.get(&format!("a = {i}"));
        }
        let len = cache.compiled.lock().unwrap().len();
        assert!(len <= CACHE_CAPACITY, "{len}");
    }
}
