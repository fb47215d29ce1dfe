//! The broker's JSON config files under `<root>/config/`, in upstream's shapes, written
//! atomically (upstream `ConfigManager` + `MixAll.string2File`).
//!
//! Write protocol ([`ConfigFiles::save`]): write `<name>.tmp` and sync it; copy the current
//! `<name>` to `<name>.bak` (through `<name>.bak.tmp` + rename, synced); rename `<name>.tmp` over
//! `<name>`; sync the directory. A crash at any point leaves `<name>` either old or new, never
//! half written, and `.bak` holds an earlier good version. Loading reads `<name>`, falls back to
//! `<name>.bak` when the file is missing or does not parse, and to the empty default when
//! neither exists.
//!
//! `consumerOffset.json` and `delayOffset.json` use fastjson's unquoted integer map keys
//! (`{0:12}`), which is not JSON; they are written exactly that way and read with or without
//! quotes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{StoreError, StoreResult};
use super::storage::{Storage, read_exact_at, write_all_at};

/// Largest config file read; protects against reading a damaged or hostile file whole.
const MAX_CONFIG_FILE_LEN: usize = 256 << 20;

/// `topics.json`.
pub const TOPICS_FILE: &str = "topics.json";
/// `subscriptionGroup.json`.
pub const SUBSCRIPTION_GROUP_FILE: &str = "subscriptionGroup.json";
/// `consumerOffset.json`.
pub const CONSUMER_OFFSET_FILE: &str = "consumerOffset.json";
/// `delayOffset.json`.
pub const DELAY_OFFSET_FILE: &str = "delayOffset.json";

/// Version stamp of a config table; bumped on every change so slaves and name servers can tell
/// stale copies apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct DataVersion {
    /// Change counter.
    pub counter: i64,
    /// State version (controller mode; 0 otherwise).
    pub state_version: i64,
    /// Milliseconds of the last change.
    pub timestamp: i64,
}

impl DataVersion {
    /// A version stamped at `timestamp` with counter 0.
    pub fn new(timestamp: i64) -> Self {
        DataVersion {
            counter: 0,
            state_version: 0,
            timestamp,
        }
    }

    /// Records a change made at `now_millis`.
    pub fn next_version(&mut self, now_millis: i64) {
        self.counter += 1;
        self.timestamp = now_millis;
    }
}

/// One topic's configuration (`TopicConfig`); field names and defaults as upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct TopicConfig {
    /// Topic attributes (5.x), e.g. `message.type`.
    pub attributes: BTreeMap<String, String>,
    /// Whether the topic is ordered.
    pub order: bool,
    /// Permission bits: 2 write, 4 read, 1 inherit (default 6).
    pub perm: i32,
    /// Number of readable queues (default 16, the broker's `defaultTopicQueueNums` is 8).
    pub read_queue_nums: i32,
    /// `SINGLE_TAG` or `MULTI_TAG`.
    pub topic_filter_type: String,
    /// Topic name.
    pub topic_name: String,
    /// System flag bits.
    pub topic_sys_flag: i32,
    /// Number of writable queues.
    pub write_queue_nums: i32,
    /// Fields this store does not model, kept so a round trip loses nothing.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TopicConfig {
    /// A topic with `queues` read and write queues and upstream's other defaults.
    pub fn new(name: impl Into<String>, queues: i32) -> Self {
        TopicConfig {
            topic_name: name.into(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            ..Self::default()
        }
    }
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            attributes: BTreeMap::new(),
            order: false,
            perm: 6,
            read_queue_nums: 16,
            topic_filter_type: "SINGLE_TAG".to_owned(),
            topic_name: String::new(),
            topic_sys_flag: 0,
            write_queue_nums: 16,
            extra: Map::new(),
        }
    }
}

/// `topics.json` (`TopicConfigSerializeWrapper`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct TopicConfigTable {
    /// Version of the table.
    pub data_version: DataVersion,
    /// Topic name → config.
    pub topic_config_table: BTreeMap<String, TopicConfig>,
    /// Fields this store does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One consumer group's configuration (`SubscriptionGroupConfig`), defaults as upstream:
/// the SDK's wire type, so the file and the admin requests read it the same lenient way.
pub use rocketmq_sdk::protocol::body::SubscriptionGroupConfig;

/// `subscriptionGroup.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct SubscriptionGroupTable {
    /// Group name → config.
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
    /// Group → topic → forbidden permission bits.
    pub forbidden_table: BTreeMap<String, BTreeMap<String, i32>>,
    /// Version of the table.
    pub data_version: DataVersion,
    /// Fields this store does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `consumerOffset.json`: `topic@group` → queue id → next offset to consume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerOffsetTable {
    /// Key `topic@group`, then queue id → offset.
    pub offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
}

/// `delayOffset.json`: delay level → next offset in `SCHEDULE_TOPIC_XXXX` queue `level - 1`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DelayOffsetTable {
    /// Delay level → offset.
    pub offset_table: BTreeMap<i32, i64>,
    /// Version of the table.
    pub data_version: DataVersion,
}

/// A document stored as one config file.
pub trait ConfigDocument: Sized {
    /// File name under the config directory.
    const FILE_NAME: &'static str;
    /// Serializes in upstream's shape.
    fn encode(&self) -> String;
    /// Parses upstream's shape; an error string on malformed input.
    ///
    /// # Errors
    /// A description of what is malformed in `text`.
    fn decode(text: &str) -> Result<Self, String>;
}

fn serde_encode<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".to_owned())
}

impl ConfigDocument for TopicConfigTable {
    const FILE_NAME: &'static str = TOPICS_FILE;
    fn encode(&self) -> String {
        serde_encode(self)
    }
    fn decode(text: &str) -> Result<Self, String> {
        serde_json::from_str(&quote_integer_keys(text)).map_err(|e| e.to_string())
    }
}

impl ConfigDocument for SubscriptionGroupTable {
    const FILE_NAME: &'static str = SUBSCRIPTION_GROUP_FILE;
    fn encode(&self) -> String {
        serde_encode(self)
    }
    fn decode(text: &str) -> Result<Self, String> {
        serde_json::from_str(&quote_integer_keys(text)).map_err(|e| e.to_string())
    }
}

fn int_key_map<V: std::fmt::Display>(out: &mut String, m: &BTreeMap<i32, V>) {
    out.push('{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("{k}:{v}"));
    }
    out.push('}');
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

impl ConfigDocument for ConsumerOffsetTable {
    const FILE_NAME: &'static str = CONSUMER_OFFSET_FILE;
    fn encode(&self) -> String {
        let mut out = String::from("{\"offsetTable\":{");
        for (i, (k, m)) in self.offset_table.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&json_string(k));
            out.push(':');
            int_key_map(&mut out, m);
        }
        out.push_str("}}");
        out
    }
    fn decode(text: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw {
            #[serde(default)]
            offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
        }
        let raw: Raw =
            serde_json::from_str(&quote_integer_keys(text)).map_err(|e| e.to_string())?;
        Ok(ConsumerOffsetTable {
            offset_table: raw.offset_table,
        })
    }
}

impl ConfigDocument for DelayOffsetTable {
    const FILE_NAME: &'static str = DELAY_OFFSET_FILE;
    fn encode(&self) -> String {
        let mut out = String::from("{\"offsetTable\":");
        int_key_map(&mut out, &self.offset_table);
        out.push_str(",\"dataVersion\":");
        out.push_str(&serde_json::to_string(&self.data_version).unwrap_or_else(|_| "{}".into()));
        out.push('}');
        out
    }
    fn decode(text: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw {
            #[serde(default)]
            offset_table: BTreeMap<i32, i64>,
            #[serde(default)]
            data_version: DataVersion,
        }
        let raw: Raw =
            serde_json::from_str(&quote_integer_keys(text)).map_err(|e| e.to_string())?;
        Ok(DelayOffsetTable {
            offset_table: raw.offset_table,
            data_version: raw.data_version,
        })
    }
}

/// Turns fastjson's unquoted integer object keys (`{0:12,-1:3}`) into JSON (`{"0":12,"-1":3}`);
/// leaves strings and everything else untouched.
pub(crate) fn quote_integer_keys(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    let mut i = 0;
    let mut in_string = false;
    // Whether the next non-blank token would be an object key.
    let mut expect_key = false;
    let mut stack: Vec<u8> = Vec::new();
    while i < b.len() {
        let c = b[i];
        if in_string {
            out.push(c as char);
            if c == b'\\' && i + 1 < b.len() {
                out.push(b[i + 1] as char);
                i += 2;
                continue;
            }
            if c == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                in_string = true;
                expect_key = false;
                out.push('"');
                i += 1;
            }
            b'{' => {
                stack.push(b'{');
                expect_key = true;
                out.push('{');
                i += 1;
            }
            b'[' => {
                stack.push(b'[');
                expect_key = false;
                out.push('[');
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
                out.push(c as char);
                i += 1;
            }
            b',' => {
                expect_key = stack.last() == Some(&b'{');
                out.push(',');
                i += 1;
            }
            b'-' | b'0'..=b'9' if expect_key => {
                let start = i;
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                out.push('"');
                out.push_str(&text[start..i]);
                out.push('"');
                expect_key = false;
            }
            c if c.is_ascii_whitespace() => {
                out.push(c as char);
                i += 1;
            }
            _ => {
                expect_key = false;
                // Copy one UTF-8 character.
                let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&text[i..i + ch_len]);
                i += ch_len;
            }
        }
    }
    out
}

/// Reads and writes config documents under one directory, atomically.
#[derive(Debug, Clone)]
pub struct ConfigFiles {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
}

impl ConfigFiles {
    /// Config files under `dir` (normally `<store root>/config`).
    pub fn new(storage: Arc<dyn Storage>, dir: impl Into<PathBuf>) -> Self {
        ConfigFiles {
            storage,
            dir: dir.into(),
        }
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn read_text(&self, path: &Path) -> StoreResult<Option<String>> {
        let file = match self.storage.open_file(path, false) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(path, e)),
        };
        let len = file.len().map_err(|e| StoreError::io(path, e))?;
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= MAX_CONFIG_FILE_LEN)
            .ok_or_else(|| StoreError::ConfigFile {
                path: path.to_path_buf(),
                reason: format!("{len} bytes is larger than the {MAX_CONFIG_FILE_LEN}-byte limit"),
            })?;
        let mut buf = vec![0u8; len];
        read_exact_at(file.as_ref(), &mut buf, 0).map_err(|e| StoreError::io(path, e))?;
        String::from_utf8(buf)
            .map(Some)
            .map_err(|_| StoreError::ConfigFile {
                path: path.to_path_buf(),
                reason: "not UTF-8".into(),
            })
    }

    fn write_synced(&self, path: &Path, bytes: &[u8]) -> StoreResult<()> {
        let file = self
            .storage
            .open_file(path, true)
            .map_err(|e| StoreError::io(path, e))?;
        file.set_len(0).map_err(|e| StoreError::io(path, e))?;
        write_all_at(file.as_ref(), bytes, 0).map_err(|e| StoreError::io(path, e))?;
        file.sync_data().map_err(|e| StoreError::io(path, e))
    }

    fn path_of(&self, name: &str, suffix: &str) -> PathBuf {
        self.dir.join(format!("{name}{suffix}"))
    }

    /// Loads a document: the file, else its `.bak`, else the default. Fails only when a file
    /// exists but neither it nor the backup parses.
    pub fn load<T: ConfigDocument + Default>(&self) -> StoreResult<T> {
        let main = self.path_of(T::FILE_NAME, "");
        let bak = self.path_of(T::FILE_NAME, ".bak");
        let main_err = match self.read_text(&main) {
            Ok(Some(text)) => match T::decode(&text) {
                Ok(v) => return Ok(v),
                Err(e) => Some(e),
            },
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        };
        if let Some(e) = &main_err {
            tracing::warn!(file = %main.display(), error = %e, "config file unreadable, trying .bak");
        }
        match self.read_text(&bak)? {
            Some(text) => T::decode(&text).map_err(|e| StoreError::ConfigFile {
                path: bak.clone(),
                reason: match &main_err {
                    Some(m) => format!("{e} (and {}: {m})", main.display()),
                    None => e,
                },
            }),
            None => match main_err {
                Some(reason) => Err(StoreError::ConfigFile { path: main, reason }),
                None => Ok(T::default()),
            },
        }
    }

    /// Saves a document atomically, keeping the previous version as `.bak`.
    pub fn save<T: ConfigDocument>(&self, doc: &T) -> StoreResult<()> {
        super::storage::create_dir_durable(self.storage.as_ref(), &self.dir)
            .map_err(|e| StoreError::io(&self.dir, e))?;
        let main = self.path_of(T::FILE_NAME, "");
        let tmp = self.path_of(T::FILE_NAME, ".tmp");
        let bak = self.path_of(T::FILE_NAME, ".bak");
        let bak_tmp = self.path_of(T::FILE_NAME, ".bak.tmp");
        self.write_synced(&tmp, doc.encode().as_bytes())?;
        if let Some(prev) = self.read_text(&main)? {
            self.write_synced(&bak_tmp, prev.as_bytes())?;
            self.storage
                .rename(&bak_tmp, &bak)
                .map_err(|e| StoreError::io(&bak, e))?;
        }
        self.storage
            .rename(&tmp, &main)
            .map_err(|e| StoreError::io(&main, e))?;
        self.storage
            .sync_dir(&self.dir)
            .map_err(|e| StoreError::io(&self.dir, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_integer_keys() {
        let t = r#"{"offsetTable":{"T@g":{0:12, 1 :7,-1:3},"a:{1:2}":{}}, "x":[1,2]}"#;
        let q = quote_integer_keys(t);
        assert_eq!(
            q,
            r#"{"offsetTable":{"T@g":{"0":12, "1" :7,"-1":3},"a:{1:2}":{}}, "x":[1,2]}"#
        );
    }

    #[test]
    fn consumer_offsets_use_unquoted_keys() {
        let mut t = ConsumerOffsetTable::default();
        t.offset_table
            .entry("T@group".into())
            .or_default()
            .extend([(0, 12), (1, 7)]);
        assert_eq!(t.encode(), r#"{"offsetTable":{"T@group":{0:12,1:7}}}"#);
        assert_eq!(ConsumerOffsetTable::decode(&t.encode()).unwrap(), t);
        let quoted = r#"{"offsetTable":{"T@group":{"0":12,"1":7}}}"#;
        assert_eq!(ConsumerOffsetTable::decode(quoted).unwrap(), t);
    }
}
