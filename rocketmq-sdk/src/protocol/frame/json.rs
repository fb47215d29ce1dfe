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
    // Headers as Java and this SDK write them take the fast path; anything unusual (escapes,
    // floats, nested values, duplicate fields, errors) goes through serde, which decides.
    if let Some(raw) = fast::parse(bytes)
        && let Some(cmd) = command_from(raw)
    {
        return Ok(cmd);
    }
    decode_json_header_serde(bytes)
}

fn command_from(raw: RawHeader) -> Option<RemotingCommand> {
    Some(RemotingCommand {
        code: i32::try_from(raw.code).ok()?,
        language: raw.language.unwrap_or(LanguageCode::JAVA),
        version: i16::try_from(raw.version).ok()?,
        opaque: raw.opaque as i32,
        flag: raw.flag as i32,
        remark: raw.remark,
        ext_fields: raw.ext_fields.map(|e| e.0).unwrap_or_default(),
        body: bytes::Bytes::new(),
        serialize_type: SerializeType::Json,
    })
}

/// The serde decoder: the reference for what is accepted and how errors read.
fn decode_json_header_serde(bytes: &[u8]) -> Result<RemotingCommand, ProtocolError> {
    // Java decodes the header with `new String(bytes, UTF_8)` before fastjson sees it, so
    // invalid bytes become U+FFFD instead of failing the request.
    let lossy;
    let bytes = if std::str::from_utf8(bytes).is_ok() {
        bytes
    } else {
        lossy = String::from_utf8_lossy(bytes).into_owned();
        lossy.as_bytes()
    };
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

#[derive(Deserialize, Default)]
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

/// A hand-written reader for the common shape of a header: one flat object, known fields
/// with integer or string values, `extFields` of strings, integers or booleans. It returns
/// `None` for anything else, leaving the verdict to serde, so it accepts nothing serde
/// rejects and decodes everything it accepts the same way. serde_json with a visitor per
/// field cost an eighth of the produce profile, most of it allocating keys.
mod fast {
    use std::borrow::Cow;

    use super::{LenientExtFields, RawHeader};
    use crate::protocol::command::{ExtFields, LanguageCode};

    struct Reader<'a> {
        b: &'a [u8],
        /// `b` as text, validated once per header: slicing it at the ASCII quotes that end
        /// strings needs no further UTF-8 check (one per string showed in profiles).
        text: &'a str,
        i: usize,
    }

    /// Bytes that end a plain run inside a string: the quote, the backslash and control
    /// characters.
    static SPECIAL: [bool; 256] = {
        let mut t = [false; 256];
        let mut c = 0;
        while c < 0x20 {
            t[c] = true;
            c += 1;
        }
        t[b'"' as usize] = true;
        t[b'\\' as usize] = true;
        t
    };

    fn special_at(bytes: &[u8]) -> Option<usize> {
        bytes.iter().position(|&c| SPECIAL[usize::from(c)])
    }

    impl<'a> Reader<'a> {
        fn skip_ws(&mut self) {
            while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
                self.i += 1;
            }
        }

        fn peek(&mut self) -> Option<u8> {
            self.skip_ws();
            self.b.get(self.i).copied()
        }

        fn eat(&mut self, c: u8) -> Option<()> {
            (self.peek()? == c).then(|| self.i += 1)
        }

        /// A string; escapes are decoded (the properties value is full of `\u0001`).
        fn string(&mut self) -> Option<Cow<'a, str>> {
            self.eat(b'"')?;
            let start = self.i;
            let rest = &self.b[start..];
            let end = special_at(rest)?;
            if rest[end] == b'"' {
                self.i += end + 1;
                return self.text.get(start..start + end).map(Cow::Borrowed);
            }
            let mut out: Vec<u8> = Vec::with_capacity(rest.len().min(512));
            self.i = start;
            loop {
                let run = special_at(&self.b[self.i..])?;
                out.extend_from_slice(&self.b[self.i..self.i + run]);
                self.i += run;
                match self.b[self.i] {
                    b'"' => {
                        self.i += 1;
                        return String::from_utf8(out).ok().map(Cow::Owned);
                    }
                    b'\\' => {
                        let e = *self.b.get(self.i + 1)?;
                        self.i += 2;
                        match e {
                            b'"' | b'\\' | b'/' => out.push(e),
                            b'b' => out.push(0x08),
                            b'f' => out.push(0x0c),
                            b'n' => out.push(b'\n'),
                            b'r' => out.push(b'\r'),
                            b't' => out.push(b'\t'),
                            b'u' => {
                                let ch = self.unicode_escape()?;
                                let mut buf = [0u8; 4];
                                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            }
                            _ => return None,
                        }
                    }
                    // A raw control character: invalid JSON.
                    _ => return None,
                }
            }
        }

        fn hex4(&mut self) -> Option<u32> {
            let digits = self.b.get(self.i..self.i + 4)?;
            let mut v = 0u32;
            for &d in digits {
                v = v * 16 + char::from(d).to_digit(16)?;
            }
            self.i += 4;
            Some(v)
        }

        /// The code point of `\uXXXX` (the `\u` already read), joining a surrogate pair;
        /// a lone surrogate is left to serde, which rejects it.
        fn unicode_escape(&mut self) -> Option<char> {
            let hi = self.hex4()?;
            if !(0xD800..0xDC00).contains(&hi) {
                return char::from_u32(hi);
            }
            if self.b.get(self.i..self.i + 2)? != b"\\u" {
                return None;
            }
            self.i += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return None;
            }
            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
        }

        /// An integer written canonically (no leading zeros, no `-0`, no fraction or
        /// exponent), within `i64`.
        fn integer(&mut self) -> Option<i64> {
            self.skip_ws();
            let start = self.i;
            if self.b.get(self.i) == Some(&b'-') {
                self.i += 1;
            }
            while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
            let text = std::str::from_utf8(&self.b[start..self.i]).ok()?;
            if matches!(self.b.get(self.i), Some(b'.' | b'e' | b'E')) {
                return None;
            }
            let v: i64 = text.parse().ok()?;
            // serde_json reads `-0` as a float and refuses leading zeros.
            let negative = text.starts_with('-');
            let digits = text.trim_start_matches('-');
            let canonical = if digits.starts_with('0') {
                digits == "0" && !negative
            } else {
                !digits.is_empty()
            };
            canonical.then_some(v)
        }

        fn literal(&mut self, word: &[u8]) -> Option<()> {
            self.skip_ws();
            let end = self.i.checked_add(word.len())?;
            (self.b.get(self.i..end)? == word).then(|| self.i = end)
        }

        /// Skips a scalar (the value of a key nobody reads).
        fn skip_scalar(&mut self) -> Option<()> {
            match self.peek()? {
                b'"' => self.string().map(drop),
                b'-' | b'0'..=b'9' => self.integer().map(drop),
                b't' => self.literal(b"true"),
                b'f' => self.literal(b"false"),
                b'n' => self.literal(b"null"),
                _ => None,
            }
        }

        fn ext_fields(&mut self) -> Option<ExtFields> {
            self.eat(b'{')?;
            let mut ext = ExtFields::with_capacity(16);
            if self.peek()? == b'}' {
                self.i += 1;
                return Some(ext);
            }
            loop {
                let key = self.string()?;
                self.eat(b':')?;
                // Values as serde's lenient reader keeps them: text for strings, numbers
                // and booleans, nothing for null.
                match self.peek()? {
                    b'"' => {
                        let v = self.string()?;
                        ext.insert_str(intern(&key), &v);
                    }
                    b'-' | b'0'..=b'9' => {
                        let v = self.integer()?;
                        ext.insert_with(intern(&key), |out| {
                            use std::fmt::Write;
                            let _ = write!(out, "{v}");
                        });
                    }
                    b't' => {
                        self.literal(b"true")?;
                        ext.insert_str(intern(&key), "true");
                    }
                    b'f' => {
                        self.literal(b"false")?;
                        ext.insert_str(intern(&key), "false");
                    }
                    b'n' => self.literal(b"null")?,
                    _ => return None,
                }
                match self.peek()? {
                    b',' => self.i += 1,
                    b'}' => {
                        self.i += 1;
                        return Some(ext);
                    }
                    _ => return None,
                }
            }
        }
    }

    /// Header keys as `'static` strings, so the common ones cost no allocation.
    fn intern(key: &str) -> Cow<'static, str> {
        const KEYS: &[&str] = &[
            "a",
            "b",
            "c",
            "d",
            "e",
            "f",
            "g",
            "h",
            "i",
            "j",
            "k",
            "l",
            "m",
            "n",
            "topic",
            "queueId",
            "queueOffset",
            "msgId",
            "transactionId",
            "MSG_REGION",
            "TRACE_ON",
            "consumerGroup",
            "producerGroup",
            "offset",
            "commitOffset",
            "maxMsgNums",
            "sysFlag",
            "subscription",
            "subVersion",
            "suspendTimeoutMillis",
            "expressionType",
            "nextBeginOffset",
            "minOffset",
            "maxOffset",
            "suggestWhichBrokerId",
            "bname",
            "brokerName",
            "clientId",
            "group",
            "commitLogOffset",
            "tranStateTableOffset",
            "commitOrRollback",
            "fromTransactionCheck",
            "msgKey",
            "clientID",
            "timestamp",
            "lo",
        ];
        // The compact send header's keys are single letters: index them directly.
        const LETTERS: [&str; 26] = [
            "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q",
            "r", "s", "t", "u", "v", "w", "x", "y", "z",
        ];
        if let [c @ b'a'..=b'z'] = key.as_bytes() {
            return Cow::Borrowed(LETTERS[usize::from(c - b'a')]);
        }
        match KEYS
            .iter()
            .find(|k| k.len() == key.len() && k.as_bytes()[0] == key.as_bytes()[0] && **k == key)
        {
            Some(k) => Cow::Borrowed(k),
            None => Cow::Owned(key.to_owned()),
        }
    }

    pub(super) fn parse(bytes: &[u8]) -> Option<RawHeader> {
        // Invalid UTF-8 anywhere is an error serde reports.
        let text = std::str::from_utf8(bytes).ok()?;
        let mut r = Reader {
            b: bytes,
            text,
            i: 0,
        };
        let mut h = RawHeader::default();
        // serde rejects a repeated known field; leave such headers to it.
        let mut seen = 0u8;
        let mut mark = |bit: u8| -> Option<()> { (seen & bit == 0).then(|| seen |= bit) };
        r.eat(b'{')?;
        if r.peek()? == b'}' {
            r.i += 1;
        } else {
            loop {
                let key = r.string()?;
                r.eat(b':')?;
                match &*key {
                    "code" => {
                        mark(1)?;
                        h.code = r.integer()?;
                    }
                    "opaque" => {
                        mark(2)?;
                        h.opaque = r.integer()?;
                    }
                    "flag" => {
                        mark(4)?;
                        h.flag = r.integer()?;
                    }
                    "version" => {
                        mark(8)?;
                        h.version = r.integer()?;
                    }
                    "language" => {
                        mark(16)?;
                        h.language = match r.peek()? {
                            b'"' => Some(
                                LanguageCode::from_name(&r.string()?)
                                    .unwrap_or(LanguageCode::OTHER),
                            ),
                            b'n' => r.literal(b"null").map(|()| None)?,
                            _ => Some(LanguageCode(u8::try_from(r.integer()?).ok()?)),
                        };
                    }
                    "remark" => {
                        mark(32)?;
                        h.remark = match r.peek()? {
                            b'n' => r.literal(b"null").map(|()| None)?,
                            _ => Some(r.string()?.into_owned()),
                        };
                    }
                    "extFields" => {
                        mark(64)?;
                        h.ext_fields = match r.peek()? {
                            b'n' => r.literal(b"null").map(|()| None)?,
                            _ => Some(LenientExtFields(r.ext_fields()?)),
                        };
                    }
                    // Unknown keys (serializeTypeCurrentRPC...) are skipped, as serde does.
                    _ => r.skip_scalar()?,
                }
                match r.peek()? {
                    b',' => r.i += 1,
                    b'}' => {
                        r.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        r.skip_ws();
        (r.i == bytes.len()).then_some(h)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{decode_json_header, decode_json_header_serde, encode_json_header, fast};
    use crate::protocol::command::RemotingCommand;

    /// Where the fast reader answers, it must agree with serde exactly.
    fn agrees(input: &[u8]) {
        let fast = fast::parse(input).and_then(super::command_from);
        let serde = decode_json_header_serde(input);
        if let Some(fast) = fast {
            assert_eq!(
                Some(&fast),
                serde.as_ref().ok(),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(
            decode_json_header(input).ok(),
            serde.ok(),
            "{}",
            String::from_utf8_lossy(input)
        );
    }

    #[test]
    fn fast_path_matches_serde_on_odd_headers() {
        let cases: &[&str] = &[
            r#"{"code":310,"extFields":{"a":"g","b":"T","e":"3","k":"false"},"flag":0,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":399}"#,
            r#" { "code" : 1 , "opaque" : -5 , "flag":1 } "#,
            r#"{}"#,
            r#"{"code":1,"code":2}"#,
            r#"{"code":01}"#,
            r#"{"code":-0}"#,
            r#"{"code":1.0}"#,
            r#"{"code":1e3}"#,
            r#"{"code":null}"#,
            r#"{"code":"1"}"#,
            r#"{"code":99999999999}"#,
            r#"{"code":9223372036854775808}"#,
            r#"{"version":40000}"#,
            r#"{"language":5}"#,
            r#"{"language":300}"#,
            r#"{"language":-1}"#,
            r#"{"language":"KLINGON"}"#,
            r#"{"language":null}"#,
            r#"{"remark":"a\"b"}"#,
            r#"{"remark":"é ü"}"#,
            r#"{"remark":null}"#,
            r#"{"remark":5}"#,
            r#"{"extFields":null}"#,
            r#"{"extFields":{}}"#,
            r#"{"extFields":{"x":1,"y":true,"z":null,"w":-3,"v":1.5}}"#,
            r#"{"extFields":{"x":"1","x":"2"}}"#,
            r#"{"extFields":{"x":{"n":1},"y":[1,2]}}"#,
            r#"{"extFields":{"k\u0041":"v"}}"#,
            r#"{"extFields":{"i":"KEYS\u0001k\u0002UNIQ_KEY\u0001x\u0002"}}"#,
            r#"{"remark":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}"#,
            r#"{"remark":"\ud83d"}"#,
            r#"{"remark":"\ude00"}"#,
            r#"{"remark":"\ud83dx"}"#,
            r#"{"remark":"\ud83d\u0041"}"#,
            r#"{"remark":"\u12"}"#,
            r#"{"remark":"\u12G4"}"#,
            r#"{"remark":"\x"}"#,
            r#"{"remark":"ab\"#,
            r#"{"extFields":{"k":18446744073709551615}}"#,
            r#"{"extFields":{"k":"tab	inside"}}"#,
            r#"{"unknown":[1,2],"code":3}"#,
            r#"{"unknown":{"a":1},"code":3}"#,
            r#"{"unknown":1.25,"code":3}"#,
            r#"{"code":3} x"#,
            r#"{"code":3,}"#,
            r#"{"code":3"#,
            r#"{"code":tru}"#,
            "",
            "[]",
        ];
        for c in cases {
            agrees(c.as_bytes());
        }
        agrees(b"{\"remark\":\"\xff\"}");
    }

    #[test]
    fn fast_path_takes_send_requests() {
        // The properties value separates pairs with control characters, escaped on the wire.
        let mut cmd = RemotingCommand::request(crate::protocol::RequestCode::SEND_MESSAGE_V2);
        cmd.ext_fields.insert("a", "group");
        cmd.ext_fields
            .insert("i", "KEYS\u{1}k1\u{2}UNIQ_KEY\u{1}AC11\u{2}");
        cmd.ext_fields.insert("g", "1700000000000");
        let mut buf = bytes::BytesMut::new();
        encode_json_header(&cmd, &mut buf).unwrap();
        let fast = fast::parse(&buf).and_then(super::command_from);
        assert_eq!(fast.as_ref(), decode_json_header_serde(&buf).ok().as_ref());
        assert!(
            fast.is_some(),
            "a send request must not need the serde path"
        );
    }

    proptest! {
        #[test]
        fn fast_path_matches_serde_on_encoded_commands(
            code in any::<i32>(),
            opaque in any::<i32>(),
            flag in any::<i32>(),
            version in any::<i16>(),
            remark in proptest::option::of(".{0,12}"),
            fields in proptest::collection::vec(("[a-zA-Z_]{1,6}", ".{0,12}"), 0..8),
        ) {
            let mut cmd = RemotingCommand::new_response(crate::protocol::ResponseCode(code));
            cmd.opaque = opaque;
            cmd.flag = flag;
            cmd.version = version;
            cmd.remark = remark;
            for (k, v) in fields {
                cmd.ext_fields.insert(k, v);
            }
            let mut buf = bytes::BytesMut::new();
            encode_json_header(&cmd, &mut buf).unwrap();
            agrees(&buf);
        }

        #[test]
        fn fast_path_matches_serde_on_garbage(input in proptest::collection::vec(any::<u8>(), 0..64)) {
            agrees(&input);
        }
    }
}
