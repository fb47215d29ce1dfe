//! `RemotingCommand`: the unit exchanged on a remoting connection, independent of its
//! serialized form (`RemotingCommand.java`).

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;

use super::code::{RequestCode, ResponseCode};

/// Bit 0 of `flag`: the command is a response.
pub const FLAG_RESPONSE: i32 = 1;
/// Bit 1 of `flag`: the request is oneway and gets no response.
pub const FLAG_ONEWAY: i32 = 1 << 1;

/// `MQVersion.Version` ordinals that matter on the wire.
pub mod version {
    /// V4_5_2, what the Go client sends.
    pub const V4_5_2: i16 = 317;
    /// V4_9_3: last version whose ACL signature includes `_UNIQUE_KEY_QUERY`.
    pub const V4_9_3: i16 = 399;
    /// V4_9_4: first version that receives standard-JSON routes from the name server.
    pub const V4_9_4: i16 = 401;
    /// V5_0_0.
    pub const V5_0_0: i16 = 413;
    /// V5_3_1.
    pub const V5_3_1: i16 = 475;
    /// V5_3_3, the current upstream version; what this crate announces.
    pub const V5_3_3: i16 = 479;
    /// The version this crate puts on every command it writes.
    pub const CURRENT: i16 = V5_3_3;
}

/// How a frame's header is serialized (top byte of the header-length word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SerializeType {
    /// fastjson-compatible JSON header (type 0), the upstream default.
    #[default]
    Json,
    /// Compact binary header (type 1, `RocketMQSerializable`).
    RocketMq,
}

impl SerializeType {
    /// The wire byte.
    pub fn to_byte(self) -> u8 {
        match self {
            SerializeType::Json => 0,
            SerializeType::RocketMq => 1,
        }
    }

    /// Parses the wire byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(SerializeType::Json),
            1 => Some(SerializeType::RocketMq),
            _ => None,
        }
    }

    /// The name used in `serializeTypeCurrentRPC`.
    pub fn name(self) -> &'static str {
        match self {
            SerializeType::Json => "JSON",
            SerializeType::RocketMq => "ROCKETMQ",
        }
    }
}

/// `LanguageCode`: the sender's implementation language. Unknown values are kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct LanguageCode(pub u8);

impl LanguageCode {
    /// Java.
    pub const JAVA: LanguageCode = LanguageCode(0);
    /// C++.
    pub const CPP: LanguageCode = LanguageCode(1);
    /// .NET.
    pub const DOTNET: LanguageCode = LanguageCode(2);
    /// Python.
    pub const PYTHON: LanguageCode = LanguageCode(3);
    /// Delphi.
    pub const DELPHI: LanguageCode = LanguageCode(4);
    /// Erlang.
    pub const ERLANG: LanguageCode = LanguageCode(5);
    /// Ruby.
    pub const RUBY: LanguageCode = LanguageCode(6);
    /// Other.
    pub const OTHER: LanguageCode = LanguageCode(7);
    /// HTTP.
    pub const HTTP: LanguageCode = LanguageCode(8);
    /// Go.
    pub const GO: LanguageCode = LanguageCode(9);
    /// PHP.
    pub const PHP: LanguageCode = LanguageCode(10);
    /// OMS.
    pub const OMS: LanguageCode = LanguageCode(11);
    /// Rust (since 4.9.4).
    pub const RUST: LanguageCode = LanguageCode(12);
    /// Node.js (recent 5.x).
    pub const NODE_JS: LanguageCode = LanguageCode(13);

    const NAMES: [&'static str; 14] = [
        "JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO",
        "PHP", "OMS", "RUST", "NODE_JS",
    ];

    /// The enum name as written in JSON headers, if known.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES.get(self.0 as usize).copied()
    }

    /// Parses an enum name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| LanguageCode(i as u8))
    }
}

impl fmt::Debug for LanguageCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "LanguageCode({})", self.0),
        }
    }
}

/// The custom header of a command: string keys to string values, in insertion order.
///
/// Java keeps them in a `HashMap`, so order carries no meaning; we keep insertion order
/// so that what we write is deterministic. Inserting an existing key replaces its value
/// (the Java "last one wins" rule for duplicate keys on the binary form).
#[derive(Default)]
pub struct ExtFields {
    /// Keys with the byte range of their value in `values`.
    entries: Vec<(Cow<'static, str>, usize, usize)>,
    /// Every value back to back. One buffer instead of a `String` per value: a send request
    /// carries 14 values and is decoded, cloned or encoded several times per message, and
    /// those allocations were the biggest single cost of the produce path under callgrind.
    /// A replaced or removed value leaves its bytes behind until the map is dropped.
    values: String,
}

/// Key equality with the cheap checks first: most keys are one or two letters, for which
/// a `memcmp` call cost more than the comparison (profiled: 150 calls per sent message).
fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.first() == b.first() && a == b
}

impl Clone for ExtFields {
    fn clone(&self) -> Self {
        // Room for a couple more values: a prepared send header gets its queue and broker
        // set on every clone.
        let mut entries = Vec::with_capacity(self.entries.len() + 2);
        entries.extend(self.entries.iter().cloned());
        let mut values = String::with_capacity(self.values.len() + 64);
        values.push_str(&self.values);
        ExtFields { entries, values }
    }
}

impl PartialEq for ExtFields {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for ExtFields {}

impl ExtFields {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty map with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        ExtFields {
            entries: Vec::with_capacity(n),
            values: String::with_capacity(n * 16),
        }
    }

    /// Sets `key` to `value`, replacing an existing value.
    pub fn insert(&mut self, key: impl Into<Cow<'static, str>>, value: impl Into<String>) {
        let value = value.into();
        self.insert_str(key, &value);
    }

    /// Sets `key` to a copy of `value`, replacing an existing value; unlike
    /// [`insert`](Self::insert) it never allocates a `String` for the value.
    pub fn insert_str(&mut self, key: impl Into<Cow<'static, str>>, value: &str) {
        self.insert_with(key, |out| out.push_str(value));
    }

    /// Sets `key` to what `write` appends to the buffer it is given.
    pub(crate) fn insert_with(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        write: impl FnOnce(&mut String),
    ) {
        let key = key.into();
        let start = self.values.len();
        write(&mut self.values);
        let end = self.values.len();
        if let Some(slot) = self.entries.iter_mut().find(|(k, _, _)| same_key(k, &key)) {
            slot.1 = start;
            slot.2 = end;
        } else {
            self.entries.push((key, start, end));
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _, _)| same_key(k, key))
            .map(|(_, a, b)| &self.values[*a..*b])
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let pos = self.entries.iter().position(|(k, _, _)| same_key(k, key))?;
        let (_, a, b) = self.entries.remove(pos);
        Some(self.values[a..b].to_owned())
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|(k, a, b)| (k.as_ref(), &self.values[*a..*b]))
    }
}

impl fmt::Debug for ExtFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<Cow<'static, str>>, V: Into<String>> FromIterator<(K, V)> for ExtFields {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        let mut m = ExtFields::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

/// One remoting command: a request or a response, with its custom header and body.
#[derive(Clone, PartialEq, Eq)]
pub struct RemotingCommand {
    /// Request code for requests, response code for responses.
    pub code: i32,
    /// Sender's language.
    pub language: LanguageCode,
    /// Sender's version ordinal.
    pub version: i16,
    /// Correlation id; a response echoes its request's.
    pub opaque: i32,
    /// Flag bits: [`FLAG_RESPONSE`], [`FLAG_ONEWAY`].
    pub flag: i32,
    /// Free text, usually an error description.
    pub remark: Option<String>,
    /// The custom header.
    pub ext_fields: ExtFields,
    /// The body, possibly empty.
    pub body: Bytes,
    /// How the header is (or will be) serialized.
    pub serialize_type: SerializeType,
}

impl RemotingCommand {
    /// A new request with this crate's language and version, opaque 0, JSON header.
    pub fn request(code: RequestCode) -> Self {
        RemotingCommand {
            code: code.value(),
            language: LanguageCode::RUST,
            version: version::CURRENT,
            opaque: 0,
            flag: 0,
            remark: None,
            ext_fields: ExtFields::new(),
            body: Bytes::new(),
            serialize_type: SerializeType::Json,
        }
    }

    /// A response to `request`: same opaque, response flag set.
    pub fn response_to(request: &RemotingCommand, code: ResponseCode) -> Self {
        RemotingCommand {
            code: code.value(),
            language: LanguageCode::RUST,
            version: version::CURRENT,
            opaque: request.opaque,
            flag: FLAG_RESPONSE,
            remark: None,
            ext_fields: ExtFields::new(),
            body: Bytes::new(),
            serialize_type: request.serialize_type,
        }
    }

    /// A response with `code` and no opaque yet (servers fill it from the request).
    pub fn new_response(code: ResponseCode) -> Self {
        RemotingCommand {
            code: code.value(),
            flag: FLAG_RESPONSE,
            ..RemotingCommand::request(RequestCode(0))
        }
    }

    /// Builder-style: sets the remark.
    pub fn with_remark(mut self, remark: impl Into<String>) -> Self {
        self.remark = Some(remark.into());
        self
    }

    /// Builder-style: sets the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Builder-style: sets the opaque.
    pub fn with_opaque(mut self, opaque: i32) -> Self {
        self.opaque = opaque;
        self
    }

    /// Builder-style: marks the request oneway.
    pub fn oneway(mut self) -> Self {
        self.flag |= FLAG_ONEWAY;
        self
    }

    /// Builder-style: fills the custom header from a typed header.
    pub fn with_header<H: super::header::CommandHeader + ?Sized>(mut self, header: &H) -> Self {
        header.write_to(&mut self.ext_fields);
        self
    }

    /// Decodes the custom header as `H`.
    ///
    /// # Errors
    /// [`ProtocolError`](crate::protocol::ProtocolError) when a required field is missing
    /// or a value does not parse.
    pub fn decode_header<H: super::header::CommandHeader>(
        &self,
    ) -> Result<H, super::ProtocolError> {
        H::read_from(&self.ext_fields)
    }

    /// Whether this is a response.
    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    /// Whether this is a oneway request.
    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    /// The code read as a request code.
    pub fn request_code(&self) -> RequestCode {
        RequestCode(self.code)
    }

    /// The code read as a response code.
    pub fn response_code(&self) -> ResponseCode {
        ResponseCode(self.code)
    }
}

impl fmt::Debug for RemotingCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RemotingCommand");
        if self.is_response() {
            d.field("code", &ResponseCode(self.code));
        } else {
            d.field("code", &RequestCode(self.code));
        }
        d.field("language", &self.language)
            .field("version", &self.version)
            .field("opaque", &self.opaque)
            .field("flag", &self.flag)
            .field("remark", &self.remark)
            .field("ext_fields", &self.ext_fields)
            .field("body_len", &self.body.len())
            .field("serialize_type", &self.serialize_type)
            .finish()
    }
}
