//! REGISTER_BROKER body (`RegisterBrokerBody`), in its plain JSON and zlib-compressed
//! forms, with `TopicConfig`, `TopicConfigSerializeWrapper` and `DataVersion`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use serde::{Deserialize, Serialize};

use super::lenient::{null_default, scalar};
use super::{JsonBody, fastjson};
use crate::protocol::ProtocolError;
use crate::protocol::header::TopicFilterType;

/// Largest inflated compressed body accepted: far above any real broker's topic table,
/// low enough that a zlib bomb cannot exhaust memory.
pub const MAX_INFLATED_SIZE: usize = 64 * 1024 * 1024;

/// A version stamp of a broker's topic (or mapping) table (`DataVersion`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataVersion {
    /// Change counter.
    #[serde(default, deserialize_with = "scalar")]
    pub counter: i64,
    /// State version (controller mode).
    #[serde(default, deserialize_with = "scalar")]
    pub state_version: i64,
    /// Time of the last change, ms.
    #[serde(default, deserialize_with = "scalar")]
    pub timestamp: i64,
}

/// Like Java's constructor: counter 0, timestamp now.
impl Default for DataVersion {
    fn default() -> Self {
        DataVersion {
            counter: 0,
            state_version: 0,
            timestamp: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        }
    }
}

impl JsonBody for DataVersion {
    const WHAT: &'static str = "DataVersion";
}

/// Permission bits (`PermName`).
pub mod perm {
    /// Priority (legacy).
    pub const PRIORITY: i32 = 8;
    /// Readable.
    pub const READ: i32 = 4;
    /// Writable.
    pub const WRITE: i32 = 2;
    /// Inherit (legacy).
    pub const INHERIT: i32 = 1;
}

/// A topic's configuration on a broker (`TopicConfig`). Defaults are upstream's:
/// 16 read and write queues, read-write permission, `SINGLE_TAG`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicConfig {
    /// Topic attributes (5.x), e.g. `message.type`.
    #[serde(default, deserialize_with = "null_default")]
    pub attributes: BTreeMap<String, String>,
    /// Whether the topic is ordered.
    #[serde(default, deserialize_with = "scalar")]
    pub order: bool,
    /// Permission bits ([`perm`]).
    #[serde(default = "default_perm")]
    pub perm: i32,
    /// Readable queue count.
    #[serde(default = "default_queue_nums")]
    pub read_queue_nums: i32,
    /// Tag filter type.
    #[serde(default, deserialize_with = "null_default")]
    pub topic_filter_type: TopicFilterType,
    /// Topic name.
    #[serde(default, deserialize_with = "scalar")]
    pub topic_name: String,
    /// Topic sysFlag.
    #[serde(default, deserialize_with = "scalar")]
    pub topic_sys_flag: i32,
    /// Writable queue count.
    #[serde(default = "default_queue_nums")]
    pub write_queue_nums: i32,
}

fn default_perm() -> i32 {
    perm::READ | perm::WRITE
}

fn default_queue_nums() -> i32 {
    16
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            attributes: BTreeMap::new(),
            order: false,
            perm: default_perm(),
            read_queue_nums: default_queue_nums(),
            topic_filter_type: TopicFilterType::SingleTag,
            topic_name: String::new(),
            topic_sys_flag: 0,
            write_queue_nums: default_queue_nums(),
        }
    }
}

impl TopicConfig {
    /// A topic with upstream defaults.
    pub fn new(topic_name: impl Into<String>) -> Self {
        TopicConfig {
            topic_name: topic_name.into(),
            ..TopicConfig::default()
        }
    }

    /// The compact line used in compressed registrations (`TopicConfig.encode`):
    /// `name readQ writeQ perm filterType attributesJson`. `order` and `topicSysFlag` are
    /// not part of it.
    pub fn encode_line(&self) -> String {
        let attrs = fastjson::to_vec(&self.attributes)
            .ok()
            .and_then(|v| String::from_utf8(v).ok())
            .unwrap_or_else(|| "{}".to_owned());
        format!(
            "{} {} {} {} {} {}",
            self.topic_name,
            self.read_queue_nums,
            self.write_queue_nums,
            self.perm,
            self.topic_filter_type.name(),
            attrs
        )
    }

    /// Parses [`TopicConfig::encode_line`] output like `TopicConfig.decode`: at least five
    /// space-separated parts; unparsable attributes are ignored, as upstream.
    ///
    /// # Errors
    /// [`ProtocolError`] when the line has fewer than five
    /// parts or a number does not parse.
    pub fn decode_line(line: &str) -> Result<Self, ProtocolError> {
        let mut parts: Vec<&str> = line.split(' ').collect();
        // Java's `split` drops trailing empty strings.
        while parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        if parts.len() < 5 {
            return Err(ProtocolError::InvalidField {
                field: "topicConfig",
                value: line.to_owned(),
            });
        }
        let int = |field: &'static str, s: &str| {
            s.parse::<i32>().map_err(|_| ProtocolError::InvalidField {
                field,
                value: s.to_owned(),
            })
        };
        let mut config = TopicConfig {
            topic_name: parts[0].to_owned(),
            read_queue_nums: int("readQueueNums", parts[1])?,
            write_queue_nums: int("writeQueueNums", parts[2])?,
            perm: int("perm", parts[3])?,
            topic_filter_type: TopicFilterType::from_name(parts[4]).ok_or_else(|| {
                ProtocolError::InvalidField {
                    field: "topicFilterType",
                    value: parts[4].to_owned(),
                }
            })?,
            ..TopicConfig::default()
        };
        if let Some(Ok(map)) = parts.get(5).map(|attrs| {
            fastjson::from_slice::<BTreeMap<String, String>>(attrs.as_bytes(), "attributes")
        }) {
            config.attributes = map;
        }
        Ok(config)
    }
}

/// A broker's topic table with its version (`TopicConfigAndMappingSerializeWrapper`;
/// the mapping fields are 5.x static-topic data, kept as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicConfigSerializeWrapper {
    /// Version of the topic table.
    #[serde(default, deserialize_with = "null_default")]
    pub data_version: DataVersion,
    /// Version of the mapping tables (5.x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping_data_version: Option<DataVersion>,
    /// Topic name → config.
    #[serde(default, deserialize_with = "null_default")]
    pub topic_config_table: BTreeMap<String, TopicConfig>,
    /// Topic → `TopicQueueMappingDetail` (5.x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_detail_map: Option<BTreeMap<String, serde_json::Value>>,
    /// Topic → `TopicQueueMappingInfo` (5.x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_info_map: Option<BTreeMap<String, serde_json::Value>>,
}

impl JsonBody for TopicConfigSerializeWrapper {
    const WHAT: &'static str = "TopicConfigSerializeWrapper";
}

/// The REGISTER_BROKER body.
///
/// The header's `compressed` flag selects the form: plain JSON ([`JsonBody`]) or the
/// zlib stream of [`RegisterBrokerBody::encode_compressed`]. The compressed form carries
/// only what `TopicConfig.encode` writes (no `order`, `topicSysFlag`), the filter servers
/// and the mapping infos; it drops the mapping details and their version.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterBrokerBody {
    /// Filter server addresses (legacy).
    #[serde(default, deserialize_with = "null_default")]
    pub filter_server_list: Vec<String>,
    /// Topic table.
    #[serde(default, deserialize_with = "null_default")]
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

impl JsonBody for RegisterBrokerBody {
    const WHAT: &'static str = "RegisterBrokerBody";
}

fn put_block(out: &mut Vec<u8>, data: &[u8]) -> Result<(), ProtocolError> {
    let len = i32::try_from(data.len()).map_err(|_| ProtocolError::TooLarge {
        what: "RegisterBrokerBody block",
        len: data.len(),
        max: i32::MAX as usize,
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
    Ok(())
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn int(&mut self) -> Result<i32, ProtocolError> {
        let bytes = self
            .data
            .get(self.pos..self.pos + 4)
            .ok_or(ProtocolError::Truncated {
                what: "compressed RegisterBrokerBody",
                needed: 4,
            })?;
        self.pos += 4;
        Ok(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn block(&mut self) -> Result<&'a [u8], ProtocolError> {
        let len = self.int()?;
        let len = usize::try_from(len).map_err(|_| ProtocolError::BadLength {
            what: "compressed RegisterBrokerBody",
            detail: format!("negative block length {len}"),
        })?;
        let remaining = self.data.len() - self.pos;
        if len > remaining {
            return Err(ProtocolError::Truncated {
                what: "compressed RegisterBrokerBody",
                needed: len - remaining,
            });
        }
        let block = &self.data[self.pos..self.pos + len];
        self.pos += len;
        Ok(block)
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }
}

impl RegisterBrokerBody {
    /// Encodes in the form the header's `compressed` flag announces.
    ///
    /// # Errors
    /// [`ProtocolError`] when the body cannot be encoded.
    pub fn to_bytes(&self, compressed: bool) -> Result<Vec<u8>, ProtocolError> {
        if compressed {
            self.encode_compressed()
        } else {
            self.encode()
        }
    }

    /// Decodes the form the header's `compressed` flag announces.
    ///
    /// # Errors
    /// [`ProtocolError`] when the bytes are not a body of
    /// the announced form.
    pub fn from_bytes(bytes: &[u8], compressed: bool) -> Result<Self, ProtocolError> {
        if compressed {
            Self::decode_compressed(bytes)
        } else {
            Self::decode(bytes)
        }
    }

    /// The compressed form (`RegisterBrokerBody.encode(true)`, 5.x layout): a zlib stream
    /// of length-prefixed (big-endian int32) blocks: the DataVersion JSON, the topic
    /// count and one [`TopicConfig::encode_line`] per topic, the filter server list JSON,
    /// then the mapping info count and one JSON per mapping info.
    ///
    /// # Errors
    /// [`ProtocolError`] when a part cannot be encoded or
    /// compressed.
    pub fn encode_compressed(&self) -> Result<Vec<u8>, ProtocolError> {
        let wrapper = &self.topic_config_serialize_wrapper;
        let mut raw = Vec::new();
        put_block(&mut raw, &fastjson::to_vec(&wrapper.data_version)?)?;
        let count = i32::try_from(wrapper.topic_config_table.len()).unwrap_or(i32::MAX);
        raw.extend_from_slice(&count.to_be_bytes());
        for config in wrapper.topic_config_table.values().take(count as usize) {
            put_block(&mut raw, config.encode_line().as_bytes())?;
        }
        put_block(&mut raw, &fastjson::to_vec(&self.filter_server_list)?)?;
        let empty = BTreeMap::new();
        let infos = wrapper
            .topic_queue_mapping_info_map
            .as_ref()
            .unwrap_or(&empty);
        let count = i32::try_from(infos.len()).unwrap_or(i32::MAX);
        raw.extend_from_slice(&count.to_be_bytes());
        for info in infos.values().take(count as usize) {
            put_block(&mut raw, &fastjson::to_vec(info)?)?;
        }
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::best());
        enc.write_all(&raw)?;
        Ok(enc.finish()?)
    }

    /// Decodes the compressed form. The mapping section (5.x) is read when present; a
    /// 4.x broker's stream simply ends after the filter servers. Mapping infos are keyed
    /// by their `topic` field, as upstream.
    ///
    /// # Errors
    /// [`ProtocolError`] for a corrupt zlib stream, a
    /// truncated block or a block that does not decode.
    pub fn decode_compressed(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let mut raw = Vec::new();
        ZlibDecoder::new(bytes)
            .take(MAX_INFLATED_SIZE as u64 + 1)
            .read_to_end(&mut raw)
            .map_err(|e| ProtocolError::Decompress(e.to_string()))?;
        if raw.len() > MAX_INFLATED_SIZE {
            return Err(ProtocolError::TooLarge {
                what: "inflated RegisterBrokerBody",
                len: raw.len(),
                max: MAX_INFLATED_SIZE,
            });
        }
        let mut cur = Cursor { data: &raw, pos: 0 };
        let data_version: DataVersion = fastjson::from_slice(cur.block()?, "DataVersion")?;
        let mut topic_config_table = BTreeMap::new();
        let count = cur.int()?;
        for _ in 0..count.max(0) {
            let line = std::str::from_utf8(cur.block()?)
                .map_err(|_| ProtocolError::Utf8("TopicConfig line"))?;
            let config = TopicConfig::decode_line(line)?;
            topic_config_table.insert(config.topic_name.clone(), config);
        }
        let filter_server_list: Vec<String> =
            fastjson::from_slice(cur.block()?, "filterServerList")?;
        let mut infos = None;
        if !cur.is_empty() {
            let mut map = BTreeMap::new();
            let count = cur.int()?;
            for _ in 0..count.max(0) {
                let info: serde_json::Value =
                    fastjson::from_slice(cur.block()?, "TopicQueueMappingInfo")?;
                let topic = info
                    .get("topic")
                    .and_then(serde_json::Value::as_str)
                    .ok_or(ProtocolError::MissingField("topic"))?
                    .to_owned();
                map.insert(topic, info);
            }
            infos = Some(map);
        }
        Ok(RegisterBrokerBody {
            filter_server_list,
            topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
                data_version,
                mapping_data_version: None,
                topic_config_table,
                topic_queue_mapping_detail_map: None,
                topic_queue_mapping_info_map: infos,
            },
        })
    }
}
