//! The JSON header (serialize type 0), as fastjson writes and reads it.
//!
//! We write keys in fastjson's alphabetical order, omit nulls, and always include
//! `serializeTypeCurrentRPC` (strict peers require it). We read leniently, as fastjson
//! does: `language` as a name or an ordinal, `extFields` values as strings, numbers or
//! booleans, and any unknown key.

use std::fmt;

use bytes::{BufMut, BytesMut};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::protocol::ProtocolError;
use crate::protocol::command::{ExtFields, LanguageCode, RemotingCommand, SerializeType};

/// Appends the JSON header of `cmd` to `dst`.
///
/// # Errors
/// [`ProtocolError`] when the header cannot be serialized.
pub fn encode_json_header(cmd: &RemotingCommand, dst: &mut BytesMut) -> Result<(), ProtocolError> {
    dst.reserve(96 + cmd.ext_fields.len() * 24);
    dst.put_slice(b"{\"code\":");
    put_int(dst, cmd.code as i64);
    if !cmd.ext_fields.is_empty() {
        dst.put_slice(b",\"extFields\":{");
        for (i, (k, v)) in cmd.ext_fields.iter().enumerate() {
            if i > 0 {
                dst.put_u8(b',');
            }
            put_str(dst, k)?;
            dst.put_u8(b':');
            put_str(dst, v)?;
        }
        dst.put_u8(b'}');
    }
    dst.put_slice(b",\"flag\":");
    put_int(dst, cmd.flag as i64);
    dst.put_slice(b",\"language\":");
    match cmd.language.name() {
        Some(name) => {
            dst.put_u8(b'"');
            dst.put_slice(name.as_bytes());
            dst.put_u8(b'"');
        }
        None => put_int(dst, cmd.language.0 as i64),
    }
    dst.put_slice(b",\"opaque\":");
    put_int(dst, cmd.opaque as i64);
    if let Some(remark) = &cmd.remark {
        dst.put_slice(b",\"remark\":");
        put_str(dst, remark)?;
    }
    dst.put_slice(b",\"serializeTypeCurrentRPC\":\"");
    dst.put_slice(SerializeType::Json.name().as_bytes());
    dst.put_slice(b"\",\"version\":");
    put_int(dst, cmd.version as i64);
    dst.put_u8(b'}');
    Ok(())
}

fn put_int(dst: &mut BytesMut, v: i64) {
    let mut buf = itoa_buf(v);
    dst.put_slice(buf.as_bytes_mut());
}

// A tiny stack formatter; avoids a `format!` allocation per integer on the send path.
struct IntBuf {
    bytes: [u8; 20],
    start: usize,
}

impl IntBuf {
    fn as_bytes_mut(&mut self) -> &[u8] {
        &self.bytes[self.start..]
    }
}

fn itoa_buf(v: i64) -> IntBuf {
    let mut bytes = [0u8; 20];
    let mut i = bytes.len();
    let neg = v < 0;
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        bytes[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        bytes[i] = b'-';
    }
    IntBuf { bytes, start: i }
}

fn put_str(dst: &mut BytesMut, s: &str) -> Result<(), ProtocolError> {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        dst.put_u8(b'"');
        dst.put_slice(s.as_bytes());
        dst.put_u8(b'"');
        Ok(())
    } else {
        serde_json::to_writer(dst.writer(), s).map_err(|e| ProtocolError::json("header", e))
    }
}

/// Decodes a JSON header. The body is left empty.
///
/// # Errors
/// [`ProtocolError`] for malformed JSON or a field of the
/// wrong type.
pub fn decode_json_header(bytes: &[u8]) -> Result<RemotingCommand, ProtocolError> {
    let raw: RawHeader =
        serde_json::from_slice(bytes).map_err(|e| ProtocolError::json("command header", e))?;
    let version = i16::try_from(raw.version).map_err(|_| ProtocolError::InvalidField {
        field: "version",
        value: raw.version.to_string(),
    })?;
    let code = i32::try_from(raw.code).map_err(|_| ProtocolError::InvalidField {
        field: "code",
        value: raw.code.to_string(),
    })?;
    Ok(RemotingCommand {
        code,
        language: raw.language.unwrap_or(LanguageCode::JAVA),
        version,
        opaque: raw.opaque as i32,
        flag: raw.flag as i32,
        remark: raw.remark,
        ext_fields: raw.ext_fields.map(|e| e.0).unwrap_or_default(),
        body: bytes::Bytes::new(),
        serialize_type: SerializeType::Json,
    })
}

#[derive(Deserialize)]
struct RawHeader {
    #[serde(default)]
    code: i64,
    #[serde(default, deserialize_with = "lenient_language")]
    language: Option<LanguageCode>,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    opaque: i64,
    #[serde(default)]
    flag: i64,
    #[serde(default)]
    remark: Option<String>,
    #[serde(default, rename = "extFields")]
    ext_fields: Option<LenientExtFields>,
}

fn lenient_language<'de, D: Deserializer<'de>>(d: D) -> Result<Option<LanguageCode>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<LanguageCode>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a language name or ordinal")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            // fastjson yields null for an unknown enum name; OTHER is the closest we keep.
            Ok(Some(
                LanguageCode::from_name(v).unwrap_or(LanguageCode::OTHER),
            ))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            u8::try_from(v)
                .map(|b| Some(LanguageCode(b)))
                .map_err(|_| E::custom("language ordinal out of range"))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u8::try_from(v)
                .map(|b| Some(LanguageCode(b)))
                .map_err(|_| E::custom("language ordinal out of range"))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

struct LenientExtFields(ExtFields);

impl<'de> Deserialize<'de> for LenientExtFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientExtFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of string values")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LenientExtFields(ExtFields::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut ext = ExtFields::with_capacity(map.size_hint().unwrap_or(8).min(64));
                while let Some(key) = map.next_key::<String>()? {
                    if let Some(value) = map.next_value::<LenientValue>()?.0 {
                        ext.insert(key, value);
                    }
                }
                Ok(LenientExtFields(ext))
            }
        }
        d.deserialize_any(V)
    }
}

/// A scalar written as a string, number or boolean; null and nested values read as absent.
struct LenientValue(Option<String>);

impl<'de> Deserialize<'de> for LenientValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LenientValue(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(LenientValue(Some(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(LenientValue(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(LenientValue(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(LenientValue(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(LenientValue(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LenientValue(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientValue(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientValue(None))
            }
        }
        d.deserialize_any(V)
    }
}
